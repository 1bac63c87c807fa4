package failover

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/monitor"
)

// The fakes of BenchmarkStep: a healthy group of three (n0 the promoted
// primary and Raft leader, n1 and n2 synced replicas) that never changes.
type (
	benchLocal   struct{ o monitor.Observation }
	benchCluster struct{ alive []string }
	benchAuth    struct {
		st   authority.State
		self string
		// clock, when set, is the time LastContact reports (a test's
		// simulated now); time.Now otherwise.
		clock *time.Time
		// behind: the node lost its Raft state and has not caught up.
		behind bool
	}
)

func (l *benchLocal) Last() monitor.Observation {
	o := l.o
	o.Replicas = slices.Clone(o.Replicas) // as monitor.Prober.Last
	return o
}
func (l *benchLocal) Updates() <-chan struct{}                     { return nil }
func (l *benchLocal) ProbeNow(context.Context) monitor.Observation { return l.Last() }
func (l *benchLocal) Client() *redis.Client                        { return nil }

func (c benchCluster) Alive() []string      { return slices.Clone(c.alive) }
func (benchCluster) Broadcast(byte, []byte) {}
func (benchCluster) Forget(string) error    { return nil }
func (benchCluster) Recv(ctx context.Context) (string, byte, []byte, error) {
	<-ctx.Done()
	return "", 0, nil, ctx.Err()
}

func (a benchAuth) Watch() (authority.State, <-chan struct{})       { return a.st, nil }
func (benchAuth) Ready() bool                                       { return true }
func (a benchAuth) Leader() (string, bool)                          { return "n0", a.self == "n0" }
func (a benchAuth) Verify(context.Context) (authority.State, error) { return a.st, nil }
func (benchAuth) Calm(bool)                                         {}
func (benchAuth) TransferLeadership(string) error                   { return nil }
func (a benchAuth) CaughtUp() bool                                  { return !a.behind }
func (a benchAuth) LastContact() time.Time {
	if a.clock != nil {
		return *a.clock
	}
	return time.Now()
}
func (a benchAuth) Apply(context.Context, authority.Command) (authority.State, error) {
	return a.st, nil
}

var benchAddrs = map[string]string{"n0": "127.0.0.1:7000", "n1": "127.0.0.1:7001", "n2": "127.0.0.1:7002"}

func benchObs(name string, at time.Time) monitor.Observation {
	o := monitor.Observation{Addr: benchAddrs[name], Time: at, Role: monitor.RoleReplica, RunID: "run-" + name,
		Version: "7.0.15", ReplID: "0123456789abcdef0123456789abcdef01234567", Offset: 1 << 20, Priority: 100,
		LagBytes: 0, MasterLinkDownSinceSeconds: -1, Keys: 10, MasterHost: "127.0.0.1", MasterPort: 7000,
		LinkUp: true, Synced: true}
	if name == "n0" {
		o.Role, o.MasterHost, o.MasterPort, o.LinkUp, o.Synced = monitor.RolePrimary, "", 0, false, false
		o.ConnectedReplicas = 2
		o.Replicas = []monitor.Replica{{Addr: benchAddrs["n1"], State: "online", Offset: 1 << 20},
			{Addr: benchAddrs["n2"], State: "online", Offset: 1 << 20}}
	}
	return o
}

func benchReport(name string, st authority.State, at time.Time) report {
	o := benchObs(name, at)
	return report{Name: name, Addr: benchAddrs[name], SentinelAddr: "127.0.0.1:2" + benchAddrs[name][11:],
		HTTPAddr: "127.0.0.1:3" + benchAddrs[name][11:], Priority: 100, Epoch: st.Epoch,
		Obs: obsSummary{Reachable: true, Alive: true, Role: o.Role, MasterAddr: o.MasterAddr(), LinkUp: o.LinkUp,
			Synced: o.Synced, Offset: o.Offset, RunID: o.RunID, ReplID: o.ReplID, Replicas: len(o.Replicas), Keys: o.Keys},
		SDownPrimary: st.Primary, SDownEpoch: st.Epoch, Ready: true,
		KnownEpoch: st.Epoch, KnownOffset: o.Offset, KnownAgoMs: 10}
}

