//go:build linux

package bench

import (
	"os"
	"os/exec"
	"testing"

	"github.com/vigil-redis/vigil/internal/netns"
)

// needRoot skips b with the reason unless it can build namespaces and
// firewall rules.
func needRoot(b *testing.B) {
	b.Helper()
	if err := netns.Available(); err != nil {
		b.Skipf("skipping the partition benchmark: %v", err)
	}
}

// newNetns creates a uniquely named namespace (internal/netns) with one uid
// per node whose packets carry that node's address; cleanup ends every
// process left inside and deletes it.
func newNetns(b *testing.B, uids []int, addrs []string) *netns.NS {
	b.Helper()
	ns, err := netns.New("vigil-bench", uids, addrs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := ns.Close(); err != nil {
			b.Error(err)
		}
	})
	return ns
}

// startIn runs bin inside ns as uid (gid of the same number), output to
// logPath; the process is killed at cleanup.
func startIn(b *testing.B, ns *netns.NS, uid int, logPath, bin string, args ...string) *exec.Cmd {
	b.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := ns.Start(uid, cmd); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}
