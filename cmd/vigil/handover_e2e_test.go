package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// handoverKey encrypts the handover test's gossip and Raft streams.
const handoverKey = "dmlnaWwtaGFuZG92ZXItdGVzdC1rZXktMzItYnl0ZXM=" // 32 bytes

// procSidecar is a `vigil run` process of the real binary.
type procSidecar struct {
	*sidecarUnderTest // name and HTTP API only; no in-process run
	bin               string
	args              []string
	logs              *syncBuffer
	cmd               *exec.Cmd
	done              chan error
}

func (p *procSidecar) start(t *testing.T) {
	t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan error, 1)
	p.done = done
	cmd, logs := p.cmd, p.logs
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("sidecar %s (pid %d) log:\n%s", p.name, cmd.Process.Pid, tailLines(logs.String(), 60))
		}
	})
	redistest.Eventually(t, 15*time.Second, func() error {
		_, err := p.get("/-/healthy")
		return err
	})
}

// terminate sends SIGTERM and waits up to limit for the process to exit; it
// returns how long the exit took and the exit error.
func (p *procSidecar) terminate(t *testing.T, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup's wait
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("%s still running %s after SIGTERM", p.name, limit)
		return 0, nil
	}
}

// newProcGroup builds the vigil binary, starts the group's redis-servers
// (newE2ERedis) and a `vigil run` process beside each, with e2eFlags plus
// flags, and returns once every sidecar is healthy.
func newProcGroup(t *testing.T, flags ...string) (*e2eGroup, map[string]*procSidecar) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	g := newE2ERedis(t)

	var join []string
	ports := map[string]int{}
	for _, n := range g.nodes {
		ports[n.name] = redistest.FreePort(t, "127.0.0.1")
		join = append(join, fmt.Sprintf("127.0.0.1:%d", ports[n.name]))
	}
	procs := map[string]*procSidecar{}
	for _, n := range g.nodes {
		web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
		sentinel := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
		args := []string{"run",
			"--node.name", n.name,
			"--node.data_dir", t.TempDir(),
			"--redis.addr", n.redis.Addr(),
			"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", ports[n.name]),
			"--gossip.join", strings.Join(join, ","),
			"--gossip.encryption_key", handoverKey,
			"--sentinel.listen_addr", sentinel,
			"--http.listen_addr", web,
			"--monitor.interval", "50ms",
			"--failover.bootstrap_expect", "3",
			"--log.format", "json",
		}
		args = append(args, e2eFlags()...)
		args = append(args, flags...)
		p := &procSidecar{
			sidecarUnderTest: &sidecarUnderTest{name: n.name, http: "http://" + web, sentinel: sentinel},
			bin:              bin, args: args,
		}
		p.start(t)
		procs[n.name] = p
		n.sc = p.sidecarUnderTest
	}
	return g, procs
}

