// Package bench measures vigil side by side with redis-sentinel: idle cost
// and failover windows. Everything is real processes on loopback.
package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{} // package path → binary
)

// vigilBinary builds cmd/vigil once per test binary, the way `make build`
// does, so memory figures are those of the shipped binary. VIGIL_BIN names
// a binary to use instead (e.g. bin/vigil from `make build`).
func vigilBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("VIGIL_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatal(err)
		}
		return abs
	}
	return binary(tb, "github.com/vigil-redis/vigil/cmd/vigil")
}

// binary builds the command pkg once per test binary, as `make build`
// builds vigil.
func binary(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "vigil-bench-bin-")
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// proc is one observer process (a vigil sidecar or a redis-sentinel).
type proc struct {
	cmd          *exec.Cmd
	bin          string
	args         []string
	log          string
	done         chan struct{}
	sentinelAddr string // Sentinel-protocol endpoint
	httpAddr     string // vigil only
	proxyAddr    string // vigil only
}

func startProc(tb testing.TB, logPath, bin string, args ...string) *proc {
	tb.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		tb.Fatalf("start %s: %v", bin, err)
	}
	f.Close()
	p := &proc{cmd: cmd, bin: bin, args: args, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if tb.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				lines := strings.Split(string(b), "\n")
				if len(lines) > 40 {
					lines = lines[len(lines)-40:]
				}
				tb.Logf("%s:\n%s", logPath, strings.Join(lines, "\n"))
			}
		}
	})
	return p
}

// signal sends sig and waits up to wait for the process to exit; it reports
// whether it did.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		return false
	}
}

// restart starts the same command again, logging to a new file beside the
// old one, and returns the new process.
func (p *proc) restart(tb testing.TB) *proc {
	tb.Helper()
	n := 2
	for ; ; n++ {
		if _, err := os.Stat(fmt.Sprintf("%s.%d", p.log, n)); os.IsNotExist(err) {
			break
		}
	}
	q := startProc(tb, fmt.Sprintf("%s.%d", p.log, n), p.bin, p.args...)
	q.sentinelAddr, q.httpAddr, q.proxyAddr = p.sentinelAddr, p.httpAddr, p.proxyAddr
	return q
}

var (
	flagsOnce sync.Once
	runHelp   string
)

// vigilHasFlag reports whether the vigil binary's `run` accepts --name, so
// scenarios can pass configuration keys that only newer builds have.
func vigilHasFlag(tb testing.TB, name string) bool {
	tb.Helper()
	bin := vigilBinary(tb)
	flagsOnce.Do(func() {
		out, _ := exec.Command(bin, "run", "--help").CombinedOutput()
		runHelp = string(out)
	})
	return strings.Contains(runHelp, "--"+name+" ") || strings.Contains(runHelp, "--"+name+"=")
}

func freePort(tb testing.TB) int { return redistest.FreePort(tb, "127.0.0.1") }