// BenchmarkStep is the failover loop's work on an idle group, from the
// sidecar named by the sub-benchmark: one op is what the loop does for one
// input at monitor.interval 100ms, in the proportion the inputs arrive
// (a tick with a new local observation, then a report from each peer).
func BenchmarkStep(b *testing.B) {
	for _, self := range []string{"n0", "n1"} {
		b.Run(self, func(b *testing.B) {
			start := time.Now().Add(-time.Minute)
			g := newIdleGroup(b, self, start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
			ctx := g.ctx
			f, c, local := g.f, g.c, g.local
			// Warm up: a few rounds so that every one-off effect has run.
			round := func(i int) {
				now := time.Now()
				switch k := i % 3; k {
				case 0:
					local.o.Time = now
					if c.probeAddr != "" {
						c.lastAlive = now
					}
					f.step(ctx, c, now, true)
				default:
					f.onReport(c, peerMsg{from: g.peers[k-1], rep: benchReport(g.peers[k-1], g.st, now), at: now})
					f.step(ctx, c, now, false)
				}
			}
			for i := range 30 {
				round(i)
				time.Sleep(time.Millisecond)
			}
			if c.sdown || c.odown || c.fenced || c.localBusy || c.leaderBusy {
				b.Fatalf("not a healthy steady state: sdown %v odown %v fenced %v", c.sdown, c.odown, c.fenced)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				round(i)
			}
		})
	}
}

// idleGroup is one sidecar of a healthy group of three that never changes
// (n0 the promoted primary and Raft leader, n1 and n2 synced replicas),
// with its loop's state, driven by hand: a Failover whose Run never
// started.
type idleGroup struct {
	f     *Failover
	c     *core
	local *benchLocal
	st    authority.State
	peers []string // the other members, sorted
	// ctx is for the steps: the test's cleanup cancels it and waits for
	// the effects they started.
	ctx context.Context
}

// newIdleGroup sets up self's sidecar at start. clock, when not nil, is the
// time its authority reports as its last majority contact.
func newIdleGroup(tb testing.TB, self string, start time.Time, mc monitor.Config, cl Cluster, clock *time.Time) idleGroup {
	tb.Helper()
	st := authority.State{Index: 12, Epoch: 1, Primary: "n0", Promoted: true, Reason: authority.ReasonInitial,
		Started: start, Members: map[string]authority.Member{},
		History: []authority.HistoryEntry{{Epoch: 1, New: "n0", Reason: authority.ReasonInitial, Result: resultSuccess,
			Start: start, ForkReplID: "0123456789abcdef0123456789abcdef01234567", ForkOffset: 0}}}
	for name, addr := range benchAddrs {
		st.Members[name] = authority.Member{Name: name, RaftAddr: addr, RedisAddr: addr, Priority: 100, Voter: true, Since: start}
	}
	local := &benchLocal{o: benchObs(self, start)}
	f, err := New(DefaultConfig(), nil, prometheus.NewRegistry(), Deps{
		Self:  Node{Name: self, Addr: benchAddrs[self], Priority: 100},
		Redis: monitor.RedisConfig{Addr: benchAddrs[self]}, Monitor: mc,
		Local: local, Cluster: cl, Authority: benchAuth{st: st, self: self, clock: clock},
	})
	if err != nil {
		tb.Fatal(err)
	}
	c := f.newCore(start)
	c.st, _ = f.auth.Watch()
	f.onState(c, authority.State{}, start)
	c.verified = true
	if self == st.Primary {
		c.promotedEpoch = st.Epoch
	}
	var peers []string
	for name := range benchAddrs {
		if name != self {
			peers = append(peers, name)
		}
	}
	slices.Sort(peers)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(func() { cancel(); f.wg.Wait() })
	return idleGroup{f: f, c: c, local: local, st: st, peers: peers, ctx: ctx}
}

// apply applies, at now, the next committed state: the current one as
// change leaves it, one index on. It returns the new state.
func (g idleGroup) apply(now time.Time, change func(*authority.State)) authority.State {
	old := g.c.st
	next := old
	next.Index++
	change(&next)
	g.c.st = next
	g.f.onState(g.c, old, now)
	return next
}

// appendTopologyKey writes the text fmt wrote before it replaced fmt.
func TestTopologyKeyText(t *testing.T) {
	s := Snapshot{Epoch: 7, Primary: Node{Name: "a", Addr: "10.0.0.1:6379", SDown: true}, Writable: true, Quorum: 2,
		WhyNot: "no eligible replica", Conflict: "x", FlapPaused: "y", Isolated: true, Lagging: true, InFailover: true,
		Replicas: []Node{{Name: "b", Addr: "10.0.0.2:6379", Role: monitor.RoleReplica, Reachable: true, LinkUp: true},
			{Name: "c", Addr: "10.0.0.3:6379", SDown: true}},
		Sentinels: []Node{{Name: "b", SentinelAddr: "10.0.0.2:26379", Member: "alive"}, {Name: "c", Member: "dead"}}}
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%s|%s|%v|%v|%v|%v|%v|%s|%s|%s|%v|%v|%v|%v|", s.Epoch, s.Primary.Name, s.Primary.Addr, s.Writable, s.Fenced,
		s.Paused, s.InFailover, s.Primary.SDown, s.FlapPaused, s.WhyNot, s.Conflict, s.Primary.ODown, s.Quorum, s.Isolated, s.Lagging)
	for _, n := range s.Replicas {
		fmt.Fprintf(&b, "%s,%s,%s,%v,%v,%v;", n.Name, n.Addr, n.Role, n.Reachable, n.SDown, n.LinkUp)
	}
	for _, n := range s.Sentinels {
		fmt.Fprintf(&b, "%s,%s,%s;", n.Name, n.SentinelAddr, n.Member)
	}
	if got := string(appendTopologyKey(nil, s)); got != b.String() {
		t.Fatalf("key\n%s\nwant\n%s", got, b.String())
	}
}

