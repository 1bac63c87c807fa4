package retryq

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// Acceptance a: writes queued while no primary is writable are applied once
// one is, in per-key order — first on the recovered primary, then on a
// replica promoted after a failover.
func TestDrainAfterRecoveryAndFailover(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: srv.Addr()})
	rep.WaitSynced(t)
	cfg := testConfig()
	cfg.BatchSize = 16 // several batches, several workers
	q := startQueue(t, cfg, t.TempDir(), nil)

	const lists = 5
	want := map[string][]string{}
	enqueue := func(from, to int) {
		var items []NewItem
		for i := from; i < to; i++ {
			k := "list:" + strconv.Itoa(i%lists)
			items = append(items, NewItem{Command: cmd("RPUSH", k, strconv.Itoa(i)), Priority: i % 3})
			want[k] = append(want[k], strconv.Itoa(i))
		}
		mustEnqueue(t, q, items...)
	}
	enqueue(0, 300)
	if n, _ := srv.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("dbsize %d before any primary is writable, want 0", n)
	}
	q.src.Set(srv.Addr())
	waitDrained(t, q, 20*time.Second)
	for k, w := range want {
		got, err := srv.Client().LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Fatalf("%s on the recovered primary (-want +got):\n%s", k, diff)
		}
	}

	// Failover: no primary while more writes arrive, then the replica is
	// promoted and named the writable primary.
	q.src.Clear()
	enqueue(300, 400)
	redistest.Eventually(t, 10*time.Second, func() error {
		if off, _ := rep.Client().LLen(ctx, "list:0").Result(); off != 60 {
			return fmt.Errorf("replica has %d items in list:0, want 60", off)
		}
		return nil
	})
	srv.Kill(t)
	if err := rep.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	q.src.Set(rep.Addr())
	waitDrained(t, q, 20*time.Second)
	for k, w := range want {
		got, err := rep.Client().LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Fatalf("%s on the promoted replica (-want +got):\n%s", k, diff)
		}
	}
	if got := testutil.ToFloat64(q.m.replayed); got != 400 {
		t.Fatalf("replayed_total %v, want 400", got)
	}
}

// Across ordering keys: higher priority first, FIFO within a priority.
func TestDrainPriorityThenFIFO(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig()
	cfg.DrainConcurrency = 1 // one batch at a time...
	cfg.BatchSize = 1        // ...of one item, so the apply order is the dispatch order
	q := startQueue(t, cfg, t.TempDir(), nil)
	prios := []int{0, 5, 0, 9, 5, -1, 9, 0}
	var want []string
	for i, p := range prios {
		// Distinct ordering keys, one shared list: the list records the order.
		mustEnqueue(t, q, NewItem{Command: cmd("RPUSH", "log", fmt.Sprintf("p%d-%d", p, i)), Priority: p, Key: []byte(strconv.Itoa(i))})
	}
	for _, p := range []int{9, 5, 0, -1} {
		for i, pp := range prios {
			if pp == p {
				want = append(want, fmt.Sprintf("p%d-%d", p, i))
			}
		}
	}
	q.src.Set(srv.Addr())
	waitDrained(t, q, 10*time.Second)
	got, err := srv.Client().LRange(ctx, "log", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("apply order (-want +got):\n%s", diff)
	}
}

