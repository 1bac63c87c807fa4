package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// BenchmarkFailover measures, side by side, how long writes are impossible
// when the primary gets SIGKILL: from the kill to the first successful write
// on the new primary, for three redis-sentinel and for three vigil
// observers (quorum 2), at down-after 1s and 5s. A writer sets a new key
// every millisecond, in one of three ways: "nodes" tries every node (the
// server-side window, independent of any client's discovery), "go-redis"
// is an unmodified go-redis failover client whose Sentinel addresses are
// the observers (the client-visible window), "proxy" is a plain client
// through vigil's primary-following proxy. It also counts acknowledged
// writes missing on the new primary afterwards.
// VIGIL_BENCH_RUNS sets the runs per cell (default 5).
func BenchmarkFailover(b *testing.B) {
	runs := benchRuns(b, 5)
	cells := []struct{ sys, writer string }{
		{"sentinel", "nodes"}, {"vigil", "nodes"},
		{"sentinel", "go-redis"}, {"vigil", "go-redis"},
		{"vigil", "proxy"},
	}
	for _, d := range []time.Duration{time.Second, 5 * time.Second} {
		for _, cell := range cells {
			b.Run(fmt.Sprintf("%s/writer=%s/down_after=%s", cell.sys, cell.writer, d), func(b *testing.B) {
				for range b.N {
					var windows []time.Duration
					lost := 0
					for run := range runs {
						w, l := failoverRun(b, cell.sys, cell.writer, d)
						b.Logf("run %d: window %.3fs, %d acknowledged writes lost", run+1, w.Seconds(), l)
						windows = append(windows, w)
						lost += l
					}
					slices.Sort(windows)
					b.ReportMetric(windows[len(windows)/2].Seconds(), "median_s")
					b.ReportMetric(windows[0].Seconds(), "min_s")
					b.ReportMetric(windows[len(windows)-1].Seconds(), "max_s")
					b.ReportMetric(float64(lost), "lost_writes")
				}
			})
		}
	}
}

// failoverRun sets up a fresh group and observers, kills the primary under
// a writer and returns the unavailability window and the lost writes.
func failoverRun(b *testing.B, sys, writerKind string, downAfter time.Duration) (time.Duration, int) {
	r := newRig(b, sys, downAfter)
	if sys == "vigil" {
		waitCalm(b, r.observers)
	}
	r.startWriter(b, writerKind)
	defer r.stop()
	killed := time.Now()
	r.g.nodes[0].Kill(b)
	r.w.markKill(killed)
	r.waitRecovered(b, downAfter)
	r.finish()
	return r.w.recovered().Sub(killed), r.w.lost(b, r.g)
}

// rig is one run's group, observers and writer.
type rig struct {
	sys       string
	g         *group
	observers []*proc
	w         *writer
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// newRig starts a fresh group and its observers (sys "sentinel" or
// "vigil"; vigilArgs go to every sidecar) and waits until they are ready.
func newRig(b *testing.B, sys string, downAfter time.Duration, vigilArgs ...string) *rig {
	r := &rig{sys: sys, g: startGroup(b)}
	switch sys {
	case "sentinel":
		r.observers = startSentinels(b, r.g, downAfter)
		waitSentinels(b, r.observers)
	case "vigil":
		r.observers = startVigils(b, r.g, downAfter, vigilArgs...)
		waitVigils(b, r.observers)
	default:
		b.Fatalf("unknown system %q", sys)
	}
	return r
}

// startWriter starts the writer ("nodes", "go-redis" or "proxy") and waits
// for a second of steady writes.
func (r *rig) startWriter(b *testing.B, kind string) {
	switch kind {
	case "nodes":
		r.w = newNodeWriter(r.g)
	case "go-redis":
		var addrs []string
		for _, p := range r.observers {
			addrs = append(addrs, p.sentinelAddr)
		}
		r.w = newClientWriter(addrs)
	case "proxy":
		r.w = newProxyWriter(r.observers[1].proxyAddr)
	default:
		b.Fatalf("unknown writer %q", kind)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.w.run(ctx) })
	redistest.Eventually(b, 5*time.Second, func() error {
		if r.w.acks() < 500 {
			return errors.New("writer not yet steady")
		}
		return nil
	})
}

