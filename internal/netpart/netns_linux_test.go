//go:build linux

package netpart

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"

	nsnet "github.com/vigil-redis/vigil/internal/netns"
)

// netns is a private network namespace the test created, with one uid per
// node whose packets carry that node's 127.0.0.x address. The machinery
// lives in internal/netns, shared with internal/chaos.
type netns struct {
	ns *nsnet.NS
}

// needRoot skips the test unless it can build namespaces and firewall
// rules: root, with ip (iproute2) and iptables installed. This is the only
// reason the test skips.
func needRoot(t *testing.T) {
	t.Helper()
	if err := nsnet.Available(); err != nil {
		t.Skipf("skipping the real-partition test: %v (CI runs it as root)", err)
	}
}

// newNetns creates a uniquely named namespace with loopback up and, for
// each node i, a routing rule that makes uid uids[i] send from addrs[i].
// Cleanup ends every process left inside and deletes the namespace.
func newNetns(t *testing.T, uids []int, addrs []string) *netns {
	t.Helper()
	ns, err := nsnet.New("vigil-test", uids, addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return &netns{ns: ns}
}

// dial connects from inside the namespace, from 127.0.0.1, which no
// partition rule matches: the test observes every node from outside the
// partition.
func (ns *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return ns.ns.Dial(ctx, network, addr)
}

// start runs bin inside the namespace as uid (and the gid of the same
// number), output to log. The process is killed at cleanup.
func (ns *netns) start(t *testing.T, uid int, log *os.File, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := ns.ns.Start(uid, cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}

// partition cuts every link between a node of side and a node not in side,
// both directions, in one atomic iptables-restore transaction.
func (ns *netns) partition(t *testing.T, side ...int) {
	t.Helper()
	if err := ns.ns.Partition(side...); err != nil {
		t.Fatal(err)
	}
}

// heal removes every partition rule.
func (ns *netns) heal(t *testing.T) {
	t.Helper()
	if err := ns.ns.Heal(); err != nil {
		t.Fatal(err)
	}
}