// Acceptance e: permanent errors and exhausted attempts end in the
// dead-letter set; requeue brings an item back.
func TestDeadLettersAndRequeue(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rc := srv.Client()
	if err := rc.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "notint", "abc", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	// An unknown command is the one permanent error Redis gives for the
	// command itself; the policy lets operators list any non-denied name.
	cfg.AllowedCommands = append(cfg.AllowedCommands, "nosuchcommand")
	q := startQueue(t, cfg, t.TempDir(), NewPrimaryAddr(srv.Addr(), "", ""))
	ids := mustEnqueue(t, q,
		NewItem{ID: "wrongtype", Command: cmd("LPUSH", "str", "a")},
		NewItem{ID: "unknown", Command: cmd("NOSUCHCOMMAND", "k")},
		NewItem{ID: "syntax", Command: cmd("SET", "k", "v", "BOGUS")},
		NewItem{ID: "notint", Command: cmd("INCR", "notint"), MaxAttempts: 3},
	)
	if diff := cmp.Diff([]string{"wrongtype", "unknown", "syntax", "notint"}, ids); diff != "" {
		t.Fatalf("ids (-want +got):\n%s", diff)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		s, err := q.Stats()
		if err != nil {
			return err
		}
		if s.Dead != 4 {
			return fmt.Errorf("dead %d, want 4", s.Dead)
		}
		return nil
	})
	type view struct {
		Attempts int
		ErrCode  string
	}
	got := map[string]view{}
	items, err := q.List(ListOptions{State: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		code := it.LastError
		if i := len(code); i > 0 {
			code = strings.Fields(code)[0]
		}
		got[it.ID] = view{it.Attempts, code}
	}
	want := map[string]view{
		"wrongtype": {1, "WRONGTYPE"},
		"unknown":   {1, "ERR"},
		"syntax":    {1, "ERR"},
		"notint":    {3, "ERR"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("dead letters (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(q.m.deadLettered.WithLabelValues(reasonPermanent)); got != 3 {
		t.Errorf("dead_lettered_total{reason=permanent} %v, want 3", got)
	}
	if got := testutil.ToFloat64(q.m.deadLettered.WithLabelValues(reasonExhausted)); got != 1 {
		t.Errorf("dead_lettered_total{reason=exhausted} %v, want 1", got)
	}

	// Fix the data, requeue, and the items apply.
	if err := rc.Set(ctx, "notint", "5", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Del(ctx, "str").Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"notint", "wrongtype"} {
		it, err := q.Requeue(id)
		if err != nil {
			t.Fatal(err)
		}
		if it.State != "ready" || it.Attempts != 0 {
			t.Fatalf("requeued %s: state %s attempts %d, want ready 0", id, it.State, it.Attempts)
		}
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if v, _ := rc.Get(ctx, "notint").Result(); v != "6" {
			return fmt.Errorf("notint = %q, want 6", v)
		}
		if v, _ := rc.LRange(ctx, "str", 0, -1).Result(); len(v) != 1 {
			return fmt.Errorf("str = %q, want [a]", v)
		}
		return nil
	})
	redistest.Eventually(t, 5*time.Second, func() error {
		s, _ := q.Stats()
		if s.Dead != 2 || s.Items != 2 {
			return fmt.Errorf("dead %d items %d, want 2 2", s.Dead, s.Items)
		}
		return nil
	})
}

// Acceptance f: an outage of the writable primary — refused connections,
// a read-only replica, a hung server — consumes no attempts, although the
// drain loop keeps trying throughout.
func TestOutageSpendsNoAttempts(t *testing.T) {
	ctx := context.Background()
	dead := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: dead.Addr()})
	rep.WaitSynced(t)
	hung := redistest.Start(t, redistest.Options{})
	dead.Kill(t)

	cfg := testConfig()
	cfg.RedisTimeout = 100 * time.Millisecond // the hung server times out fast
	cfg.DefaultMaxAttempts = 1                // a single spent attempt would dead-letter
	q := startQueue(t, cfg, t.TempDir(), NewPrimaryAddr(dead.Addr(), "", ""))
	var items []NewItem
	for i := range 50 {
		items = append(items, NewItem{Command: cmd("INCR", "counter"), Key: []byte(strconv.Itoa(i % 7))})
	}
	mustEnqueue(t, q, items...)

	phase := func(name string, errorsAtLeast float64) {
		t.Helper()
		start := testutil.ToFloat64(q.m.primaryErrs)
		redistest.Eventually(t, 20*time.Second, func() error {
			if got := testutil.ToFloat64(q.m.primaryErrs) - start; got < errorsAtLeast {
				return fmt.Errorf("%s: %v failed replays so far", name, got)
			}
			return nil
		})
		s, err := q.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.Ready+s.Inflight != 50 || s.Dead != 0 || s.Failed != 0 {
			t.Fatalf("%s: stats %+v, want 50 ready or in flight, 0 dead, 0 failed", name, s)
		}
		for id, a := range attemptsOf(t, q) {
			if a != 0 {
				t.Fatalf("%s: item %s has %d attempts, want 0", name, id, a)
			}
		}
	}
	phase("connection refused", 30)
	q.src.Set(rep.Addr())
	phase("read-only replica", 30)
	hung.Stop(t)
	q.src.Set(hung.Addr())
	phase("hung server", 5)
	hung.Cont(t)
	waitDrained(t, q, 20*time.Second)
	if v, err := hung.Client().Get(ctx, "counter").Int(); err != nil || v != 50 {
		t.Fatalf("counter = %d, %v; want 50", v, err)
	}
}