// TestHandoverOnSIGTERM runs three real `vigil run` processes beside a
// primary and two replicas (issue 9 item 6): SIGTERM to a replica's sidecar
// exits at once and changes nothing; SIGTERM to the primary's sidecar, under
// a writer, hands the primary over to a replica before the process exits 0,
// and no acknowledged write is lost.
func TestHandoverOnSIGTERM(t *testing.T) {
	g, procs := newProcGroup(t)
	st := g.waitConverged(30*time.Second, "")
	if st.Topology.Primary.Name != "a" {
		t.Fatalf("group converged on %s, want a", st.Topology.Primary.Name)
	}
	epoch := st.Topology.Epoch

	// (1) A replica's sidecar exits at once; the primary stays.
	took, err := procs["b"].terminate(t, 10*time.Second)
	if err != nil {
		t.Fatalf("b's sidecar exit after SIGTERM: %v", err)
	}
	t.Logf("b's sidecar (a replica's) exited 0 %s after SIGTERM", took.Round(time.Millisecond))
	for _, name := range []string{"a", "c"} {
		st, err := procs[name].status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Topology.Primary.Name != "a" || st.Topology.Epoch != epoch {
			t.Errorf("%s after b's sidecar stopped: primary %s at epoch %d, want a at %d",
				name, st.Topology.Primary.Name, st.Topology.Epoch, epoch)
		}
	}
	if rr, err := roleOf(g.node("a").redis); err != nil || rr.role != "master" {
		t.Errorf("a's Redis after b's sidecar stopped: %+v, %v; want master", rr, err)
	}
	procs["b"].start(t) // same data dir: it rejoins as the voter it was
	g.waitConverged(30*time.Second, "")

	// (2) The primary's sidecar hands over under a writer, then exits 0.
	var (
		mu    sync.Mutex
		acked []ack
		errs  int
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			st, err := procs["c"].status()
			if err != nil || st.Topology.Primary.Name == "" {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			n := g.node(st.Topology.Primary.Name)
			key, val := fmt.Sprintf("handover:%06d", i), fmt.Sprint(i)
			wctx, wcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			err = n.redis.Client().Set(wctx, key, val, 0).Err()
			wcancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, ack{key: key, val: val, at: time.Now()})
			} else if ctx.Err() == nil {
				errs++
			}
			mu.Unlock()
			time.Sleep(3 * time.Millisecond)
		}
	})
	stopWriter := sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stopWriter)
	redistest.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 50 {
			return fmt.Errorf("%d writes acknowledged before the handover", len(acked))
		}
		return nil
	})

	// failover.shutdown_handover (10 s by default) bounds the handover; the
	// rest is shutting down.
	took, err = procs["a"].terminate(t, 30*time.Second)
	exited := time.Now()
	if err != nil {
		t.Fatalf("a's sidecar exit after SIGTERM: %v", err)
	}
	t.Logf("a's sidecar (the primary's) exited 0 %s after SIGTERM", took.Round(time.Millisecond))

	var newPrimary string
	redistest.Eventually(t, 20*time.Second, func() error {
		var names []string
		for _, name := range []string{"b", "c"} {
			st, err := procs[name].status()
			if err != nil {
				return err
			}
			tp := st.Topology
			if tp.Primary.Name != "b" && tp.Primary.Name != "c" {
				return fmt.Errorf("%s names primary %q", name, tp.Primary.Name)
			}
			if tp.Epoch <= epoch {
				return fmt.Errorf("%s at epoch %d, not past %d", name, tp.Epoch, epoch)
			}
			names = append(names, tp.Primary.Name)
		}
		if names[0] != names[1] {
			return fmt.Errorf("b names %s, c names %s", names[0], names[1])
		}
		rr, err := roleOf(g.node(names[0]).redis)
		if err != nil {
			return err
		}
		if rr.role != "master" {
			return fmt.Errorf("%s's Redis is %s", names[0], rr.role)
		}
		newPrimary = names[0]
		return nil
	})
	// A handover, not a failover after a's sidecar was gone: a planned
	// change of primary (reason handover, or switchover, which SIGTERM's
	// handover runs) that started before a's sidecar exited. The history
	// entry is applied once the promotion is confirmed.
	redistest.Eventually(t, 10*time.Second, func() error {
		code, body, err := procs[newPrimary].do(http.MethodGet, "/v1/history")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%s /v1/history: %d %v", newPrimary, code, err)
		}
		var history []struct {
			Epoch            uint64
			Old, New, Reason string
			Start            time.Time
		}
		if err := json.Unmarshal([]byte(body), &history); err != nil {
			return fmt.Errorf("%s /v1/history: %w", newPrimary, err)
		}
		for _, h := range history {
			planned := h.Reason == "handover" || h.Reason == "switchover"
			if h.Epoch > epoch && planned && h.Old == "a" && h.New == newPrimary && h.Start.Before(exited) {
				return nil
			}
		}
		return fmt.Errorf("history after epoch %d has no handover from a to %s started before a's sidecar exited (%s): %s",
			epoch, newPrimary, exited.Format(time.RFC3339Nano), body)
	})

	// Writes go on against the new primary.
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	redistest.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < before+20 {
			return errors.New("no writes acknowledged by the new primary yet")
		}
		return nil
	})
	stopWriter()

	mu.Lock()
	defer mu.Unlock()
	if lost := missing(t, g.node(newPrimary).redis, acked); len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes missing on the new primary %s, first: %v",
			len(lost), len(acked), newPrimary, lost[:min(len(lost), 5)])
	}
	t.Logf("handed over to %s: %d writes acknowledged, %d refused, none lost", newPrimary, len(acked), errs)
	if code, err := procs[newPrimary].get("/-/ready"); err != nil || code != http.StatusOK {
		t.Errorf("%s /-/ready = %d, %v after the handover", newPrimary, code, err)
	}
}
