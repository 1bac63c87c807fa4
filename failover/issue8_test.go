package failover_test

// Acceptance tests of the Raft authority (issue 8), each a case that broke
// the home-made election: real redis-servers, real sidecars (gossip, Raft
// on raft-boltdb, failover) in one process, real faults.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/tcprelay"
)

// five is a five-sidecar group.
func five() []nodeSpec {
	return []nodeSpec{{name: "a", priority: 100}, {name: "b", priority: 100}, {name: "c", priority: 100},
		{name: "d", priority: 100}, {name: "e", priority: 100}}
}

// The failover and switchover behaviour holds with five sidecars too.
func TestFiveSidecars(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), five()...)
	before := g.waitConverged(20*time.Second, "a")
	g.node("a").redis.Kill(t)
	var after failover.Configuration
	redistest.Eventually(t, 30*time.Second, func() error {
		c, err := g.converged("")
		if err == nil && c.Primary == "a" {
			err = fmt.Errorf("still a")
		}
		after = c
		return err
	})
	if after.Epoch <= before.Epoch {
		t.Fatalf("epoch %d after failover, was %d", after.Epoch, before.Epoch)
	}
	for epoch, who := range g.promotions() {
		if len(who) != 1 {
			t.Errorf("epoch %d promoted %v, want exactly one", epoch, who)
		}
	}
	// A switchover to a named replica, asked of another replica's sidecar.
	var to string
	for _, n := range g.nodes {
		if n.name != "a" && n.name != after.Primary {
			to = n.name
			break
		}
	}
	asker := g.node("a")
	for _, n := range g.nodes {
		if n.name != "a" && n.name != after.Primary && n.name != to {
			asker = n
		}
	}
	// Right after a failover the asker may not have a fresh report from
	// the new primary's sidecar yet (ErrNotReady, as an operator would
	// see it): ask again until it has.
	redistest.Eventually(t, 10*time.Second, func() error {
		_, err := asker.failover().Switchover(context.Background(), to)
		if err != nil && !errors.Is(err, failover.ErrNotReady) {
			t.Fatalf("switchover to %s: %v", to, err)
		}
		return err
	})
	g.waitConverged(30*time.Second, to)
}