func hostPort(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

// group is one primary and two replicas, all in sync.
type group struct {
	nodes []*redistest.Server
}

func startGroup(tb testing.TB) *group {
	tb.Helper()
	p := redistest.Start(tb, redistest.Options{})
	g := &group{nodes: []*redistest.Server{p}}
	for range 2 {
		r := redistest.Start(tb, redistest.Options{ReplicaOf: p.Addr()})
		g.nodes = append(g.nodes, r)
	}
	for _, r := range g.nodes[1:] {
		r.WaitSynced(tb)
	}
	return g
}

// startVigils starts one sidecar beside each node of g.
func startVigils(tb testing.TB, g *group, downAfter time.Duration, extra ...string) []*proc {
	tb.Helper()
	bin := vigilBinary(tb)
	n := len(g.nodes)
	gossipPorts := make([]int, n)
	var join []string
	for i := range gossipPorts {
		gossipPorts[i] = freePort(tb)
		join = append(join, hostPort(gossipPorts[i]))
	}
	fence := downAfter / 2
	var procs []*proc
	for i, node := range g.nodes {
		dir := tb.TempDir()
		sent, web, prx := hostPort(freePort(tb)), hostPort(freePort(tb)), hostPort(freePort(tb))
		args := []string{"run",
			"--node.name", fmt.Sprintf("n%d", i),
			"--node.data_dir", dir,
			"--redis.addr", node.Addr(),
			"--gossip.bind_addr", hostPort(gossipPorts[i]),
			"--gossip.join", strings.Join(join, ","),
			"--gossip.encryption_key", "YmVuY2gtZ3JvdXAtZ29zc2lwLWtleS0zMi1ieXRlcyE=", // vigil run requires one
			"--sentinel.listen_addr", sent,
			"--http.listen_addr", web,
			"--proxy.listen_addr", prx,
			"--failover.down_after", downAfter.String(),
			"--failover.fence_after", fence.String(),
			"--log.format", "json",
		}
		args = append(args, extra...)
		p := startProc(tb, filepath.Join(dir, "vigil.log"), bin, args...)
		p.sentinelAddr, p.httpAddr, p.proxyAddr = sent, web, prx
		procs = append(procs, p)
	}
	return procs
}

// skeleton is what internal/bench/skeleton runs (BenchmarkIdle).
type skeleton int

const (
	probeOnly skeleton = iota // the Redis probes
	parts                     // the probes, memberlist and Raft
	reporting                 // parts, and reports as often as vigil's
)

// startSkeletons starts one internal/bench/skeleton process of kind beside
// each node of g.
func startSkeletons(tb testing.TB, g *group, interval string, kind skeleton) []*proc {
	tb.Helper()
	bin := binary(tb, "github.com/vigil-redis/vigil/internal/bench/skeleton")
	n := len(g.nodes)
	gossip, peers := make([]string, n), make([]string, n)
	for i := range n {
		gossip[i] = hostPort(freePort(tb))
		peers[i] = fmt.Sprintf("s%d=%s", i, hostPort(freePort(tb)))
	}
	var procs []*proc
	for i, node := range g.nodes {
		dir := tb.TempDir()
		args := []string{
			"-name", fmt.Sprintf("s%d", i),
			"-http", hostPort(freePort(tb)),
			"-redis", node.Addr(),
			"-primary", g.nodes[0].Addr(),
			"-interval", interval,
		}
		if kind != probeOnly {
			_, raftAddr, _ := strings.Cut(peers[i], "=")
			args = append(args,
				"-gossip", gossip[i], "-join", gossip[0],
				"-key", "YmVuY2gtZ3JvdXAtZ29zc2lwLWtleS0zMi1ieXRlcyE=",
				"-raft", raftAddr, "-peers", strings.Join(peers, ","), "-dir", dir)
		}
		if kind == parts {
			args = append(args, "-report", "1h")
		}
		procs = append(procs, startProc(tb, filepath.Join(dir, "skeleton.log"), bin, args...))
	}
	return procs
}

// startSentinels starts three redis-sentinel processes watching g.
func startSentinels(tb testing.TB, g *group, downAfter time.Duration) []*proc {
	tb.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		tb.Fatal("redis-sentinel not found: install the Debian package redis-sentinel (make deps)")
	}
	var procs []*proc
	for range 3 {
		dir := tb.TempDir()
		port := freePort(tb)
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
sentinel monitor mymaster %s %d 2
sentinel down-after-milliseconds mymaster %d
sentinel parallel-syncs mymaster 1
`, port, dir, g.nodes[0].Host(), g.nodes[0].Port(), downAfter.Milliseconds())
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
		p := startProc(tb, filepath.Join(dir, "sentinel.log"), bin, conf)
		p.sentinelAddr = hostPort(port)
		procs = append(procs, p)
	}
	return procs
}

// procStat reads a process's CPU time and resident memory from /proc.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which may contain spaces.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	cpu = time.Duration(utime+stime) * time.Second / clkTck

	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb * 1024
		}
	}
	return cpu, rss, nil
}

// procSwitches is the number of context switches (voluntary and not) of
// every thread of pid. On a virtual machine whose cost per wake-up varies
// from one window to the next, it is the steadier measure of how often a
// process wakes. A thread that exits takes its count with it; Go's and
// redis-sentinel's threads live as long as the process.
func procSwitches(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("threads of %d: %v", pid, err)
	}
	var n int64
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited
		}
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n, nil
}
