package retryq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// The command policy holds at replay as well as at enqueue: an item queued
// while retryq.allowed_commands allowed it, and still on disk when the list
// was narrowed, never runs. It is dead-lettered with a reason (not dropped),
// logged and counted, and the items queued behind it on its key still apply.
func TestReplayRefusesWhatThePolicyNoLongerAllows(t *testing.T) {
	dir := t.TempDir()
	// Queued with the default policy (INCR allowed) and no primary known.
	func() {
		q, err := New(testConfig(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), NewPrimaryAddr("", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- q.Run(ctx) }()
		items := []NewItem{
			{ID: "set-a", Command: cmd("SET", "a", "1")},
			{ID: "incr-n", Command: cmd("INCR", "n")},
			{ID: "set-n", Command: cmd("SET", "n", "5")},
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := q.Enqueue(context.Background(), items)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrNotRunning) || time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()

	// Restarted with INCR taken off the list, and a primary to drain into.
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig()
	cfg.AllowedCommands = slices.DeleteFunc(DefaultAllowedCommands(), func(s string) bool { return s == "incr" })
	q := startQueue(t, cfg, dir, NewPrimaryAddr(srv.Addr(), "", ""))
	redistest.Eventually(t, 10*time.Second, func() error {
		s, err := q.Stats()
		if err != nil {
			return err
		}
		if s.Dead != 1 || s.Items != 1 {
			return fmt.Errorf("items %d, dead %d; want only the INCR left, dead-lettered", s.Items, s.Dead)
		}
		return nil
	})
	dead, err := q.List(ListOptions{State: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != "incr-n" || !strings.Contains(dead[0].LastError, "refused at replay") ||
		!strings.Contains(dead[0].LastError, `"INCR"`) {
		t.Fatalf("dead letters %+v, want incr-n refused at replay naming INCR", dead)
	}
	if got := testutil.ToFloat64(q.m.deadLettered.WithLabelValues(reasonPolicy)); got != 1 {
		t.Errorf("dead_lettered_total{reason=policy} %v, want 1", got)
	}
	ctx := context.Background()
	for k, want := range map[string]string{"a": "1", "n": "5"} {
		if got, err := srv.Client().Get(ctx, k).Result(); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %s (the allowed items applied, the INCR never)", k, got, err, want)
		}
	}
	// Requeued by an operator, it is refused again: the policy is not a
	// one-time check.
	if _, err := q.Requeue("incr-n"); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if got := testutil.ToFloat64(q.m.deadLettered.WithLabelValues(reasonPolicy)); got != 2 {
			return fmt.Errorf("dead_lettered_total{reason=policy} %v, want 2 after the requeue", got)
		}
		return nil
	})
	if got, _ := srv.Client().Get(ctx, "n").Result(); got != "5" {
		t.Errorf("n = %q after the requeue, want 5 (the INCR never runs)", got)
	}
}
