package retryq

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// testConfig starts from the defaults and shortens every wait so tests are
// fast; each change says why.
func testConfig() Config {
	c := DefaultConfig()
	c.DrainRate = 0                         // no pacing in tests
	c.BackoffBase = 2 * time.Millisecond    // item retries within milliseconds
	c.BackoffMax = 10 * time.Millisecond    // ... and never long
	c.PrimaryRetry = 10 * time.Millisecond  // re-probe a failed primary quickly
	c.RedisTimeout = 300 * time.Millisecond // a stopped primary times out quickly
	return c
}

type testQueue struct {
	*Queue
	reg *prometheus.Registry
	src *PrimaryAddr
}

// startQueue runs a queue in dir until the test ends.
func startQueue(t testing.TB, cfg Config, dir string, src *PrimaryAddr) *testQueue {
	t.Helper()
	if src == nil {
		src = NewPrimaryAddr("", "", "")
	}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	q, err := New(cfg, dir, logger, reg, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run did not return")
		}
	})
	redistest.Eventually(t, 5*time.Second, func() error {
		_, err := q.Stats()
		return err
	})
	return &testQueue{Queue: q, reg: reg, src: src}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func cmd(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

func mustEnqueue(t testing.TB, q *testQueue, items ...NewItem) []string {
	t.Helper()
	ids, err := q.Enqueue(context.Background(), items)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return ids
}

// waitDrained waits until nothing is ready or in flight.
func waitDrained(t testing.TB, q *testQueue, timeout time.Duration) {
	t.Helper()
	redistest.Eventually(t, timeout, func() error {
		s, err := q.Stats()
		if err != nil {
			return err
		}
		if s.Ready+s.Inflight != 0 {
			return fmt.Errorf("ready %d, inflight %d", s.Ready, s.Inflight)
		}
		return nil
	})
}

func attemptsOf(t testing.TB, q *testQueue) map[string]int {
	t.Helper()
	items, err := q.List(ListOptions{Limit: maxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, it := range items {
		out[it.ID] = it.Attempts
	}
	return out
}