// BenchmarkReportWire is one report encoded and decoded, as every sidecar
// sends one to each peer every interval.
func BenchmarkReportWire(b *testing.B) {
	st := authority.State{Epoch: 1, Primary: "n0"}
	r := benchReport("n1", st, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeReport(encode(r)); err != nil {
			b.Fatal(err)
		}
	}
}

// countCluster counts the reports broadcast.
type countCluster struct {
	benchCluster
	reports *int
}

func (c countCluster) Broadcast(kind byte, _ []byte) {
	if kind == kindReport {
		*c.reports++
	}
}

// TestIdleReportCadence drives a replica's loop through forty ticks of an
// idle group: an unchanged report goes out only as often as freshness
// needs (every second tick at 100ms, every tick from 200ms), one lost
// report still leaves it fresh at the receivers, and a changed one goes
// out at the tick that sees the change.
func TestIdleReportCadence(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		want     int // reports sent in 40 ticks
	}{
		{50 * time.Millisecond, 14},
		{100 * time.Millisecond, 20},
		{200 * time.Millisecond, 40},
		{time.Second, 40},
	} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			start := time.Now()
			clock := start
			var n int
			g := newIdleGroup(t, "n1", start, monitor.Config{Interval: tc.interval, Timeout: 250 * time.Millisecond},
				countCluster{benchCluster{alive: []string{"n0", "n1", "n2"}}, &n}, &clock)
			ctx := g.ctx
			tick := func(now time.Time) {
				clock = now
				g.local.o.Time = now
				g.c.lastAlive = now
				for _, p := range g.peers {
					g.f.onReport(g.c, peerMsg{from: p, rep: benchReport(p, g.st, now), at: now})
				}
				g.f.step(ctx, g.c, now, true)
			}
			var last time.Time
			var maxGap time.Duration
			for i := range 40 {
				// A tick fires a little early or late.
				now := start.Add(time.Duration(i)*tc.interval + time.Duration(i%3-1)*time.Millisecond)
				before := n
				tick(now)
				if n > before {
					if !last.IsZero() {
						maxGap = max(maxGap, now.Sub(last))
					}
					last = now
				}
			}
			if n != tc.want {
				t.Errorf("%d reports sent in 40 ticks, want %d", n, tc.want)
			}
			if 2*maxGap >= g.f.fresh {
				t.Errorf("reports up to %s apart: one lost leaves the receivers without a fresh one (fresh %s)", maxGap, g.f.fresh)
			}

			// A change goes out at the next tick, due or not.
			now := last.Add(tc.interval)
			g.local.o.Offset += 100
			before := n
			tick(now)
			if n != before+1 {
				t.Errorf("a changed report was not sent at the tick after the last send")
			}
		})
	}
}