// Items of one ordering key replayed in one script call: an item whose
// predecessor failed is held back (its write and its done-marker both
// undone) until the predecessor is settled, and nothing applies twice.
func TestReplayHoldsItemsBehindFailedPredecessor(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rc := srv.Client()
	if err := rc.Set(ctx, "notint", "abc", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.DrainConcurrency = 1 // one batch, so the three items share a call
	q := startQueue(t, cfg, t.TempDir(), nil)
	k := []byte("k")
	mustEnqueue(t, q,
		NewItem{ID: "first", Key: k, Command: cmd("RPUSH", "log", "1")},
		NewItem{ID: "bad", Key: k, Command: cmd("INCR", "notint"), MaxAttempts: 2},
		NewItem{ID: "third", Key: k, Command: cmd("RPUSH", "log", "3")},
		NewItem{ID: "other", Command: cmd("RPUSH", "other", "x")},
	)
	q.src.Set(srv.Addr())
	redistest.Eventually(t, 10*time.Second, func() error {
		s, err := q.Stats()
		if err != nil {
			return err
		}
		if s.Dead != 1 || s.Ready+s.Inflight != 0 {
			return fmt.Errorf("dead %d, ready %d, inflight %d; want 1 0 0", s.Dead, s.Ready, s.Inflight)
		}
		return nil
	})
	got, err := rc.LRange(ctx, "log", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1", "3"}, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if n, err := rc.LLen(ctx, "other").Result(); err != nil || n != 1 {
		t.Errorf("other has %d items (err %v), want 1", n, err)
	}
	for id, want := range map[string]int64{"first": 1, "bad": 0, "third": 1, "other": 1} {
		if got, err := rc.Exists(ctx, DoneKeyPrefix+id).Result(); err != nil || got != want {
			t.Errorf("done-marker of %s: exists %d (err %v), want %d", id, got, err, want)
		}
	}
}

// An item is deleted only once a replica holds its write: a primary cut
// off from its replicas still applies items until it is fenced, and the
// failover that follows discards them (chaos seed 4). Kept, the item is
// applied on the new primary, once; confirmed later, it is not applied
// again.
func TestItemKeptUntilAReplicaHasIt(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: srv.Addr()})
	rep.WaitSynced(t)
	q := startQueue(t, testConfig(), t.TempDir(), NewPrimaryAddr(srv.Addr(), "", ""))
	queued := func() int {
		s, err := q.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s.Ready + s.Inflight
	}
	applied := func(s *redistest.Server, key, want string) {
		t.Helper()
		redistest.Eventually(t, 10*time.Second, func() error {
			if v, _ := s.Client().Get(ctx, key).Result(); v != want {
				return fmt.Errorf("%s = %q on %s, want %q", key, v, s.Addr(), want)
			}
			return nil
		})
	}

	// The replica stalls, then resumes: the item stays queued until it
	// has the write, and is applied once.
	rep.Stop(t)
	mustEnqueue(t, q, NewItem{Command: cmd("INCR", "a")})
	applied(srv, "a", "1")
	redistest.Eventually(t, 10*time.Second, func() error { // two rounds unconfirmed
		if n := testutil.ToFloat64(q.m.primaryErrs); n < 2 {
			return fmt.Errorf("%v unconfirmed rounds", n)
		}
		return nil
	})
	if n := queued(); n != 1 {
		t.Fatalf("%d items queued while no replica acknowledged, want 1", n)
	}
	rep.Cont(t)
	waitDrained(t, q, 10*time.Second)
	applied(srv, "a", "1")
	applied(rep, "a", "1")

	// The replica stalls, the primary dies, the replica restarts (no
	// persistence) and is promoted without the write: the item is applied
	// there. (Resumed instead, it would read the write still buffered in
	// its socket.)
	rep.Stop(t)
	mustEnqueue(t, q, NewItem{Command: cmd("INCR", "b")})
	applied(srv, "b", "1")
	srv.Kill(t)
	rep.Restart(t)
	if err := rep.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := rep.Client().Get(ctx, "b").Result(); v != "" {
		t.Fatalf("b = %q on the promoted replica before the drain, want none (the test needs the write lost)", v)
	}
	q.src.Set(rep.Addr())
	waitDrained(t, q, 10*time.Second)
	applied(rep, "b", "1")
	if got := testutil.ToFloat64(q.m.replayed); got != 2 {
		t.Fatalf("replayed_total %v, want 2", got)
	}
}