// waitRecovered waits until a write succeeded after the last kill.
func (r *rig) waitRecovered(b *testing.B, downAfter time.Duration) {
	limit := downAfter + 60*time.Second
	deadline := time.Now().Add(limit)
	for r.w.recovered().IsZero() {
		if time.Now().After(deadline) {
			r.stop()
			b.Fatalf("%s: no write succeeded within %s of the kill", r.sys, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish keeps writing for a moment, so late reconfiguration is exercised
// too, then stops the writer.
func (r *rig) finish() {
	time.Sleep(500 * time.Millisecond)
	r.stop()
}

// stop stops the writer; it may be called more than once.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
	r.w.close()
	r.cancel = nil
}

// benchRuns reads VIGIL_BENCH_RUNS, the runs per cell (default def).
func benchRuns(b *testing.B, def int) int {
	v := os.Getenv("VIGIL_BENCH_RUNS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("VIGIL_BENCH_RUNS (%q) must be a positive integer", v)
	}
	return n
}

func waitSentinels(b *testing.B, ss []*proc) {
	b.Helper()
	// Each sentinel must know both replicas and both other sentinels, or
	// its failover would start late and the comparison be unfair.
	for _, p := range ss {
		addr := p.sentinelAddr
		c := redis.NewSentinelClient(&redis.Options{Addr: addr})
		redistest.Eventually(b, 30*time.Second, func() error {
			m, err := c.Master(context.Background(), "mymaster").Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s: %s replicas, %s other sentinels", addr, m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
		c.Close()
	}
}

func waitVigils(b *testing.B, vs []*proc) {
	b.Helper()
	for _, p := range vs {
		redistest.Eventually(b, 30*time.Second, func() error {
			_, err := getOK("http://" + p.httpAddr + "/-/ready")
			return err
		})
	}
}

// waitCalm waits until every sidecar runs Raft at its calm timings
// (vigil_raft_calm 1), as an idle group does when its primary fails: a
// fresh group is calm only after twice down_after without trouble. A build
// without calm timings (no such metric) is not waited for.
func waitCalm(b *testing.B, vs []*proc) {
	b.Helper()
	for _, p := range vs {
		redistest.Eventually(b, 60*time.Second, func() error {
			body, err := getOK("http://" + p.httpAddr + "/metrics")
			if err != nil {
				return err
			}
			if bytes.Contains(body, []byte("\nvigil_raft_calm 1\n")) || !bytes.Contains(body, []byte("\nvigil_raft_calm ")) {
				return nil
			}
			return fmt.Errorf("%s: raft not yet calm", p.httpAddr)
		})
	}
}

// getOK returns the body of url, or an error unless it answers 200 OK
// within 2 s (a stopped sidecar must not hold a poll past its deadline).
func getOK(url string) ([]byte, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return body, nil
}

// writer sets w:<seq> every millisecond through do and records which
// writes were acknowledged, when writes came back after each kill, and how
// long writes failed in all.
type writer struct {
	do      func(ctx context.Context, key string) error
	closeFn func()

	mu        sync.Mutex
	acked     []int64
	ackedAt   []time.Time // ackedAt[i]: when acked[i] was acknowledged
	kills     []time.Time // when each kill was issued
	deads     []time.Time // when each killed process was known gone (markKill)
	backs     []time.Time // backs[i]: first ack of a write started after deads[i]
	failStart time.Time   // start of the first failed write since the last ack
	down      time.Duration
	outages   int
}

// newNodeWriter tries every node in turn, starting with the last one that
// accepted a write: the server-side window, free of client discovery.
func newNodeWriter(g *group) *writer {
	var clients []*redis.Client
	for _, n := range g.nodes {
		clients = append(clients, redis.NewClient(&redis.Options{
			Addr: n.Addr(), MaxRetries: -1, DialTimeout: 50 * time.Millisecond,
			ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond, PoolSize: 2,
		}))
	}
	return newClientsWriter(clients)
}

// newClientsWriter is newNodeWriter over clients the caller built (e.g.
// dialling into a network namespace); closing the writer closes them.
func newClientsWriter(clients []*redis.Client) *writer {
	cur := 0
	return &writer{
		do: func(ctx context.Context, key string) error {
			var err error
			for i := range clients {
				n := (cur + i) % len(clients)
				if err = clients[n].Set(ctx, key, 1, 0).Err(); err == nil {
					cur = n
					return nil
				}
			}
			return err
		},
		closeFn: func() {
			for _, c := range clients {
				c.Close()
			}
		},
	}
}

// newClientWriter writes through an unmodified go-redis failover client
// whose Sentinel addresses are the observers.
func newClientWriter(sentinels []string) *writer {
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: sentinels,
		DialTimeout:   100 * time.Millisecond,
		ReadTimeout:   100 * time.Millisecond,
		WriteTimeout:  100 * time.Millisecond,
		MaxRetries:    -1,
	})
	return &writer{
		do:      func(ctx context.Context, key string) error { return c.Set(ctx, key, 1, 0).Err() },
		closeFn: func() { c.Close() },
	}
}

// newProxyWriter writes through vigil's primary-following proxy with a
// plain client that knows nothing of Sentinel.
func newProxyWriter(addr string) *writer {
	c := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond, PoolSize: 2,
	})
	return &writer{
		do:      func(ctx context.Context, key string) error { return c.Set(ctx, key, 1, 0).Err() },
		closeFn: func() { c.Close() },
	}
}

func (w *writer) close() { w.closeFn() }

func (w *writer) run(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for seq := int64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		started := time.Now()
		if err := w.do(ctx, "w:"+strconv.FormatInt(seq, 10)); err != nil {
			if ctx.Err() != nil {
				return // cancelled, not refused
			}
			w.mu.Lock()
			if w.failStart.IsZero() {
				w.failStart = started
			}
			w.mu.Unlock()
			continue
		}
		now := time.Now()
		w.mu.Lock()
		w.acked = append(w.acked, seq)
		w.ackedAt = append(w.ackedAt, now)
		for i, d := range w.deads {
			if w.backs[i].IsZero() && started.After(d) {
				w.backs[i] = now
			}
		}
		if !w.failStart.IsZero() {
			w.down += now.Sub(w.failStart)
			w.outages++
			w.failStart = time.Time{}
		}
		w.mu.Unlock()
	}
}

