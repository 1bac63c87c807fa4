package failover

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// A fenced primary is released only on fresh evidence: its Redis answers
// as a replica, or as the configured primary that a majority reaches
// again. A local Redis that does not answer (dead, stalled by DEBUG SLEEP,
// a slow probe) keeps the fence, even when the majority is back.
func TestFencedPrimaryUnfencedOnlyOnEvidence(t *testing.T) {
	type want struct{ Fence, Unfence bool }
	const selfAddr = "127.0.0.1:1"
	tests := []struct {
		name     string
		obs      func(now time.Time) monitor.Observation
		majority bool   // b and c are heard and reach this node's Redis
		primary  string // the configured primary
		want     want
	}{
		{
			name: "isolated, local redis does not answer",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Reason: monitor.ReasonTimeout}
			},
			primary: "a", want: want{},
		},
		{
			name: "isolated, last answer is stale",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now.Add(-time.Hour), Role: monitor.RolePrimary}
			},
			primary: "a", want: want{},
		},
		{
			name: "majority back, local redis does not answer",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Reason: monitor.ReasonTimeout}
			},
			majority: true, primary: "a", want: want{},
		},
		{
			name: "isolated primary answers: renew the fence",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Role: monitor.RolePrimary}
			},
			primary: "a", want: want{Fence: true},
		},
		{
			name: "local redis is a replica now",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Role: monitor.RoleReplica}
			},
			primary: "b", want: want{Unfence: true},
		},
		{
			name: "majority back and the configuration names this node",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Role: monitor.RolePrimary}
			},
			majority: true, primary: "a", want: want{Unfence: true},
		},
		{
			name: "majority back but the configuration names another node",
			obs: func(now time.Time) monitor.Observation {
				return monitor.Observation{Time: now, Role: monitor.RolePrimary}
			},
			majority: true, primary: "b", want: want{Fence: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFailover(t, "a", t.TempDir(), newMemNet("a", "b", "c"), nil)
			now := time.Now()
			f.mu.Lock()
			defer f.mu.Unlock()
			f.started = now.Add(-time.Hour) // long enough ago to be isolated
			f.conf = Configuration{Epoch: 1, Primary: tt.primary, PrimaryAddr: selfAddr}
			if tt.primary != "a" {
				f.conf.PrimaryAddr = "127.0.0.1:2"
			}
			f.fenced, f.ready = true, true
			f.setObsLocked(tt.obs(now))
			if tt.majority {
				for _, p := range []string{"b", "c"} {
					f.lastHeard[p] = now
					f.peers[p] = peerState{received: now, rep: report{Name: p, SDownPrimary: "a", SDownEpoch: 1}}
				}
			}
			p := f.planLocked(now, f.known())
			if diff := cmp.Diff(want{Fence: p.fence, Unfence: p.unfence}, tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// One primary failure promotes one replica, even when the winner's
// announcement is late: b wins epoch 2 and promotes, and before the
// configuration reaches anyone, c (which voted for b) is the best
// remaining candidate and p's sidecar still follows epoch 1. Neither may
// start or back an election at epoch 3 until b's outcome is known or the
// grace period passes; after it (b died before announcing) c is elected.
func TestOnePromotionPerPrimaryFailure(t *testing.T) {
	tests := []struct {
		name string
		// bReports: b's report saying its Redis is a primary reaches c
		// and p before the announcement does.
		bReports bool
		// cVoted: c granted b's election (its request may have been lost).
		cVoted bool
	}{
		{"announcement and reports late", false, true},
		{"announcement late, b reports a primary", true, true},
		{"announcement late, b reports a primary, c did not vote", true, false},
		{"announcement and reports late, c did not vote", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each mostly waits for its grace period to pass
			testOnePromotion(t, tt.bReports, tt.cVoted)
		})
	}
}

func testOnePromotion(t *testing.T, bReports, cVoted bool) {
	members := []string{"b", "c", "p"} // p is the dead primary's sidecar
	net := newMemNet(members...)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	fs := map[string]*Failover{}
	stop := map[string]context.CancelFunc{}
	for _, m := range members {
		f := newTestFailover(t, m, t.TempDir(), net, nil)
		f.cfg.ElectionTimeout = 100 * time.Millisecond
		// A grace period of about 3s: short for the test, yet long enough
		// that the checks before b dies finish within it on a loaded machine.
		f.cmdWait = 700 * time.Millisecond
		primeVoter(f, members)
		fs[m] = f
		ctx, cancel := context.WithCancel(context.Background())
		stop[m] = cancel
		t.Cleanup(cancel)
		wg.Add(1)
		go func() { defer wg.Done(); f.recvLoop(ctx) }()
	}
	b, c, p := fs["b"], fs["c"], fs["p"]
	ctx := context.Background()
	spec := electionSpec{reason: ReasonAuto, primary: "p", primaryAddr: "127.0.0.1:2", primaryEpoch: 1}
	winners := map[uint64][]string{}

	epoch, err := b.campaign(ctx, spec)
	if err != nil {
		t.Fatalf("b's election: %v", err)
	}
	winners[epoch] = append(winners[epoch], "b")
	redistest.Eventually(t, 5*time.Second, func() error {
		for _, v := range []*Failover{c, p} {
			if st := v.store.state(); st.VotedEpoch != epoch || st.VotedFor != "b" {
				return fmt.Errorf("%s voted for %q at %d", v.self.Name, st.VotedFor, st.VotedEpoch)
			}
		}
		return nil
	})
	if !cVoted {
		c.mu.Lock()
		c.hold = voteHold{} // as if b's request never reached c
		c.mu.Unlock()
	}
	// b promotes its Redis; the configuration at epoch 2 is on its way.
	bPrimary := report{Name: "b", Addr: "127.0.0.1:1", Priority: 100, VotedEpoch: epoch,
		Config: Configuration{Epoch: 1, Primary: "p", PrimaryAddr: "127.0.0.1:2"},
		Obs:    obsSummary{Reachable: true, Alive: true, Role: monitor.RolePrimary, Offset: 100},
		SDown:  true, SDownPrimary: "p", SDownEpoch: 1}
	if bReports {
		c.onReport("b", bPrimary)
		p.onReport("b", bPrimary)
	}

	// c sees p objectively down and decides.
	plan := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.odown, c.odownSince = true, time.Now().Add(-time.Hour)
		pl := c.planLocked(time.Now(), c.known())
		c.inFailover = false
		return pl.elect != nil
	}
	if plan() && (cVoted || bReports) {
		t.Error("c runs for election while b may be promoting")
	}
	if e, err := c.campaign(ctx, spec); err == nil {
		winners[e] = append(winners[e], "c")
	}
	for _, v := range []*Failover{b, p} {
		v.mu.Lock()
		why := v.voteRefusalLocked(time.Now(), voteRequest{Epoch: epoch + 1, Candidate: "c", CandidateAddr: "127.0.0.1:1",
			Primary: "p", PrimaryEpoch: 1, Reason: ReasonAuto})
		v.mu.Unlock()
		if why == "" {
			t.Errorf("%s would vote for c at epoch %d against the configuration b is replacing", v.self.Name, epoch+1)
		}
	}
	if diff := cmp.Diff(winners, map[uint64][]string{epoch: {"b"}}); diff != "" {
		t.Fatalf("promotions for one failure of p (-got +want):\n%s", diff)
	}

	// b dies before it announces: once its reports are stale and the grace
	// period has passed, c is elected.
	stop["b"]()
	start := time.Now()
	var won uint64
	redistest.Eventually(t, 10*time.Second, func() error {
		if !plan() {
			return fmt.Errorf("c does not run for election yet")
		}
		e, err := c.campaign(ctx, spec)
		if err != nil {
			return fmt.Errorf("c's election after b died: %w", err)
		}
		won = e
		return nil
	})
	t.Logf("c elected %s after b died; grace is %s", time.Since(start), c.outcomeGrace())
	if won <= epoch {
		t.Errorf("c won epoch %d, want one after %d", won, epoch)
	}
}

// A replica's Redis that has not answered for down_after, or whose sidecar
// has said nothing for that long, is SDOWN, so Sentinel clients stop
// reading from it: among them the killed old primary, listed as a replica
// after the failover.
func TestReplicaSDown(t *testing.T) {
	f := newTestFailover(t, "c", t.TempDir(), newMemNet("a", "b", "c", "d", "e", "g", "h"), nil)
	now := time.Now()
	f.mu.Lock()
	down := f.cfg.DownAfter
	f.conf = Configuration{Epoch: 2, Primary: "b", PrimaryAddr: "127.0.0.1:2", Previous: "a", Reason: ReasonAuto}
	f.setObsLocked(monitor.Observation{Time: now, Role: monitor.RoleReplica, LinkUp: true, Synced: true})
	f.mu.Unlock()
	rep := func(name string, reachable bool, role monitor.Role) report {
		return report{Name: name, Addr: "127.0.0.1:1", Priority: 100, Obs: obsSummary{Reachable: reachable, Alive: reachable, Role: role}}
	}
	type at struct {
		ago       time.Duration
		reachable bool
	}
	reports := map[string][]at{
		// The killed old primary: its sidecar says so, down for longer
		// than down_after.
		"a": {{down + 5*time.Second, true}, {down + time.Second, false}, {20 * time.Millisecond, false}},
		// The new primary, healthy.
		"b": {{10 * time.Second, true}, {20 * time.Millisecond, true}},
		// Down, but for less than down_after.
		"d": {{time.Second + down/2, true}, {down / 2, false}, {20 * time.Millisecond, false}},
		// Silent sidecar: the last report is older than down_after.
		"e": {{down + 5*time.Second, true}, {down + time.Second, true}},
		// Never answered since first heard, longer than down_after ago.
		"g": {{down + time.Second, false}, {20 * time.Millisecond, false}},
		// Healthy replica.
		"h": {{10 * time.Second, true}, {20 * time.Millisecond, true}},
	}
	for name, rs := range reports {
		role := monitor.RoleReplica
		if name == "b" {
			role = monitor.RolePrimary
		}
		for _, r := range rs {
			f.onReportAt(name, rep(name, r.reachable, role), now.Add(-r.ago))
		}
	}
	type state struct{ SDown, Reachable bool }
	s := f.Snapshot()
	got := map[string]state{}
	for _, n := range s.Replicas {
		got[n.Name] = state{n.SDown, n.Reachable}
	}
	want := map[string]state{
		"a": {SDown: true},
		"c": {Reachable: true},
		"d": {},
		"e": {SDown: true},
		"g": {SDown: true},
		"h": {Reachable: true},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("replicas (-got +want):\n%s", diff)
	}
	if s.Primary.Name != "b" || s.Primary.SDown {
		t.Errorf("primary %s, s_down %v; want b, not down", s.Primary.Name, s.Primary.SDown)
	}

	// This sidecar's own Redis, down for down_after, is SDOWN too.
	f.mu.Lock()
	f.started = now.Add(-time.Hour)
	f.localUpAt = now.Add(-down - time.Second)
	f.setObsLocked(monitor.Observation{Time: now, Reason: monitor.ReasonRefused})
	f.mu.Unlock()
	for _, n := range f.Snapshot().Replicas {
		if n.Name == "c" && (!n.SDown || n.Reachable) {
			t.Errorf("own dead replica: s_down %v, reachable %v; want down, unreachable", n.SDown, n.Reachable)
		}
	}
}

// One promotion produces one event per kind, each naming the old and the
// new primary, and no +role-change for vigil's own REPLICAOF; so does the
// demotion when a newer configuration names another primary.
func TestPromotionAndDemotionEvents(t *testing.T) {
	old := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{ReplicaOf: old.Addr()})
	r.WaitSynced(t)
	next := redistest.Start(t, redistest.Options{})
	old.Kill(t)

	members := []string{"c", "v1", "v2"}
	net := newMemNet(members...)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	run := func(fn func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	for _, v := range members[1:] {
		f := newTestFailover(t, v, t.TempDir(), net, nil)
		primeVoter(f, members)
		run(f.recvLoop)
	}
	c, prober := newTestFailoverOf(t, "c", r.Addr(), t.TempDir(), net, nil)
	c.mu.Lock()
	c.conf = Configuration{Epoch: 1, Primary: "p", PrimaryAddr: old.Addr()}
	// Neither fencing nor failure detection takes part here.
	c.cfg.FenceAfter, c.cfg.DownAfter = time.Hour, 2*time.Hour
	c.mu.Unlock()
	events, unsubscribe := c.Subscribe()
	defer unsubscribe()
	run(func(ctx context.Context) { _ = prober.Run(ctx) })
	run(c.recvLoop)
	run(c.localLoop)
	run(c.tickLoop)
	waitRole := func(role monitor.Role) {
		t.Helper()
		redistest.Eventually(t, 10*time.Second, func() error {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.lastRole != role {
				return fmt.Errorf("the loop saw role %q, want %q", c.lastRole, role)
			}
			return nil
		})
	}
	type ev struct {
		Kind         EventKind
		Epoch        uint64
		Node         string
		Old, OldAddr string
		New, NewAddr string
	}
	watched := map[EventKind]bool{EventPromotedReplica: true, EventSwitchPrimary: true, EventFailoverEnd: true,
		EventConvertToReplica: true, EventRoleChange: true}
	drain := func() []ev {
		var out []ev
		for {
			select {
			case e := <-events:
				if watched[e.Kind] {
					out = append(out, ev{e.Kind, e.Epoch, e.Node.Name, e.OldPrimary.Name, e.OldPrimary.Addr, e.NewPrimary.Name, e.NewPrimary.Addr})
				}
			default:
				return out
			}
		}
	}

	waitRole(monitor.RoleReplica)
	c.mu.Lock()
	c.inFailover = true // as planLocked does when it starts an election
	c.mu.Unlock()
	c.elect(ctx, electionSpec{reason: ReasonAuto, primary: "p", primaryAddr: old.Addr(), primaryEpoch: 1})
	if conf := c.Configuration(); conf.Primary != "c" || conf.Epoch != 2 {
		t.Fatalf("after the election c follows %s@%d, want c@2", conf.Primary, conf.Epoch)
	}
	waitRole(monitor.RolePrimary) // by now a +role-change would have been sent
	promoted := ev{Epoch: 2, Node: "c", Old: "p", OldAddr: old.Addr(), New: "c", NewAddr: r.Addr()}
	want := []ev{promoted, promoted, promoted}
	want[0].Kind, want[1].Kind, want[2].Kind = EventPromotedReplica, EventSwitchPrimary, EventFailoverEnd
	if diff := cmp.Diff(drain(), want); diff != "" {
		t.Errorf("promotion events (-got +want):\n%s", diff)
	}

	// A newer configuration names v1: c's sidecar demotes its Redis.
	c.mu.Lock()
	c.adoptLocked(Configuration{Epoch: 3, Primary: "v1", PrimaryAddr: next.Addr(), Reason: ReasonAuto, Previous: "c"}, "v1")
	c.ready = true
	c.mu.Unlock()
	waitRole(monitor.RoleReplica)
	want = []ev{
		{Kind: EventSwitchPrimary, Epoch: 3, Node: "v1", Old: "c", OldAddr: r.Addr(), New: "v1", NewAddr: next.Addr()},
		{Kind: EventConvertToReplica, Epoch: 3, Node: "c", Old: "c", OldAddr: r.Addr(), New: "v1", NewAddr: next.Addr()},
	}
	if diff := cmp.Diff(drain(), want); diff != "" {
		t.Errorf("demotion events (-got +want):\n%s", diff)
	}
}
