//go:build linux

package bench

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

// netns is a private network namespace with one uid per node whose packets
// carry that node's 127.0.0.x address, so iptables rules on addresses cut
// links between nodes as on real hosts. It is the technique of
// internal/netpart (see its doc.go for why uids and policy routing), whose
// helpers are test-only there and cannot be imported.
type netns struct {
	name  string
	file  *os.File    // /run/netns/<name>, for setns
	spawn chan func() // runs functions on a thread inside the namespace
	addrs []string
}

// needRoot skips b with the reason unless it can build namespaces and
// firewall rules.
func needRoot(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("skipping the partition benchmark: it needs root to create a network namespace and iptables rules")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipping the partition benchmark: %s is not installed (make deps installs iproute2 and iptables)", tool)
		}
	}
}

// newNetns creates a uniquely named namespace with loopback up and, for
// each node i, a routing rule that makes uid uids[i] send from addrs[i].
func newNetns(b *testing.B, uids []int, addrs []string) *netns {
	b.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("vigil-bench-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	runCmd(b, "ip", "netns", "add", name)
	ns := &netns{name: name, spawn: make(chan func()), addrs: addrs}
	b.Cleanup(func() { ns.destroy(b) })
	runCmd(b, "ip", "-n", name, "link", "set", "lo", "up")
	for i, uid := range uids {
		table := strconv.Itoa(100 + i)
		runCmd(b, "ip", "-n", name, "route", "add", "local", "127.0.0.0/8", "dev", "lo", "src", addrs[i], "table", table)
		runCmd(b, "ip", "-n", name, "rule", "add", "pref", "10", "uidrange", fmt.Sprintf("%d-%d", uid, uid), "table", table)
	}
	// The local table comes first by default; move it behind the uid rules.
	runCmd(b, "ip", "-n", name, "rule", "add", "pref", "100", "table", "local")
	runCmd(b, "ip", "-n", name, "rule", "del", "pref", "0", "table", "local")
	for i, uid := range uids {
		dst := addrs[(i+1)%len(addrs)]
		out := runCmd(b, "ip", "-n", name, "route", "get", dst, "uid", strconv.Itoa(uid))
		if !strings.Contains(out, "src "+addrs[i]+" ") {
			b.Fatalf("uid %d would reach %s from the wrong source address:\n%s", uid, dst, out)
		}
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		b.Fatalf("open namespace %s: %v", name, err)
	}
	ns.file = f
	entered := make(chan error, 1)
	go ns.spawner(entered)
	if err := <-entered; err != nil {
		b.Fatalf("enter namespace %s: %v", name, err)
	}
	return ns
}

// spawner runs ns.spawn's functions on one OS thread inside the namespace
// until ns.spawn closes, so children are born in the namespace.
func (ns *netns) spawner(entered chan<- error) {
	err := ns.do(func() {
		entered <- nil
		for fn := range ns.spawn {
			fn()
		}
	})
	if err != nil {
		select {
		case entered <- err:
		default:
		}
	}
}

// do runs fn on the calling goroutine's thread inside the namespace. If the
// thread cannot get back it stays locked and the runtime discards it when
// the goroutine ends; callers run do on a goroutine of their own.
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

// dial connects from inside the namespace, from 127.0.0.1, which no
// partition rule matches: the benchmark reaches every node.
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

// start runs bin inside the namespace as uid (gid of the same number),
// output to logPath; the process is killed at cleanup.
func (ns *netns) start(b *testing.B, uid int, logPath, bin string, args ...string) *exec.Cmd {
	b.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	errc := make(chan error)
	ns.spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}

// partition cuts every link between the nodes in side and the others, both
// directions, in one iptables-restore transaction.
func (ns *netns) partition(b *testing.B, side ...int) {
	b.Helper()
	in := map[int]bool{}
	for _, i := range side {
		in[i] = true
	}
	var rules strings.Builder
	rules.WriteString("*filter\n")
	for i, a := range ns.addrs {
		for j, c := range ns.addrs {
			if in[i] != in[j] {
				fmt.Fprintf(&rules, "-A OUTPUT -s %s -d %s -j DROP\n", a, c)
			}
		}
	}
	rules.WriteString("COMMIT\n")
	cmd := exec.Command("ip", "netns", "exec", ns.name, "iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(rules.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("iptables-restore: %v\n%s", err, out)
	}
}

// heal removes every partition rule.
func (ns *netns) heal(b *testing.B) {
	b.Helper()
	runCmd(b, "ip", "netns", "exec", ns.name, "iptables", "-w", "-F", "OUTPUT")
}

// destroy kills whatever still runs inside (all of it started by this
// benchmark), ends the spawner thread and deletes the namespace.
func (ns *netns) destroy(b *testing.B) {
	if out, err := exec.Command("ip", "netns", "pids", ns.name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if ns.file != nil {
		close(ns.spawn)
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
		b.Errorf("ip netns del %s: %v\n%s", ns.name, err, out)
	}
}

// runCmd runs a set-up command and fails b if it fails.
func runCmd(b *testing.B, name string, args ...string) string {
	b.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