// markKill records a kill issued at issued; call it once the killed process
// is gone. Windows count from issued, but only writes started after this
// call count as recovery: a write started between issuing the kill and the
// process dying may still be acknowledged by the dying process.
func (w *writer) markKill(issued time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kills = append(w.kills, issued)
	w.deads = append(w.deads, time.Now())
	w.backs = append(w.backs, time.Time{})
}

// unavailable returns the total time writes failed (from the first failed
// write of each outage to the next acknowledged one) and how many outages
// there were.
func (w *writer) unavailable() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.down, w.outages
}

// windows returns, for each markKill, how long after it the first write
// started after it was acknowledged; 0 for a kill not recovered from.
func (w *writer) windows() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Duration, len(w.kills))
	for i, k := range w.kills {
		if !w.backs[i].IsZero() {
			out[i] = w.backs[i].Sub(k)
		}
	}
	return out
}

func (w *writer) acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// recovered returns when writes came back after the last markKill, or the
// zero time.
func (w *writer) recovered() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.backs) == 0 {
		return time.Time{}
	}
	return w.backs[len(w.backs)-1]
}

// lost counts acknowledged writes missing on the new primary.
func (w *writer) lost(b *testing.B, g *group) int {
	var clients []*redis.Client
	for _, n := range g.nodes {
		clients = append(clients, n.Client())
	}
	return w.lostOn(b, clients)
}

// lostOn counts acknowledged writes missing on the primary among clients:
// the node answering ROLE as master (killed nodes do not answer), the one
// with replicas if several claim it.
func (w *writer) lostOn(b *testing.B, clients []*redis.Client) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx := context.Background()
	var c *redis.Client
	masters := 0
	for _, n := range clients {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		role, err := n.Do(rctx, "ROLE").Slice()
		cancel()
		if err != nil || len(role) < 3 || role[0] != "master" {
			continue
		}
		masters++
		if replicas, _ := role[2].([]any); c == nil || len(replicas) > 0 {
			c = n
		}
	}
	if c == nil {
		b.Fatal("count lost writes: no primary")
	}
	if masters > 1 {
		b.Logf("count lost writes: %d nodes claim to be primary; counting on %s, the one with replicas", masters, c.Options().Addr)
	}
	missing := 0
	var firstLost, lastLost time.Time
	for i := 0; i < len(w.acked); i += 1000 {
		end := min(i+1000, len(w.acked))
		keys := make([]string, 0, end-i)
		for _, s := range w.acked[i:end] {
			keys = append(keys, "w:"+strconv.FormatInt(s, 10))
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			b.Fatalf("count lost writes: %v", err)
		}
		for j, v := range vals {
			if v == nil {
				missing++
				at := w.ackedAt[i+j]
				if firstLost.IsZero() {
					firstLost = at
				}
				lastLost = at
			}
		}
	}
	if missing > 0 && len(w.kills) > 0 {
		b.Logf("lost writes were acknowledged from %s to %s after the first fault",
			firstLost.Sub(w.kills[0]).Round(time.Millisecond), lastLost.Sub(w.kills[0]).Round(time.Millisecond))
	}
	return missing
}
