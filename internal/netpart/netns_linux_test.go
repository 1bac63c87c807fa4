//go:build linux

package netpart

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a private network namespace the test created, with one uid per
// node whose packets carry that node's 127.0.0.x address.
type netns struct {
	name  string
	file  *os.File    // /run/netns/<name>, for setns
	spawn chan func() // runs functions on a thread inside the namespace
	addrs []string    // node i's address
}

// needRoot skips the test unless it can build namespaces and firewall
// rules: root, with ip (iproute2) and iptables installed. This is the only
// reason the test skips.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping the real-partition test: it needs root to create a network namespace and iptables rules (CI runs it as root)")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping the real-partition test: %s is not installed (make deps installs iproute2 and iptables)", tool)
		}
	}
}

// newNetns creates a uniquely named namespace with loopback up and, for
// each node i, a routing rule that makes uid uids[i] send from addrs[i].
// Cleanup ends every process left inside and deletes the namespace.
func newNetns(t *testing.T, uids []int, addrs []string) *netns {
	t.Helper()
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("vigil-test-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	run(t, "ip", "netns", "add", name)
	ns := &netns{name: name, spawn: make(chan func()), addrs: addrs}
	t.Cleanup(func() { ns.destroy(t) })

	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	for i, uid := range uids {
		table := strconv.Itoa(100 + i)
		run(t, "ip", "-n", name, "route", "add", "local", "127.0.0.0/8", "dev", "lo", "src", addrs[i], "table", table)
		run(t, "ip", "-n", name, "rule", "add", "pref", "10", "uidrange", fmt.Sprintf("%d-%d", uid, uid), "table", table)
	}
	// The local table is consulted at preference 0, before any rule we
	// could add; move it behind the per-uid rules.
	run(t, "ip", "-n", name, "rule", "add", "pref", "100", "table", "local")
	run(t, "ip", "-n", name, "rule", "del", "pref", "0", "table", "local")
	for i, uid := range uids {
		// Every node must reach every other node from its own address.
		dst := addrs[(i+1)%len(addrs)]
		out := run(t, "ip", "-n", name, "route", "get", dst, "uid", strconv.Itoa(uid))
		if !strings.Contains(out, "src "+addrs[i]+" ") {
			t.Fatalf("uid %d would reach %s from the wrong source address:\n%s", uid, dst, out)
		}
	}

	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	ns.file = f
	entered := make(chan error, 1)
	go ns.spawner(entered)
	if err := <-entered; err != nil {
		t.Fatalf("enter namespace %s: %v", name, err)
	}
	return ns
}

// spawner runs ns.spawn's functions on one OS thread inside the namespace
// until ns.spawn closes. Children started there are born in the namespace
// (and would get their parent-death signal if the test process died).
func (ns *netns) spawner(entered chan<- error) {
	err := ns.do(func() {
		entered <- nil
		for fn := range ns.spawn {
			fn()
		}
	})
	if err != nil {
		// Either do never ran fn (entered is still waiting), or the
		// thread could not get back; then it ends with this goroutine.
		select {
		case entered <- err:
		default:
		}
	}
}

// do runs fn on the calling goroutine's OS thread with that thread inside
// the namespace, then moves the thread back and unlocks it. If moving back
// fails the thread stays locked, and the runtime discards it when the
// goroutine ends; callers run do on a goroutine of their own. (A thread
// that just stays locked in the namespace would be wrong: when it is the
// main thread, the runtime parks it instead of discarding it, leaving the
// test process in the namespace.)
func (ns *netns) do(fn func()) error {
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(ns.file.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns.name, err)
	}
	fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave namespace %s: %w", ns.name, err)
	}
	runtime.UnlockOSThread()
	return nil
}

// dial connects from inside the namespace. A socket stays in the namespace
// it was created in, so the connection is usable from any thread. The test
// process dials from 127.0.0.1, which no partition rule matches: it
// observes every node from outside the partition.
func (ns *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		err := ns.do(func() {
			var d net.Dialer
			r.c, r.err = d.DialContext(ctx, network, addr)
		})
		if err != nil && r.c == nil && r.err == nil {
			r.err = err
		}
		ch <- r
	}()
	r := <-ch
	return r.c, r.err
}

// start runs bin inside the namespace as uid (and the gid of the same
// number), output to log. The process is killed at cleanup.
func (ns *netns) start(t *testing.T, uid int, log *os.File, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	errc := make(chan error)
	ns.spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		t.Fatalf("start %s: %v", bin, err)
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
	in := map[int]bool{}
	for _, i := range side {
		in[i] = true
	}
	var rules strings.Builder
	rules.WriteString("*filter\n")
	for i, a := range ns.addrs {
		for j, b := range ns.addrs {
			if in[i] != in[j] {
				fmt.Fprintf(&rules, "-A OUTPUT -s %s -d %s -j DROP\n", a, b)
			}
		}
	}
	rules.WriteString("COMMIT\n")
	cmd := exec.Command("ip", "netns", "exec", ns.name, "iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(rules.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iptables-restore: %v\n%s\nrules:\n%s", err, out, rules.String())
	}
}

// heal removes every partition rule.
func (ns *netns) heal(t *testing.T) {
	t.Helper()
	run(t, "ip", "netns", "exec", ns.name, "iptables", "-w", "-F", "OUTPUT")
}

// destroy kills whatever still runs inside the namespace (all of it was
// started by this test: the namespace is private), ends the spawner thread
// and deletes the namespace.
func (ns *netns) destroy(t *testing.T) {
	if out, err := exec.Command("ip", "netns", "pids", ns.name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if ns.file != nil {
		close(ns.spawn)
		// Wait, bounded, for the killed processes to be gone, so the
		// namespace does not outlive the test.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			out, err := exec.Command("ip", "netns", "pids", ns.name).Output()
			if err != nil || len(bytes.TrimSpace(out)) == 0 {
				break
			}

			time.Sleep(20 * time.Millisecond)
		}
		ns.file.Close()
	}
	if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v\n%s", ns.name, err, out)
	}
}

// run runs a setup command and fails the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