// Group-wide settings travel in the log: set on one sidecar, every sidecar
// applies them without a restart.
func TestSettingsApplyEverywhere(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	g.waitConverged(15*time.Second, "a")
	if err := g.node("c").failover().SetSettings(context.Background(), authority.Settings{Quorum: 3, ParallelSyncs: 2}); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, n := range g.nodes {
			s := n.failover().Snapshot()
			if s.Quorum != 3 || s.ParallelSyncs != 2 || n.failover().Settings().Quorum != 3 {
				return fmt.Errorf("%s: quorum %d, parallel_syncs %d", n.name, s.Quorum, s.ParallelSyncs)
			}
		}
		return nil
	})
	if err := g.node("c").failover().SetSettings(context.Background(), authority.Settings{DownAfter: time.Millisecond}); err == nil {
		t.Error("a down_after below fence_after was accepted")
	}

	// failover-timeout reaches the behaviour: the next switchover's
	// deadline is the group-wide value, not the file's 5s.
	const timeout = 9 * time.Second
	if err := g.node("c").failover().SetSettings(context.Background(), authority.Settings{FailoverTimeout: timeout}); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, n := range g.nodes {
			if got := n.failover().Snapshot().FailoverTimeout; got != timeout {
				return fmt.Errorf("%s: failover timeout %s, want %s", n.name, got, timeout)
			}
		}
		return nil
	})
	intent := make(chan authority.Switchover, 1)
	watchCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for {
			st, ch := g.node("b").auth.Watch()
			if st.Switchover != nil {
				intent <- *st.Switchover
				return
			}
			select {
			case <-ch:
			case <-watchCtx.Done():
				return
			}
		}
	}()
	began := time.Now()
	if _, err := g.node("c").failover().Switchover(context.Background(), "b"); err != nil {
		t.Fatalf("switchover to b: %v", err)
	}
	select {
	case sw := <-intent:
		// The deadline is set when the switchover begins, after began.
		if got := sw.Deadline.Sub(began); got < timeout-time.Second || got > timeout+5*time.Second {
			t.Errorf("switchover deadline %s after the call, want about the failover timeout %s", got, timeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no switchover intent was committed")
	}
	g.waitConverged(30*time.Second, "b")
}

// freezer stands between one sidecar's failover and its authority. Armed,
// it freezes the sidecar at the moment it would act on an entry naming it
// primary: the Verify of its promotion blocks, and the test cuts its
// network, as a SIGSTOP of the sidecar would.
type freezer struct {
	*authority.Authority
	name    string
	armed   atomic.Bool
	frozen  chan struct{}
	release chan struct{}
	once    sync.Once
}

func (f *freezer) Verify(ctx context.Context) (authority.State, error) {
	st := f.State()
	if f.armed.Load() && st.Primary == f.name && !st.Promoted {
		f.armed.Store(false)
		f.once.Do(func() { close(f.frozen) })
		select {
		case <-f.release:
		case <-ctx.Done():
			return authority.State{}, ctx.Err()
		}
	}
	return f.Authority.Verify(ctx)
}

// The winner of epoch N stops right after the entry naming it commits; the
// group replaces it at N+1; when it resumes it never promotes its Redis:
// everything it does is checked against the newest committed state.
func TestPausedWinnerNeverPromotesLate(t *testing.T) {
	cfg := testFailoverConfig()
	g := startGroup(t, cfg, false, []nodeSpec{{name: "a", priority: 100}, {name: "b", priority: 10}, {name: "c", priority: 100}}...)
	g.waitConverged(15*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")

	// Restart b's sidecar with the freezer in place (b is the best
	// candidate: priority 10).
	fz := &freezer{name: "b", frozen: make(chan struct{}), release: make(chan struct{})}
	b.kill()
	b.wrap = func(au *authority.Authority) failover.Authority { fz.Authority = au; return fz }
	g.start(b)
	g.waitConverged(15*time.Second, "a")
	fz.armed.Store(true)

	// b's Redis must never act as a primary from here on.
	var bPrimary atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			if r, _, err := role(ctx, b.redis.Client()); err == nil && r == "master" {
				bPrimary.Store(true)
			}
			cancel()
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	a.redis.Kill(t)
	select {
	case <-fz.frozen:
	case <-time.After(20 * time.Second):
		t.Fatal("b was never named primary")
	}
	// b is "stopped": cut off from everyone.
	g.net.Isolate(b.tr.Addr(), a.tr.Addr(), c.tr.Addr())
	b.relay.Cut()
	redistest.Eventually(t, 30*time.Second, func() error {
		cc := c.failover().Configuration()
		if cc.Primary != "c" || !cc.Promoted {
			return fmt.Errorf("c follows %s@%d (promoted %v)", cc.Primary, cc.Epoch, cc.Promoted)
		}
		return nil
	})
	// b resumes.
	g.net.Heal()
	b.relay.Heal()
	close(fz.release)
	g.waitConverged(30*time.Second, "c")
	holdFor(t, 2*cfg.DownAfter, func() error {
		if bPrimary.Load() {
			return fmt.Errorf("b's Redis acted as a primary")
		}
		return nil
	})
	if who := g.promotions(); len(who) != 1 {
		t.Errorf("promotions %v, want only c's", who)
	}
}

// answerLoser applies commands for real but, once armed, loses the answer
// to the first command of each listed op, as when the leader that took it
// exits before it replies (a handover's old primary shutting down).
type answerLoser struct {
	*authority.Authority
	mu   sync.Mutex
	lose map[authority.Op]bool
}

func (l *answerLoser) Apply(ctx context.Context, cmd authority.Command) (authority.State, error) {
	st, err := l.Authority.Apply(ctx, cmd)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.lose[cmd.Op] {
		delete(l.lose, cmd.Op)
		return authority.State{}, fmt.Errorf("authority: apply forwarded to a: outcome unknown: %w", io.EOF)
	}
	return st, err
}

func (l *answerLoser) pending() []authority.Op {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ops []authority.Op
	for op := range l.lose {
		ops = append(ops, op)
	}
	return ops
}

// A promotion whose "promoted" and history commands committed but whose
// answers were lost still completes: the new primary is confirmed, takes
// writes, and the switchover is in the history (CI saw a handover recorded
// nowhere when the old leader exited before answering).
func TestPromotionSurvivesLostAnswers(t *testing.T) {
	cfg := testFailoverConfig()
	g := startGroup(t, cfg, false, []nodeSpec{{name: "a", priority: 100}, {name: "b", priority: 100}, {name: "c", priority: 100}}...)
	g.waitConverged(15*time.Second, "a")
	b := g.node("b")
	lo := &answerLoser{}
	b.kill()
	b.wrap = func(au *authority.Authority) failover.Authority { lo.Authority = au; return lo }
	g.start(b)
	before := g.waitConverged(15*time.Second, "a")
	lo.mu.Lock()
	lo.lose = map[authority.Op]bool{authority.OpPromoted: true, authority.OpHistory: true}
	lo.mu.Unlock()

	if _, err := g.node("a").failover().Switchover(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	after := g.waitConverged(30*time.Second, "b")
	redistest.Eventually(t, 10*time.Second, func() error {
		h := b.failover().History()
		if len(h) == 0 {
			return fmt.Errorf("no history")
		}
		last := h[len(h)-1]
		if last.Epoch != after.Epoch || last.New != "b" || last.Reason != failover.ReasonSwitchover || last.Result != "success" {
			return fmt.Errorf("last history entry %+v, want b's switchover at epoch %d", last, after.Epoch)
		}
		// The entry's final update (its duration) is committed after the
		// promotion ends, beside it.
		if ops := lo.pending(); len(ops) != 0 {
			return fmt.Errorf("answers never lost for %v: the test did not exercise them", ops)
		}
		return nil
	})
	if after.Epoch <= before.Epoch {
		t.Fatalf("epoch %d after the switchover, was %d", after.Epoch, before.Epoch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.redis.Client().Set(ctx, "after-lost-answers", "1", 0).Err(); err != nil {
		t.Errorf("write to the new primary: %v", err)
	}
}

// The primary's Redis and its sidecar, the Raft leader, die together (a
// host crash): the others elect a new Raft leader and fail over.
func TestHostCrashOfPrimaryAndLeader(t *testing.T) {
	// Right after the switchover below Raft runs at its failover timings;
	// an idle group's runs at its calm ones (failover.calmAfter), and the
	// survivors must leave them for the election.
	t.Run("failover timings", func(t *testing.T) { testHostCrash(t, false) })
	t.Run("calm timings", func(t *testing.T) { testHostCrash(t, true) })
}

func testHostCrash(t *testing.T, calm bool) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	g.waitConverged(15*time.Second, "a")
	// Make the primary's sidecar the Raft leader's: switch over to the
	// leader's node if it is not a.
	var leader string
	redistest.Eventually(t, 20*time.Second, func() error {
		if leader = g.leader(); leader == "" {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	if leader != "a" {
		if _, err := g.node("b").failover().Switchover(context.Background(), leader); err != nil {
			t.Fatalf("switchover to the leader's node %s: %v", leader, err)
		}
		g.waitConverged(20*time.Second, leader)
	}
	if calm {
		redistest.Eventually(t, 30*time.Second, func() error {
			for _, name := range []string{"a", "b", "c"} {
				if got := gaugeValue(t, g.node(name).reg, "vigil_raft_calm", "", ""); got != 1 {
					return fmt.Errorf("%s: vigil_raft_calm %v", name, got)
				}
			}
			return nil
		})
	}
	if l := g.leader(); l != leader {
		t.Skipf("leadership moved from %s to %s meanwhile; the case needs them on one host", leader, l)
	}
	p := g.node(leader)
	p.kill()
	p.redis.Kill(t)
	var after failover.Configuration
	redistest.Eventually(t, 30*time.Second, func() error {
		c, err := g.converged("")
		if err == nil && c.Primary == leader {
			err = fmt.Errorf("still %s", leader)
		}
		after = c
		return err
	})
	if l := g.leader(); l == leader || l == "" {
		t.Errorf("raft leader after the crash: %q", l)
	}
	for _, name := range []string{"a", "b", "c"} {
		if name == leader {
			continue
		}
		// The new epoch holds them at the failover timings for a while.
		if got := gaugeValue(t, g.node(name).reg, "vigil_raft_calm", "", ""); got != 0 {
			t.Errorf("%s: vigil_raft_calm %v right after the failover, want 0", name, got)
		}
	}
	t.Logf("new primary %s at epoch %d", after.Primary, after.Epoch)
}

// All sidecars restart with their Raft state while every Redis address
// changed (rescheduled pods): no role changes, the replicas follow the
// primary's new address.
func TestFullRestartWithChangedAddresses(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	before := g.waitConverged(15*time.Second, "a")
	for _, n := range g.nodes {
		n.kill()
	}
	for _, n := range g.nodes {
		old := n.relay
		n.relay = tcprelay.Start(t, n.redis.Addr())
		old.Close()
	}
	for _, n := range g.nodes {
		g.start(n)
	}
	after := g.waitConverged(30*time.Second, "a")
	if after.Epoch != before.Epoch {
		t.Errorf("epoch %d after the restart, was %d", after.Epoch, before.Epoch)
	}
	if after.PrimaryAddr != g.node("a").relay.Addr() {
		t.Errorf("primary address %s, want a's new %s", after.PrimaryAddr, g.node("a").relay.Addr())
	}
	holdFor(t, 2*cfg.DownAfter, g.epochUnchanged(before.Epoch))
	if p := g.promotions(); len(p) != 0 {
		t.Errorf("promotions after a full restart: %v", p)
	}
}

// Sidecars that join and vanish within failover.stabilization never become
// voters: the healthy primary keeps taking writes, and the three voters
// still fail over.
func TestTransientJoinersNeverVote(t *testing.T) {
	cfg := testFailoverConfig()
	cfg.Authority.Stabilization = 5 * time.Second
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(15*time.Second, "a")
	var joiners []*node
	for _, name := range []string{"x", "y", "z"} {
		joiners = append(joiners, g.addNode(nodeSpec{name: name, priority: 100}, g.node("a").relay.Addr()))
	}
	redistest.Eventually(t, 15*time.Second, func() error {
		st := g.node("a").authority().State()
		for _, j := range joiners {
			if _, ok := st.Members[j.name]; !ok {
				return fmt.Errorf("%s not a member yet", j.name)
			}
		}
		return nil
	})
	for _, j := range joiners {
		j.kill()
		j.redis.Kill(t)
	}
	holdFor(t, cfg.Authority.Stabilization+cfg.DownAfter, func() error {
		a := g.node("a").failover()
		if !a.IsPrimary() {
			return fmt.Errorf("a stopped being a writable primary (fenced %v)", a.Snapshot().Fenced)
		}
		voters := g.node("a").authority().State().Voters()
		if !slices.Equal(voters, []string{"a", "b", "c"}) {
			return fmt.Errorf("voters %v", voters)
		}
		return nil
	})
	holdFor(t, 100*time.Millisecond, g.epochUnchanged(conf.Epoch))
	g.node("a").redis.Kill(t)
	redistest.Eventually(t, 30*time.Second, func() error {
		c, err := g.converged("")
		if err == nil && c.Primary == "a" {
			err = fmt.Errorf("still a")
		}
		return err
	})
}

// A sidecar whose node.data_dir was wiped, cut off from the others, never
// forms a group of its own; healed, it rejoins and the real primary and
// its acknowledged writes stay.
func TestWipedDataDirIsolated(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(15*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")
	ctx := context.Background()
	for i := range 200 {
		if err := a.redis.Client().Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.redis.Client().Wait(ctx, 2, 5*time.Second).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	c.kill()
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if err := os.RemoveAll(c.dir + "/" + e.Name()); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := g.net.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	g.trs["c"] = tr
	g.net.Isolate(tr.Addr(), a.tr.Addr(), b.tr.Addr())
	g.start(c)
	holdFor(t, 3*cfg.DownAfter, func() error {
		if l, _ := c.authority().Leader(); l != "" {
			return fmt.Errorf("isolated c with a wiped data dir sees leader %q", l)
		}
		if c.failover().Ready() {
			return fmt.Errorf("isolated c with a wiped data dir is ready")
		}
		for _, n := range []*node{a, b} {
			if e := n.failover().Configuration().Epoch; e != conf.Epoch {
				return fmt.Errorf("%s moved to epoch %d", n.name, e)
			}
		}
		return nil
	})
	g.net.Heal()
	g.waitConverged(30*time.Second, "a")
	holdFor(t, 100*time.Millisecond, g.epochUnchanged(conf.Epoch))
	for _, n := range g.nodes {
		if k, err := n.redis.Client().DBSize(ctx).Result(); err != nil || k < 200 {
			t.Errorf("%s holds %d keys (%v), want at least 200", n.name, k, err)
		}
	}
}

// A sidecar without the group's gossip key cannot join, and a switchover
// to it is refused: no real node ever follows its Redis.
func TestKeylessJoinerCannotTakeOver(t *testing.T) {
	cfg := testFailoverConfig()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	g := startGroupKey(t, cfg, false, key, three(100, 100)...)
	g.waitConverged(15*time.Second, "a")
	x := &node{name: "x", priority: 1, dir: t.TempDir(), key: base64.StdEncoding.EncodeToString([]byte("ffffffffffffffffffffffffffffffff"))}
	x.redis = redistest.Start(t, redistest.Options{})
	x.relay = tcprelay.Start(t, x.redis.Addr())
	g.nodes = append(g.nodes, x)
	trx, err := g.net.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	g.trs["x"] = trx
	g.start(x)
	time.Sleep(2 * time.Second) // give the joiner time to try
	srv := httptest.NewServer(g.node("b").failover().Handler(""))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/switchover", "application/json", strings.NewReader(`{"to":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("switchover to the keyless joiner: %d, want 400", resp.StatusCode)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, ok := g.node(name).authority().State().Members["x"]; ok {
			t.Errorf("%s lists the keyless joiner as a member", name)
		}
	}
	g.nodes = g.nodes[:3]
	g.waitConverged(10*time.Second, "a")
}