// A replica's sidecar relays in its report the history it last saw the
// primary's own sidecar vouch for, dated, so that a leader cut from the
// primary's sidecar learns it (primaryReplID, chaos seed 12161); the
// primary's own report relays nothing.
func TestReportRelaysThePrimarysHistory(t *testing.T) {
	start := time.Now()
	for _, self := range []string{"n1", "n0"} {
		g := newIdleGroup(t, self, start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
		seen := start.Add(time.Second)
		g.f.onReport(g.c, peerMsg{from: "n0", rep: benchReport("n0", g.st, seen), at: seen})
		r := g.f.report(g.c, seen.Add(1500*time.Millisecond))
		if self == "n0" {
			if r.LedEpoch != 0 || r.LedReplID != "" {
				t.Errorf("the primary's own report relays epoch %d history %q, want nothing", r.LedEpoch, r.LedReplID)
			}
			continue
		}
		if r.LedEpoch != 1 || r.LedReplID != benchObs("n0", seen).ReplID || r.LedAgoMs != 1500 {
			t.Errorf("relayed epoch %d history %q %d ms ago, want epoch 1, n0's history, 1500 ms", r.LedEpoch, r.LedReplID, r.LedAgoMs)
		}
		// An unjudged primary is no sighting: the mark stays where it was.
		unsure := benchReport("n0", g.st, seen.Add(time.Second))
		unsure.Unsure, unsure.Obs.ReplID = true, "restarted"
		g.f.onReport(g.c, peerMsg{from: "n0", rep: unsure, at: seen.Add(time.Second)})
		if r := g.f.report(g.c, seen.Add(2*time.Second)); r.LedReplID == "restarted" || r.LedAgoMs != 2000 {
			t.Errorf("after an unjudged report: relayed %q %d ms ago, want the judged sighting 2000 ms ago", r.LedReplID, r.LedAgoMs)
		}
	}
}

func TestSameReport(t *testing.T) {
	base := benchReport("n1", authority.State{Epoch: 3, Primary: "n0"}, time.Now())
	for _, tc := range []struct {
		name string
		edit func(r *report)
		same bool
	}{
		{"identical", func(*report) {}, true},
		{"only KnownAgoMs", func(r *report) { r.KnownAgoMs += 100 }, true},
		{"only LedAgoMs", func(r *report) { r.LedAgoMs += 100 }, true},
		{"relayed history", func(r *report) { r.LedReplID = "other" }, false},
		{"offset", func(r *report) { r.Obs.Offset++ }, false},
		{"key count", func(r *report) { r.Obs.Keys++ }, false},
		{"time the primary has been down", func(r *report) { r.PrimaryDownMs = 300 }, false},
		{"known offset", func(r *report) { r.KnownOffset++ }, false},
		{"handover added", func(r *report) { r.Handover = &handover{Epoch: 3, To: "n2", Offset: 9} }, false},
		{"verdict added", func(r *report) { r.Verdict = &verdict{Primary: "n0", Epoch: 3} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			if got := sameReport(base, r); got != tc.same {
				t.Errorf("sameReport = %v, want %v", got, tc.same)
			}
		})
	}
	// Pointers compare by what they point to.
	a, b := base, base
	a.Handover, b.Handover = &handover{Epoch: 3, To: "n2", Offset: 9}, &handover{Epoch: 3, To: "n2", Offset: 9}
	a.Verdict, b.Verdict = &verdict{Primary: "n0", Epoch: 3, Allowed: true}, &verdict{Primary: "n0", Epoch: 3, Allowed: true}
	if !sameReport(a, b) {
		t.Error("equal handovers and verdicts behind different pointers compare unequal")
	}
	b.Verdict = &verdict{Primary: "n0", Epoch: 3}
	if sameReport(a, b) {
		t.Error("a changed verdict compares equal")
	}
}

// TestForgetKeepsThePrimarysSighting drives onState through two forgets:
// the primary's (its vote removed, its membership kept) leaves its judged
// sighting behind without its report; another member's removal drops all
// this sidecar knew of it (forgottenPrimary, chaos seed 12502).
func TestForgetKeepsThePrimarysSighting(t *testing.T) {
	start := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	sighting := primaryMark{Epoch: 1, ReplID: "h1", At: start}
	g.c.peers["n0"] = peerView{Rep: report{Name: "n0", Addr: benchAddrs["n0"], Epoch: 1}, Received: start, AsPrimary: sighting}
	g.c.peers["n2"] = peerView{Rep: report{Name: "n2", Addr: benchAddrs["n2"], Epoch: 1}, Received: start}
	g.apply(start.Add(time.Second), func(next *authority.State) {
		next.Members = maps.Clone(next.Members)
		m := next.Members["n0"]
		m.Voter = false
		next.Members["n0"] = m
		delete(next.Members, "n2")
	})
	pv, ok := g.c.peers["n0"]
	if !ok || pv.AsPrimary != sighting || pv.Rep.Name != "" || !pv.Received.IsZero() {
		t.Errorf("the primary after its forget: %+v (kept %v), want its sighting %+v and no report", pv, ok, sighting)
	}
	if _, ok := g.c.peers["n2"]; ok {
		t.Errorf("n2, removed, is still known: %+v", g.c.peers["n2"])
	}
}

// TestExpiredViewIsCutOff: a view the loop has not renewed for its life
// (fence_after plus two intervals; its process stopped, chaos seed 12617)
// counts as cut off, with nothing writable through it, so the Sentinel
// endpoint names no primary from it.
func TestExpiredViewIsCutOff(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	v := &view{snap: Snapshot{Primary: Node{Name: "d", Addr: "127.0.0.5:6379"}, Writable: true,
		Replicas: []Node{{Name: "e"}}}, isPrimary: true, at: at, life: time.Second}
	if s := viewSnapshot(v, at.Add(time.Second)); s.Isolated || !s.Writable {
		t.Errorf("a view fence_after old: isolated %v writable %v, want it as published", s.Isolated, s.Writable)
	}
	s := viewSnapshot(v, at.Add(8*time.Second))
	if !s.Isolated || s.Writable || s.Primary.Addr != "127.0.0.5:6379" || len(s.Replicas) != 1 {
		t.Errorf("a view 8 s old: %+v, want it cut off and not writable, the rest as published", s)
	}
	if v.snap.Isolated || !v.snap.Writable {
		t.Errorf("viewSnapshot changed the published view: %+v", v.snap)
	}
	if (&view{at: at}).expired(at.Add(time.Hour)) {
		t.Error("a view without a life expired")
	}
}

// TestForeignDutiesRunOnANewEpoch: the step that applies a new epoch
// checks the members' Redis for stray primaries at once, not at the next
// tick (chaos seed 16826, N=5: e paused the deposed primary's Redis, which
// only it could reach, 0.1 s after the new primary's promotion, and both
// took writes for 14 ms). Other steps between ticks do not.
func TestForeignDutiesRunOnANewEpoch(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n2", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	ctx := g.ctx
	now := start.Add(time.Second)
	g.f.onReport(g.c, peerMsg{from: "n1", rep: benchReport("n1", g.st, now), at: now})
	g.f.step(ctx, g.c, now, false)
	if g.c.foreign["n0"] {
		t.Fatal("n0, the primary, checked as a stray")
	}
	// n1 named at epoch 2; n0's sidecar is silent.
	g.apply(now, func(next *authority.State) {
		next.Epoch, next.Primary, next.Promoted, next.Started = 2, "n1", false, now
	})
	g.f.step(ctx, g.c, now, false)
	if !g.c.foreign["n0"] {
		t.Fatal("the step that applied epoch 2 did not check n0's Redis")
	}
	g.c.foreign["n0"] = false // as the check's result would
	g.f.step(ctx, g.c, now.Add(10*time.Millisecond), false)
	if g.c.foreign["n0"] {
		t.Error("a step between ticks, epoch unchanged, checked n0's Redis again")
	}
}

// TestOwnViewKeepsTheKeysLastSeen: the sidecar's view of itself keeps the
// keys its Redis held when last seen answering, as its view of a peer
// does; the holder rule waits for a member last seen richer (chaos seed
// 17233, N=3: a leader whose own Redis, the primary's, died counted it as
// holding no key and promoted a holder with fewer).
func TestOwnViewKeepsTheKeysLastSeen(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	ctx := g.ctx
	now := start.Add(time.Second)
	g.local.o.Time, g.local.o.Keys = now, 1983
	g.f.step(ctx, g.c, now, true)
	if got := g.c.peers["n1"].UpKeys; got != 1983 {
		t.Fatalf("own view's keys %d with the local Redis answering, want 1983", got)
	}
	now = now.Add(time.Second)
	g.local.o = monitor.Observation{Addr: benchAddrs["n1"], Time: now, Reason: monitor.ReasonRefused, Err: "connection refused"}
	g.c.fenceBusy = true // no fence effect: the fake Redis has no client
	g.f.step(ctx, g.c, now, false)
	if pv := g.c.peers["n1"]; pv.UpKeys != 1983 || pv.Rep.Obs.Reachable {
		t.Errorf("own view after the local Redis died: keys %d, reachable %v; want 1983 kept, not reachable", pv.UpKeys, pv.Rep.Obs.Reachable)
	}
}

// TestEpochStartWiring: the loop judges a failover's start on its own
// clock for an epoch it applies while following the log, and keeps the
// committed start for one it applies at start (nextEpochStart).
func TestEpochStartWiring(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n2", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	ctx := g.ctx
	if !g.c.gs.Started.Equal(start) {
		t.Fatalf("the state it started with: start %v, want the committed %v", g.c.gs.Started, start)
	}
	now := start.Add(time.Second)
	g.f.step(ctx, g.c, now, false) // following: the fake authority is Ready
	// n1 named at epoch 2 by a leader whose clock runs a minute behind.
	next := g.apply(now, func(next *authority.State) {
		next.Epoch, next.Primary, next.Promoted, next.Started = 2, "n1", false, now.Add(-time.Minute)
	})
	if !g.c.gs.Started.Equal(now) {
		t.Errorf("epoch 2 applied while following: start %v, want %v (when it applied it)", g.c.gs.Started, now)
	}
	g.f.onState(g.c, next, now.Add(time.Second))
	if !g.c.gs.Started.Equal(now) {
		t.Errorf("epoch 2 applied again: start %v, want the first %v", g.c.gs.Started, now)
	}
	// Epoch 3, committed 20 s before this sidecar, stopped since its last
	// step, applied it: the committed start, not the moment it resumed.
	g.f.step(ctx, g.c, now, false)
	resumed := now.Add(30 * time.Second)
	next = g.apply(resumed, func(next *authority.State) {
		next.Epoch, next.Primary, next.Started = 3, "n2", resumed.Add(-20*time.Second)
		next.History = append(slices.Clone(next.History), authority.HistoryEntry{Epoch: 2, Old: "n0", New: "n1", Reason: authority.ReasonAuto,
			Result: resultSuccess, Start: now.Add(-time.Minute), ForkReplID: "fedcba9876543210fedcba9876543210fedcba98", ForkOffset: 4096})
	})
	if !g.c.gs.Started.Equal(next.Started) {
		t.Errorf("epoch 3 applied on resuming: start %v, want the committed %v", g.c.gs.Started, next.Started)
	}
	// Epoch 2's recorded fork keeps the start this sidecar saw for it.
	var fork2 time.Time
	for _, pf := range g.c.gs.PastForks {
		if pf.Epoch == 2 {
			fork2 = pf.Start
		}
	}
	if !fork2.Equal(now) {
		t.Errorf("epoch 2's fork: start %v, want %v (when this sidecar applied epoch 2)", fork2, now)
	}
}

func TestLocalInstant(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name      string
		committed time.Time
		following bool
		want      time.Time
	}{
		{"applied live, the committing clock a minute behind", now.Add(-time.Minute), true, now},
		{"applied live, the committing clock a minute ahead", now.Add(time.Minute), true, now},
		{"caught up: the committed time", now.Add(-20 * time.Second), false, now.Add(-20 * time.Second)},
		{"caught up, committed in this sidecar's future", now.Add(time.Minute), false, now},
	} {
		if got := localInstant(tt.committed, tt.following, now); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got.Sub(now), tt.want.Sub(now))
		}
	}
}

