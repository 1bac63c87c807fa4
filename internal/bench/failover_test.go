package bench

import (
	"context"
	"errors"
	"fmt"
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
	runs := 5
	if v := os.Getenv("VIGIL_BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("VIGIL_BENCH_RUNS (%q) must be a positive integer", v)
		}
		runs = n
	}
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
	g := startGroup(b)
	var observers []*proc
	switch sys {
	case "sentinel":
		observers = startSentinels(b, g, downAfter)
		waitSentinels(b, observers)
	case "vigil":
		observers = startVigils(b, g, downAfter)
		waitVigils(b, observers)
	}
	var w *writer
	switch writerKind {
	case "nodes":
		w = newNodeWriter(g)
	case "go-redis":
		var addrs []string
		for _, p := range observers {
			addrs = append(addrs, p.sentinelAddr)
		}
		w = newClientWriter(addrs)
	case "proxy":
		w = newProxyWriter(observers[1].proxyAddr)
	}
	defer w.close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(ctx) }()

	// A second of steady writes before the kill.
	redistest.Eventually(b, 5*time.Second, func() error {
		if w.acks() < 500 {
			return errors.New("writer not yet steady")
		}
		return nil
	})
	killed := time.Now()
	g.nodes[0].Kill(b)
	w.markKill(killed)

	deadline := time.Now().Add(downAfter + 60*time.Second)
	for w.recovered().IsZero() {
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			b.Fatalf("%s: no write succeeded within %s of the kill", sys, downAfter+60*time.Second)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Keep writing for a moment so late reconfiguration is exercised too.
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	return w.recovered().Sub(killed), w.lost(b, g)
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
		url := "http://" + p.httpAddr + "/-/ready"
		redistest.Eventually(b, 30*time.Second, func() error {
			resp, err := http.Get(url)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			return nil
		})
	}
}

// writer sets w:<seq> every millisecond through do and records which
// writes were acknowledged.
type writer struct {
	do      func(ctx context.Context, key string) error
	closeFn func()

	mu       sync.Mutex
	acked    []int64
	killTime time.Time
	back     time.Time // first ack of a write started after the kill
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
			continue
		}
		now := time.Now()
		w.mu.Lock()
		w.acked = append(w.acked, seq)
		if !w.killTime.IsZero() && w.back.IsZero() && started.After(w.killTime) {
			w.back = now
		}
		w.mu.Unlock()
	}
}

func (w *writer) markKill(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.killTime = t
}

func (w *writer) acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writer) recovered() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.back
}

// lost counts acknowledged writes missing on the new primary.
func (w *writer) lost(b *testing.B, g *group) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx := context.Background()
	var c *redis.Client
	for _, n := range g.nodes[1:] {
		role, err := n.Client().Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			c = n.Client()
		}
	}
	if c == nil {
		b.Fatal("count lost writes: no new primary")
	}
	missing := 0
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
		for _, v := range vals {
			if v == nil {
				missing++
			}
		}
	}
	return missing
}
