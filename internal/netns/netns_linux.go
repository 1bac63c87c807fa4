//go:build linux

package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NS is a private network namespace with one uid per node whose packets
// carry that node's 127.0.0.x address.
type NS struct {
	name  string
	file  *os.File    // /run/netns/<name>, for setns
	spawn chan func() // runs functions on a thread inside the namespace
	addrs []string    // node i's address
}

// Available reports why namespaces cannot be built here (not root, a tool
// missing), or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netns: needs root to create a network namespace and iptables rules")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netns: %s is not installed (make deps installs iproute2 and iptables)", tool)
		}
	}
	return nil
}

// New creates a uniquely named namespace (prefix, the pid and random
// bytes) with loopback up and, for each node i, a routing rule that makes
// uid uids[i] send from addrs[i]. Close removes it; on error New removes
// what it made.
func New(prefix string, uids []int, addrs []string) (ns *NS, err error) {
	if len(uids) != len(addrs) {
		return nil, fmt.Errorf("netns: %d uids for %d addresses", len(uids), len(addrs))
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	name := fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(rnd[:]))
	if _, err := Run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns = &NS{name: name, spawn: make(chan func()), addrs: addrs}
	defer func() {
		if err != nil {
			err = errors.Join(err, ns.Close())
			ns = nil
		}
	}()
	if _, err := Run("ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		return ns, err
	}
	for i, uid := range uids {
		table := strconv.Itoa(100 + i)
		if _, err := Run("ip", "-n", name, "route", "add", "local", "127.0.0.0/8", "dev", "lo", "src", addrs[i], "table", table); err != nil {
			return ns, err
		}
		if _, err := Run("ip", "-n", name, "rule", "add", "pref", "10", "uidrange", fmt.Sprintf("%d-%d", uid, uid), "table", table); err != nil {
			return ns, err
		}
	}
	// The local table is consulted at preference 0, before any rule we
	// could add; move it behind the per-uid rules.
	if _, err := Run("ip", "-n", name, "rule", "add", "pref", "100", "table", "local"); err != nil {
		return ns, err
	}
	if _, err := Run("ip", "-n", name, "rule", "del", "pref", "0", "table", "local"); err != nil {
		return ns, err
	}
	for i, uid := range uids {
		// Every node must reach every other node from its own address.
		dst := addrs[(i+1)%len(addrs)]
		out, err := Run("ip", "-n", name, "route", "get", dst, "uid", strconv.Itoa(uid))
		if err != nil {
			return ns, err
		}
		if !strings.Contains(out, "src "+addrs[i]+" ") {
			return ns, fmt.Errorf("netns: uid %d would reach %s from the wrong source address:\n%s", uid, dst, out)
		}
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		return ns, fmt.Errorf("netns: open namespace %s: %w", name, err)
	}
	ns.file = f
	entered := make(chan error, 1)
	go ns.spawner(entered)
	if err := <-entered; err != nil {
		ns.file = nil // the spawner is gone: Close must not close spawn twice
		f.Close()
		return ns, fmt.Errorf("netns: enter namespace %s: %w", name, err)
	}
	return ns, nil
}

// Name is the namespace's name, for ip netns exec.
func (ns *NS) Name() string { return ns.name }

// spawner runs ns.spawn's functions on one OS thread inside the namespace
// until ns.spawn closes. Children started there are born in the namespace
// (and get their parent-death signal if the process that started them
// dies).
func (ns *NS) spawner(entered chan<- error) {
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

// do runs fn on the calling goroutine's OS thread with that thread inside
// the namespace, then moves the thread back and unlocks it. If moving back
// fails the thread stays locked, and the runtime discards it when the
// goroutine ends; callers run do on a goroutine of their own.
func (ns *NS) do(fn func()) error {
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

// Dial connects from inside the namespace, from 127.0.0.1, which no
// address rule on a node matches: the caller sits outside every partition.
// A socket stays in the namespace it was created in, so the connection is
// usable from any thread.
func (ns *NS) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
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

// Start runs cmd inside the namespace as uid (and the gid of the same
// number), with a parent-death SIGKILL. The caller waits for it.
func (ns *NS) Start(uid int, cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	errc := make(chan error)
	ns.spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		return fmt.Errorf("netns: start %s: %w", cmd.Path, err)
	}
	return nil
}

// Exec runs name with args inside the namespace (ip netns exec) and
// returns its combined output.
func (ns *NS) Exec(name string, args ...string) (string, error) {
	return Run("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// Restore feeds rules to iptables-restore --noflush inside the namespace:
// one atomic transaction.
func (ns *NS) Restore(rules string) error {
	cmd := exec.Command("ip", "netns", "exec", ns.name, "iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netns: iptables-restore: %w\n%s\nrules:\n%s", err, out, rules)
	}
	return nil
}

// Partition cuts every link between a node of side and a node not in
// side, both directions, in one atomic transaction.
func (ns *NS) Partition(side ...int) error {
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
	return ns.Restore(rules.String())
}

// Heal removes every rule in the OUTPUT chain.
func (ns *NS) Heal() error {
	_, err := ns.Exec("iptables", "-w", "-F", "OUTPUT")
	return err
}

// Close kills whatever still runs inside the namespace (everything in it
// was started by its owner: the namespace is private), ends the spawner
// thread and deletes the namespace.
func (ns *NS) Close() error {
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
		// namespace does not outlive its owner.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			out, err := exec.Command("ip", "netns", "pids", ns.name).Output()
			if err != nil || len(bytes.TrimSpace(out)) == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		ns.file.Close()
		ns.file = nil
	}
	if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: ip netns del %s: %w\n%s", ns.name, err, out)
	}
	return nil
}

// Run runs a set-up command and returns its combined output, or an error
// naming the command and carrying its output.
func Run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns: %s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