// TestCommittedInstantsOnOwnClock: the anti-flap window and a switchover's
// deadline run on this sidecar's clock, from when it applied the entries,
// whatever the committing sidecar's clock said.
func TestCommittedInstantsOnOwnClock(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n0", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	now := start.Add(time.Second)
	g.f.step(g.ctx, g.c, now, false) // following: the fake authority is Ready
	// Committed by a sidecar whose clock runs a minute behind: a failover
	// start, an anti-flap pause, and a switchover of 30 s begun with them.
	behind := now.Add(-time.Minute)
	const timeout = 30 * time.Second
	next := g.apply(now, func(next *authority.State) {
		next.Failovers = []time.Time{behind.Add(-time.Second)}
		next.History = append(slices.Clone(next.History), authority.HistoryEntry{Epoch: 1, Old: "n0", Reason: reasonAntiFlap,
			Result: "paused", Start: behind})
		next.Switchover = &authority.Switchover{From: "n0", To: "n1", Epoch: 1, Deadline: behind.Add(timeout), Timeout: timeout}
	})
	check := func(when string, failover, flap, deadline time.Time) {
		t.Helper()
		if len(g.c.gs.Failovers) != 1 || !g.c.gs.Failovers[0].Equal(failover) {
			t.Errorf("%s: failovers %v, want [%v]", when, g.c.gs.Failovers, failover)
		}
		if !g.c.gs.FlapSince.Equal(flap) {
			t.Errorf("%s: anti-flap since %v, want %v", when, g.c.gs.FlapSince, flap)
		}
		if g.c.gs.Switchover == nil || !g.c.gs.Switchover.Deadline.Equal(deadline) {
			t.Errorf("%s: switchover %+v, want the deadline %v", when, g.c.gs.Switchover, deadline)
		}
	}
	check("applied while following", now, now, now.Add(timeout))
	if !g.c.gs.Switchover.active(1, now.Add(time.Second)) {
		t.Error("the switchover is over on this clock the moment it began")
	}
	if !g.c.st.Failovers[0].Equal(behind.Add(-time.Second)) {
		t.Error("the committed state was changed")
	}
	// Applied again later: the times first found stand.
	g.f.onState(g.c, next, now.Add(5*time.Second))
	check("applied again", now, now, now.Add(timeout))

	// A sidecar catching up keeps committed times, but none in its future.
	g2 := newIdleGroup(t, "n0", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	late := now.Add(time.Hour) // no step since start: not following
	g2.apply(late, func(next *authority.State) {
		next.Failovers = []time.Time{late.Add(-20 * time.Second)}
		next.History = append(slices.Clone(next.History), authority.HistoryEntry{Epoch: 1, Old: "n0", Reason: reasonAntiFlap,
			Result: "paused", Start: late.Add(time.Minute)})
		next.Switchover = &authority.Switchover{From: "n0", To: "n1", Epoch: 1, Deadline: late.Add(10 * time.Second), Timeout: timeout}
	})
	g = g2
	check("applied catching up", late.Add(-20*time.Second), late, late.Add(10*time.Second))

	// An intent committed before the timeout was recorded keeps its deadline.
	g2.apply(late, func(next *authority.State) {
		next.Switchover = &authority.Switchover{From: "n0", To: "n2", Epoch: 1, Deadline: late.Add(7 * time.Second)}
	})
	check("an intent without its timeout", late.Add(-20*time.Second), late, late.Add(7*time.Second))
}

// TestStallRestartsSDown: a sidecar that stood still (stopped, or starved)
// judges the primary again from the moment it runs: the gap since the
// primary's last reply covers the stall, in which it sent no probe (chaos
// seed 17522, N=3: a's sidecar, stopped for 2.25 s, judged a primary that
// answered every probe down the moment it resumed).
func TestStallRestartsSDown(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	ctx := g.ctx
	step := g.f.mc.Interval
	down := g.c.p.DownAfter
	now := start
	g.f.step(ctx, g.c, now, true)
	if g.c.probeAddr == "" {
		t.Fatal("premise: n1 probes no primary")
	}
	g.c.lastAlive = now // the primary answered
	now = now.Add(step)
	g.f.step(ctx, g.c, now, true)
	// Stopped for longer than down_after.
	now = now.Add(down + time.Second)
	g.f.step(ctx, g.c, now, true)
	if g.c.sdown {
		t.Fatalf("SDOWN the moment it resumed from a stall of %s", down+time.Second)
	}
	// The primary stays silent: down_after after the resume it is down.
	resumed := now
	for now.Sub(resumed) < down {
		if g.c.sdown {
			t.Fatalf("SDOWN %s after resuming, before down_after (%s)", now.Sub(resumed), down)
		}
		now = now.Add(step)
		g.f.step(ctx, g.c, now, true)
	}
	if !g.c.sdown {
		t.Errorf("not SDOWN down_after (%s) after resuming, the primary silent throughout", down)
	}
}

// TestPromotionRestartsTheJudgement: a sidecar that applies the promotion
// of the primary it probes judges the promoted Redis from then on, and
// counts peers' opinions of it only from an interval later
// (opinionsSince).
func TestPromotionRestartsTheJudgement(t *testing.T) {
	start := time.Now()
	g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	ctx := g.ctx
	now := start.Add(time.Second)
	g.f.step(ctx, g.c, now, true)
	// n2 named at epoch 2, not yet promoted.
	g.apply(now, func(next *authority.State) {
		next.Epoch, next.Primary, next.Promoted, next.Started = 2, "n2", false, now
	})
	now = now.Add(3 * time.Second)
	g.f.step(ctx, g.c, now, true)
	if g.c.probeAddr == "" || !g.c.gs.OpinionsFrom.IsZero() {
		t.Fatalf("premise: probing %q, opinions from %v", g.c.probeAddr, g.c.gs.OpinionsFrom)
	}
	g.apply(now, func(next *authority.State) { next.Promoted = true })
	if want := now.Add(g.f.mc.Interval); !g.c.gs.OpinionsFrom.Equal(want) {
		t.Errorf("opinions from %v, want %v (an interval after the promotion applied)", g.c.gs.OpinionsFrom, want)
	}
	if !g.c.probeSince.Equal(now) {
		t.Errorf("SDOWN counts from %v, want %v (the promotion)", g.c.probeSince, now)
	}
	// A new epoch clears it.
	g.apply(now, func(next *authority.State) { next.Epoch, next.Primary, next.Promoted = 3, "n0", false })
	if !g.c.gs.OpinionsFrom.IsZero() {
		t.Errorf("epoch 3: opinions from %v, want zero", g.c.gs.OpinionsFrom)
	}
}