// A lone primary confirms an item by itself only when it runs alone: one
// whose group has other members (Primary.Replicated) holds the only copy,
// which the next failover discards, so the item stays queued until a
// replica has it, whatever min-replicas-to-write says (chaos seed 14010,
// N=3, min_replicas 0: b, promoted while c's Redis was stopped and a's
// cut from it, confirmed retry-queue INCRs alone; the group failed over
// to a and they were lost).
func TestLonePrimaryOfAGroupKeepsItemsSeed14010(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	src := NewPrimaryAddr("", "", "")
	src.SetReplicated(true)
	src.Set(srv.Addr())
	if p, _ := src.WritablePrimary(); !p.Replicated {
		t.Fatalf("primary %+v, want replicated", p)
	}
	q := startQueue(t, testConfig(), t.TempDir(), src)
	mustEnqueue(t, q, NewItem{Command: cmd("INCR", "a")})
	redistest.Eventually(t, 10*time.Second, func() error { // two rounds unconfirmed
		if n := testutil.ToFloat64(q.m.primaryErrs); n < 2 {
			return fmt.Errorf("%v unconfirmed rounds", n)
		}
		return nil
	})
	if s, err := q.Stats(); err != nil || s.Ready+s.Inflight != 1 {
		t.Fatalf("stats %+v, %v: want the item queued while no replica has it", s, err)
	}
	rep := redistest.Start(t, redistest.Options{ReplicaOf: srv.Addr()})
	rep.WaitSynced(t)
	waitDrained(t, q, 10*time.Second)
	for _, s := range []*redistest.Server{srv, rep} {
		redistest.Eventually(t, 10*time.Second, func() error {
			if v, _ := s.Client().Get(ctx, "a").Result(); v != "1" {
				return fmt.Errorf("a = %q on %s, want 1", v, s.Addr())
			}
			return nil
		})
	}

	// Alone by design (a single-member group): it confirms by itself.
	src.SetReplicated(false)
	rep.Kill(t)
	mustEnqueue(t, q, NewItem{Command: cmd("INCR", "b")})
	waitDrained(t, q, 10*time.Second)
}

// countHandler counts the log records whose message is msg.
type countHandler struct {
	msg string
	n   *atomic.Int32
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// A primary that fails the same way every primary_retry (a lone primary
// waiting for a replica, seed 14010's rule) is logged once, not every
// round; another error or another primary is logged at once.
func TestPauseLogsARepeatOnce(t *testing.T) {
	var n atomic.Int32
	q, err := New(testConfig(), t.TempDir(), slog.New(countHandler{"primary not writable, replay paused", &n}), prometheus.NewRegistry(), NewPrimaryAddr("", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	p := Primary{Addr: "127.0.0.1:7001"}
	for range 5 {
		q.pause(p, errNoReplica)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("%d records for five rounds of the same error, want 1", got)
	}
	q.pause(p, errUnconfirmed)
	q.pause(Primary{Addr: "127.0.0.1:7002"}, errUnconfirmed)
	if got := n.Load(); got != 3 {
		t.Fatalf("%d records after another error and another primary, want 3", got)
	}
	if got := testutil.ToFloat64(q.m.primaryErrs); got != 7 {
		t.Fatalf("primary errors %v, want every round counted (7)", got)
	}
}
