package failover

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/monitor"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testParams() params {
	return params{Quorum: 2, DownAfter: time.Second, FenceAfter: 500 * time.Millisecond, MaxLagBytes: 1024,
		ParallelSyncs: 1, MaxFailovers: 3, FlapWindow: 10 * time.Minute, Fresh: 500 * time.Millisecond}
}

// rep is a fresh report of a synced replica.
func rep(name string, offset int64) peerView {
	return peerView{Received: t0, Rep: report{Name: name, Addr: name + ":6379", Priority: 100,
		Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "p:6379", LinkUp: true, Synced: true, Offset: offset}}}
}

func down(p peerView, primary string, epoch uint64) peerView {
	p.Rep.SDown, p.Rep.SDownPrimary, p.Rep.SDownEpoch = true, primary, epoch
	return p
}

func members(names ...string) map[string]memberAddrs {
	m := map[string]memberAddrs{}
	for _, n := range names {
		m[n] = memberAddrs{Redis: n + ":6379", Priority: 100}
	}
	return m
}

func TestSDownAt(t *testing.T) {
	for _, tt := range []struct {
		name             string
		since, lastAlive time.Duration // before now
		want             bool
	}{
		{"alive recently", 10 * time.Second, 100 * time.Millisecond, false},
		{"no reply for down_after", 10 * time.Second, time.Second, true},
		{"never answered, probing for less than down_after", 500 * time.Millisecond, 0, false},
		{"never answered since probing started down_after ago", time.Second, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var last time.Time
			if tt.lastAlive > 0 {
				last = t0.Add(-tt.lastAlive)
			}
			if got := sdownAt(t0, t0.Add(-tt.since), last, time.Second); got != tt.want {
				t.Errorf("sdownAt = %v, want %v", got, tt.want)
			}
		})
	}
	if sdownAt(t0, time.Time{}, time.Time{}, time.Second) {
		t.Error("SDOWN without probing")
	}
}

// A primary is up while it answers PING and either its own sidecar reports
// or it takes a write probe: a fenced primary (paused, sidecar cut off)
// answers PING but goes down; one whose sidecar died stays up.
func TestPrimaryLastGood(t *testing.T) {
	ago := func(d time.Duration) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return t0.Add(-d)
	}
	for _, tt := range []struct {
		name                   string
		alive, reported, wrote time.Duration // before t0; 0 = never
		sdown                  bool
	}{
		{"answers, its sidecar reports", 100 * time.Millisecond, 200 * time.Millisecond, 0, false},
		{"answers, sidecar silent, takes writes (sidecar dead)", 100 * time.Millisecond, 10 * time.Second, 100 * time.Millisecond, false},
		{"answers, sidecar silent, takes no writes (fenced)", 100 * time.Millisecond, 3 * time.Second, 0, true},
		{"answers, sidecar silent, last write probe long ago", 100 * time.Millisecond, 10 * time.Second, 2 * time.Second, true},
		{"no reply, sidecar reports", 3 * time.Second, 100 * time.Millisecond, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			last := primaryLastGood(ago(tt.alive), ago(tt.reported), ago(tt.wrote))
			if got := sdownAt(t0, t0.Add(-time.Minute), last, time.Second); got != tt.sdown {
				t.Errorf("SDOWN = %v, want %v (last good %s before)", got, tt.sdown, t0.Sub(last))
			}
		})
	}
}

// A report that says its sidecar is cut off is no sign that its Redis takes
// writes: Uncut, which primaryLastGood counts, stays at the last report that
// did not say so (chaos seed 16102).
func TestUncutIgnoresCutOffReports(t *testing.T) {
	p := testParams()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rep := report{Name: "a", Addr: "a:6379", Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary}}
	cut := rep
	cut.Fenced, cut.CutOff = true, true
	pv := nextPeerView(peerView{}, false, rep, at(1), p)
	pv = nextPeerView(pv, true, cut, at(2), p)
	pv = nextPeerView(pv, true, cut, at(3), p)
	if !pv.Uncut.Equal(at(1)) || !pv.Received.Equal(at(3)) {
		t.Fatalf("after cut-off reports: uncut %v, received %v; want 1 s and 3 s", pv.Uncut.Sub(t0), pv.Received.Sub(t0))
	}
	if last := primaryLastGood(at(3), pv.Uncut, time.Time{}); !sdownAt(at(3), t0, last, 2*time.Second) {
		t.Errorf("answering PING, its sidecar cut off for 2 s: not judged down (last good %v)", last.Sub(t0))
	}
	pv = nextPeerView(pv, true, rep, at(4), p)
	if !pv.Uncut.Equal(at(4)) {
		t.Fatalf("after a report without CutOff: uncut %v, want 4 s", pv.Uncut.Sub(t0))
	}
	if first := nextPeerView(peerView{}, false, cut, at(5), p); !first.Uncut.IsZero() {
		t.Errorf("first report cut off: uncut %v, want never", first.Uncut.Sub(t0))
	}
}

func TestDecideLeader(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "a", "b", "c")}
	primary := peerView{Received: t0.Add(-time.Minute), Rep: report{Name: "p", Addr: "p:6379", Priority: 100,
		Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, Offset: 5000}}}
	type want struct {
		ODown  bool
		Votes  int
		Action leaderAction
		Target string
		Reason string
	}
	tests := []struct {
		name  string
		st    func(groupState) groupState
		peers map[string]peerView
		p     func(params) params
		want  want
	}{
		{
			name:  "one opinion is not a quorum",
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": rep("b", 5000)},
			want:  want{Votes: 1},
		},
		{
			name:  "quorum: the best replica is promoted at the next epoch",
			peers: map[string]peerView{"p": primary, "a": down(rep("a", 4990), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2, Action: leaderPromote, Target: "b", Reason: ReasonAuto},
		},
		{
			name: "opinions about an older epoch or stale reports do not count",
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 3), "b": func() peerView {
				p := down(rep("b", 5000), "p", 4)
				p.Received = t0.Add(-time.Second)
				return p
			}()},
			want: want{},
		},
		{
			name:  "operator pause: ODOWN but no action",
			st:    func(s groupState) groupState { s.Paused = true; return s },
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2},
		},
		{
			name: "a recent failover does not block recovery below the cap",
			st: func(s groupState) groupState {
				s.Failovers = []time.Time{t0.Add(-10 * time.Second), t0.Add(-20 * time.Second)}
				return s
			},
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2, Action: leaderPromote, Target: "a", Reason: ReasonAuto},
		},
		{
			name: "the cap reached: anti-flap pauses",
			st: func(s groupState) groupState {
				s.Failovers = []time.Time{t0.Add(-9 * time.Minute), t0.Add(-time.Minute), t0.Add(-10 * time.Second)}
				return s
			},
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2, Action: leaderFlapPause},
		},
		{
			name: "failovers older than the window do not count",
			st: func(s groupState) groupState {
				s.Failovers = []time.Time{t0.Add(-11 * time.Minute), t0.Add(-time.Hour), t0.Add(-10 * time.Second)}
				return s
			},
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2, Action: leaderPromote, Target: "a", Reason: ReasonAuto},
		},
		{
			name:  "already flap-paused: nothing more",
			st:    func(s groupState) groupState { s.FlapPaused = "anti-flap"; return s },
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2},
		},
		{
			name: "a switchover under way is in charge until its deadline",
			st: func(s groupState) groupState {
				s.Switchover = &switchoverIntent{From: "p", To: "a", Epoch: 4, Deadline: t0.Add(time.Second)}
				return s
			},
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2},
		},
		{
			name: "an expired switchover does not block failover",
			st: func(s groupState) groupState {
				s.Switchover = &switchoverIntent{From: "p", To: "a", Epoch: 4, Deadline: t0.Add(-time.Second)}
				return s
			},
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4)},
			want:  want{ODown: true, Votes: 2, Action: leaderPromote, Target: "a", Reason: ReasonAuto},
		},
		{
			name: "lag is measured against the primary's last known offset",
			// Both replicas are far behind what the primary had: nobody
			// qualifies although they are level with each other.
			peers: map[string]peerView{"p": primary, "a": down(rep("a", 1000), "p", 4), "b": down(rep("b", 1000), "p", 4)},
			want:  want{ODown: true, Votes: 2},
		},
		{
			name: "an empty restart reported by the primary's sidecar fails over without a quorum",
			peers: map[string]peerView{"p": func() peerView {
				p := primary
				p.Received = t0
				p.Rep.Obs.Offset = 0
				p.Rep.Empty, p.Rep.SDownPrimary, p.Rep.SDownEpoch = true, "p", 4
				return p
			}(), "a": rep("a", 5000), "b": rep("b", 4000)},
			p:    func(p params) params { p.MaxLagBytes = 1 << 20; return p },
			want: want{Action: leaderPromote, Target: "a", Reason: ReasonAuto},
		},
		{
			name: "the committed primary never confirmed its promotion: replace it",
			st: func(s groupState) groupState {
				s.Primary, s.Promoted, s.Started = "a", false, t0.Add(-2*time.Second)
				return s
			},
			peers: map[string]peerView{"p": primary, "a": rep("a", 5000), "b": rep("b", 5000)},
			want:  want{Action: leaderPromote, Target: "b", Reason: ReasonAuto},
		},
		{
			name: "a promotion under way for less than down_after is left alone",
			st: func(s groupState) groupState {
				s.Primary, s.Promoted, s.Started = "a", false, t0.Add(-500*time.Millisecond)
				return s
			},
			peers: map[string]peerView{"p": primary, "a": rep("a", 5000), "b": rep("b", 5000)},
			want:  want{},
		},
		{
			name: "the best candidate runs a gate: wait for its verdict",
			peers: map[string]peerView{"a": func() peerView { p := down(rep("a", 5000), "p", 4); p.Rep.Gate = true; return p }(),
				"b": down(rep("b", 5000), "p", 4)},
			want: want{ODown: true, Votes: 2, Target: "a"},
		},
		{
			name: "its gate vetoed: the next candidate",
			peers: map[string]peerView{"a": func() peerView {
				p := down(rep("a", 5000), "p", 4)
				p.Rep.Gate, p.Rep.Verdict = true, &verdict{Primary: "p", Epoch: 4}
				return p
			}(), "b": down(rep("b", 5000), "p", 4)},
			want: want{ODown: true, Votes: 2, Action: leaderPromote, Target: "b", Reason: ReasonAuto},
		},
		{
			name: "its gate allowed: promote it",
			peers: map[string]peerView{"a": func() peerView {
				p := down(rep("a", 5000), "p", 4)
				p.Rep.Gate, p.Rep.Verdict = true, &verdict{Primary: "p", Epoch: 4, Allowed: true}
				return p
			}(), "b": down(rep("b", 5000), "p", 4)},
			want: want{ODown: true, Votes: 2, Action: leaderPromote, Target: "a", Reason: ReasonAuto},
		},
		{
			name:  "group-wide quorum of 3 needs three opinions",
			p:     func(p params) params { p.Quorum = 3; return p },
			peers: map[string]peerView{"a": down(rep("a", 5000), "p", 4), "b": down(rep("b", 5000), "p", 4), "c": rep("c", 5000)},
			want:  want{Votes: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := st
			if tt.st != nil {
				s = tt.st(s)
			}
			p := testParams()
			if tt.p != nil {
				p = tt.p(p)
			}
			d := decideLeader(t0, s, tt.peers, p, "")
			got := want{ODown: d.ODown, Votes: d.Votes, Action: d.Action, Target: d.Target}
			if d.Action == leaderPromote {
				got.Reason = d.Reason
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("decision (-got +want):\n%s\nwhy not: %s", diff, d.WhyNot)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	type nd struct {
		name   string
		role   monitor.Role
		master string
	}
	addr := func(name string) string { return name + ":6379" }
	tests := []struct {
		name         string
		nodes        []nd
		initial      string
		want         string
		wantConflict bool
		noGroup      bool // a sidecar with no registered member (no Raft state)
	}{
		{"one primary followed by all", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("a")}}, "", "a", false, false},
		{"all standalone: no guess", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RolePrimary, ""}, {"c", monitor.RolePrimary, ""}}, "", "", true, false},
		{"all standalone with initial_primary", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RolePrimary, ""}, {"c", monitor.RolePrimary, ""}}, "b", "b", false, false},
		{"replicas follow an unknown node", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, "10.9.9.9:6379"}, {"c", monitor.RoleReplica, addr("a")}}, "", "", true, false},
		{"a member has not reported", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}}, "", "", false, false},
		// Chaos seed 5915 (N=3): a new group after every sidecar lost its
		// Raft state; no Redis a primary, a's and c's parked.
		{"no primary, two parked: no guess", []nd{{"a", monitor.RoleReplica, addr("a")}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("c")}}, "", "", true, false},
		{"no primary, one parked: no guess either (an empty restart is parked too)", []nd{{"a", monitor.RoleReplica, addr("a")}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("a")}}, "", "", true, false},
		{"no primary, initial_primary parked", []nd{{"a", monitor.RoleReplica, addr("a")}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("c")}}, "c", "c", false, false},
		{"no primary, initial_primary following another: not chosen", []nd{{"a", monitor.RoleReplica, addr("a")}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("c")}}, "b", "", true, false},
		{"no group yet, only its own Redis parked: nothing to report", []nd{{"c", monitor.RoleReplica, addr("c")}}, "", "", false, true},
		{"no primary, none parked", []nd{{"a", monitor.RoleReplica, addr("b")}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("a")}}, "", "", false, false},
		{"a primary and a parked one: a conflict, as before", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("c")}}, "", "", true, false},
		// Seed 5718 (N=3): the parked one held every write.
		{"a primary and a parked one, initial_primary the parked one", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("c")}}, "c", "c", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{}
			for _, n := range tt.nodes {
				peers[n.name] = peerView{Received: t0, Rep: report{Name: n.name, Addr: addr(n.name),
					Obs: obsSummary{Reachable: true, Role: n.role, MasterAddr: n.master}}}
			}
			st := groupState{Members: members("a", "b", "c")}
			if tt.noGroup {
				st.Members = nil
			}
			got, conflict := discover(st, peers, t0, time.Second, tt.initial)
			if got != tt.want || (conflict != "") != tt.wantConflict {
				t.Errorf("discover = %q, conflict %q; want %q, conflict %v", got, conflict, tt.want, tt.wantConflict)
			}
		})
	}
}

// decideLocal: fencing, promotion, demotion and re-pointing of the local
// Redis.
func TestDecideLocal(t *testing.T) {
	up := func(role monitor.Role, master string) localObs {
		return localObs{Reachable: true, Role: role, MasterAddr: master, Time: t0}
	}
	named := groupState{Epoch: 2, Primary: "a", Promoted: true, Members: members("a", "b", "c")}
	other := groupState{Epoch: 3, Primary: "b", Promoted: true, Members: members("a", "b", "c")}
	forked := other
	forked.ForkReplID, forked.Fork = "old", 5000
	forkedAt0 := forked // promoted at offset 0 of "old" (seed 12522)
	forkedAt0.Fork = 0
	ahead := up(monitor.RoleReplica, "a:6379")
	ahead.ReplID, ahead.Offset = "old", 5200
	atFork := ahead
	atFork.Offset = 5000
	// Seed 7021: c, deposed, points at itself (seed 511) on the history
	// epoch 2's promotion of c began at 4000, none took from it.
	deposed := func(st groupState, offset int64) localInput {
		st.PastForks = []pastFork{{Epoch: 2, New: "c", ReplID: "old", Offset: 4000, NewReplID: "c2"}}
		o := up(monitor.RoleReplica, "c:6379")
		o.ReplID, o.Offset = "c2", offset
		return localInput{State: st, Ready: true, Obs: o, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", SelfAddr: "c:6379", Keeps: true}
	}
	tests := []struct {
		name string
		in   localInput
		want localPlan
	}{
		{
			name: "isolated, local redis does not answer, last seen primary: fence blindly",
			in:   localInput{State: named, Ready: true, Obs: localObs{Role: monitor.RolePrimary, Time: t0}, LastContact: t0.Add(-time.Second)},
			want: localPlan{Fence: true, Isolated: true},
		},
		{
			name: "isolated primary answers: renew the fence and send its clients away",
			in:   localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0.Add(-time.Second), Fenced: true},
			want: localPlan{Fence: true, Isolated: true, Evict: true},
		},
		{
			name: "majority back, fenced, local redis does not answer: keep the fence, no release",
			in:   localInput{State: named, Ready: true, Obs: localObs{Role: monitor.RolePrimary, Time: t0.Add(-time.Hour)}, LastContact: t0, Fenced: true},
			want: localPlan{},
		},
		{
			name: "majority back and the committed state names this node promoted: release",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Fenced: true,
				Peers: map[string]peerView{"b": reaching("b", 0)}},
			want: localPlan{Unfence: true},
		},
		{
			name: "not judged against the replicas yet (it may have restarted empty): keep the fence",
			in:   localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Fenced: true, Unsure: true},
			want: localPlan{},
		},
		{
			name: "gossip cut (no fresh report) but Raft fine: release after the Verify",
			in:   localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Fenced: true},
			want: localPlan{Unfence: true},
		},
		{
			name: "fenced and still doomed: keep the fence",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Fenced: true,
				Peers: map[string]peerView{"b": reaching("b", 300), "c": reaching("c", 300)}},
			want: localPlan{Fence: true, Evict: true},
		},
		{
			name: "doomed: a quorum cannot reach this primary although Raft still answers",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				Peers: map[string]peerView{"b": reaching("b", 300), "c": reaching("c", 300)}},
			want: localPlan{Fence: true, Evict: true},
		},
		{
			name: "one peer that cannot reach it is not a quorum",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				Peers: map[string]peerView{"b": reaching("b", 300), "c": reaching("c", 0)}},
			want: localPlan{},
		},
		{
			name: "a healthy named primary does nothing",
			in:   localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0},
			want: localPlan{},
		},
		{
			name: "local redis is a replica now: release the pause",
			in:   localInput{State: other, Ready: true, Obs: up(monitor.RoleReplica, "b:6379"), LastContact: t0, Fenced: true, PrimaryAddr: "b:6379"},
			want: localPlan{Unfence: true},
		},
		{
			name: "a primary the committed state does not name is fenced and demoted",
			in:   localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, PrimaryAddr: "b:6379"},
			want: localPlan{Fence: true, DemoteTo: "b:6379"},
		},
		{
			name: "a stale primary is demoted to a primary nobody vouches for only with a partial resync",
			in: localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, PrimaryAddr: "b:6379",
				SourceUnvouched: true},
			want: localPlan{Fence: true, DemoteTo: "b:6379", PartialOnly: true},
		},
		{
			name: "seed 909: restarted cut off with no state, its redis a primary: fenced, and its clients sent away once cut off fence_after since its start",
			in:   localInput{Obs: up(monitor.RolePrimary, ""), Started: t0.Add(-time.Second), Fenced: true},
			want: localPlan{Fence: true, Isolated: true, Evict: true},
		},
		{
			name: "restarted with no Raft contact yet, less than fence_after ago: fenced, its clients stay",
			in:   localInput{Obs: up(monitor.RolePrimary, ""), Started: t0.Add(-100 * time.Millisecond), Fenced: true},
			want: localPlan{Fence: true, Isolated: true},
		},
		{
			name: "a deposed primary cut off, its sidecar knowing the new state: fenced, and its clients sent away",
			in: localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0.Add(-time.Second), Self: "a",
				Started: t0.Add(-time.Minute), Fenced: true},
			want: localPlan{Fence: true, Isolated: true, Evict: true},
		},
		{
			name: "before the state is verified a primary starts paused and nothing else happens",
			in:   localInput{State: named, Obs: up(monitor.RolePrimary, ""), LastContact: t0},
			want: localPlan{Fence: true},
		},
		{
			name: "named but not promoted yet: promote (the effect pauses first)",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RoleReplica, "x:6379"), LastContact: t0},
			want: localPlan{Promote: true},
		},
		{
			// Chaos seed 5120 (N=3): a's Redis, named at epoch 4, held
			// the INCRs and followed b's dead Redis until it came back
			// empty; it full-synced 0 keys while a's promotion could not
			// verify.
			name: "named, not promoted, following the deposed Redis with the link down: it points at itself first",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RoleReplica, "b:6379"), LastContact: t0, SelfAddr: "a:6379"},
			want: localPlan{Detach: true},
		},
		{
			// Pointed at itself, a TLS-only Redis stalls in a replication
			// handshake with itself (TestTLSFailoverThroughSentinelEndpoint).
			name: "named, not promoted, following the deposed Redis, TLS-only: promote at once",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RoleReplica, "b:6379"), LastContact: t0, SelfAddr: "a:6379", SelfTLS: true},
			want: localPlan{Promote: true},
		},
		{
			name: "named, not promoted, pointing at itself: promote",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0, SelfAddr: "a:6379"},
			want: localPlan{Promote: true},
		},
		{
			name: "named, not promoted, its link to the old primary up (a switchover): promote",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: func() localObs { o := up(monitor.RoleReplica, "b:6379"); o.LinkUp = true; return o }(), LastContact: t0, SelfAddr: "a:6379"},
			want: localPlan{Promote: true},
		},
		{
			name: "a promotion under way owns the pause",
			in: localInput{State: func() groupState { s := named; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RolePrimary, ""), LastContact: t0, Busy: true, Fenced: true},
			want: localPlan{},
		},
		{
			// Chaos seed 2001 (N=5): d's Redis, killed during the
			// promotion's hold, came back from a stale RDB without the
			// pause and was judged empty.
			name: "a promotion under way whose Redis restarted and was judged empty: paused at once",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Busy: true, Promoting: true, Fenced: true,
				Empty: true, EmptyTo: "c:6379"},
			want: localPlan{Fence: true},
		},
		{
			// Any other effect owns the pause: a loaded primary's probe
			// can be judged against a replica's newer report, and a
			// fence then cut off its clients mid-write
			// (TestLaggingReplicaNotPromoted, 2 of 3 runs).
			name: "another effect under way, its Redis judged empty: the effect owns the pause",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Busy: true,
				Empty: true, EmptyTo: "c:6379"},
			want: localPlan{},
		},
		{
			name: "empty restart: stay fenced and point it at the best replica",
			in:   localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Empty: true, EmptyTo: "c:6379"},
			want: localPlan{Fence: true, DemoteTo: "c:6379"},
		},
		{
			// Chaos seed 4018 (N=5): the demotion waits for a Verify, and
			// c's Redis, still following b's, full-synced its stale RDB
			// meanwhile.
			name: "seed 4018: empty restart still a primary, a replica to follow: it points at itself first",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				Empty: true, EmptyTo: "c:6379", SelfAddr: "a:6379"},
			want: localPlan{Fence: true, Detach: true},
		},
		{
			name: "seed 4018: empty restart pointing at itself: then pointed at the best replica",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				Empty: true, EmptyTo: "c:6379", SelfAddr: "a:6379", Fenced: true},
			want: localPlan{Unfence: true, DemoteTo: "c:6379"},
		},
		{
			name: "empty restart already following the best replica: nothing more, and no promotion",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "c:6379"), LastContact: t0,
				Empty: true, EmptyTo: "c:6379", Fenced: true},
			want: localPlan{Unfence: true},
		},
		{
			name: "empty restart with no replica to follow: point it at itself, so nothing syncs from it",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				Empty: true, SelfAddr: "a:6379"},
			want: localPlan{Fence: true, Detach: true},
		},
		{
			name: "empty restart already pointing at itself",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				Empty: true, SelfAddr: "a:6379", Fenced: true},
			want: localPlan{Unfence: true},
		},
		{
			name: "the empty verdict lifted: the primary pointing at itself is a primary again",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				SelfAddr: "a:6379"},
			want: localPlan{Undetach: true},
		},
		{
			// Chaos seed 8405 (N=5): the replica's release ran beside the
			// Undetach, and its UNPAUSE lifted the Undetach's pause.
			name: "the empty verdict lifted while fenced: the Undetach keeps its pause, no release beside it",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				SelfAddr: "a:6379", Fenced: true},
			want: localPlan{Undetach: true},
		},
		{
			// Chaos seed 8405 (N=5): e, cut off, undid each of the
			// majority's demotions after a's promotion.
			name: "isolated, pointing at itself (the majority's demotion): it stays detached, a replica released",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0.Add(-time.Second),
				SelfAddr: "a:6379", Fenced: true},
			want: localPlan{Unfence: true, Isolated: true},
		},
		{
			// Chaos seed 15212 (N=3): a replica reconnecting by itself
			// full-synced an unjudged empty restart.
			name: "seed 15212: restarted on a new history, being judged: it points at itself",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				SelfAddr: "a:6379", Fenced: true, Unsure: true, Judging: true},
			want: localPlan{Detach: true},
		},
		{
			name: "seed 15212's rule, a TLS-only Redis: left a primary (pointed at itself it stalls)",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				SelfAddr: "a:6379", SelfTLS: true, Fenced: true, Unsure: true, Judging: true},
			want: localPlan{},
		},
		{
			name: "unknown after this sidecar's own start, not a restart seen: left a primary, fenced",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0,
				SelfAddr: "a:6379", Fenced: true, Unsure: true},
			want: localPlan{},
		},
		{
			name: "seed 15212: pointing at itself while judged: it stays detached",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				SelfAddr: "a:6379", Unsure: true, Judging: true},
			want: localPlan{},
		},
		{
			name: "pointing at itself, not judged yet (a sidecar that lost its memory): it stays detached",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0,
				SelfAddr: "a:6379", Unsure: true},
			want: localPlan{},
		},
		{
			name: "empty restart following another replica: point it at the best one",
			in: localInput{State: named, Ready: true, Obs: up(monitor.RoleReplica, "b:6379"), LastContact: t0,
				Empty: true, EmptyTo: "c:6379"},
			want: localPlan{DemoteTo: "c:6379"},
		},
		{
			name: "replica of the old primary re-points once the new one is promoted",
			in:   localInput{State: other, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0, PrimaryAddr: "b:6379", Self: "c"},
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "nobody vouches for the new primary: re-point only with a partial resync",
			in: localInput{State: other, Ready: true, Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0, PrimaryAddr: "b:6379", Self: "c",
				SourceUnvouched: true},
			want: localPlan{RepointTo: "b:6379", PartialOnly: true},
		},
		{
			name: "a replica holding more of the old history than the new primary took: keep its tail, then re-point",
			in:   localInput{State: forked, Ready: true, Obs: ahead, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379", KeepTail: true},
		},
		{
			// Chaos seed 12522 (N=3, the replay on b3b6acd): b's Redis,
			// full-synced from c's at offset 0 of the history c's AOF
			// restart began, was promoted there (fork at 0); c's Redis
			// took 27 writes past it under Redis's lag allowance and,
			// detached, was re-pointed with a full sync.
			name: "seed 12522: the new primary promoted at offset 0 of its history, a replica past it: keep its tail",
			in:   localInput{State: forkedAt0, Ready: true, Obs: ahead, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379", KeepTail: true},
		},
		{
			name: "seed 12522: at that fork: a plain re-point",
			in: localInput{State: forkedAt0, Ready: true, Obs: func() localObs { o := ahead; o.Offset = 0; return o }(), LastContact: t0,
				PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "seed 302: cut off across two failovers, ahead of the earlier fork of its history: keep its tail",
			in: localInput{State: func() groupState {
				s := forked
				s.Epoch, s.ForkReplID, s.Fork = 4, "h3", 61188
				s.PastForks = []pastFork{{Epoch: 2, New: "b", ReplID: "h1", Offset: 28440}, {Epoch: 3, New: "d", ReplID: "old", Offset: 5000}}
				return s
			}(), Ready: true, Obs: ahead, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379", KeepTail: true},
		},
		{
			name: "seed 302: at the earlier fork of its history: a plain re-point",
			in: localInput{State: func() groupState {
				s := forked
				s.Epoch, s.ForkReplID, s.Fork = 4, "h3", 61188
				s.PastForks = []pastFork{{Epoch: 3, New: "d", ReplID: "old", Offset: 5000}}
				return s
			}(), Ready: true, Obs: atFork, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "seed 7021: the deposed primary's own history, past where it began, the new primary promoted from before it: keep its tail",
			in:   deposed(forked, 4300),
			want: localPlan{RepointTo: "b:6379", KeepTail: true},
		},
		{
			name: "seed 7021: where that history began: a plain re-point",
			in:   deposed(forked, 4000),
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "seed 7021: the committed primary's fork not recorded (it may have taken from that history): a plain re-point",
			in:   deposed(other, 4300),
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "its tail is not kept where divergent writes are off",
			in:   localInput{State: forked, Ready: true, Obs: ahead, LastContact: t0, PrimaryAddr: "b:6379", Self: "c"},
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "at the fork: a plain re-point (a partial resync)",
			in:   localInput{State: forked, Ready: true, Obs: atFork, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true},
			want: localPlan{RepointTo: "b:6379"},
		},
		{
			name: "nobody vouches for the new primary: nothing kept until a partial resync or a vouch",
			in: localInput{State: forked, Ready: true, Obs: ahead, LastContact: t0, PrimaryAddr: "b:6379", Self: "c", Keeps: true,
				SourceUnvouched: true},
			want: localPlan{RepointTo: "b:6379", PartialOnly: true},
		},
		{
			name: "a stale primary restarted as one, nobody to follow that vouches for it: it points at itself",
			in: localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Self: "c",
				SelfAddr: "c:6379", Restarted: true},
			want: localPlan{Fence: true, Detach: true},
		},
		{
			name: "a stale primary with its history, nobody to follow: it stays a paused primary (capturable)",
			in:   localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Self: "c", SelfAddr: "c:6379"},
			want: localPlan{Fence: true},
		},
		{
			name: "seed 11706: a stale primary with its history, nobody to follow, its sidecar not vouching for it: it points at itself",
			in: localInput{State: other, Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Self: "c", SelfAddr: "c:6379",
				SourceUnvouched: true},
			want: localPlan{Fence: true, Detach: true},
		},
		{
			name: "no re-point before the new primary confirmed its promotion",
			in: localInput{State: func() groupState { s := other; s.Promoted = false; return s }(), Ready: true,
				Obs: up(monitor.RoleReplica, "a:6379"), LastContact: t0, PrimaryAddr: "b:6379", Self: "c"},
			want: localPlan{},
		},
		{
			name: "the old primary of a switchover keeps its pause while handing over",
			in: localInput{State: func() groupState {
				s := named
				s.Switchover = &switchoverIntent{From: "a", To: "b", Epoch: 2, Deadline: t0.Add(time.Second)}
				return s
			}(), Ready: true, Obs: up(monitor.RolePrimary, ""), LastContact: t0, Fenced: true},
			want: localPlan{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Now = t0
			if in.Self == "" {
				in.Self = "a"
			}
			in.P = testParams()
			if diff := cmp.Diff(decideLocal(in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// With min_replicas, a replica whose sidecar is cut off from the majority
// points its Redis at itself, so that a replaced primary whose sidecar is
// dead loses its acknowledgements; once contact is back it re-points.
func TestDecideLocalDetach(t *testing.T) {
	other := groupState{Epoch: 3, Primary: "b", Promoted: true, Members: members("a", "b", "c")}
	replica := func(master string, contact time.Time, minReplicas int) localInput {
		p := testParams()
		p.MinReplicas = minReplicas
		return localInput{Now: t0, Self: "c", State: other, Ready: true, LastContact: contact, PrimaryAddr: "b:6379",
			SelfAddr: "c:6379", P: p, Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: master, Time: t0}}
	}
	cut := t0.Add(-time.Second) // fence_after ago
	for _, tt := range []struct {
		name string
		in   localInput
		want localPlan
	}{
		{"isolated replica: detach", replica("b:6379", cut, 1), localPlan{Isolated: true, Detach: true}},
		{"already detached: nothing, and no re-point to the stale primary", replica("c:6379", cut, 1), localPlan{Isolated: true}},
		{"without min_replicas nothing counts its acknowledgements: stay", replica("b:6379", cut, 0), localPlan{Isolated: true}},
		{"contact back: re-point to the committed primary", replica("c:6379", t0, 1), localPlan{RepointTo: "b:6379"}},
		{"in contact and following the primary: nothing", replica("b:6379", t0, 1), localPlan{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(decideLocal(tt.in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// A new primary holds writes until the primary it replaces can take none:
// only when that primary's sidecar is silent and a replica that followed it
// is silent too, until fence_after (the replica detaches) plus Redis's ack
// lag bound after that replica was last heard.
func TestOldPrimaryHold(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	silent := func(pv peerView, ago time.Duration) peerView { pv.Received = t0.Add(-ago); return pv }
	oldFollower := rep("c", 100) // MasterAddr p:6379, link up
	addrs := []string{"p:6379"}
	stale := silent(rep("p", 0), time.Second)
	stale.Rep.Obs.Role = monitor.RolePrimary
	otherFollower := silent(rep("c", 100), 500*time.Millisecond)
	otherFollower.Rep.Obs.MasterAddr = "x:6379"
	wantUntil := t0.Add(-500*time.Millisecond + p.Fresh + p.FenceAfter + ackLagBound(p))
	switched := otherFollower
	switched.Received = t0
	switched.Links = []linkMark{{Addr: "p:6379", At: t0.Add(-2 * time.Second)}, {Addr: "x:6379", At: t0}}
	switchedLongAgo := switched
	switchedLongAgo.Links = []linkMark{{Addr: "p:6379", At: t0.Add(-time.Minute)}}
	for _, tt := range []struct {
		name  string
		peers map[string]peerView
		min   int
		until time.Time
		who   string
	}{
		{"old primary's sidecar silent, a silent replica followed it: hold", map[string]peerView{"p": stale, "c": silent(oldFollower, 500*time.Millisecond)}, 1, wantUntil, "c"},
		{"without min_replicas: no hold", map[string]peerView{"p": stale, "c": silent(oldFollower, 500*time.Millisecond)}, 0, time.Time{}, ""},
		{"old primary's sidecar in reach fences it: no hold", map[string]peerView{"p": rep("p", 0), "c": silent(oldFollower, 500*time.Millisecond)}, 1, time.Time{}, ""},
		{"the replica is in reach: until it is re-pointed and the old Redis stops counting it", map[string]peerView{"p": stale, "c": oldFollower}, 1,
			t0.Add(p.Fresh + ackLagBound(p)), "c"},
		{"the silent replica followed another primary: no hold", map[string]peerView{"p": stale, "c": otherFollower}, 1, time.Time{}, ""},
		{"last heard long ago: the hold is over", map[string]peerView{"p": stale, "c": silent(oldFollower, time.Minute)}, 1, time.Time{}, ""},
		// Chaos seed 305 (N=5): a deposed primary whose sidecar is cut
		// off still counts the acknowledgements of replicas re-pointed
		// away from it since.
		{"a replica in reach left it for another primary 2 s ago: until its last acknowledgement expires", map[string]peerView{"p": stale, "c": switched}, 1,
			t0.Add(-2*time.Second + p.Fresh + ackLagBound(p)), "c"},
		{"a silent replica left it: the same", map[string]peerView{"p": stale, "c": silent(switched, 100*time.Millisecond)}, 1,
			t0.Add(-2*time.Second + p.Fresh + ackLagBound(p)), "c"},
		{"this node's own Redis left it", map[string]peerView{"p": stale}, 1, t0.Add(-time.Second + p.Fresh + ackLagBound(p)), "b"},
		{"left it long ago: no hold", map[string]peerView{"p": stale, "c": switchedLongAgo}, 1, time.Time{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := p
			p.MinReplicas = tt.min
			var self []linkMark
			if strings.HasPrefix(tt.name, "this node's") {
				self = []linkMark{{Addr: "p:6379", At: t0.Add(-time.Second)}}
			}
			until, who := oldPrimaryHold("p", addrs, "b", self, tt.peers, t0, p)
			if !until.Equal(tt.until) || who != tt.who {
				t.Errorf("hold until %v (%s), want %v (%s)", until, who, tt.until, tt.who)
			}
		})
	}
}

// A Redis's link marks follow the primary it is linked to and forget what
// no primary can count any more.
func TestNextLinks(t *testing.T) {
	keep := 5 * time.Second
	var links []linkMark
	links = nextLinks(links, "a:1", true, t0, keep)
	links = nextLinks(links, "a:1", true, t0.Add(time.Second), keep)
	if want := []linkMark{{"a:1", t0.Add(time.Second)}}; !slices.Equal(links, want) {
		t.Fatalf("linked twice: %v, want %v", links, want)
	}
	links = nextLinks(links, "a:1", false, t0.Add(2*time.Second), keep)
	links = nextLinks(links, "b:1", true, t0.Add(3*time.Second), keep)
	if want := []linkMark{{"a:1", t0.Add(time.Second)}, {"b:1", t0.Add(3 * time.Second)}}; !slices.Equal(links, want) {
		t.Fatalf("link down, then re-pointed: %v, want %v", links, want)
	}
	if got := lastLink(links, []string{"x:1", "a:1"}); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("lastLink a: %v", got)
	}
	links = nextLinks(links, "", false, t0.Add(7*time.Second), keep)
	if want := []linkMark{{"b:1", t0.Add(3 * time.Second)}}; !slices.Equal(links, want) {
		t.Errorf("after keep: %v, want %v", links, want)
	}
}

// A primary restarted as one is told from the switchover's old primary
// and from a deposed primary still leading the history the promotion left.
func TestRestartedPrimary(t *testing.T) {
	// c was promoted at epoch 1, leaving h-old at 300; a at epoch 2,
	// leaving h-x at 400; b at epoch 3, leaving h-a at 500.
	promoted := groupState{Epoch: 3, Primary: "b", Promoted: true, Fork: 500, ForkReplID: "h-a",
		PastForks: []pastFork{{Epoch: 1, New: "c", ReplID: "h-old", Offset: 300}, {Epoch: 2, New: "a", ReplID: "h-x", Offset: 400}}}
	fresh := monitor.Observation{Role: monitor.RolePrimary, ReplID: "h-new", ReplID2: strings.Repeat("0", 40)}
	primary := func(replID2 string, offset int64) monitor.Observation {
		return monitor.Observation{Role: monitor.RolePrimary, ReplID: "h-new", ReplID2: replID2, Offset: offset}
	}
	for _, tt := range []struct {
		name string
		o    monitor.Observation
		st   groupState
		want bool
	}{
		{"new history, none before, after the promotion", fresh, promoted, true},
		{"before the promotion is confirmed (a switchover's old primary)", fresh, groupState{Epoch: 3, Primary: "b"}, false},
		{"still leading the history the promotion left", monitor.Observation{Role: monitor.RolePrimary, ReplID: "h-a"}, promoted, false},
		{"promoted once: a history before", primary("h-old", 900), promoted, false},
		{"promoted once, before its first write", primary("h-old", 300), promoted, false},
		{"a replica", monitor.Observation{Role: monitor.RoleReplica, ReplID: "h-new"}, promoted, false},
		// Redis 7.0 gives a primary restarted from an RDB the snapshot's
		// history as master_replid2, valid up to the snapshot's offset; a
		// no-persistence restart keeps the RDB of its last full sync.
		{"restarted from an RDB written on the history its promotion left, below the fork", primary("h-old", 120), promoted, true},
		{"restarted from an RDB written on a history no promotion of it left", primary("h-a", 700), promoted, true},
		{"restarted from an RDB written on a history another node's promotion left", primary("h-x", 450), promoted, true},
	} {
		if got := restartedPrimary(tt.o, tt.st, "c"); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	// Before the committed primary's promotion is confirmed (epoch 4
	// names a, not promoted yet): only a Redis that leads none of the
	// histories c's recorded promotions began, the newest known, is a
	// restart. c was promoted at epoch 1 (leaving h-old at 300, beginning
	// h-c1) and at epoch 3 (leaving h-b at 600, beginning h-c3).
	forks := []pastFork{{Epoch: 1, New: "c", ReplID: "h-old", Offset: 300, NewReplID: "h-c1"},
		{Epoch: 2, New: "a", ReplID: "h-x", Offset: 400, NewReplID: "h-a"},
		{Epoch: 3, New: "c", ReplID: "h-b", Offset: 600, NewReplID: "h-c3"}}
	named := groupState{Epoch: 4, Primary: "a", Previous: "c", PastForks: forks}
	unrecorded := named
	unrecorded.PastForks = slices.Clone(forks)
	unrecorded.PastForks[2].NewReplID = "" // written before the history a promotion began was recorded
	leading := func(replID string) monitor.Observation {
		return monitor.Observation{Role: monitor.RolePrimary, ReplID: replID, ReplID2: "h-b", Offset: 900}
	}
	for _, tt := range []struct {
		name string
		o    monitor.Observation
		st   groupState
		want bool
	}{
		{"unpromoted epoch: back from its AOF on a new history, at 0 (seed 11208)", fresh, named, true},
		{"unpromoted epoch: the process its newest promotion made (a deposed or switchover's old primary)", leading("h-c3"), named, false},
		{"unpromoted epoch: the process an older promotion made", monitor.Observation{Role: monitor.RolePrimary, ReplID: "h-c1"}, named, false},
		{"unpromoted epoch: promoted once, a history before", primary("h-b", 900), named, false},
		{"unpromoted epoch: restarted from an RDB on the history its promotion left, below the fork", primary("h-b", 120), named, true},
		{"unpromoted epoch: no recorded promotion of it (the initial primary)", fresh, groupState{Epoch: 4, Primary: "a",
			PastForks: forks[1:2]}, false},
		{"unpromoted epoch: the history its newest promotion began not recorded", fresh, unrecorded, false},
		{"unpromoted epoch: its history unknown", monitor.Observation{Role: monitor.RolePrimary}, named, false},
		{"unpromoted epoch: a replica", monitor.Observation{Role: monitor.RoleReplica, ReplID: "h-new"}, named, false},
	} {
		if got := restartedPrimary(tt.o, tt.st, "c"); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// An old primary's sidecar that is silent or cannot reach its Redis
// fences nothing (seed 15102); the promoted node's own Redis counts for
// such an old primary while it follows it with its link up (chaos seed
// 106, N=5).
func TestFollowsOld(t *testing.T) {
	p := testParams()
	stale := rep("p", 0)
	stale.Received = t0.Add(-time.Minute)
	unreachable := rep("p", 0)
	unreachable.Rep.Obs.Reachable = false
	for _, tt := range []struct {
		name      string
		peers     map[string]peerView
		prev      string
		unwatched bool // oldUnwatched: the old primary's Redis gets this node's fence
		silent    bool // oldSilent: and its writes a hold
	}{
		{"old primary's sidecar silent", map[string]peerView{"p": stale}, "p", true, true},
		{"never heard", map[string]peerView{}, "p", true, true},
		{"old primary's sidecar in reach", map[string]peerView{"p": rep("p", 0)}, "p", false, false},
		{"seed 15102: its sidecar cannot reach its Redis", map[string]peerView{"p": unreachable}, "p", true, false},
		{"no previous primary", map[string]peerView{}, "", false, false},
		{"promoted again", map[string]peerView{}, "b", false, false},
	} {
		if got := oldUnwatched(tt.prev, "b", tt.peers, t0, p.Fresh); got != tt.unwatched {
			t.Errorf("oldUnwatched, %s: %v, want %v", tt.name, got, tt.unwatched)
		}
		if got := oldSilent(tt.prev, "b", tt.peers, t0, p.Fresh); got != tt.silent {
			t.Errorf("oldSilent, %s: %v, want %v", tt.name, got, tt.silent)
		}
	}
	addrs := []string{"p:6379", "10.0.0.1:6379"}
	linked := monitor.Observation{Role: monitor.RoleReplica, MasterHost: "p", MasterPort: 6379, LinkUp: true}
	if !followsOld(linked, addrs) {
		t.Error("a replica linked to the old primary does not follow it")
	}
	cut := linked
	cut.LinkUp = false
	other := linked
	other.MasterHost = "c"
	for _, o := range []monitor.Observation{cut, other, {Role: monitor.RolePrimary}} {
		if followsOld(o, addrs) {
			t.Errorf("%+v follows the old primary", o)
		}
	}
}

// reaching is a fresh report about primary a at epoch 2 that has had no
// reply from it for downMs.
func reaching(name string, downMs int64) peerView {
	p := rep(name, 0)
	p.Rep.SDownPrimary, p.Rep.SDownEpoch, p.Rep.PrimaryDownMs = "a", 2, downMs
	return p
}

func TestJudgeRestart(t *testing.T) {
	prev := redisIdentity{RunID: "r1", ReplID: "h1", Offset: 5000}
	on := func(replID string, offset int64) []replicaPos { return []replicaPos{{ReplID: replID, Offset: offset}} }
	for _, tt := range []struct {
		name     string
		prev     redisIdentity
		cur      redisIdentity
		replicas []replicaPos
		want     restartVerdict
		fork     int64
	}{
		{"same process", prev, prev, on("h1", 5000), restartNone, 0},
		{"same process, no replica", prev, prev, nil, restartNone, 0},
		{"restart from persistence keeps the history", prev, redisIdentity{RunID: "r2", ReplID: "h1", Offset: 4000}, on("h1", 4000), restartNone, 0},
		{"restart from an older snapshot than a replica has", prev, redisIdentity{RunID: "r2", ReplID: "h1", Offset: 4000}, on("h1", 5000), restartEmpty, 0},
		{"sidecar restarted, its Redis came back behind a replica on its history", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h1", Offset: 4000}, on("h1", 5000), restartEmpty, 0},
		{"snapshot from before its promotion", prev, redisIdentity{RunID: "r2", ReplID: "h0", Offset: 3000}, nil, restartEmpty, 4500},
		{"sidecar restarted, snapshot from before its promotion", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h0", Offset: 3000}, on("h7", 0), restartEmpty, 4500},
		{"sidecar restarted, snapshot from before its promotion, every replica resynced from it since", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h0", Offset: 3000}, on("h0", 2900), restartNone, 4500},
		{"snapshot from after its promotion", prev, redisIdentity{RunID: "r2", ReplID: "h1", Offset: 4600}, nil, restartNone, 4500},
		{"AOF restart begins at 0 whatever the fork", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0}, nil, restartUnknown, 4500},
		{"restart without data", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0}, on("h1", 5000), restartEmpty, 0},
		// Chaos seed 101 (N=5): restarted from its AOF with its keys;
		// the replicas are behind its promotion or on a deposed history.
		{"AOF restart with keys, replicas behind its promotion", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 920},
			[]replicaPos{{ReplID: "h0", Offset: 4400}, {ReplID: "hx", Offset: 4450}}, restartNone, 4500},
		{"AOF restart with keys, a replica beyond its promotion", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 920}, on("h1", 4600), restartEmpty, 4500},
		{"AOF restart with keys, promotion offset not known", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 920}, on("h1", 4400), restartEmpty, 0},
		// Chaos seed 6605 (N=5): named at 83759, never promoted,
		// restarted from its AOF; a replica on another history below.
		{"named, not promoted, AOF restart with keys, replicas behind its choice", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 1200},
			[]replicaPos{{ReplID: "h1", Offset: 4400, Keys: 1151}, {ReplID: "h0", Offset: 3000, Keys: 900}}, restartNone, -4500},
		{"named, not promoted, AOF restart with keys, a replica beyond its choice", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 1200},
			[]replicaPos{{ReplID: "h1", Offset: 4600, Keys: 1151}}, restartEmpty, -4500},
		{"named, not promoted, AOF restart with keys, a replica behind its choice holds more keys", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 1200},
			[]replicaPos{{ReplID: "h1", Offset: 4400, Keys: 1300}}, restartEmpty, -4500},
		{"restart without keys, replicas behind its promotion", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0, Keys: 0}, on("h0", 4400), restartEmpty, 4500},
		{"new history but as much data as the replicas", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 5000}, on("h1", 5000), restartNone, 0},
		{"replicas' reports from before the writes", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0}, on("h1", 0), restartUnknown, 0},
		{"no replica to compare with yet", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 0}, nil, restartUnknown, 0},
		{"the replicas already resynced from it", prev, redisIdentity{RunID: "r2", ReplID: "h2", Offset: 10}, on("h2", 10), restartUnknown, 0},
		// This sidecar restarted too (kill of the whole node): it never saw
		// the Redis before, and the replicas tell (chaos seed 3).
		{"sidecar restarted, its Redis came back empty", redisIdentity{}, redisIdentity{RunID: "r2", ReplID: "h2"}, on("h1", 10), restartEmpty, 0},
		{"sidecar restarted, replicas follow its Redis", redisIdentity{}, redisIdentity{RunID: "r1", ReplID: "h1", Offset: 5000}, on("h1", 5000), restartNone, 0},
		{"sidecar restarted, no replica report yet", redisIdentity{}, redisIdentity{RunID: "r1", ReplID: "h1", Offset: 5000}, nil, restartUnknown, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A negative fork is the offset a named primary not promoted
			// was chosen at (promotion.Chosen).
			p := promotion{Fork: tt.fork}
			if tt.fork < 0 {
				p = promotion{Chosen: -tt.fork}
			}
			if got := judgeRestart(tt.prev, tt.cur, p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestForeignTargets(t *testing.T) {
	st := groupState{Epoch: 2, Primary: "p", Promoted: true, Members: members("p", "a", "b", "c", "d", "e")}
	peers := map[string]peerView{
		"b": rep("b", 1),
		"c": func() peerView { p := rep("c", 1); p.Rep.Obs.Role = monitor.RolePrimary; return p }(),
		"d": func() peerView { p := rep("d", 1); p.Received = t0.Add(-time.Hour); return p }(),
		// Chaos seeds 3002 (N=5) and 3103 (N=3): e's sidecar, cut from
		// its own Redis, reports it unreachable while that Redis, wiped
		// and restarted from its initial configuration, takes writes as
		// a primary; its sidecar cannot pause it, so the others check it.
		"e": func() peerView { p := rep("e", 1); p.Rep.Obs.Reachable, p.Rep.Obs.Role = false, ""; return p }(),
	}
	got := foreignTargets("a", st, peers, t0, time.Second)
	want := map[string]string{"c": "c:6379", "d": "d:6379", "e": "e:6379"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("targets (-got +want):\n%s", diff)
	}
	if !foreignCheck(st, "c", monitor.RolePrimary) || foreignCheck(st, "p", monitor.RolePrimary) || foreignCheck(st, "c", monitor.RoleReplica) {
		t.Error("foreignCheck")
	}
}

// Chaos seed 7119 (N=3): b's sidecar was stopped and c demoted b's Redis
// into a, epoch 3's primary; a's sidecar was stopped 2.3 s later and c,
// cut off from the majority, detached its own Redis. Nobody detached b's,
// and a's Redis acknowledged 4.4 s of writes with it as its only replica,
// until a's Redis was killed without persistence and b's full-synced its
// stale restart. A Redis whose own sidecar does not watch it is demoted
// to point at itself.
func TestForeignDemotionFollowsOnlyAWatchedRedisSeed7119(t *testing.T) {
	for _, tt := range []struct {
		name string
		pv   *peerView
		want bool
	}{
		{"its sidecar watches it (a fresh report, its Redis answering)", func() *peerView {
			p := rep("b", 43499)
			p.Rep.Obs.Role = monitor.RolePrimary
			return &p
		}(), true},
		{"its sidecar is stopped (seed 7119): its last report is stale", func() *peerView {
			p := rep("b", 43499)
			p.Rep.Obs.Role, p.Received = monitor.RolePrimary, t0.Add(-2*time.Second)
			return &p
		}(), false},
		{"its sidecar never reported here", nil, false},
		{"its sidecar is cut from its Redis (seeds 3002, 3103)", func() *peerView {
			p := rep("b", 43499)
			p.Rep.Obs.Reachable, p.Rep.Obs.Role = false, ""
			return &p
		}(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{"c": rep("c", 43499)}
			if tt.pv != nil {
				peers["b"] = *tt.pv
			}
			if got := foreignFollows("b", peers, t0, time.Second); got != tt.want {
				t.Errorf("foreignFollows = %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 9806 (N=5): b's sidecar was killed (7.79 s, its data dir
// wiped, back at 16.93 s); the partition [a b] | [c d e] (8.87 s) cut off
// a, epoch 1's primary, whose sidecar paused its Redis as isolated
// (9.86 s) and was then cut from it (9.97 s), so it could not renew the
// pause. b's Redis, on a's side with no sidecar, kept acknowledging a's
// (min-replicas-to-write 1): the pause lapsed at 12.92 s and a's Redis
// took writes to 15.98 s, 472 ms of them beside c, epoch 2's primary,
// released at 14.34 s once its hold for a ran out (the hold counts on a
// silent replica's sidecar detaching it, which a dead one never does).
// a's sidecar, cut off and without an answer from its own Redis, points
// at itself every Redis it reaches that follows its own and whose own
// sidecar does not watch it; min-replicas-to-write then refuses a's
// writes.
func TestCutOffSidecarDetachesUnwatchedReplicasOfItsRedisSeed9806(t *testing.T) {
	p := testParams() // fence_after 500 ms, fresh 500 ms
	p.MinReplicas = 1
	st := groupState{Epoch: 1, Primary: "a", Promoted: true, Members: members("a", "b", "c", "d", "e")}
	now := t0
	cut := now.Add(-1500 * time.Millisecond) // a's last Raft contact
	start := now.Add(-time.Minute)
	unreachable := localObs{Time: now.Add(-400 * time.Millisecond)} // the probe timed out
	stale := func(name string, ago time.Duration) peerView {
		pv := rep(name, 30850)
		pv.Rep.Obs.MasterAddr = "a:6379"
		pv.Received = now.Add(-ago)
		return pv
	}
	seed := func() map[string]peerView {
		return map[string]peerView{
			"b": stale("b", 3*time.Second), // killed before the partition
			// Heard up to the cut: alive, on the other side of it.
			"c": stale("c", 1600*time.Millisecond), "d": stale("d", 1600*time.Millisecond), "e": stale("e", 1600*time.Millisecond),
		}
	}
	onlyB := map[string]string{"b": "b:6379"}
	for _, tt := range []struct {
		name    string
		peers   func() map[string]peerView
		local   localObs
		contact time.Time
		started time.Time
		min     int
		want    map[string]string
	}{
		{"seed 9806: cut off, its own Redis out of reach: the Redis of b, whose sidecar fell silent before the cut", seed, unreachable, cut, start, 1, onlyB},
		{"c's sidecar silent since before the cut too", func() map[string]peerView {
			m := seed()
			m["c"] = stale("c", 3*time.Second)
			return m
		}, unreachable, cut, start, 1, map[string]string{"b": "b:6379", "c": "c:6379"}},
		{"its own Redis answers: the renewed pause fences it", seed, localObs{Reachable: true, Time: now}, cut, start, 1, nil},
		{"never probed its own Redis yet", seed, localObs{}, cut, start, 1, nil},
		{"in contact with the majority", seed, unreachable, now, start, 1, nil},
		{"just started, no contact yet: not taken for cut off", seed, unreachable, time.Time{}, now.Add(-100 * time.Millisecond), 1, nil},
		{"without min_replicas no replica's acknowledgement counts", seed, unreachable, cut, start, 0, nil},
		{"b's sidecar watches its Redis: it detaches it itself (localPlan.Detach)", func() map[string]peerView {
			m := seed()
			m["b"] = stale("b", 0)
			return m
		}, unreachable, cut, start, 1, nil},
		{"b's sidecar is cut from its Redis too: unwatched", func() map[string]peerView {
			m := seed()
			pv := stale("b", 0)
			pv.Rep.Obs.Reachable, pv.Rep.Obs.Role = false, ""
			m["b"] = pv
			return m
		}, unreachable, cut, start, 1, onlyB},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pp := p
			pp.MinReplicas = tt.min
			got := ownReplicaTargets("a", st, tt.peers(), tt.local, tt.contact, tt.started, now, pp)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("targets (-got +want):\n%s", diff)
			}
		})
	}
	own := []string{"a:6379", "127.0.0.2:6379"}
	for _, tt := range []struct {
		name   string
		role   monitor.Role
		master string
		want   bool
	}{
		{"seed 9806: b's Redis follows a's: detached", monitor.RoleReplica, "a:6379", true},
		{"follows a's at the address its sidecar reaches it by", monitor.RoleReplica, "127.0.0.2:6379", true},
		{"follows another primary", monitor.RoleReplica, "c:6379", false},
		{"already points at itself", monitor.RoleReplica, "b:6379", false},
		{"a primary: foreignCheck's business", monitor.RolePrimary, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := followsOwn(tt.role, tt.master, own); got != tt.want {
				t.Errorf("followsOwn = %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 3906 (N=3): a's Redis, epoch 5's primary on 3ec5b93, came
// back from its AOF on a new history (a2d3353b) while its sidecar was cut
// from it; b's Redis full-synced it by itself, and it acknowledged 196
// writes that the failover to c, on 3ec5b93, then full-synced away. c,
// which last saw a's Redis lead 3ec5b93 at epoch 5, pauses it.
//
// And chaos seed 6110 (N=3): epoch 6 named a, whose Redis was killed and wiped
// before its promotion (never confirmed); a's sidecar was killed at 58.7 s
// and a's Redis came back at 60.4 s from its initial configuration, an
// empty primary (history 706c1abf) without min-replicas-to-write or a
// pause. Nobody checked the named primary before its promotion: it
// acknowledged writes until 62.1 s, and epoch 7's b, holding the data set
// on 7ed52443, full-synced them away. b and c pause it.
func TestUnwatchedPrimaryPausedSeeds3906And6110(t *testing.T) {
	const old, restarted = "3ec5b93", "a2d3353b"
	st := groupState{Epoch: 5, Primary: "a", Promoted: true, Members: members("a", "b", "c")}
	named := st // epoch 5 names a, not promoted yet (seed 6110's epoch 6)
	named.Promoted = false
	ptr := func(p peerView) *peerView { return &p }
	// primary is a's sidecar's last report: its Redis answering as role
	// (none when not reachable), received ago, last seen leading mark.
	primary := func(reachable bool, received time.Duration, role monitor.Role, mark primaryMark) *peerView {
		p := rep("a", 129656)
		p.Rep.Obs.Reachable, p.Rep.Obs.Role, p.Received, p.AsPrimary = reachable, role, t0.Add(-received), mark
		if !reachable {
			p.Rep.Obs.Role = ""
		}
		return ptr(p)
	}
	judged := func(reachable bool, received time.Duration, mark primaryMark) *peerView {
		return primary(reachable, received, monitor.RolePrimary, mark)
	}
	unpromoted := func(reachable bool, received time.Duration) *peerView {
		return primary(reachable, received, monitor.RoleReplica, primaryMark{})
	}
	for _, tt := range []struct {
		name   string
		self   string
		st     groupState
		a      *peerView // nil: never heard
		role   monitor.Role
		replID string
		want   bool
	}{
		{"seed 3906: its sidecar reports its Redis unreachable, the Redis leads a new history",
			"c", st, judged(false, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, restarted, true},
		{"its sidecar silent, the Redis leads a new history",
			"c", st, judged(true, time.Hour, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, restarted, true},
		{"the history it was judged on: not restarted",
			"c", st, judged(false, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, old, false},
		{"its sidecar sees its Redis: it judges the restart itself",
			"c", st, judged(true, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, restarted, false},
		{"never seen judged at this epoch (a sidecar that restarted knows nothing)",
			"b", st, judged(false, 0, primaryMark{}), monitor.RolePrimary, restarted, false},
		{"judged at an earlier epoch only",
			"c", st, judged(false, 0, primaryMark{Epoch: 4, ReplID: old}), monitor.RolePrimary, restarted, false},
		{"answers as a replica (detached by its sidecar)",
			"c", st, judged(false, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RoleReplica, restarted, false},
		{"no history read",
			"c", st, judged(false, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, "", false},
		{"the primary's own sidecar",
			"a", st, judged(false, 0, primaryMark{Epoch: 5, ReplID: old}), monitor.RolePrimary, restarted, false},
		// Not promoted yet (seed 6110): any answer as a primary is paused
		// while its sidecar cannot watch it.
		{"seed 6110: not promoted, its sidecar silent, its Redis answers as a primary",
			"c", named, unpromoted(true, time.Hour), monitor.RolePrimary, restarted, true},
		{"not promoted, its sidecar reports its Redis unreachable",
			"b", named, unpromoted(false, 0), monitor.RolePrimary, restarted, true},
		{"not promoted, its sidecar never heard here",
			"c", named, nil, monitor.RolePrimary, restarted, true},
		{"not promoted, on the history the group led: still not released by a promotion",
			"c", named, unpromoted(true, time.Hour), monitor.RolePrimary, old, true},
		{"not promoted, its sidecar sees its Redis: it fences it itself until the promotion",
			"c", named, unpromoted(true, 0), monitor.RolePrimary, restarted, false},
		{"not promoted, answers as a replica, the promotion still to come",
			"c", named, unpromoted(true, time.Hour), monitor.RoleReplica, restarted, false},
		{"not promoted, not answering",
			"c", named, unpromoted(true, time.Hour), "", "", false},
		{"promoted, never seen judged at this epoch: seed 3906's rule, which does not apply",
			"c", st, unpromoted(true, time.Hour), monitor.RolePrimary, restarted, false},
		{"not promoted, the primary's own sidecar",
			"a", named, unpromoted(true, time.Hour), monitor.RolePrimary, restarted, false},
		{"no primary named",
			"c", groupState{Epoch: 5, Members: st.Members}, unpromoted(true, time.Hour), monitor.RolePrimary, restarted, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{"b": rep("b", 9736), "c": rep("c", 129656)}
			if tt.a != nil {
				peers["a"] = *tt.a
			}
			mark := unwatchedPrimaryMark(tt.self, tt.st, peers, t0, time.Second)
			unpromoted := unpromotedUnwatched(tt.self, tt.st, peers, t0, time.Second)
			if got := unwatchedPaused(mark, unpromoted, tt.role, tt.replID); got != tt.want {
				t.Errorf("paused = %v (mark %q, unpromoted %v), want %v", got, mark, unpromoted, tt.want)
			}
		})
	}
	// Paused once seen for a report's lifetime: the primary's running
	// sidecar reports its Redis back within an interval and judges an
	// ordinary restart itself.
	if unjudgedPauseDue(time.Time{}, t0, time.Second) || unjudgedPauseDue(t0.Add(-900*time.Millisecond), t0, time.Second) ||
		!unjudgedPauseDue(t0.Add(-time.Second), t0, time.Second) {
		t.Error("unjudgedPauseDue")
	}
}

// Chaos seed 7614 (N=5): a's Redis, epoch 3's primary (judged on
// a65bf438), came back wiped from its initial configuration at 61.0 s, a
// primary on a new history without min-replicas-to-write, while a's
// sidecar was stopped and the partition [c d] | [a b e] left no Raft
// majority. b and e, cut off since 57.5 s, saw it answer at 61.01 s but
// paused it only after a Verify, at 63.02 s, when the leader was back; it
// acknowledged a write at 62.29 s that the failover to b full-synced away.
// A cut-off sidecar pauses such a restart without a Verify.
func TestUnjudgedRestartPausedWhileCutOffSeed7614(t *testing.T) {
	p := params{FenceAfter: time.Second}
	for _, tt := range []struct {
		name        string
		mark        string
		lastContact time.Time
		want        bool
	}{
		{"seed 7614: cut off for 4 s, a restart its sidecar has not judged", "a65bf438", t0.Add(-4 * time.Second), true},
		{"cut off for exactly fence_after", "a65bf438", t0.Add(-time.Second), true},
		{"majority contact within fence_after: a Verify answers first", "a65bf438", t0.Add(-900 * time.Millisecond), false},
		{"majority contact now", "a65bf438", t0, false},
		{"no judged sighting (the rule does not apply, or the primary is unpromoted)", "", t0.Add(-4 * time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := unjudgedPauseUnverified(tt.mark, tt.lastContact, t0, p); got != tt.want {
				t.Errorf("unjudgedPauseUnverified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMinReplicasFor(t *testing.T) {
	for _, tt := range []struct{ want, members, got int }{{0, 3, 0}, {1, 3, 1}, {2, 3, 2}, {5, 3, 2}, {1, 1, 0}} {
		if g := minReplicasFor(tt.want, tt.members); g != tt.got {
			t.Errorf("minReplicasFor(%d, %d) = %d, want %d", tt.want, tt.members, g, tt.got)
		}
	}
	if maxLagSeconds(500*time.Millisecond) != 1 || maxLagSeconds(2500*time.Millisecond) != 3 {
		t.Error("maxLagSeconds")
	}
}

func TestRankCandidates(t *testing.T) {
	c := func(name string, prio int, offset int64) candidate {
		return candidate{Name: name, Priority: prio, Fresh: true, Reachable: true, Role: monitor.RoleReplica, Synced: true, Offset: offset}
	}
	tests := []struct {
		name     string
		nodes    []candidate
		maxLag   int64
		primary  int64
		want     []string
		excluded map[string]string
	}{
		{
			name:   "priority first, then offset, then name",
			nodes:  []candidate{c("a", 100, 10), c("b", 50, 5), c("c", 100, 20), c("d", 100, 20)},
			maxLag: 100, want: []string{"b", "c", "d", "a"}, excluded: map[string]string{},
		},
		{
			name:     "priority 0 never, but its data counts for lag",
			nodes:    []candidate{c("a", 0, 5000), c("b", 100, 1000)},
			maxLag:   1024,
			excluded: map[string]string{"a": whyPriority, "b": whyLagging},
		},
		{
			name: "never synced and stale reports are out",
			nodes: []candidate{
				{Name: "a", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RoleReplica, Synced: false},
				{Name: "b", Priority: 1, Fresh: false, Reachable: true, Role: monitor.RoleReplica, Synced: true, Offset: 9},
				{Name: "c", Priority: 1, Fresh: true, Reachable: false, Role: monitor.RoleReplica, Synced: true, Offset: 9},
				c("d", 200, 3),
			},
			maxLag: 1 << 20, want: []string{"d"},
			excluded: map[string]string{"a": whyNotSynced, "b": whyUnreachable, "c": whyUnreachable},
		},
		{
			name:  "the primary itself and other primaries are not candidates",
			nodes: []candidate{{Name: "p", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RolePrimary}, {Name: "q", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RolePrimary}, c("r", 100, 0)},
			want:  []string{"r"}, excluded: map[string]string{"q": whyNotReplica},
		},
		{
			name:     "lag exactly at the limit qualifies, one byte more does not",
			nodes:    []candidate{c("a", 100, 2000), c("b", 100, 976), c("c", 100, 975)},
			maxLag:   1024,
			want:     []string{"a", "b"},
			excluded: map[string]string{"c": whyLagging},
		},
		{
			name:     "against the primary's last known offset",
			nodes:    []candidate{c("a", 100, 2000), c("b", 100, 1990)},
			maxLag:   1000,
			primary:  2995,
			want:     []string{"a"},
			excluded: map[string]string{"b": whyLagging},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ranked, excluded := rankCandidates(tt.nodes, "p", tt.maxLag, tt.primary)
			var got []string
			for _, c := range ranked {
				got = append(got, c.Name)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ranked (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(excluded, tt.excluded); diff != "" {
				t.Errorf("excluded (-got +want):\n%s", diff)
			}
		})
	}
}

// Replicas re-point in name order, at most parallel_syncs syncing at once.
func TestMayResync(t *testing.T) {
	const newAddr, oldAddr = "10.0.0.9:6379", "10.0.0.1:6379"
	type peer struct {
		name, master string
		linkUp       bool
	}
	tests := []struct {
		name     string
		self     string
		parallel int
		peers    []peer
		want     bool
	}{
		{"first in name order goes", "r1", 1, []peer{{"r2", oldAddr, true}, {"r3", oldAddr, true}}, true},
		{"later ones wait", "r2", 1, []peer{{"r1", oldAddr, true}, {"r3", oldAddr, true}}, false},
		{"two slots", "r2", 2, []peer{{"r1", oldAddr, true}, {"r3", oldAddr, true}}, true},
		{"a replica still syncing holds the slot", "r2", 1, []peer{{"r1", newAddr, false}}, false},
		{"a synced replica frees it", "r2", 1, []peer{{"r1", newAddr, true}, {"r3", oldAddr, true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{}
			for _, p := range tt.peers {
				peers[p.name] = peerView{Received: t0, Rep: report{Name: p.name,
					Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: p.master, LinkUp: p.linkUp, Synced: p.linkUp}}}
			}
			if got := mayResync(tt.self, peers, "p", newAddr, tt.parallel, t0, time.Second); got != tt.want {
				t.Errorf("mayResync = %v, want %v", got, tt.want)
			}
		})
	}
}

// A replica whose sidecar cannot reach the new primary's Redis neither
// holds a parallel_syncs slot nor waits ahead of the others, unless a
// transfer is under way. Chaos seed 6904 (N=3): a's Redis, cut from c's,
// the epoch 4 primary and last copy of 22 WAIT-confirmed retry-queue
// INCRs, never linked, and b waited behind it until c was wiped.
func TestMayResyncPastACutOffReplica(t *testing.T) {
	const newAddr, oldAddr = "10.0.0.9:6379", "10.0.0.1:6379"
	type peer struct {
		name, master string
		linkUp       bool
		cut          bool // no valid reply from the primary's Redis (PrimaryDownMs)
		transfer     bool // master_sync_in_progress
		sdownOf      string
	}
	tests := []struct {
		name  string
		peers []peer
		want  bool
	}{
		{"re-pointed, never linked, cut off: no slot held", []peer{{"r1", newAddr, false, true, false, "p"}}, true},
		{"pointing elsewhere, cut off: not waited for", []peer{{"r1", oldAddr, true, true, false, "p"}}, true},
		{"not cut off: waited for, as before", []peer{{"r1", oldAddr, true, false, false, "p"}}, false},
		{"not cut off: its link down holds the slot, as before", []peer{{"r1", newAddr, false, false, false, "p"}}, false},
		{"a transfer under way holds the slot even so", []peer{{"r1", newAddr, false, true, true, "p"}}, false},
		{"down for another primary: no excuse", []peer{{"r1", newAddr, false, true, false, "q"}}, false},
		{"the cut-off one skipped, the next in order still first", []peer{{"r1", oldAddr, true, true, false, "p"}, {"r0", oldAddr, true, false, false, "p"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{}
			for _, p := range tt.peers {
				var down int64
				if p.cut {
					down = 1500
				}
				peers[p.name] = peerView{Received: t0, Rep: report{Name: p.name, SDownPrimary: p.sdownOf, PrimaryDownMs: down,
					Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: p.master, LinkUp: p.linkUp, Synced: p.linkUp, SyncInProgress: p.transfer}}}
			}
			if got := mayResync("r2", peers, "p", newAddr, 1, t0, time.Second); got != tt.want {
				t.Errorf("mayResync = %v, want %v", got, tt.want)
			}
		})
	}
}

// A replica whose link has stayed down, with no transfer under way, for
// stallGrace while its sidecar reached the primary's Redis holds no
// parallel_syncs slot. Chaos seed 12014 (N=3): b's Redis, restarted
// during a partition pointing at a, had its connect to a's hang for 19.5 s
// on the kernel's SYN back-off; c's re-point waited behind it after epoch 6
// promoted a, and a refused writes (min_replicas 1) until b linked 4.6 s
// later.
func TestMayResyncPastAStalledLink(t *testing.T) {
	const newAddr, oldAddr = "10.0.0.9:6379", "10.0.0.1:6379"
	stalled := func(master string, linkUp, transfer bool, downMs int64) report {
		return report{Name: "b", SDownPrimary: "a", PrimaryDownMs: downMs,
			Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: master, LinkUp: linkUp, SyncInProgress: transfer}}
	}
	// b's reports as c's sidecar receives them, one every 100 ms from t0.
	replay := func(reps ...report) peerView {
		var pv peerView
		for i, r := range reps {
			at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
			pv = peerView{Rep: r, Received: at, Stall: nextStall(pv.Stall, r, at)}
		}
		return pv
	}
	repeat := func(n int, r report) []report { return slices.Repeat([]report{r}, n) }
	tests := []struct {
		name string
		b    []report
		want bool // c may re-point at the end of them
	}{
		{"seed 12014: down 2 s, its sidecar reaching a: no slot held", repeat(21, stalled(newAddr, false, false, 0)), true},
		{"down 1.9 s: still connecting as far as anyone knows", repeat(20, stalled(newAddr, false, false, 0)), false},
		{"a transfer began: it holds the slot", append(repeat(20, stalled(newAddr, false, false, 0)), stalled(newAddr, false, true, 0)), false},
		{"its sidecar lost a's Redis for a while: the wait starts again",
			append(append(repeat(10, stalled(newAddr, false, false, 0)), stalled(newAddr, false, false, 300)), repeat(15, stalled(newAddr, false, false, 0))...), false},
		{"it was pointed elsewhere until a second ago: the wait starts at the re-point",
			append(repeat(10, stalled(oldAddr, false, false, 0)), repeat(15, stalled(newAddr, false, false, 0))...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := replay(tt.b...)
			if got := mayResync("c", map[string]peerView{"b": b}, "a", newAddr, 1, b.Received, time.Second); got != tt.want {
				t.Errorf("mayResync = %v, want %v (stall %+v)", got, tt.want, b.Stall)
			}
		})
	}
	// A stall seen under another primary's name does not count for a.
	b := replay(repeat(30, stalled(newAddr, false, false, 0))...)
	if got := mayResync("c", map[string]peerView{"b": b}, "q", newAddr, 1, b.Received, time.Second); got {
		t.Error("a stall recorded while the state named a counted for q")
	}
}

// A replica with no replication position (never synced since its Redis
// started, offset 0) does not wait ahead of the others while the
// primary's sidecar does not vouch for its Redis: only a full sync would
// bring it in, and none follows an unvouched primary. Chaos seed 8902
// (N=3): c's Redis, epoch 2's primary and the last copy of a's writes,
// answered again at 41.31 s with c's sidecar stopped, then cut from the
// gossip; a's wiped Redis, pointing at itself, waited for c's vouch, and
// b, whose stream c's backlog continued, waited behind it until c's Redis
// was killed and wiped at 41.66 s.
func TestMayResyncPastAReplicaOnlyAFullSyncBringsIn(t *testing.T) {
	const newAddr = "10.0.0.9:6379"
	type peer struct {
		name, master   string
		linkUp, synced bool
		offset         int64
	}
	vouching := peerView{Received: t0, Rep: report{Name: "p", Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "P2"}}}
	stale := vouching
	stale.Received = t0.Add(-2 * time.Second)
	tests := []struct {
		name    string
		primary *peerView
		peers   []peer
		want    bool
	}{
		{"seed 8902: wiped, pointing at itself, primary's sidecar silent: not waited for", nil,
			[]peer{{"r1", "10.0.0.1:6379", false, false, 0}}, true},
		{"its report stale: not vouched for either", &stale, []peer{{"r1", "10.0.0.1:6379", false, false, 0}}, true},
		{"the primary vouched for: a full sync may follow, waited for as before", &vouching,
			[]peer{{"r1", "10.0.0.1:6379", false, false, 0}}, false},
		{"a synced replica: a partial resync may follow, waited for as before", nil,
			[]peer{{"r1", "10.0.0.1:6379", false, true, 27470}}, false},
		{"not synced but holding a position (a deposed primary pointing at itself): waited for", nil,
			[]peer{{"r1", "10.0.0.1:6379", false, false, 52165}}, false},
		{"already pointed at the primary, link down: it holds the slot as before", nil,
			[]peer{{"r1", newAddr, false, false, 0}}, false},
		{"skipped, the next in order still first", nil,
			[]peer{{"r1", "10.0.0.1:6379", false, false, 0}, {"r0", "10.0.0.1:6379", true, true, 100}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{}
			if tt.primary != nil {
				peers["p"] = *tt.primary
			}
			for _, p := range tt.peers {
				peers[p.name] = peerView{Received: t0, Rep: report{Name: p.name,
					Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: p.master, LinkUp: p.linkUp, Synced: p.synced, Offset: p.offset}}}
			}
			if got := mayResync("r2", peers, "p", newAddr, 1, t0, time.Second); got != tt.want {
				t.Errorf("mayResync = %v, want %v", got, tt.want)
			}
		})
	}

	// b's sidecar at 41.4 s: epoch 2's c promoted, c's sidecar silent; b's
	// Redis pointing at itself at 27470 on a's history, which c's backlog
	// continues; a's Redis wiped, pointing at itself, not synced.
	p := testParams()
	p.MinReplicas = 1
	in := localInput{Now: t0, Self: "b", Ready: true, LastContact: t0, P: p,
		State: groupState{Epoch: 2, Primary: "c", Previous: "a", Promoted: true, Members: members("a", "b", "c")},
		Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", Time: t0,
			ReplID: "h1", Offset: 27470},
		PrimaryAddr: "c:6379", SelfAddr: "b:6379", SourceUnvouched: true,
		Peers: map[string]peerView{"a": {Received: t0, Rep: report{Name: "a",
			Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "a:6379", ReplID: "h9"}}}},
	}
	if diff := cmp.Diff(decideLocal(in), localPlan{RepointTo: "c:6379", PartialOnly: true}); diff != "" {
		t.Errorf("b's plan (-got +want):\n%s", diff)
	}
}

// A replica holding no key follows the committed primary with a full sync
// even while that primary's sidecar does not vouch for its Redis, as long
// as that Redis leads the history its sidecar last judged it on: it has
// nothing to lose, and becomes one more copy of the primary's data. Chaos
// seed 16604 (N=3, shipped defaults): a's Redis, empty, waited 29 s for
// b's sidecar to vouch for b's Redis, the last copy of every write, until
// that Redis was killed without persistence. When no other member's Redis
// holds a key either, it copies whatever the primary's Redis holds, a
// restart nobody judged too: that is all the group has (seed 16603).
func TestEmptyReplicaFollowsAnUnvouchedPrimary(t *testing.T) {
	judged := peerView{Received: t0.Add(-5 * time.Second), AsPrimary: primaryMark{Epoch: 2, ReplID: "h1", At: t0.Add(-5 * time.Second)},
		Rep: report{Name: "b", Epoch: 2, Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "h1"}}}
	// Its last report: its Redis out of its reach, last judged at epoch 1.
	earlier := judged
	earlier.AsPrimary.Epoch = 1
	earlier.Rep.Obs = obsSummary{}
	// c's Redis answers as a replica holding keys keys.
	c := func(keys int64) *peerView {
		return &peerView{Received: t0, Rep: report{Name: "c", Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "c:6379", Keys: keys}}}
	}
	copyOfB := func() *peerView {
		return &peerView{Received: t0, Rep: report{Name: "c", Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", LinkUp: true, Keys: 40}}}
	}
	for _, tt := range []struct {
		name      string
		noKeys    bool
		b, c      *peerView
		forgotten bool // c was forgotten
		want      localPlan
	}{
		{"seed 16604: no key, its sidecar last judged it on h1", true, &judged, nil, false,
			localPlan{RepointTo: "b:6379", PartialOnly: true, FullSyncOn: "h1"}},
		{"holding keys: a partial resync only", false, &judged, nil, false, localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"no history judged at this epoch: a partial resync only", true, &earlier, nil, false, localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"never heard its sidecar: a partial resync only", true, nil, nil, false, localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"seed 16603: c's Redis holds no key either: whatever b's holds", true, &earlier, c(0), false, localPlan{RepointTo: "b:6379"}},
		{"c's Redis holds keys: the judged history only", true, &judged, c(40), false, localPlan{RepointTo: "b:6379", PartialOnly: true, FullSyncOn: "h1"}},
		{"holding keys itself: a partial resync only", false, &earlier, c(0), false, localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"c's Redis a copy: it streams from b's", true, &earlier, copyOfB(), false, localPlan{RepointTo: "b:6379"}},
		{"c forgotten, unheard", true, &earlier, nil, true, localPlan{RepointTo: "b:6379"}},
	} {
		st := groupState{Epoch: 2, Primary: "b", Previous: "a", Promoted: true, Members: members("a", "b", "c")}
		if tt.forgotten {
			m := st.Members["c"]
			m.Forgotten = true
			st.Members["c"] = m
		}
		in := localInput{Now: t0, Self: "a", Ready: true, LastContact: t0, P: testParams(), State: st,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "a:6379", Time: t0,
				ReplID: "h9", NoKeys: tt.noKeys},
			PrimaryAddr: "b:6379", SelfAddr: "a:6379", SourceUnvouched: true, Peers: map[string]peerView{},
		}
		if tt.b != nil {
			in.Peers["b"] = *tt.b
		}
		if tt.c != nil {
			in.Peers["c"] = *tt.c
		}
		if diff := cmp.Diff(decideLocal(in), tt.want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", tt.name, diff)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg := DefaultConfig()
	cfg.FenceAfter = 6 * time.Second
	cfg.Quorum = 0
	cfg.ParallelSyncs = 0
	cfg.MaxFailovers = 2
	cfg.FlapWindow = 0
	cfg.MinReplicas = -1
	err := cfg.Validate()
	for _, want := range []string{
		"failover.fence_after (6s) must be shorter than failover.down_after (5s)",
		"failover.quorum (0) must be at least 1",
		"failover.parallel_syncs (0) must be at least 1",
		"failover.flap_window (0s) must be positive while failover.max_failovers (2) is set",
		"failover.min_replicas (-1) must not be negative",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := newMetrics(reg); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// FuzzDecode: nothing may panic, and whatever decodes must encode again.
func FuzzDecode(fz *testing.F) {
	fz.Add(encode(report{Name: "b", Addr: "127.0.0.1:1", Epoch: 3, SDown: true, SDownPrimary: "a"}))
	fz.Add([]byte{})
	fz.Add([]byte{wireVersion, '{'})
	fz.Add([]byte{1, '{', '}'})
	fz.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeReport(b); err == nil {
			if _, err := decodeReport(encode(r)); err != nil {
				t.Errorf("report does not round-trip: %v", err)
			}
		}
	})
}

// With min_replicas, a candidate behind the last offset an out-of-reach
// replica was seen at is not promoted while that replica may come back
// (chaos seed 3: the primary died, the best replica's Redis was stalled,
// and the group promoted a replica 12 s behind it).
func TestDurableFloor(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "a", "b")}
	stalled := func(known knownOffset) peerView {
		p := down(rep("a", 0), "p", 4)
		p.Rep.Obs = obsSummary{Reachable: false}
		p.Known = known
		return p
	}
	behind := down(rep("b", 4000), "p", 4)
	// Restarted from its AOF: answers, as a replica without a position.
	aofRestart := down(rep("a", 1), "p", 4)
	aofRestart.Rep.Obs.Synced, aofRestart.Rep.Obs.LinkUp = false, false
	aofRestart.Known = knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-time.Second)}
	if d := decideLeader(t0, st, map[string]peerView{"a": aofRestart, "b": behind}, func() params { p := testParams(); p.MinReplicas = 1; return p }(), ""); d.Action == leaderPromote {
		t.Errorf("promoted %s behind a replica restarted from its AOF that had more (excluded %v)", d.Target, d.Excluded)
	}
	for _, tt := range []struct {
		name        string
		minReplicas int
		known       knownOffset
		wantTarget  string
	}{
		{"durable: wait for the stalled replica that had more", 1, knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-time.Second)}, ""},
		{"without min_replicas the behind replica is promoted", 0, knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-time.Second)}, "b"},
		{"no longer waited for after ten down_after", 1, knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-10 * time.Second)}, "b"},
		{"an offset from an earlier epoch is another history", 1, knownOffset{Epoch: 3, Offset: 4500, At: t0.Add(-time.Second)}, "b"},
		{"the stalled replica had no more than the candidate", 1, knownOffset{Epoch: 4, Offset: 4000, At: t0.Add(-time.Second)}, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			d := decideLeader(t0, st, map[string]peerView{"a": stalled(tt.known), "b": behind}, p, "")
			if d.Target != tt.wantTarget || (tt.wantTarget != "") != (d.Action == leaderPromote) {
				t.Fatalf("target %q action %v, want %q (excluded %v, why not %q)", d.Target, d.Action, tt.wantTarget, d.Excluded, d.WhyNot)
			}
			if tt.wantTarget == "" && (d.Excluded["b"] != whyBehind || d.WaitFor != "a" || !strings.Contains(d.WhyNot, "waiting up to 10s for a")) {
				t.Errorf("excluded %v, wait for %q, why not %q", d.Excluded, d.WaitFor, d.WhyNot)
			}
		})
	}
}

// A primary named but never promoted, whose sidecar went silent right
// after the commit, held more than every candidate as a replica of the
// primary before: with min_replicas the leader does not replace it with a
// replica behind it (chaos seed 102, N=5).
func TestDurableFloorStuckPrimary(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "e", Started: t0.Add(-3 * time.Second), Members: members("e", "a", "b")}
	stuck := rep("e", 4500)
	stuck.Received = t0.Add(-2 * time.Second) // stale
	stuck.Known = knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-2 * time.Second)}
	peers := map[string]peerView{"e": stuck, "a": rep("a", 4000), "b": rep("b", 3900)}
	for _, tt := range []struct {
		name        string
		minReplicas int
		want        string
	}{
		{"durable: wait for the named primary that had more", 1, ""},
		{"without min_replicas the best replica replaces it", 0, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			d := decideLeader(t0, st, peers, p, "")
			if !d.Stuck {
				t.Fatal("the named primary is not stuck")
			}
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) {
				t.Fatalf("target %q action %v, want %q (excluded %v, why not %q)", d.Target, d.Action, tt.want, d.Excluded, d.WhyNot)
			}
			if tt.want == "" && d.WaitFor != "e" {
				t.Errorf("waits for %q, want e", d.WaitFor)
			}
		})
	}
}

// Chaos seed 13710 (N=3), the leader b's view at 35.504 s. a's Redis,
// epoch 1's primary, took writes during a Redis-only partition that cut b
// off (6.45-17.2 s), c's Redis acknowledging them; epoch 2 named c (58483
// on 50cc4008, 843 keys) at 15.41 s, whose sidecar was stopped right
// after (pause-winner) and later cut off one way, so its promotion never
// committed; a's Redis was killed without persistence and came back empty;
// c's was killed with its AOF at 32.2 s. The durable floor c set ("waiting
// up to 20s for c") lapsed 20 s after c's last sighting, and the leader
// promoted b, 30 KB behind at 28202 with none of those writes; c's Redis
// came back at 36.9 s with them and full-synced from b. With c out of
// reach and a's Redis found empty, more Redis than min_replicas lost their
// copies: c may hold the last one, and its floor holds until it is back or
// an operator forgets it, as primaryLastCopy holds a holder back.
func TestDurableFloorHoldsForTheLastCopySeed13710(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 35.504) * float64(time.Second))) }
	st := groupState{Epoch: 2, Primary: "c", Started: at(15.411), Previous: "a", Members: members("a", "b", "c")}
	mk := func(now time.Time, aKeys int64) map[string]peerView {
		a := down(rep("a", 0), "c", 2) // back empty, pointing at itself
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 2, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "9e7f8d2f", aKeys
		b := down(rep("b", 28202), "c", 2) // a synced replica of a's history, behind
		b.Rep.Epoch, b.Rep.Obs.ReplID, b.Rep.Obs.Keys, b.Rep.Obs.LinkUp = 2, "50cc4008", 447, false
		c := rep("c", 58483) // last heard before its sidecar stopped
		c.Received, c.UpAt = at(15.40), at(15.40)
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "50cc4008", 843
		c.Known = knownOffset{Epoch: 1, Offset: 58483, At: at(15.40), ReplID: "50cc4008", Keys: 843}
		a.Received, b.Received, a.UpAt, b.UpAt = now, now, now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name  string
		now   float64
		aKeys int64
		want  string // "" for a wait for c
	}{
		{"20 s after c's last sighting, a's Redis empty: still wait for c (the run promoted b)", 35.504, 0, ""},
		{"within the durable wait: wait for c", 25.0, 0, ""},
		{"a's Redis kept keys: the floor lapses, b", 35.504, 620, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.aKeys), p, "")
			if tt.want == "" {
				if d.Action == leaderPromote || d.WaitFor != "c" {
					t.Fatalf("target %q action %v wait for %q, want a wait for c (excluded %v, why not %q)", d.Target, d.Action, d.WaitFor, d.Excluded, d.WhyNot)
				}
				if !strings.Contains(d.WhyNot, "may hold the last copy") {
					t.Errorf("why not %q: the wait has no time bound and should say so", d.WhyNot)
				}
				return
			}
			if d.Action != leaderPromote || d.Target != tt.want {
				t.Fatalf("target %q action %v wait for %q, want %s (excluded %v, why not %q)", d.Target, d.Action, d.WaitFor, tt.want, d.Excluded, d.WhyNot)
			}
		})
	}
}

// A named primary never promoted whose sidecar answers again, its Redis a
// synced replica with the most data, stays the best candidate (chaos seed
// 114, N=5: replaced by a replica on a deposed history, it full-synced
// from it and the writes only it held were lost).
func TestStuckPrimaryStaysCandidate(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "e", Started: t0.Add(-3 * time.Second), Members: members("e", "a", "b")}
	peers := map[string]peerView{"e": rep("e", 4500), "a": rep("a", 4000), "b": rep("b", 3900)}
	for _, minReplicas := range []int{0, 1} {
		p := testParams()
		p.MinReplicas = minReplicas
		d := decideLeader(t0, st, peers, p, "")
		if !d.Stuck || d.Action != leaderPromote || d.Target != "e" {
			t.Errorf("min_replicas %d: stuck %v, action %v, target %q, want e promoted again (excluded %v)",
				minReplicas, d.Stuck, d.Action, d.Target, d.Excluded)
		}
	}
	// Promoted, the primary is never its own candidate.
	st.Promoted = true
	peers["e"] = rep("e", 4500)
	if d := decideLeader(t0, st, peers, testParams(), ""); d.Target == "e" {
		t.Errorf("promoted primary chosen as its own replacement: %+v", d)
	}
}

// With min_replicas, a candidate still on a history a recent promotion
// left lacks what that epoch's primary acknowledged (chaos seed 216, N=5).
func TestPastForkHeld(t *testing.T) {
	st := groupState{Epoch: 7, Primary: "c", Started: t0.Add(-3 * time.Second), Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 5, New: "d", ReplID: "h4", Start: t0.Add(-5 * time.Second)},
			{Epoch: 6, New: "b", ReplID: "h5", Start: t0.Add(-4 * time.Second)},
		}}
	on := func(name, history string, offset int64) peerView {
		v := rep(name, offset)
		v.Rep.Obs.ReplID = history
		return v
	}
	stale := rep("c", 147623)
	stale.Received = t0.Add(-time.Minute)
	for _, tt := range []struct {
		name        string
		a           peerView
		minReplicas int
		want        string
		waitFor     string
	}{
		{"parked at epoch 5's fork: wait for what d's epoch took", on("a", "h4", 112374), 1, "", "d"},
		{"beyond it on the history epoch 5 left", on("a", "h4", 112500), 1, "", "d"},
		{"on epoch 5's history, which epoch 6 left", on("a", "h5", 130000), 1, "", "b"},
		{"on epoch 6's history", on("a", "h6", 140000), 1, "a", ""},
		{"without min_replicas the best replica replaces it", on("a", "h4", 112374), 0, "a", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			d := decideLeader(t0, st, map[string]peerView{"a": tt.a, "c": stale}, p, "")
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) || d.WaitFor != tt.waitFor {
				t.Fatalf("target %q action %v wait for %q, want %q waiting for %q (excluded %v, why not %q)",
					d.Target, d.Action, d.WaitFor, tt.want, tt.waitFor, d.Excluded, d.WhyNot)
			}
		})
	}
	// Long after that failover the rule lapses.
	p := testParams()
	p.MinReplicas = 1
	late := t0.Add(durableWait(p))
	a := on("a", "h4", 112374)
	a.Received = late
	if d := decideLeader(late, st, map[string]peerView{"a": a, "c": stale}, p, ""); d.Target != "a" {
		t.Errorf("after the durable wait: target %q, want a (excluded %v)", d.Target, d.Excluded)
	}
}

// A synced replica that splitHistory set aside still counts toward the
// durable floor: it is no candidate, and its data must not be forgotten.
func TestDurableFloorCountsReplicaOnAnotherHistory(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "a", "b")}
	aside := down(rep("a", 5000), "p", 4)
	aside.Rep.Obs.ReplID = "old"
	aside.Known = knownOffset{Epoch: 4, Offset: 5000, At: t0}
	p := testParams()
	p.MinReplicas = 1
	peers := map[string]peerView{"a": aside}
	if floor, who := durableFloor(st, peers, "new", t0, p); floor != 5000 || who != "a" {
		t.Errorf("floor %d (%s) with a off the primary's history, want 5000 (a)", floor, who)
	}
	if floor, _ := durableFloor(st, peers, "old", t0, p); floor != -1 {
		t.Errorf("floor %d with a on the primary's history, want none: it is a candidate", floor)
	}
}

// Chaos seed 10208 (N=5), the leader c's view from 31.39 s: d's Redis,
// killed at 20.8 s, came back from its AOF (757 keys, a fresh history at
// 0) and was promoted at epoch 2 (started 20.585 s), leaving d72988de at 0;
// once its first replica asked it led 03fc7c78. a's, b's and e's Redis
// full-synced from it (757 keys, then epoch 2's writes: 867 and more) and
// acknowledged its writes up to 10579. c's Redis, cut off by a Redis-only
// partition, never followed d: parked, pointing at itself, at 51419 on
// 123ef795, epoch 1's history, with the data d's AOF held and none of
// epoch 2's. d's node was killed and its AOF wiped (31.04 s). The leader
// set a, b and e aside as "behind" c's offset, "waiting up to 20s for c,
// which had more data", to the end of the run: c, in reach, kept its known
// offset fresh. No write for 44.7 s, and d's Redis, back empty, stayed the
// primary, so the final read found none of the 747 acknowledged writes. A
// replica in reach on a third history sets no durable floor against
// candidates holding at least its keys; one holding more still does (seed
// 11).
func TestDurableFloorIgnoresOutheldReplicaOnAThirdHistorySeed10208(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter, p.MaxLagBytes = 1, 2*time.Second, time.Second, 1<<20
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 31.392) * float64(time.Second))) }
	st := groupState{Epoch: 2, Primary: "d", Previous: "a", Promoted: true, Started: at(20.585),
		Members: members("a", "b", "c", "d", "e"), ForkReplID: "d72988de"}
	onD := func(name string, offset, keys int64) peerView {
		v := down(rep(name, offset), "d", 2) // d's replica, its link down
		v.Rep.Epoch, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp = 2, "d:6379", false
		v.Rep.Obs.ReplID, v.Rep.Obs.Keys = "03fc7c78", keys
		v.Known = knownOffset{Epoch: 2, Offset: offset, At: t0, ReplID: "03fc7c78", Keys: keys}
		v.UpAt = t0
		return v
	}
	mk := func(cKeys int64) map[string]peerView {
		d := rep("d", 10580) // killed with its sidecar: last heard at 31.0 s
		d.Received = at(31.0)
		d.Rep.Epoch, d.Rep.Obs.Role, d.Rep.Obs.ReplID, d.Rep.Obs.Keys = 2, monitor.RolePrimary, "03fc7c78", 873
		d.AsPrimary, d.UpAt = primaryMark{Epoch: 2, ReplID: "03fc7c78"}, at(31.0)
		c := down(rep("c", 51419), "d", 2) // parked on epoch 1's history, pointing at itself
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp = 2, "c:6379", false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "123ef795", cKeys
		c.Known = knownOffset{Epoch: 2, Offset: 51419, At: t0, ReplID: "123ef795", Keys: cKeys}
		c.UpAt = t0
		return map[string]peerView{"a": onD("a", 7582, 867), "b": onD("b", 10579, 873), "c": c, "d": d, "e": onD("e", 10579, 873)}
	}
	for _, tt := range []struct {
		name    string
		cKeys   int64
		want    string
		waitFor string
	}{
		{"c holds d's AOF data, fewer keys than b: b", 757, "b", ""},
		{"c holds more keys than every replica of d: wait for c (seed 11)", 900, "", "c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, now := range []time.Time{t0, at(64.73)} {
				peers := mk(tt.cKeys)
				for _, n := range []string{"a", "b", "c", "e"} {
					v := peers[n]
					v.Received, v.UpAt, v.Known.At = now, now, now
					peers[n] = v
				}
				d := decideLeader(now, st, peers, p, "")
				if (tt.want != "") != (d.Action == leaderPromote) || d.Target != tt.want || d.WaitFor != tt.waitFor {
					t.Fatalf("at %v: target %q action %v wait for %q, want %q waiting for %q (excluded %v, why not %q)",
						now.Sub(t0), d.Target, d.Action, d.WaitFor, tt.want, tt.waitFor, d.Excluded, d.WhyNot)
				}
			}
		})
	}
}

// With min_replicas, candidates still on the history the primary's
// promotion left, below its fork, lack writes acknowledged before it, even
// when the primary came back empty; a Redis holding keys without a
// position (an AOF restart) is promoted instead (chaos seed 10, N=3). The
// rule lasts ten down_after from the later of the failover's start and
// the old primary last answering (seed 8, N=3).
func TestBehindForkPrefersHolder(t *testing.T) {
	st := groupState{Epoch: 7, Primary: "c", Previous: "a", Promoted: true, Started: t0.Add(-5 * time.Second),
		Fork: 215574, ForkReplID: "H", Members: members("a", "b", "c")}
	empty := rep("c", 156741)
	empty.Rep.Empty, empty.Rep.Obs.Role, empty.Rep.Obs.ReplID = true, monitor.RolePrimary, "c-new"
	empty.Rep.SDownPrimary, empty.Rep.SDownEpoch = "c", 7
	behind := down(rep("b", 144340), "c", 7)
	behind.Rep.Obs.ReplID = "H"
	holder := down(rep("a", 0), "c", 7)
	holder.Rep.Obs.Synced, holder.Rep.Obs.Keys, holder.Rep.Obs.ReplID = false, 2500, "a-aof"
	holder.UpAt = t0
	peers := map[string]peerView{"a": holder, "b": behind, "c": empty}
	p := testParams()
	p.MinReplicas = 1
	d := decideLeader(t0, st, peers, p, "")
	if d.Action != leaderPromote || d.Target != "a" || !d.Holder || d.Excluded["b"] != whyBeforeFork {
		t.Fatalf("target %q holder %v action %v excluded %v, want a as the holder, b before the fork", d.Target, d.Holder, d.Action, d.Excluded)
	}
	// Without the holder, nobody: b lacks what was acknowledged before
	// the fork, until ten down_after after the old primary last answered.
	delete(peers, "a")
	st.Members = members("b", "c")
	if d := decideLeader(t0, st, peers, p, ""); d.Action == leaderPromote {
		t.Fatalf("promoted %s, want a wait", d.Target)
	}
	old := rep("a", 0)
	old.Rep.Obs.Keys = 2500 // back from its AOF (seed 8); one with no key holds nothing to wait for (seed 4516)
	old.Received, old.UpAt = t0.Add(-time.Minute), t0.Add(-durableWait(p)+time.Second)
	peers["a"] = old
	st.Started = t0.Add(-time.Hour)
	if d := decideLeader(t0, st, peers, p, ""); d.Action == leaderPromote {
		t.Fatalf("promoted %s one second before the old primary's last answer is ten down_after old", d.Target)
	}
	old.UpAt = t0.Add(-durableWait(p))
	peers["a"] = old
	if d := decideLeader(t0, st, peers, p, ""); d.Target != "b" {
		t.Fatalf("target %q after the durable wait, want b (excluded %v)", d.Target, d.Excluded)
	}
}

// An old primary answering with no key holds none of the writes before the
// fork: its answers do not renew behindFork's wait. Chaos seed 4516 (N=3):
// b, epoch 4's primary, and c, epoch 5's, were both wiped; b's Redis, back
// empty on a new history, answered to the end, and a, the one Redis left
// with data (61982 on epoch 4's history, before epoch 5's fork at 74423),
// was held "before fork" for good: no writable primary for the last 45 s.
func TestBehindForkNotRenewedByAnEmptyOldPrimarySeed4516(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 5, Primary: "c", Previous: "b", Promoted: true, Started: t0.Add(-41 * time.Second),
		Fork: 74423, ForkReplID: "b778", Members: members("a", "b", "c"),
		PastForks: []pastFork{{Epoch: 4, New: "b", ReplID: "df30", Offset: 61982, Start: t0.Add(-45 * time.Second)}}}
	a := down(rep("a", 61982), "c", 5) // detached, pointing at itself
	a.Rep.Obs.ReplID, a.Rep.Obs.LinkUp, a.Rep.Obs.Keys = "b778", false, 900
	a.UpAt = t0
	b := down(rep("b", 0), "c", 5) // back from its wiped AOF, pointing at itself
	b.Rep.Obs.ReplID, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced = "99b5", false, false
	b.UpAt = t0
	c := down(rep("c", 0), "c", 5) // wiped, back as a replica of a from its initial config
	c.Rep.Obs.ReplID, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = "465c", false, false
	c.UpAt = t0
	peers := map[string]peerView{"a": a, "b": b, "c": c}
	if d := decideLeader(t0, st, peers, p, ""); d.Action != leaderPromote || d.Target != "a" {
		t.Fatalf("target %q action %v excluded %v, want a promoted: b's empty Redis holds nothing to wait for", d.Target, d.Action, d.Excluded)
	}
	// An old primary whose Redis answers with keys (back from its AOF,
	// seed 8) or keys unknown still renews the wait.
	for _, keys := range []int64{2500, -1} {
		b.Rep.Obs.Keys = keys
		peers["b"] = b
		if d := decideLeader(t0, st, peers, p, ""); d.Target == "a" || d.Excluded["a"] != whyBeforeFork {
			t.Fatalf("old primary with %d keys: target %q excluded %v, want a held before the fork", keys, d.Target, d.Excluded)
		}
	}
}

// The primary restarted empty leads a new history; the history it led
// before still splits the candidates, so a copy of the empty Redis is not
// preferred to the replica holding everything (chaos seed 11, N=3).
func TestEmptyPrimaryKeepsItsHistory(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "b", Promoted: true, Members: members("a", "b", "c")}
	b := rep("b", 6898)
	b.Rep.Epoch, b.Rep.Empty, b.Rep.Obs.Role, b.Rep.Obs.ReplID = 5, true, monitor.RolePrimary, "empty"
	b.Rep.SDownPrimary, b.Rep.SDownEpoch = "b", 5
	b.AsPrimary = primaryMark{Epoch: 5, ReplID: "before"}
	if got := nextAsPrimary(b.AsPrimary, b.Rep, t0); got.ReplID != "before" {
		t.Fatalf("an empty primary's report moved its mark to %q", got.ReplID)
	}
	copyOfEmpty := down(rep("a", 422), "b", 5)
	copyOfEmpty.Rep.Obs.ReplID = "empty"
	holdsAll := down(rep("c", 91351), "b", 5)
	holdsAll.Rep.Obs.ReplID = "before"
	d := decideLeader(t0, st, map[string]peerView{"a": copyOfEmpty, "b": b, "c": holdsAll}, testParams(), "")
	if d.Target != "c" || d.Excluded["a"] != whyOtherHistory {
		t.Fatalf("target %q excluded %v, want c, a on another history", d.Target, d.Excluded)
	}
}

// A named primary whose sidecar refused its promotion (its Redis restarted
// since the leader chose it) says it is empty: the leader replaces it at
// once and waits for none of the data it once had.
func TestDurableFloorUnpromotablePrimary(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "e", Started: t0.Add(-time.Second), Members: members("e", "a", "b")}
	refused := rep("e", 0)
	refused.Rep.Obs.Role, refused.Rep.Obs.Synced = monitor.RoleReplica, false
	refused.Rep.SDownPrimary, refused.Rep.SDownEpoch, refused.Rep.Empty = "e", 5, true
	refused.Known = knownOffset{Epoch: 4, Offset: 4500, At: t0.Add(-2 * time.Second)}
	peers := map[string]peerView{"e": refused, "a": rep("a", 4000), "b": rep("b", 3900)}
	p := testParams()
	p.MinReplicas = 1
	if floor, who := durableFloor(st, peers, "", t0, p); floor != -1 {
		t.Errorf("durableFloor = %d (%s), want -1", floor, who)
	}
	d := decideLeader(t0, st, peers, p, "")
	if !d.Empty || d.Action != leaderPromote || d.Target != "a" {
		t.Errorf("empty %v action %v target %q, want a promoted at once (why not %q)", d.Empty, d.Action, d.Target, d.WhyNot)
	}
	refused.Rep.Empty = false
	peers["e"] = refused
	if floor, who := durableFloor(st, peers, "", t0, p); floor != 4500 || who != "e" {
		t.Errorf("without the refusal durableFloor = %d (%s), want 4500 (e)", floor, who)
	}
}

func TestUnpromotable(t *testing.T) {
	at := time.Now()
	for _, tt := range []struct {
		name    string
		o       monitor.Observation
		initial bool
		refused bool
	}{
		{"synced replica", monitor.Observation{Time: at, Role: monitor.RoleReplica, Synced: true}, false, false},
		{"replica restarted empty, never synced", monitor.Observation{Time: at, Role: monitor.RoleReplica}, false, true},
		{"replica restarted from its AOF (a holder)", monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 900}, false, false},
		{"promoted before (a retry)", monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: "ab12"}, false, false},
		{"primary no promotion made", monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: strings.Repeat("0", 40)}, false, true},
		// Chaos seed 507 (N=3): a, chosen as a holder (its AOF, 660 keys),
		// was killed before its promotion and came back from the same AOF
		// as a primary. Refused, it was reported empty, pointed at c (0
		// keys, "synced" at offset 0 from the RDB of its first full sync),
		// c was promoted once the durable wait lapsed, and a full-synced
		// nothing: every write of epoch 1 lost.
		{"primary no promotion made, restarted from its AOF with keys (seed 507)",
			monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: strings.Repeat("0", 40), Keys: 660}, false, false},
		{"primary no promotion made, keys unknown", monitor.Observation{Time: at, Role: monitor.RolePrimary, Keys: -1}, false, true},
		{"the initial primary", monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: strings.Repeat("0", 40)}, true, false},
		{"unreachable: the promotion reports it", monitor.Observation{Time: at, Reason: monitor.ReasonRefused}, false, false},
	} {
		if got := unpromotable(tt.o, tt.initial); (got != "") != tt.refused {
			t.Errorf("%s: unpromotable = %q, want refused %v", tt.name, got, tt.refused)
		}
	}
}

// A promotion is refused when the local Redis no longer continues the
// position the leader chose it at (chaos seed 1906, N=3: b's Redis,
// chosen at 34,070 bytes on a's history, full-synced a's empty restart
// before its promotion, and every other copy full-synced from it).
func TestLeftChosenPosition(t *testing.T) {
	at := time.Now()
	replica := monitor.Observation{Time: at, Role: monitor.RoleReplica, Synced: true, Keys: 2000}
	none := strings.Repeat("0", 40)
	for _, tt := range []struct {
		name    string
		o       monitor.Observation
		pos     replPosition
		chosen  string // "" for no position recorded
		refused bool
	}{
		{"no position recorded (older entry, holder, switchover)", replica, replPosition{ReplID: "new", ReplID2: none, Offset: 10}, "", false},
		{"on the chosen history, further on", replica, replPosition{ReplID: "h", Offset: 35000}, "h", false},
		{"on the chosen history, where it was chosen", replica, replPosition{ReplID: "h", Offset: 34070}, "h", false},
		{"seed 1906: full-synced the empty restart of the Redis it followed",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Synced: true}, replPosition{ReplID: "restarted", ReplID2: none, Offset: 300}, "h", true},
		{"same history, behind: restarted from an older snapshot", replica, replPosition{ReplID: "h", Offset: 20000}, "h", true},
		{"partial resync to a primary promoted from the chosen history", replica, replPosition{ReplID: "next", ReplID2: "h", Offset: 36000, Second: 34500}, "h", false},
		{"moved on from the chosen history before reaching it", replica, replPosition{ReplID: "next", ReplID2: "h", Offset: 36000, Second: 30001}, "h", true},
		{"a retry after its own REPLICAOF NO ONE",
			monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: "h", Keys: 2000}, replPosition{ReplID: "mine", ReplID2: "h", Offset: 34100, Second: 34071}, "h", false},
		{"restarted from its AOF as a replica: judged by its keys (unpromotable)",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 900}, replPosition{ReplID: "aof", ReplID2: none}, "h", false},
		// Redis 7.0 restarts a replica from an RDB on the snapshot's
		// history at its offset: a position, though never synced since.
		{"restarted from an older RDB as a replica, on an earlier history (seed 11714)",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 1906}, replPosition{ReplID: "earlier", ReplID2: none, Offset: 30000, Second: -1}, "h", true},
		{"restarted from an older RDB as a replica, on the chosen history, behind",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 1906}, replPosition{ReplID: "h", ReplID2: none, Offset: 30000, Second: -1}, "h", true},
		{"seed 12180: restarted from the RDB of its full sync, at 0 on the chosen history",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 547}, replPosition{ReplID: "h", ReplID2: none, Offset: 0, Second: -1}, "h", true},
		{"restarted from an RDB written where it was chosen or later",
			monitor.Observation{Time: at, Role: monitor.RoleReplica, Keys: 2000}, replPosition{ReplID: "h", ReplID2: none, Offset: 34070, Second: -1}, "h", false},
		{"restarted from its AOF as a primary: judged by its keys (unpromotable)",
			monitor.Observation{Time: at, Role: monitor.RolePrimary, ReplID2: none, Keys: 900}, replPosition{ReplID: "aof", ReplID2: none}, "h", false},
		{"unreachable: the promotion reports it", monitor.Observation{Time: at, Reason: monitor.ReasonRefused}, replPosition{}, "h", false},
	} {
		if got := leftChosen(tt.o, tt.pos, tt.chosen, 34070); (got != "") != tt.refused {
			t.Errorf("%s: leftChosen = %q, want refused %v", tt.name, got, tt.refused)
		}
	}
}

// The promotion releases writes only on the process it made primary
// (chaos seed 2001, N=5: d's Redis, killed during the promotion's hold,
// came back from a 21 s old RDB, and the promotion released writes on it
// at its end).
func TestPromotionLost(t *testing.T) {
	at := time.Now()
	before := monitor.Observation{Time: at, Role: monitor.RoleReplica, RunID: "run-1", ReplID: "h-a", Offset: 206229}
	promoted := monitor.Observation{Time: at, Role: monitor.RolePrimary, RunID: "run-1", ReplID: "h-d", ReplID2: "h-a", Offset: 206229}
	restarted := monitor.Observation{Time: at, Role: monitor.RolePrimary, RunID: "run-2", ReplID: "h-rdb", ReplID2: "h-a", Offset: 113310, Keys: 1502}
	for _, tt := range []struct {
		name        string
		before, now monitor.Observation
		lost        bool
	}{
		{"the process it promoted", before, promoted, false},
		{"the initial primary, a primary before", promoted, promoted, false},
		{"seed 2001: restarted from an RDB during the hold", before, restarted, true},
		{"restarted empty during the hold", before, monitor.Observation{Time: at, Role: monitor.RolePrimary, RunID: "run-2", ReplID: "h-new"}, true},
		{"made a replica since", before, monitor.Observation{Time: at, Role: monitor.RoleReplica, RunID: "run-1", ReplID: "h-b"}, true},
		{"loading what it restarted with", before, monitor.Observation{Time: at, Reason: monitor.ReasonLoading, Loading: true}, true},
		{"loading, its run id read", before, monitor.Observation{Time: at, Reason: monitor.ReasonLoading, Loading: true, RunID: "run-2"}, true},
		{"does not answer: the release reports it", before, monitor.Observation{Time: at, Reason: monitor.ReasonRefused}, false},
		{"its run id unknown before: a primary now", monitor.Observation{Time: at, Reason: monitor.ReasonRefused}, promoted, false},
	} {
		if got := promotionLost(tt.before, tt.now); (got != "") != tt.lost {
			t.Errorf("%s: promotionLost = %q, want lost %v", tt.name, got, tt.lost)
		}
	}
}

// A promotion releases writes only while its sidecar has majority contact:
// the old primary's hold outlasts fence_after, and the loop does not fence
// while the promotion runs. Chaos seed 5618 (N=5): b's last Raft contact
// at 48.59 s, the release at 51.21 s after a 3 s hold.
func TestReleaseCutOff(t *testing.T) {
	p := params{FenceAfter: time.Second}
	for _, tt := range []struct {
		name    string
		ago     time.Duration
		refused bool
	}{
		{"contact just now", 0, false},
		{"contact within fence_after", 900 * time.Millisecond, false},
		{"no contact for fence_after", time.Second, true},
		{"seed 5618: cut off during the old primary's hold", 2630 * time.Millisecond, true},
	} {
		if got := releaseCutOff(t0.Add(-tt.ago), t0, p); (got != "") != tt.refused {
			t.Errorf("%s: releaseCutOff = %q, want refused %v", tt.name, got, tt.refused)
		}
	}
}

// A named primary whose promotion its own sidecar refused, reporting it
// empty, is not chosen again, and the decision commits where the replica
// it chooses instead stands. Chaos seed 1906 (N=3) after the refusal: b's
// Redis, synced 300 bytes into a's empty restart, ranked above c, which
// held every write but reported offset 1 (its Redis had lost its cached
// master); chosen again for that offset, b would have been promoted
// empty.
func TestRefusedNamedPrimaryNotChosenAgain(t *testing.T) {
	st := groupState{Epoch: 3, Primary: "b", Started: t0.Add(-100 * time.Millisecond), Members: members("a", "b", "c")}
	a := rep("a", 300)
	a.Rep.Obs.Role, a.Rep.Obs.ReplID, a.Rep.Unsure = monitor.RolePrimary, "a-empty", true
	b := rep("b", 300)
	b.Rep.Epoch, b.Rep.Obs.ReplID, b.Rep.Obs.MasterAddr = 3, "a-empty", "a:6379"
	b.Rep.SDownPrimary, b.Rep.SDownEpoch, b.Rep.Empty = "b", 3, true
	b.Known = knownOffset{Epoch: 2, Offset: 34070, At: t0.Add(-2 * time.Second)}
	c := rep("c", 1)
	c.Rep.Obs.ReplID, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Keys = "a-old", "c:6379", false, 2232
	p := testParams()
	p.MinReplicas = 1
	d := decideLeader(t0, st, map[string]peerView{"a": a, "b": b, "c": c}, p, "")
	if d.Action != leaderPromote || d.Target != "c" {
		t.Fatalf("action %v target %q, want c promoted (excluded %v, why not %q)", d.Action, d.Target, d.Excluded, d.WhyNot)
	}
	if d.ChosenReplID != "a-old" || d.ChosenOffset != 1 {
		t.Errorf("chosen at %d on %q, want c's report: 1 on a-old", d.ChosenOffset, d.ChosenReplID)
	}
	// Not refused, only stuck, b is chosen again, at where it stands now.
	b.Rep.Empty = false
	st.Started = t0.Add(-2 * time.Second)
	d = decideLeader(t0, st, map[string]peerView{"a": a, "b": b, "c": c}, p, "")
	if d.Action != leaderPromote || d.Target != "b" || d.ChosenReplID != "a-empty" || d.ChosenOffset != 300 {
		t.Fatalf("stuck, not refused: action %v target %q at %d on %q, want b at 300 on a-empty", d.Action, d.Target, d.ChosenOffset, d.ChosenReplID)
	}
}

// With min_replicas, a candidate stopped below the offset the primary was
// promoted at is not promoted while the primary may come back (chaos seed
// 101: a replica stuck on an older history 26 KB before the fork was
// promoted while the primary restarted from its AOF with every write).
func TestForkFloor(t *testing.T) {
	stuck := down(rep("a", 3000), "p", 4)
	stuck.Rep.Obs.ReplID = "old"
	follower := down(rep("b", 200), "p", 4) // resynced from the primary's restarted history
	follower.Rep.Obs.ReplID = "new"
	primaryUp := func(ago time.Duration, replID string) peerView {
		pv := down(peerView{Received: t0, UpAt: t0.Add(-ago), Rep: report{Name: "p", Obs: obsSummary{Reachable: false}}}, "p", 4)
		if replID != "" {
			pv.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: replID, Offset: 250}
		}
		return pv
	}
	for _, tt := range []struct {
		name        string
		minReplicas int
		fork        int64
		peers       map[string]peerView
		want        string
	}{
		{"durable: wait for the primary", 1, 5000, map[string]peerView{"p": primaryUp(time.Second, ""), "a": stuck}, ""},
		{"without min_replicas the stuck replica is promoted", 0, 5000, map[string]peerView{"p": primaryUp(time.Second, ""), "a": stuck}, "a"},
		{"primary gone for ten down_after", 1, 5000, map[string]peerView{"p": primaryUp(10*time.Second, ""), "a": stuck}, "a"},
		{"fork not recorded", 1, 0, map[string]peerView{"p": primaryUp(time.Second, ""), "a": stuck}, "a"},
		{"candidate past the fork", 1, 2000, map[string]peerView{"p": primaryUp(time.Second, ""), "a": stuck}, "a"},
		{"candidate on the primary's current history", 1, 5000, map[string]peerView{"p": primaryUp(time.Second, "new"), "a": stuck, "b": follower}, "b"},
		// Its last report shows it restarted below the fork: it no
		// longer has what the floor waits for (chaos seed 5).
		{"primary last seen restarted below the fork", 1, 5000, map[string]peerView{"p": primaryUp(time.Second, "other"), "a": stuck}, "a"},
		{"primary last seen as a replica", 1, 5000, map[string]peerView{"p": func() peerView {
			pv := primaryUp(time.Second, "")
			pv.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RoleReplica, Offset: 1}
			return pv
		}(), "a": stuck}, "a"},
		{"primary last seen empty", 1, 5000, map[string]peerView{"p": func() peerView { pv := primaryUp(time.Second, ""); pv.Rep.Empty = true; return pv }(), "a": stuck}, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			st := groupState{Epoch: 4, Primary: "p", Promoted: true, Started: t0.Add(-time.Minute), Members: members("p", "a", "b"), Fork: tt.fork}
			d := decideLeader(t0, st, tt.peers, p, "")
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) {
				t.Fatalf("target %q action %v, want %q (excluded %v, why not %q)", d.Target, d.Action, tt.want, d.Excluded, d.WhyNot)
			}
			if tt.want == "" && (d.Excluded["a"] != whyBeforeFork || d.WaitFor != "p") {
				t.Errorf("excluded %v, wait for %q", d.Excluded, d.WaitFor)
			}
		})
	}
}

func TestBelowForkFloor(t *testing.T) {
	const floor = 9146
	for _, tt := range []struct {
		name               string
		replID             string
		offset             int64
		forkReplID, histID string
		want               bool
	}{
		{"on the left history below the fork", "fork", 9000, "fork", "new", true},
		{"on the left history at the fork", "fork", floor, "fork", "new", false},
		{"on the left history past the fork", "fork", 9500, "fork", "new", false},
		{"on the primary's history below the fork", "new", 200, "fork", "new", false},
		{"on a third history, higher by number (seed 11208)", "older", 74902, "fork", "new", true},
		{"on a third history, primary's history unknown", "older", 74902, "fork", "", true},
		{"left history not recorded: offsets only", "older", 74902, "", "new", false},
		{"left history not recorded, below", "older", 9000, "", "new", true},
		{"candidate's history unknown: offsets only", "", 74902, "fork", "new", false},
	} {
		c := candidate{Name: "b", ReplID: tt.replID, Offset: tt.offset}
		if got := belowForkFloor(c, floor, tt.forkReplID, tt.histID); got != tt.want {
			t.Errorf("%s: belowForkFloor = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Chaos seed 11208 (N=5, commit timeout 1 s), the leader c's view at
// 13.414 s after 22:44:00 (epoch 5's failover): c, epoch 4's primary,
// promoted at 9146 on 7a952d0a (the history a's Redis began when it came
// back from its AOF at epoch 3), leads f19f0a79 with every write and
// retry-queue INCR of epoch 3, its Redis cut from every other by a
// Redis-only partition but answering its own sidecar. b's, d's and e's
// Redis stand at 74902 on 4dfbc142, epoch 2's history, which a's and c's
// Redis had left: higher than the floor by number, but on a third
// history. a's node is down. They wait for c; a candidate on c's history,
// or on 7a952d0a past the fork, does not.
func TestForkFloorThirdHistorySeed11208(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 5*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 13.414) * float64(time.Second))) }
	st := groupState{Epoch: 4, Primary: "c", Previous: "a", Promoted: true, Started: at(11.403),
		Members: members("a", "b", "c", "d", "e"), Fork: 9146, ForkReplID: "7a952d0a",
		PastForks: []pastFork{
			{Epoch: 2, New: "c", ReplID: "454051f3", Offset: 61424, Start: at(-15.5), NewReplID: "4dfbc142"},
			{Epoch: 3, New: "a", ReplID: "114e470a", Start: at(-6.5), NewReplID: "139c80be"},
		}}
	mk := func(replID string, offset int64) map[string]peerView {
		c := down(rep("c", 9300), "c", 4) // its own sidecar reaches it
		c.Rep.Epoch, c.Rep.Obs.Role, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 4, monitor.RolePrimary, "", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.ReplID2, c.Rep.Obs.Keys = "f19f0a79", "7a952d0a", 1110
		c.UpAt, c.AsPrimary = t0, primaryMark{Epoch: 4, ReplID: "f19f0a79"}
		peers := map[string]peerView{"c": c}
		for _, n := range []string{"b", "d", "e"} {
			v := down(rep(n, offset), "c", 4) // re-pointed to c, link never up
			v.Rep.Epoch, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp = 4, "c:6379", false
			v.Rep.Obs.ReplID, v.Rep.Obs.Keys = replID, 1050
			peers[n] = v
		}
		return peers
	}
	for _, tt := range []struct {
		name   string
		replID string
		offset int64
		want   string
	}{
		{"on epoch 2's history, higher by number: wait for c", "4dfbc142", 74902, ""},
		{"on the history c's promotion left, at the fork", "7a952d0a", 9146, "b"},
		{"on c's own history", "f19f0a79", 9300, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideLeader(t0, st, mk(tt.replID, tt.offset), p, "")
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) {
				t.Fatalf("target %q action %v, want %q (excluded %v, why not %q)", d.Target, d.Action, tt.want, d.Excluded, d.WhyNot)
			}
			if tt.want == "" && (d.Excluded["b"] != whyBeforeFork || d.WaitFor != "c") {
				t.Errorf("excluded %v, wait for %q, want b %s and wait for c", d.Excluded, d.WaitFor, whyBeforeFork)
			}
		})
	}
}

// Chaos seed 11208 (N=5, commit timeout = heartbeat timeout, the run that
// lost 25 retry-queue INCRs; seconds since the run's start at 22:56:09.745).
// Epoch 7 promoted b at 145134 on a11ab167 (beginning 8b0e346d); a's, b's
// and e's queues drained into b's Redis from 50.7 s, and e's Redis alone
// copied them (to 164619): a's, full-synced at 145134, dropped its cached
// primary at every link loss from 35.3 s, as a replica under CLIENT PAUSE
// WRITE does, applying nothing, and c's was cut off by a Redis-only
// partition at 145134. b's Redis was killed at 53.9 s; epoch 8
// named e (55.9 s), which never promoted, and e's Redis was killed without
// persistence at 63.0 s and came back empty. b's came back from its AOF at
// 66.9 s with every INCR, a primary on a new history at 0 (b576c7a5).
//
// b's sidecar at 66.97 s: epoch 8 unpromoted, its Redis was not taken for
// restarted, and with e's Redis empty there was no primary to demote it
// into, so it stayed a paused primary, neither a candidate nor a holder.
// The leader c at 74.06 s: the durable wait for b's last known offset
// (164619 at epoch 7, last seen at 53.95 s) had lapsed, and it promoted c,
// parked at 145134 on 8b0e346d; b's Redis full-synced from it. A restarted
// stale primary points at itself in an unpromoted epoch too (the seed 8
// rule), and as a holder with more keys than c the leader promotes it.
func TestRestartedStalePrimaryOfAnUnpromotedEpochBecomesAHolderSeed11208(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 74.06) * float64(time.Second))) }
	st := groupState{Epoch: 8, Primary: "e", Previous: "b", Started: at(55.881),
		Members: members("a", "b", "c", "d", "e"),
		PastForks: []pastFork{
			{Epoch: 2, New: "c", ReplID: "7f00f064", Offset: 54707, Start: at(15.860), NewReplID: "7dd5e79e"},
			{Epoch: 3, New: "d", ReplID: "7dd5e79e", Offset: 82702, Start: at(24.471), NewReplID: "d6218d3f"},
			{Epoch: 5, New: "c", ReplID: "d6218d3f", Offset: 118411, Start: at(35.168), NewReplID: "4e2cae7c"},
			{Epoch: 6, New: "d", ReplID: "4e2cae7c", Offset: 119594, Start: at(37.567), NewReplID: "a11ab167"},
			{Epoch: 7, New: "b", ReplID: "a11ab167", Offset: 145134, Start: at(47.262), NewReplID: "8b0e346d"},
		}}

	// b's sidecar, its Redis back from its AOF: it points at itself.
	now := at(66.97)
	obs := monitor.Observation{Role: monitor.RolePrimary, ReplID: "b576c7a5", ReplID2: strings.Repeat("0", 40)}
	in := localInput{Now: now, Self: "b", State: st, Ready: true, LastContact: now, P: p, Fenced: true,
		Obs:      localObs{Reachable: true, Role: monitor.RolePrimary, Time: now, ReplID: obs.ReplID},
		SelfAddr: "b:6379", SourceUnvouched: true, // no PrimaryAddr: e's sidecar reports its Redis empty (syncSourceDoubtful)
		Restarted: restartedPrimary(obs, st, "b")}
	if got, want := decideLocal(in), (localPlan{Fence: true, Detach: true}); got != want {
		t.Errorf("b's restarted Redis, nobody to follow: plan %+v, want %+v", got, want)
	}

	// The leader c, before and after the durable wait for b's last known
	// offset (164619 at epoch 7, last seen at 53.95 s) lapsed at 73.95 s.
	const bKeys, cKeys = 2120, 2036 // b's count is not logged: more than c's, a prefix of b's data
	mk := func(now time.Time, bDetached bool) map[string]peerView {
		self := func(name string, offset int64, synced bool, replID string, keys int64) peerView {
			v := rep(name, offset) // pointing at itself
			v.Rep.Epoch, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp, v.Rep.Obs.Synced = 8, name+":6379", false, synced
			v.Rep.Obs.ReplID, v.Rep.Obs.Keys = replID, keys
			v.Received, v.UpAt = now, now
			if synced {
				v.Known = knownOffset{Epoch: 8, Offset: offset, At: now, ReplID: replID, Keys: keys}
			}
			return v
		}
		// a's Redis holds c's data; its monitor reports slave_repl_offset's
		// placeholder 1 (its cached primary was dropped under the pause).
		a := self("a", 1, true, "8b0e346d", cKeys)
		c := self("c", 145134, true, "8b0e346d", cKeys)
		d := self("d", 0, false, "8914e07e", 0) // killed without persistence, back empty
		d.Known = knownOffset{Epoch: 6, Offset: 137416, At: at(45.2), ReplID: "a11ab167"}
		e := down(rep("e", 0), "e", 8) // the named primary, back empty, pointed at c
		e.Rep.Epoch, e.Rep.Empty, e.Rep.Obs.MasterAddr, e.Rep.Obs.LinkUp, e.Rep.Obs.Synced = 8, true, "c:6379", false, false
		e.Rep.Obs.ReplID, e.Rep.Obs.Keys = "7f00f064", 0
		e.Received, e.UpAt, e.Known = now, now, knownOffset{Epoch: 8, Offset: 164619, At: at(62.9), ReplID: "8b0e346d"}
		b := self("b", 0, false, "b576c7a5", bKeys) // detached: no position it can prove
		if !bDetached {
			b.Rep.Obs.Role, b.Rep.Obs.MasterAddr, b.Rep.Fenced = monitor.RolePrimary, "", true
		}
		b.Known = knownOffset{Epoch: 7, Offset: 164619, At: at(53.95), ReplID: "8b0e346d", Keys: bKeys}
		return map[string]peerView{"a": a, "b": b, "c": c, "d": d, "e": e}
	}
	p.MaxLagBytes = 1 << 20
	for _, tt := range []struct {
		name       string
		at         float64
		bDetached  bool
		want       string
		wantHolder bool
	}{
		{"b's Redis a paused primary, within the wait: no promotion", 67.2, false, "", false},
		{"b's Redis a paused primary, the wait lapsed: c, without the INCRs (the run)", 74.06, false, "c", false},
		{"b's Redis pointing at itself: b, the holder with them", 67.2, true, "b", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.at)
			d := decideLeader(now, st, mk(now, tt.bDetached), p, "")
			checkHolderPromotion(t, d, tt.want, tt.wantHolder)
			if tt.want == "" && (d.Excluded["c"] != whyBehind || d.WaitFor != "b") {
				t.Errorf("excluded %v, wait for %q, want c %s and wait for b", d.Excluded, d.WaitFor, whyBehind)
			}
		})
	}
}

func TestNextKnown(t *testing.T) {
	k := knownOffset{Epoch: 4, Offset: 4500, At: t0}
	r := rep("a", 5000).Rep
	r.Epoch = 5
	if got := nextKnown(k, r, t0.Add(time.Second)); got != (knownOffset{Epoch: 5, Offset: 5000, At: t0.Add(time.Second)}) {
		t.Errorf("synced replica: %+v", got)
	}
	r.Obs.Reachable = false
	if got := nextKnown(k, r, t0.Add(time.Second)); got != k {
		t.Errorf("Redis not answering: %+v, want the last known %+v", got, k)
	}
	r.Obs = obsSummary{Reachable: true, Role: monitor.RoleReplica}
	if got := nextKnown(k, r, t0.Add(time.Second)); got != k {
		t.Errorf("answering but not synced (restarted from an AOF): %+v, want the last known %+v", got, k)
	}
	// The committed primary's own Redis, judged by its sidecar (chaos seed
	// 2507, N=3); not a stale primary, nor one not judged yet.
	r.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, Offset: 6000}
	r.SDownPrimary = "a"
	if got := nextKnown(k, r, t0.Add(time.Second)); got != (knownOffset{Epoch: 5, Offset: 6000, At: t0.Add(time.Second)}) {
		t.Errorf("the judged primary: %+v, want its offset", got)
	}
	for name, mod := range map[string]func(*report){
		"a stale primary (the state names another)": func(r *report) { r.SDownPrimary = "b" },
		"not judged yet":     func(r *report) { r.Unsure = true },
		"came back empty":    func(r *report) { r.Empty = true },
		"not answering":      func(r *report) { r.Obs.Reachable = false },
		"no state known yet": func(r *report) { r.Epoch = 0 },
	} {
		r := r
		mod(&r)
		if got := nextKnown(k, r, t0.Add(time.Second)); got != k {
			t.Errorf("%s: %+v, want the last known %+v", name, got, k)
		}
	}
}

// A named primary never promoted, stopped right after its REPLICAOF NO
// ONE: the primary before it, now out of reach, had taken writes a leader
// cut off at the time never saw a replica report; the offset its own
// sidecar reported as the primary holds the leader back for the durable
// wait instead of promoting itself behind it (chaos seed 2507, N=3: a,
// detached at 90002, promoted itself over b's 99840; the retry-queue INCRs
// on b's and c's Redis full-synced away).
func TestDurableFloorDeposedPrimarySeed2507(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "c", Started: t0.Add(-9 * time.Second), Members: members("a", "b", "c")}
	asPrimary := report{Name: "b", Epoch: 4, SDownPrimary: "b", Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, Offset: 99840, ReplID: "e29dc5"}}
	b := down(rep("b", 0), "c", 5)
	b.Rep.Obs = obsSummary{} // its Redis killed
	b.Known = nextKnown(knownOffset{}, asPrimary, t0.Add(-5*time.Second))
	// What a saw of c before it was cut off: c's Redis down, restarting.
	c := rep("c", 0)
	c.Received = t0.Add(-13 * time.Second)
	c.Rep.Obs = obsSummary{}
	a := down(rep("a", 90002), "c", 5)
	a.Rep.Obs.ReplID = "e29dc5"
	p := testParams()
	p.MinReplicas = 1
	d := decideLeader(t0, st, map[string]peerView{"a": a, "b": b, "c": c}, p, "")
	if !d.ODown {
		t.Fatalf("no ODOWN: %+v", d)
	}
	if d.Action == leaderPromote || d.WaitFor != "b" || d.Excluded["a"] != whyBehind {
		t.Errorf("action %v target %q, excluded %v, waits for %q; want a set aside, waiting for b", d.Action, d.Target, d.Excluded, d.WaitFor)
	}
}

func TestForkFor(t *testing.T) {
	history := []HistoryEntry{
		{Epoch: 2, ForkReplID: "h1", ForkOffset: 100, NewReplID: "h2"},
		{Epoch: 3, ForkReplID: "h2", ForkOffset: 250, NewReplID: "h3"},
		{Epoch: 4, ForkReplID: "h3", ForkOffset: 400, NewReplID: "h4"},
	}
	// Chaos seed 7113 (N=3): epoch 3 forked off c's history c0b4, but
	// epoch 4, which replaced c, forked from d50f, the history c0b4 had
	// left at 36899: the new primary holds nothing of c0b4.
	tree := []HistoryEntry{
		{Epoch: 1, New: "a"},
		{Epoch: 2, ForkReplID: "d50f", ForkOffset: 36899, NewReplID: "c0b4"},
		{Epoch: 3, ForkReplID: "c0b4", ForkOffset: 45828, NewReplID: "a724"},
		{Epoch: 4, ForkReplID: "d50f", ForkOffset: 51219, NewReplID: "8487"},
	}
	deposed := []HistoryEntry{
		{Epoch: 4, ForkReplID: "h3", ForkOffset: 400, NewReplID: "h4"},
		{Epoch: 5, ForkReplID: "h4", ForkOffset: 300, NewReplID: "d5"},
		{Epoch: 6, ForkReplID: "h4", ForkOffset: 500, NewReplID: "h6"},
	}
	for _, tt := range []struct {
		history []HistoryEntry
		replID  string
		epoch   uint64
		want    divergent.Fork
		ok      bool
	}{
		{history, "h2", 4, divergent.Fork{OldReplID: "h2", Offset: 250}, true}, // cut off since epoch 3
		{history, "h3", 4, divergent.Fork{OldReplID: "h3", Offset: 400}, true},
		{history, "other", 4, divergent.Fork{}, false},
		{history, "", 4, divergent.Fork{}, false},
		{history[1:], "h2", 4, divergent.Fork{OldReplID: "h2", Offset: 250}, true}, // h2's origin trimmed
		// Seed 7113: not epoch 3's fork; the capture starts where c0b4
		// left d50f.
		{tree, "c0b4", 4, divergent.Fork{OldReplID: "c0b4", Offset: 36899}, true},
		{tree, "c0b4", 3, divergent.Fork{OldReplID: "c0b4", Offset: 45828}, true},
		{tree, "d50f", 4, divergent.Fork{OldReplID: "d50f", Offset: 51219}, true},
		// a's Redis, on epoch 3's history, holds c0b4 from 36899 too,
		// and still knows c0b4 as the history before its own.
		{tree, "a724", 4, divergent.Fork{OldReplID: "c0b4", Offset: 36899}, true},
		{tree, "a724", 5, divergent.Fork{}, false}, // epoch 5 not recorded: no line to follow
		// Seed 7021 (N=5): d's history, begun by epoch 5, deposed by
		// epoch 6 promoted from the history before it.
		{deposed, "d5", 6, divergent.Fork{OldReplID: "d5", Offset: 300}, true},
		{deposed, "h4", 6, divergent.Fork{OldReplID: "h4", Offset: 500}, true},
	} {
		if got, ok := forkFor(tt.history, tt.replID, tt.epoch); got != tt.want || ok != tt.ok {
			t.Errorf("forkFor(%q, epoch %d) = %+v %v, want %+v %v", tt.replID, tt.epoch, got, ok, tt.want, tt.ok)
		}
	}
}

// A peer that missed a replica's reports (cut off) learns from its next
// report what data it last held (chaos seed 3: the leader had been cut off
// and promoted a replica behind the stalled one).
func TestMergeKnown(t *testing.T) {
	stalled := report{Epoch: 2, Obs: obsSummary{Reachable: false}, KnownEpoch: 2, KnownOffset: 9000, KnownAgoMs: 3000}
	old := knownOffset{Epoch: 2, Offset: 4000, At: t0.Add(-10 * time.Second)}
	if got, want := mergeKnown(old, stalled, t0), (knownOffset{Epoch: 2, Offset: 9000, At: t0.Add(-3 * time.Second)}); got != want {
		t.Errorf("merge = %+v, want the sender's later one %+v", got, want)
	}
	// What this sidecar saw itself, later than the sender's claim, stays.
	recent := knownOffset{Epoch: 2, Offset: 9500, At: t0.Add(-time.Second)}
	if got := mergeKnown(recent, stalled, t0); got != recent {
		t.Errorf("merge = %+v, want the later local one %+v", got, recent)
	}
	// A synced replica's report is its own best evidence.
	r := rep("a", 12000).Rep
	r.Epoch, r.KnownEpoch, r.KnownOffset, r.KnownAgoMs = 2, 2, 11000, 100
	if got := mergeKnown(old, r, t0); got.Offset != 12000 || !got.At.Equal(t0) {
		t.Errorf("merge of a synced replica's report = %+v, want offset 12000 now", got)
	}
}

func TestLeaderSettled(t *testing.T) {
	p := testParams()
	if !leaderSettled(t0, t0, p) {
		t.Error("without min_replicas a new leader must choose at once")
	}
	p.MinReplicas = 1
	for _, tt := range []struct {
		since time.Time
		want  bool
	}{
		{t0, false},
		{t0.Add(-2*p.Fresh + time.Millisecond), false},
		{t0.Add(-2 * p.Fresh), true},
		{time.Time{}, false},
	} {
		if got := leaderSettled(tt.since, t0, p); got != tt.want {
			t.Errorf("leader since %v: settled %v, want %v", t0.Sub(tt.since), got, tt.want)
		}
	}
}

// Offsets of different histories do not compare: the replica that follows
// the primary's history wins over one with a larger offset on an older
// one (chaos seed 1), unless none follows it.
func TestCandidatesOnThePrimarysHistory(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "b", "c")}
	primary := peerView{Received: t0.Add(-time.Minute), Rep: report{Name: "p", Addr: "p:6379", Priority: 100,
		Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, Offset: 100, ReplID: "h2"}}}
	on := func(name string, offset int64, history string) peerView {
		v := down(rep(name, offset), "p", 4)
		v.Rep.Obs.ReplID = history
		return v
	}
	d := decideLeader(t0, st, map[string]peerView{"p": primary, "b": on("b", 5000, "h1"), "c": on("c", 90, "h2")}, testParams(), "")
	if d.Action != leaderPromote || d.Target != "c" || d.Excluded["b"] != whyOtherHistory {
		t.Errorf("target %q (action %v), excluded %v; want c, b on another history", d.Target, d.Action, d.Excluded)
	}
	d = decideLeader(t0, st, map[string]peerView{"p": primary, "b": on("b", 5000, "h1"), "c": on("c", 4990, "h1")}, testParams(), "")
	if d.Action != leaderPromote || d.Target != "b" {
		t.Errorf("no replica on the primary's history: target %q (action %v), want b, the most advanced", d.Target, d.Action)
	}
	// Its Redis no longer answers: the history it was last seen leading
	// at this epoch still counts (chaos seed 108, N=5), one seen at an
	// earlier epoch does not.
	gone := primary
	gone.Rep.Epoch, gone.Rep.Obs = 4, obsSummary{}
	gone.AsPrimary = primaryMark{Epoch: 4, ReplID: "h2"}
	d = decideLeader(t0, st, map[string]peerView{"p": gone, "b": on("b", 5000, "h1"), "c": on("c", 90, "h2")}, testParams(), "")
	if d.Action != leaderPromote || d.Target != "c" || d.Excluded["b"] != whyOtherHistory {
		t.Errorf("primary's Redis gone: target %q (action %v), excluded %v; want c, b on another history", d.Target, d.Action, d.Excluded)
	}
	gone.AsPrimary.Epoch = 3
	d = decideLeader(t0, st, map[string]peerView{"p": gone, "b": on("b", 5000, "h1"), "c": on("c", 4990, "h2")}, testParams(), "")
	if d.Action != leaderPromote || d.Target != "b" {
		t.Errorf("history seen at an earlier epoch: target %q (action %v), want b, the most advanced", d.Target, d.Action)
	}
	if got := nextAsPrimary(primaryMark{Epoch: 4, ReplID: "h2"}, report{Epoch: 5}, t0); got.ReplID != "h2" || got.Epoch != 4 {
		t.Errorf("a report without an answer kept %+v, want the last mark", got)
	}
	if got := nextAsPrimary(primaryMark{}, primary.Rep, t0); got.ReplID != "h2" {
		t.Errorf("a primary's report marks %+v, want h2", got)
	}
}

// With min_replicas, a fenced primary releases writes only after a replica
// acknowledged the stream after it began waiting (chaos seed 6: released on
// Raft contact alone, with every replica cut off, it took writes no
// replica ever held).
func TestUnfenceWaitsForLiveReplica(t *testing.T) {
	named := groupState{Epoch: 2, Primary: "a", Promoted: true, Members: members("a", "b", "c")}
	replica := func(state string, lag int64) monitor.Replica {
		return monitor.Replica{Addr: "b:6379", State: state, Lag: lag}
	}
	for _, tt := range []struct {
		name        string
		minReplicas int
		waited      time.Duration // since AckSince; negative: not waiting yet
		reps        []monitor.Replica
		want        localPlan
	}{
		{"without min_replicas: release at once", 0, -1, nil, localPlan{Unfence: true}},
		{"durable: start waiting", 1, -1, []monitor.Replica{replica("online", 0)}, localPlan{AwaitAcks: true}},
		{"lag 0 within a second could be the last ack before a cut", 1, time.Second, []monitor.Replica{replica("online", 0)}, localPlan{AwaitAcks: true}},
		{"lag 0 after more than a second: live", 1, 1400 * time.Millisecond, []monitor.Replica{replica("online", 0)}, localPlan{Unfence: true}},
		{"lag 1 after a second and a half is not proof", 1, 1500 * time.Millisecond, []monitor.Replica{replica("online", 1)}, localPlan{AwaitAcks: true}},
		{"lag 1 after more than two seconds: live", 1, 2400 * time.Millisecond, []monitor.Replica{replica("online", 1)}, localPlan{Unfence: true}},
		{"lag 2: cut off", 1, time.Minute, []monitor.Replica{replica("online", 2)}, localPlan{AwaitAcks: true}},
		{"still syncing", 1, time.Minute, []monitor.Replica{replica("wait_bgsave", 0)}, localPlan{AwaitAcks: true}},
		{"no replica at all", 1, time.Minute, nil, localPlan{AwaitAcks: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			in := localInput{Now: t0, Self: "a", State: named, Ready: true, LastContact: t0, Fenced: true, P: p,
				Obs: localObs{Reachable: true, Role: monitor.RolePrimary, Time: t0, Replicas: tt.reps}}
			if tt.waited >= 0 {
				in.AckSince = t0.Add(-tt.waited)
			}
			if got := decideLocal(in); got != tt.want {
				t.Errorf("plan %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Chaos seed 12031 (N=3), c's sidecar: c's Redis, epoch 2's primary
// (promoted at 50080 on bbb26e18, beginning 5a7e2eab), came back from its
// AOF at offset 0 with 937 keys. Until every replica was heard it was not
// judged; meanwhile a's Redis, still pointing at it, full-synced from it and
// moved its offset to 256. Judged then as a snapshot below its promotion
// (0 < 256 < 50080), it was called empty against b's 745 keys at 50103 on
// 5a7e2eab, and the group failed over to b. The offset it came back at is
// what the judgement reads.
func TestRestartJudgedAtTheOffsetItCameBackAtSeed12031(t *testing.T) {
	obs := func(runID, replID string, offset, keys int64) monitor.Observation {
		return monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: runID, ReplID: replID, Offset: offset, Keys: keys}
	}
	b := replicaPos{ReplID: "5a7e2eab", Offset: 50103, Keys: 745}
	a := replicaPos{ReplID: "557a30d5", Offset: 256, Keys: 937} // synced from the restart
	ctx := func(replicas []replicaPos, unheard bool) identityCtx {
		return identityCtx{Named: true, Epoch: 2, SelfAddr: "c:6379", Fork: 50080, ForkReplID: "bbb26e18", NewReplID: "5a7e2eab",
			Replicas: func() []replicaPos { return replicas }, Unheard: func() bool { return unheard }, Now: t0, DownAfter: 2 * time.Second}
	}
	s := identities{Ident: redisIdentity{RunID: "c-1", ReplID: "5a7e2eab", Offset: 60000, Keys: 930}}
	s = nextIdentity(s, obs("c-2", "557a30d5", 0, 937), ctx(nil, true))
	if s.Empty || s.Unsure.IsZero() {
		t.Fatalf("back from its AOF, replicas unheard: %+v, want not judged yet", s)
	}
	s = nextIdentity(s, obs("c-2", "557a30d5", 256, 937), ctx([]replicaPos{a, b}, false))
	if s.Empty {
		t.Fatalf("back from its AOF at 0, now at 256: %+v, want not empty", s)
	}
	// A snapshot that came back below the promotion is still empty.
	s = identities{Ident: redisIdentity{RunID: "c-1", ReplID: "5a7e2eab", Offset: 60000, Keys: 930}}
	snap := func(offset int64) monitor.Observation {
		o := obs("c-3", "9d9d9d9d", offset, 700)
		o.ReplID2 = "bbb26e18" // Redis 7.0: the snapshot's history
		return o
	}
	s = nextIdentity(s, snap(40000), ctx(nil, true))
	if s = nextIdentity(s, snap(40256), ctx([]replicaPos{b}, false)); !s.Empty {
		t.Fatalf("back from a snapshot at 40000: %+v, want empty", s)
	}
}

// Chaos seed 13005 (N=3), c's sidecar, restarted with its state: c's
// node, epoch 3's primary (promoted at 28257 on f525d929), was killed
// without persistence; a's Redis was down and b's sidecar stopped. c's
// Redis came back empty and nobody could judge it; after down_after it
// stood, and b's Redis, the only one with the group's data, full-synced
// from it once b's sidecar resumed 0.3 s later. A restart that holds no
// key waits for the unheard member as long as the durable wait; one that
// holds keys still stands after down_after.
func TestKeylessRestartWaitsForAnUnheardMemberSeed13005(t *testing.T) {
	obs := func(keys int64) monitor.Observation {
		return monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "c-2", ReplID: "9e0a8c31", Offset: 0, Keys: keys}
	}
	ctx := func(at time.Duration, replicas []replicaPos, unheard bool) identityCtx {
		return identityCtx{Named: true, Epoch: 3, SelfAddr: "c:6379", Fork: 28257, ForkReplID: "f525d929", NewReplID: "77c2d0e4",
			Replicas: func() []replicaPos { return replicas }, Unheard: func() bool { return unheard },
			Now: t0.Add(at), DownAfter: 2 * time.Second, DurableWait: 20 * time.Second}
	}
	var s identities // the sidecar restarted: no identity known
	s = nextIdentity(s, obs(0), ctx(0, nil, true))
	if s.Empty || s.Unsure.IsZero() {
		t.Fatalf("empty restart, b unheard: %+v, want not judged yet", s)
	}
	s = nextIdentity(s, obs(0), ctx(2500*time.Millisecond, nil, true))
	if s.Unsure.IsZero() || s.Ident.RunID == "c-2" {
		t.Fatalf("empty restart, b unheard for longer than down_after: %+v, want it still in question", s)
	}
	b := replicaPos{ReplID: "f525d929", Offset: 28257, Keys: 160}
	if s = nextIdentity(s, obs(0), ctx(2800*time.Millisecond, []replicaPos{b}, false)); !s.Empty {
		t.Fatalf("empty restart, b heard at the fork with 160 keys: %+v, want empty", s)
	}
	s = nextIdentity(identities{}, obs(0), ctx(0, nil, true))
	if s = nextIdentity(s, obs(0), ctx(21*time.Second, nil, true)); !s.Unsure.IsZero() || s.Ident.RunID != "c-2" {
		t.Fatalf("empty restart, b unheard past the durable wait: %+v, want it to stand", s)
	}
	s = nextIdentity(identities{}, obs(40), ctx(0, nil, true))
	if s = nextIdentity(s, obs(40), ctx(2500*time.Millisecond, nil, true)); !s.Unsure.IsZero() || s.Ident.RunID != "c-2" {
		t.Fatalf("restart with 40 keys, b unheard past down_after: %+v, want it to stand", s)
	}
}

// Chaos seed 13705 (N=3): every Redis had lost its data. c's sidecar,
// wiped, found its Redis, epoch 3's primary, back empty on a new history,
// with a's and b's Redis answering at offset 0 holding no key: nothing to
// compare, and it waited the durable wait (20 s) meant for a member out of
// reach that may hold the data; the group took no write for 20 s. With
// every other member's Redis answering empty the restart stands after
// down_after; while one is unheard, or holds a key, or its count is not
// known, it still waits.
func TestKeylessRestartStandsWhenNoMemberHoldsDataSeed13705(t *testing.T) {
	o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "c-2", ReplID: "2d0bf6df", Offset: 0, Keys: 0}
	replicas := []replicaPos{{ReplID: "a0a0a0a0", Offset: 0, Keys: 0}, {ReplID: "b0b0b0b0", Offset: 0, Keys: 0}}
	ctx := func(at time.Duration, none bool) identityCtx {
		return identityCtx{Named: true, Epoch: 3, SelfAddr: "c:6379", Fork: 41000, ForkReplID: "f1f1f1f1", NewReplID: "3c3c3c3c",
			Replicas: func() []replicaPos { return replicas }, Unheard: func() bool { return false },
			NoneHolds: func() bool { return none }, Now: t0.Add(at), DownAfter: 2 * time.Second, DurableWait: 20 * time.Second}
	}
	for _, tt := range []struct {
		name  string
		none  bool
		stand bool
	}{
		{"seed 13705: every other Redis answers empty", true, true},
		{"a member could still hold the data", false, false},
	} {
		s := nextIdentity(identities{}, o, ctx(0, tt.none))
		if s.Empty || s.Unsure.IsZero() {
			t.Fatalf("%s: %+v, want not judged yet", tt.name, s)
		}
		s = nextIdentity(s, o, ctx(2500*time.Millisecond, tt.none))
		if stood := s.Unsure.IsZero() && s.Ident.RunID == "c-2"; stood != tt.stand {
			t.Errorf("%s, past down_after: %+v, stands %v, want %v", tt.name, s, stood, tt.stand)
		}
	}

	st := groupState{Members: members("a", "b", "c")}
	empty := func(name string) peerView {
		pv := rep(name, 0)
		pv.Rep.Obs.Synced, pv.Rep.Obs.LinkUp = false, false
		return pv
	}
	for _, tt := range []struct {
		name string
		edit func(peers map[string]peerView)
		want bool
	}{
		{"every other Redis answers empty", func(map[string]peerView) {}, true},
		{"b holds a key", func(p map[string]peerView) { b := p["b"]; b.Rep.Obs.Keys = 1; p["b"] = b }, false},
		{"b's count not known", func(p map[string]peerView) { b := p["b"]; b.Rep.Obs.Keys = -1; p["b"] = b }, false},
		{"b's Redis does not answer", func(p map[string]peerView) { b := p["b"]; b.Rep.Obs.Reachable = false; p["b"] = b }, false},
		{"b's report is stale", func(p map[string]peerView) { b := p["b"]; b.Received = t0.Add(-2 * time.Second); p["b"] = b }, false},
		{"b never reported", func(p map[string]peerView) { delete(p, "b") }, false},
	} {
		peers := map[string]peerView{"a": empty("a"), "b": empty("b")}
		tt.edit(peers)
		if got := noneHolds("c", st, peers, t0, time.Second); got != tt.want {
			t.Errorf("noneHolds, %s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Chaos seed 11657 (N=5), c's sidecar, restarted with a wiped data dir:
// c's Redis, epoch 5's primary (promoted at 97417 on 12a23e8a, beginning
// c5c7bd62), came back from its AOF with 1506 keys and a retry-queue INCR;
// e's Redis full-synced it and a ping moved its offset to 14 before the
// sidecar first saw it. Taken to have come back at 14, a snapshot from
// below its promotion, it was called empty against b's and d's 1454 keys
// at 106035 on c5c7bd62, pointed at b and full-synced. A primary with no
// master_replid2 began its history at 0, wherever it is first seen.
func TestAOFRestartFirstSeenPastZeroSeed11657(t *testing.T) {
	replicas := func() []replicaPos {
		return []replicaPos{
			{ReplID: "c5c7bd62", ReplID2: "12a23e8a", Offset: 106035, Keys: 1454}, // b
			{ReplID: "c5c7bd62", ReplID2: "12a23e8a", Offset: 106035, Keys: 1454}, // d
			{ReplID: "3f9c8faa", Offset: 14, Keys: 1506},                          // e, synced from the restart
			{ReplID: "12a23e8a", Offset: 97823, Keys: 1327, Deposed: true},
		}
	}
	for _, tt := range []struct {
		name      string
		newReplID string // the history epoch 5's promotion began, if recorded
		replID2   string // master_replid2 of c's Redis
		empty     bool
	}{
		{"seed 11657: back from its AOF", "c5c7bd62", "", false},
		{"seed 11657, the promotion's history not recorded", "", "", false},
		{"back from a snapshot at 14 on the history it left", "c5c7bd62", "12a23e8a", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "c-2", ReplID: "3f9c8faa", ReplID2: tt.replID2, Offset: 14, Keys: 1506}
			in := identityCtx{Named: true, Epoch: 5, Fork: 97417, ForkReplID: "12a23e8a", NewReplID: tt.newReplID, SelfAddr: "c:6379",
				Replicas: replicas, Now: t0, DownAfter: 2 * time.Second}
			s := nextIdentity(identities{}, o, in)
			if s.Empty != tt.empty || !tt.empty && s.unsure() {
				t.Errorf("%+v, want empty %v, judged", s, tt.empty)
			}
		})
	}
}

// The local Redis's identity survives its promotion (chaos seed 101, five
// nodes: judged afresh after each promotion against replicas still on the
// old history with higher offsets, every new primary was called empty and
// the group failed over sixteen times in two seconds).
func TestNextIdentity(t *testing.T) {
	obs := func(role monitor.Role, runID, replID string, offset int64) monitor.Observation {
		return monitor.Observation{Time: t0, Role: role, RunID: runID, ReplID: replID, Offset: offset}
	}
	oldHistory := func() []replicaPos { return []replicaPos{{ReplID: "x", Offset: 150}} }
	var s identities
	s = nextIdentity(s, obs(monitor.RoleReplica, "r1", "x", 100), identityCtx{Epoch: 4, SelfAddr: "self:6379", Replicas: oldHistory, Now: t0, DownAfter: time.Second})
	s = nextIdentity(s, obs(monitor.RolePrimary, "r1", "y", 100), identityCtx{Named: true, Epoch: 5, SelfAddr: "self:6379", Replicas: oldHistory, Now: t0, DownAfter: time.Second})
	if s.Empty || !s.Unsure.IsZero() || s.Ident.ReplID != "y" {
		t.Fatalf("promoted replica: %+v, want its new identity, not empty", s)
	}
	// A restart of that primary with less than a replica holds is empty.
	s = nextIdentity(s, obs(monitor.RolePrimary, "r2", "z", 0), identityCtx{Named: true, Epoch: 5, SelfAddr: "self:6379", Replicas: oldHistory, Now: t0, DownAfter: time.Second})
	if !s.Empty || s.EmptyEpoch != 5 {
		t.Fatalf("restarted primary: %+v, want empty at epoch 5", s)
	}
	// The next epoch clears it.
	if s = nextIdentity(s, obs(monitor.RoleReplica, "r2", "w", 150), identityCtx{Epoch: 6, SelfAddr: "self:6379", Replicas: oldHistory, Now: t0, DownAfter: time.Second}); s.Empty {
		t.Fatalf("after the failover: %+v, want not empty", s)
	}
	// A primary this sidecar never saw is judged against the replicas.
	if s := nextIdentity(identities{}, obs(monitor.RolePrimary, "r3", "v", 0), identityCtx{Named: true, Epoch: 5, SelfAddr: "self:6379", Replicas: oldHistory, Now: t0, DownAfter: time.Second}); !s.Empty {
		t.Fatalf("a primary never seen, behind a replica: %+v, want empty", s)
	}
}

// A named Redis pointing at itself, seen by a sidecar that lost its
// memory, is judged like a restarted primary: it was detached as empty
// (chaos seed 11, N=3: taken for a known one and made a primary again, it
// wiped the replica that held every write).
func TestNextIdentityJudgesDetached(t *testing.T) {
	replicaAhead := func() []replicaPos { return []replicaPos{{ReplID: "new", Offset: 69420}} }
	detached := monitor.Observation{Time: t0, Role: monitor.RoleReplica, MasterHost: "self", MasterPort: 6379, RunID: "r2", ReplID: "h", Offset: 70}
	in := identityCtx{Named: true, Epoch: 5, Fork: 49332, SelfAddr: "self:6379", Replicas: replicaAhead, Now: t0, DownAfter: time.Second}
	if s := nextIdentity(identities{}, detached, in); !s.Empty || s.EmptyEpoch != 5 {
		t.Errorf("detached Redis behind its promotion, sidecar without memory: %+v, want empty", s)
	}
	// Following another node, it is a replica like any other.
	following := detached
	following.MasterHost = "b"
	if s := nextIdentity(identities{}, following, in); s.Empty || s.Ident.RunID != "r2" {
		t.Errorf("a replica of another node: %+v, want its identity recorded", s)
	}
	// Not named: an isolated replica detached itself; nothing to judge,
	// and nothing recorded (chaos seed 7312, TestNextIdentityDetachedWhileAnotherIsNamedSeed7312).
	in.Named = false
	if s := nextIdentity(identities{}, detached, in); s.Empty || s.Ident.RunID != "" {
		t.Errorf("detached, not named: %+v, want nothing recorded", s)
	}
	// Once the verdict was lifted by this sidecar, the same process stands.
	in.Named = true
	if s := nextIdentity(identities{Ident: identityOf(detached)}, detached, in); s.Empty || s.unsure() {
		t.Errorf("known detached Redis: %+v, want it to stand", s)
	}
	// Seen before the state is known (a wiped sidecar, before the Raft log
	// reached it), it is not recorded, and judged once the state names it
	// (chaos seed 2505, N=3: recorded, it was taken for the known process
	// and made a primary again).
	s := nextIdentity(identities{}, detached, identityCtx{SelfAddr: "self:6379", Replicas: replicaAhead, Now: t0, DownAfter: time.Second})
	if s.Ident.RunID != "" {
		t.Errorf("detached Redis before the state is known: %+v, want nothing recorded", s)
	}
	if s = nextIdentity(s, detached, in); !s.Empty || s.EmptyEpoch != 5 {
		t.Errorf("then named at epoch 5: %+v, want empty", s)
	}
}

// A Redis pointing at itself is recorded only once seen following a
// primary or judged while named: under a state naming another node it is
// not vouched for. Chaos seed 7312 (N=3): c's sidecar, restarted wiped,
// pointed its Redis (back empty without persistence, offset 0 on
// c4c96ae1) at itself while cut off; the Raft log reached it in two
// steps, and an observation under the first (epoch 3, naming b) recorded
// it, so under the second (epoch 4, naming c, promoted) it was the known
// process and was made a primary again unjudged; a's Redis, pointing at
// itself at 75763 on epoch 4's history 6b7014ee with 40 WAIT-confirmed
// retry-queue INCRs, was re-pointed to it and full-synced 0 keys.
func TestNextIdentityDetachedWhileAnotherIsNamedSeed7312(t *testing.T) {
	a := func() []replicaPos { return []replicaPos{{ReplID: "6b7014ee", Offset: 75763, Keys: 700}} }
	empty := monitor.Observation{Time: t0, Role: monitor.RoleReplica, MasterHost: "127.0.0.4", MasterPort: 6379, RunID: "c-new", ReplID: "c4c96ae1", Offset: 0, Keys: 0}
	underB := identityCtx{Named: false, Epoch: 3, SelfAddr: "127.0.0.4:6379", Replicas: a, Now: t0, DownAfter: 2 * time.Second}
	namedC := identityCtx{Named: true, Epoch: 4, Fork: 55091, ForkReplID: "81568a59", NewReplID: "6b7014ee", SelfAddr: "127.0.0.4:6379", Replicas: a,
		Now: t0.Add(50 * time.Millisecond), DownAfter: 2 * time.Second}
	s := nextIdentity(identities{}, empty, underB)
	if s.Ident.RunID != "" || s.Empty {
		t.Fatalf("pointing at itself under epoch 3 naming b: %+v, want nothing recorded", s)
	}
	if !s.unsure() {
		t.Fatalf("not yet judged: %+v, want unsure (no Undetach before the judgement)", s)
	}
	if s = nextIdentity(s, empty, namedC); !s.Empty || s.EmptyEpoch != 4 {
		t.Fatalf("then named at epoch 4, a's Redis at 75763 on 6b7014ee: %+v, want empty", s)
	}

	// A process this sidecar saw following a primary, then detached while
	// another was named, is still the known one once named.
	synced := empty
	synced.MasterHost, synced.RunID, synced.ReplID, synced.Offset, synced.Keys = "127.0.0.2", "c-old", "6b7014ee", 75763, 700
	s = nextIdentity(identities{}, synced, underB)
	detachedSynced := synced
	detachedSynced.MasterHost = "127.0.0.4"
	s = nextIdentity(s, detachedSynced, underB)
	if s.Ident.RunID != "c-old" {
		t.Fatalf("a synced replica detached under epoch 3: %+v, want its identity kept", s)
	}
	if s = nextIdentity(s, detachedSynced, namedC); s.Empty || s.unsure() {
		t.Fatalf("the same process named at epoch 4: %+v, want it to stand", s)
	}
}

// A Redis answering as a primary while another node is named is
// recorded only when it is the process this sidecar already knows (the
// same run id: a deposed primary, or a replica it saw promoted): a new
// process seen then was never judged, and the state may name this node a
// moment later (TestNextIdentityPrimaryWhileAnotherIsNamedSeed11706).
func TestNextIdentityPrimaryWhileAnotherIsNamed(t *testing.T) {
	ahead := func() []replicaPos { return []replicaPos{{ReplID: "h9", Offset: 5000}} }
	underA := identityCtx{Named: false, Epoch: 8, SelfAddr: "self:6379", Replicas: ahead, Now: t0, DownAfter: time.Second}
	named := identityCtx{Named: true, Epoch: 9, Fork: 4000, ForkReplID: "h8", NewReplID: "h9", SelfAddr: "self:6379", Replicas: ahead,
		Now: t0.Add(100 * time.Millisecond), DownAfter: time.Second}
	primary := func(runID, replID string, offset int64) monitor.Observation {
		return monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: runID, ReplID: replID, Offset: offset, Keys: 10}
	}
	replica := monitor.Observation{Time: t0, Role: monitor.RoleReplica, MasterHost: "a", MasterPort: 6379, RunID: "r1", ReplID: "h8", Offset: 3900, Keys: 10}
	for _, tt := range []struct {
		name      string
		prev      identities
		o         monitor.Observation
		wantIdent string // run id recorded under epoch 8
	}{
		{"a process never seen, by a sidecar without memory", identities{}, primary("r2", "h2", 3000), ""},
		{"a new process in place of the known one", identities{Ident: identityOf(replica)}, primary("r2", "h2", 3000), "r1"},
		{"the known process, a primary again (deposed, or promoted earlier)", identities{Ident: identityOf(replica)}, primary("r1", "h7", 3950), "r1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := nextIdentity(tt.prev, tt.o, underA)
			if s.Ident.RunID != tt.wantIdent || s.Empty || !s.Unsure.IsZero() {
				t.Fatalf("under epoch 8 naming another node: %+v, want run id %q recorded, nothing else", s, tt.wantIdent)
			}
			s = nextIdentity(s, tt.o, named)
			switch tt.o.RunID {
			case tt.wantIdent:
				// The known process stands unjudged, as before.
				if s.Empty || s.unsure() || s.Ident.RunID != tt.o.RunID {
					t.Fatalf("the known process named at epoch 9: %+v, want it to stand", s)
				}
			default:
				// Judged: behind its promotion at 4000, and a replica at
				// 5000 on the history the promotion began.
				if !s.Empty || s.EmptyEpoch != 9 {
					t.Fatalf("the new process named at epoch 9: %+v, want empty", s)
				}
			}
		})
	}
}

// Chaos seed 11706 (N=3) on a63104e, the run that lost 17 retry-queue
// INCRs and 566 acknowledged writes; seconds since the run's start at
// 00:56:28.458. Epoch 9 promoted b at 104319 on 35be53df (epoch 8's
// history), beginning 584c7542, at 51.27 s; c's Redis followed it to
// 117819. b's sidecar was restarted with a wiped data dir while cut off
// (54.2 s to 63.1 s) and cut from its own Redis (55.3 s to 64.3 s); b's
// Redis was killed without persistence at 57.4 s and came back at 60.6 s
// from a 22 s old RDB: 941 keys at 60228 on dff1999d (78edac56 before it,
// up to 59547). a's and c's sidecars paused it ("restarted since its
// sidecar last judged it", judged_history 584c7542, 63.75 s); c's Redis
// was parked pointing at itself at 117819 on 584c7542.
//
// b's sidecar, back in the group, saw its Redis at 64.31 s before any
// state (nothing recorded); the Raft log reached it in two steps, and an
// observation under the first (a state naming a, "new primary ... previous
// a" at 64.36 s) recorded the stale process as the known one, since a
// primary seen while another is named was recorded whatever its run id.
// Under the second (epoch 9, naming b, promoted) it was that known
// process: never judged, not unsure, its sidecar waited for a replica's
// acknowledgement (64.39 s) and vouched for it. c's sidecar, which had
// refused a full sync at 64.39 s ("vouched for: \"\""), re-pointed c's
// Redis to it at 64.96 s with the vouched history dff1999d, and c's Redis
// full-synced 941 keys ("Full resync from master: dff1999d:60228"); a's
// did the same, and b released writes at 65.87 s. Epoch 9's history
// 584c7542 beyond 60228, with every write since 41 s, was gone.
//
// Not recorded under the state naming a, the process is judged once the
// state names b: behind its promotion's fork, and behind c on the history
// the promotion began, it is empty; its sidecar holds writes and points
// it at itself, and its report keeps the others from syncing from it.
func TestNextIdentityPrimaryWhileAnotherIsNamedSeed11706(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 64.3) * float64(time.Second))) }
	pastForks := []pastFork{
		{Epoch: 6, New: "a", ReplID: "18a4e795", Offset: 59547, NewReplID: "99c2b347"},
		{Epoch: 7, New: "c", ReplID: "99c2b347", Offset: 59547, NewReplID: "78edac56"},
		{Epoch: 8, New: "a", ReplID: "78edac56", Offset: 102131, NewReplID: "35be53df"},
	}
	// What b's sidecar heard at 64.3 s: c's Redis parked at 117819 on
	// 584c7542, a's a deposed primary back from its AOF at 0.
	replicas := func() []replicaPos {
		return []replicaPos{{ReplID: "584c7542", Offset: 117819}, {ReplID: "5cd33a20", Offset: 0, Keys: 941, Deposed: true}}
	}
	stale := func(s float64) monitor.Observation {
		return monitor.Observation{Time: at(s), Role: monitor.RolePrimary, RunID: "b-stale", ReplID: "dff1999d", ReplID2: "78edac56",
			Offset: 60228, Keys: 941}
	}
	before := identityCtx{SelfAddr: "b:6379", Replicas: replicas, Now: at(64.31), DownAfter: p.DownAfter}
	underA := identityCtx{Named: false, Epoch: 8, Fork: 102131, ForkReplID: "78edac56", NewReplID: "35be53df", PastForks: pastForks[:2],
		SelfAddr: "b:6379", Replicas: replicas, Now: at(64.35), DownAfter: p.DownAfter}
	namedB := identityCtx{Named: true, Epoch: 9, Fork: 104319, ForkReplID: "35be53df", NewReplID: "584c7542", PastForks: pastForks,
		SelfAddr: "b:6379", Replicas: replicas, Now: at(64.38), DownAfter: p.DownAfter}

	s := nextIdentity(identities{}, stale(64.31), before)
	if s.Ident.RunID != "" {
		t.Fatalf("before the state is known: %+v, want nothing recorded", s)
	}
	s = nextIdentity(s, stale(64.34), underA)
	if s.Ident.RunID != "" || s.Empty || !s.unsure() {
		t.Errorf("a primary under the state naming a: %+v, want nothing recorded (not judged)", s)
	}
	s = nextIdentity(s, stale(64.37), namedB)
	if !s.Empty || s.EmptyEpoch != 9 {
		t.Errorf("named at epoch 9, c at 117819 on 584c7542: %+v, want empty", s)
	}

	// b's sidecar: writes stay paused, its Redis points at itself (no
	// replica is synced to demote it to).
	st := groupState{Epoch: 9, Primary: "b", Previous: "a", Promoted: true, Started: at(51.27),
		Members: members("a", "b", "c"), Fork: 104319, ForkReplID: "35be53df", PastForks: pastForks}
	in := localInput{Now: at(64.39), Self: "b", State: st, Ready: true, LastContact: at(64.39), Started: at(54.47), P: p,
		Obs:         localObs{Reachable: true, Role: monitor.RolePrimary, Time: at(64.37), ReplID: "dff1999d", Offset: 60228},
		PrimaryAddr: "b:6379", SelfAddr: "b:6379", Fenced: true, Empty: s.Empty, Unsure: s.unsure()}
	if got, want := decideLocal(in), (localPlan{Fence: true, Detach: true}); got != want {
		t.Errorf("b's sidecar: plan %+v, want %+v", got, want)
	}
	// a's and c's sidecars: b's report says empty, so neither demotes nor
	// re-points to it.
	b := rep("b", 60228)
	b.Received, b.Rep.Epoch, b.Rep.Empty, b.Rep.Unsure = at(64.39), 9, s.Empty, s.unsure()
	b.Rep.Obs.Role, b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced, b.Rep.Obs.ReplID = monitor.RolePrimary, "", false, false, "dff1999d"
	if !syncSourceDoubtful(st, map[string]peerView{"b": b}, at(64.39), p.Fresh) {
		t.Errorf("b's report %+v: want it doubtful as a sync source", b.Rep)
	}
}

// An empty verdict stands while a synced replica could replace the
// primary; with none, the primary's data stands after emptyLift (chaos
// seed 1, N=3: every Redis had restarted without persistence and the group
// stayed without a primary).
func TestNextIdentityLiftsEmptyWhenAlone(t *testing.T) {
	const downAfter = time.Second
	before := func() []replicaPos { return nil }
	// Restarted from a snapshot taken before its promotion at 5000 (on
	// history g, which Redis 7.0 keeps as master_replid2).
	s := nextIdentity(identities{}, monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "r2", ReplID: "h", ReplID2: "g", Offset: 3000}, identityCtx{Named: true, Epoch: 5, Fork: 5000, SelfAddr: "self:6379", Replicas: before, LiftAfter: time.Second, Now: t0, DownAfter: downAfter})
	if !s.Empty {
		t.Fatalf("%+v, want empty", s)
	}
	detached := monitor.Observation{Time: t0, Role: monitor.RoleReplica, MasterHost: "self", MasterPort: 6379, RunID: "r2", ReplID: "h", Offset: 3000}
	for _, tt := range []struct {
		name  string
		lift  time.Duration
		after time.Duration
		empty bool
	}{
		{"a synced replica could replace it", 0, time.Hour, true},
		{"before the lift", time.Second, time.Second - time.Millisecond, true},
		{"at the lift", time.Second, time.Second, false},
	} {
		got := nextIdentity(s, detached, identityCtx{Named: true, Epoch: 5, Fork: 5000, SelfAddr: "self:6379", Replicas: before, LiftAfter: tt.lift, Now: t0.Add(tt.after), DownAfter: downAfter})
		if got.Empty != tt.empty || got.Lifted == tt.empty {
			t.Errorf("%s: %+v, want empty %v", tt.name, got, tt.empty)
		}
	}
	// The wait counts from the last observation at which a member could
	// replace it, not from the verdict (chaos seed 12296, N=3: a richer
	// Redis heard until 2.7 s before the wait from the verdict ran out).
	heard := nextIdentity(s, detached, identityCtx{Named: true, Epoch: 5, Fork: 5000, SelfAddr: "self:6379", Replicas: before, LiftAfter: 0, Now: t0.Add(900 * time.Millisecond), DownAfter: downAfter})
	for _, tt := range []struct {
		after time.Duration
		empty bool
	}{{time.Second, true}, {1900*time.Millisecond - time.Millisecond, true}, {1900 * time.Millisecond, false}} {
		got := nextIdentity(heard, detached, identityCtx{Named: true, Epoch: 5, Fork: 5000, SelfAddr: "self:6379", Replicas: before, LiftAfter: time.Second, Now: t0.Add(tt.after), DownAfter: downAfter})
		if got.Empty != tt.empty {
			t.Errorf("a richer member heard at 0.9 s, lift after 1 s, at %v: empty %v, want %v", tt.after, got.Empty, tt.empty)
		}
	}
	p := testParams()
	for _, tt := range []struct {
		name                      string
		promoted, synced, allHere bool
		want                      time.Duration
	}{
		{"not promoted", false, false, true, 0},
		{"a synced replica", true, true, true, 0},
		{"everyone answers, nobody synced", true, false, true, p.DownAfter},
		{"someone out of reach", true, false, false, durableWait(p)},
	} {
		if got := emptyLift(tt.promoted, tt.synced, tt.allHere, p); got != tt.want {
			t.Errorf("emptyLift, %s: %v, want %v", tt.name, got, tt.want)
		}
	}
	st := groupState{Members: members("a", "b", "c")}
	peers := map[string]peerView{"b": rep("b", 1), "c": rep("c", 1)}
	if all, richer := membersAnswer("a", st, peers, 0, t0, time.Second); !all || richer {
		t.Errorf("membersAnswer: all %v richer %v, want every member answering, none richer", all, richer)
	}
	withKeys := peers["c"]
	withKeys.Rep.Obs.Keys = 10
	peers["c"] = withKeys
	if _, richer := membersAnswer("a", st, peers, 0, t0, time.Second); !richer {
		t.Error("membersAnswer: c holds keys the empty primary lacks")
	}
	if _, richer := membersAnswer("a", st, peers, -1, t0, time.Second); richer {
		t.Error("membersAnswer: richer with the local count unknown")
	}
	delete(peers, "c")
	if all, _ := membersAnswer("a", st, peers, 0, t0, time.Second); all {
		t.Error("membersAnswer: c never reported")
	}
}

// With no synced replica, a replica whose Redis holds keys at a position
// it cannot prove (restarted from its AOF) replaces an empty primary, the
// one with the most keys first, while every member answers (chaos seed 4,
// N=3: the only Redis with the writes had restarted from its AOF and was
// wiped; seed 12: a Redis with a few keys was chosen over nodes out of
// reach).
func TestHoldersReplaceAnEmptyPrimary(t *testing.T) {
	st := groupState{Epoch: 3, Primary: "a", Promoted: true, Started: t0.Add(-time.Minute), Members: members("a", "b", "c")}
	empty := rep("a", 0)
	empty.Rep.Obs.Role = monitor.RolePrimary
	empty.Rep.SDownPrimary, empty.Rep.SDownEpoch, empty.Rep.Empty = "a", 3, true
	unsynced := func(name string, keys, known int64) peerView {
		pv := rep(name, 0)
		pv.Rep.Obs.Synced, pv.Rep.Obs.LinkUp, pv.Rep.Obs.Keys, pv.Rep.Obs.ReplID = false, false, keys, name+"-aof"
		pv.Known = knownOffset{Epoch: 3, Offset: known, At: t0.Add(-time.Second)}
		return pv
	}
	for _, tt := range []struct {
		name        string
		b, c        peerView
		minReplicas int
		want        string
	}{
		{"the AOF holder", unsynced("b", 0, 0), unsynced("c", 900, 5000), 1, "c"},
		{"the most keys", unsynced("b", 900, 4000), unsynced("c", 950, 3000), 1, "c"},
		{"equal keys: the one known furthest", unsynced("b", 900, 4000), unsynced("c", 900, 5000), 1, "c"},
		{"a member out of reach may hold more: nobody", func() peerView { pv := unsynced("b", 0, 0); pv.Received = t0.Add(-time.Minute); return pv }(), unsynced("c", 900, 5000), 1, ""},
		{"without min_replicas too", unsynced("b", 0, 0), unsynced("c", 900, 5000), 0, "c"},
		{"no keys anywhere: nobody", unsynced("b", 0, 0), unsynced("c", 0, 5000), 1, ""},
		{"a synced replica goes first", rep("b", 100), unsynced("c", 900, 5000), 0, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			p.MinReplicas = tt.minReplicas
			d := decideLeader(t0, st, map[string]peerView{"a": empty, "b": tt.b, "c": tt.c}, p, "")
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) {
				t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot)
			}
			if d.Holder != (tt.want == "c") {
				t.Errorf("holder %v", d.Holder)
			}
			if d.Holder && (d.ChosenReplID != "" || d.ChosenOffset != 0) {
				// A holder has no position it can prove: nothing to check.
				t.Errorf("holder chosen at %d on %q, want no position", d.ChosenOffset, d.ChosenReplID)
			}
			// Its keys are committed instead (chaos seed 8330).
			if want := map[bool]int64{true: tt.c.Rep.Obs.Keys}[d.Holder]; d.ChosenKeys != want {
				t.Errorf("chosen keys %d, want %d", d.ChosenKeys, want)
			}
		})
	}
}

// A promoted primary whose own sidecar reports its Redis a replica for
// down_after is replaced, without waiting for the fork floor (chaos seed
// 101: the Redis had come back empty and followed a replica; its sidecar,
// restarted with an empty data dir, could not promote it again and the
// group stayed without a writable primary). Its sidecar never promotes it
// again by itself.
func TestPrimaryReportingReplicaIsReplaced(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Started: t0.Add(-time.Minute), Members: members("p", "a", "b"), Fork: 5000}
	self := down(rep("p", 0), "p", 4) // its Redis follows a after an empty restart
	self.UpAt = t0
	self.Rep.Obs.MasterAddr = "a:6379"
	peers := map[string]peerView{"p": self, "a": rep("a", 3000), "b": rep("b", 2000)}
	d := decideLeader(t0, st, peers, p, "")
	if !d.NotPrimary || d.Action != leaderPromote || d.Target != "a" {
		t.Fatalf("decision %+v, want a failover to a", d)
	}
	// The same report without its SDOWN (not yet down_after): no failover.
	self.Rep.SDown = false
	peers["p"] = self
	if d := decideLeader(t0, st, peers, p, ""); d.NotPrimary || d.Action == leaderPromote {
		t.Fatalf("decision %+v before down_after, want none", d)
	}
	in := localInput{Now: t0, Self: "p", State: st, Ready: true, LastContact: t0, P: p,
		Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "a:6379", Time: t0}}
	if got := decideLocal(in); got.Promote {
		t.Errorf("plan %+v: promoted again a Redis that follows another", got)
	}
}

// A primary whose Redis answers as a replica, in a loop with the only
// other replicas (each follows the other, none synced), is re-promoted: it
// is the one candidate (chaos seed 13, N=3).
func TestPrimaryReportingReplicaCandidate(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 6, Primary: "c", Promoted: true, Started: t0.Add(-time.Minute), Members: members("a", "b", "c")}
	self := down(rep("c", 128288), "c", 6) // restarted from a config that follows a
	self.UpAt = t0
	self.Rep.Obs.MasterAddr, self.Rep.Obs.LinkUp = "a:6379", false
	loop := rep("a", 56136)
	loop.Rep.Obs.MasterAddr, loop.Rep.Obs.LinkUp, loop.Rep.Obs.Synced = "c:6379", false, false
	stale := rep("b", 81514)
	stale.Rep.Obs.MasterAddr, stale.Rep.Obs.LinkUp, stale.Rep.Obs.Synced = "c:6379", false, false
	d := decideLeader(t0, st, map[string]peerView{"c": self, "a": loop, "b": stale}, p, "")
	if !d.NotPrimary || d.Action != leaderPromote || d.Target != "c" {
		t.Fatalf("decision %+v, want c promoted again", d)
	}
}

// Chaos seed 702 (N=3), after the last heal (65.8 s). Epoch 3 names b,
// promoted at 14.6 s; every write was lost by 16 s (a, c and b killed
// without persistence or with the AOF wiped). b's Redis, killed again,
// came back following a (its command line), link down, 0 keys; a's and
// c's point at themselves (detached while cut off), 0 keys. No Redis is a
// primary, so none is ever synced, and none holds keys: the leader has no
// candidate and no holder, and writes never came back. b's sidecar makes
// its Redis a primary again: nothing is held anywhere to lose.
func TestNamedPrimaryRestartedAsReplicaOfAnEmptyGroup(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	st := groupState{Epoch: 3, Primary: "b", Promoted: true, Started: t0.Add(-51 * time.Second), Previous: "c",
		Members: members("a", "b", "c"), Fork: 45345, ForkReplID: "H2",
		PastForks: []pastFork{{Epoch: 2, New: "c", ReplID: "H1", Offset: 27620, Start: t0.Add(-56 * time.Second)}}}
	empty := func(name, master string, offset int64) peerView {
		pv := rep(name, offset)
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.LinkUp, pv.Rep.Obs.Synced, pv.Rep.Obs.Keys = master, false, false, 0
		pv.Rep.Obs.ReplID = "R" + name
		return pv
	}
	mk := func() map[string]peerView {
		return map[string]peerView{
			"a": down(empty("a", "a:6379", 0), "b", 3),
			"b": down(empty("b", "a:6379", 1), "b", 3), // its own SDOWN: its Redis answers as a replica
			"c": down(empty("c", "c:6379", 1), "b", 3),
		}
	}

	// The leader: ODOWN, but nobody to promote.
	d := decideLeader(t0, st, mk(), p, "")
	if !d.ODown || !d.NotPrimary || d.Action == leaderPromote {
		t.Fatalf("leader: odown %v not-primary %v action %v target %q, want no candidate", d.ODown, d.NotPrimary, d.Action, d.Target)
	}
	for _, n := range []string{"a", "b", "c"} {
		if d.Excluded[n] != whyNotSynced {
			t.Fatalf("leader: excluded %v, want all not synced", d.Excluded)
		}
	}

	// b's sidecar.
	in := localInput{Now: t0, Self: "b", State: st, Ready: true, LastContact: t0, P: p, SelfAddr: "b:6379",
		Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "a:6379", Time: t0, ReplID: "Rb", Offset: 1}}
	for _, tt := range []struct {
		name     string
		change   func(in *localInput, peers map[string]peerView)
		undetach bool
	}{
		{"every other Redis empty (seed 702)", func(*localInput, map[string]peerView) {}, true},
		{"another Redis holds keys: the leader's holder", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Keys = 900
			ps["c"] = c
		}, false},
		{"keys unknown", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Keys = -1
			ps["c"] = c
		}, false},
		{"another Redis is a primary", func(_ *localInput, ps map[string]peerView) {
			a := ps["a"]
			a.Rep.Obs.Role, a.Rep.Obs.MasterAddr = monitor.RolePrimary, ""
			ps["a"] = a
		}, false},
		{"a member's report is stale: it may come back with data", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Received = t0.Add(-time.Second)
			ps["c"] = c
		}, false},
		{"a member's Redis does not answer", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Reachable = false
			ps["c"] = c
		}, false},
		{"a member never reported", func(_ *localInput, ps map[string]peerView) { delete(ps, "c") }, false},
		{"isolated: the state may be stale", func(in *localInput, _ map[string]peerView) { in.LastContact = t0.Add(-2 * time.Second) }, false},
		{"not named", func(in *localInput, _ map[string]peerView) { in.State.Primary = "c" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := in
			peers := mk()
			tt.change(&in, peers)
			in.Peers = peers
			if got := decideLocal(in); got.Undetach != tt.undetach || got.Promote || got.RepointTo != "" || got.DemoteTo != "" {
				t.Fatalf("plan %+v, want undetach %v and nothing else", got, tt.undetach)
			}
		})
	}
}

// Chaos seed 3706 (N=3), after the last heal (65.8 s). Epoch 4 named b
// (41.6 s), never promoted: its Redis was wiped at 48.9 s and came back
// empty, so its promotion was refused (unpromotable) at 52.9 s and, after
// its sidecar's wiped restart, at 60.4 s. Every write was lost by 53.9 s
// (a's Redis killed without persistence at 40.8 s, c's at 53.9 s); a's and
// c's Redis point at themselves, 0 keys. No Redis is a primary, so none is
// ever synced, and none holds keys: the leader, excluding b as reported
// empty, has no candidate and no holder, and neither writes nor retry-queue
// INCRs came back (94 items still queued 45 s after the drain began). b's
// sidecar promotes its Redis anyway: nothing is held anywhere to lose.
func TestRefusedPromotionGoesAheadInAnEmptyGroupSeed3706(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	st := groupState{Epoch: 4, Primary: "b", Started: t0.Add(-25 * time.Second), Previous: "a",
		Members: members("a", "b", "c"), Fork: 81107, ForkReplID: "H1",
		PastForks: []pastFork{{Epoch: 2, New: "b", ReplID: "H1", Offset: 80860, Start: t0.Add(-45 * time.Second)},
			{Epoch: 3, New: "a", ReplID: "H1", Offset: 81107, Start: t0.Add(-30 * time.Second)}}}
	empty := func(name string) peerView {
		pv := rep(name, 0)
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.LinkUp, pv.Rep.Obs.Synced, pv.Rep.Obs.Keys = name+":6379", false, false, 0
		pv.Rep.Obs.ReplID = "R" + name
		return pv
	}
	mk := func() map[string]peerView {
		b := down(empty("b"), "b", 4)
		b.Rep.Empty = true // its promotion refused
		return map[string]peerView{"a": down(empty("a"), "b", 4), "b": b, "c": down(empty("c"), "b", 4)}
	}

	// The leader a: b reported empty, but nobody to promote.
	d := decideLeader(t0, st, mk(), p, "")
	if !d.Empty || d.Action == leaderPromote {
		t.Fatalf("leader: empty %v action %v target %q, want no candidate", d.Empty, d.Action, d.Target)
	}
	for _, n := range []string{"a", "c"} {
		if d.Excluded[n] != whyNotSynced {
			t.Fatalf("leader: excluded %v, want a and c not synced", d.Excluded)
		}
	}

	// b's sidecar: its Redis points at itself (detached as empty).
	in := localInput{Now: t0, Self: "b", State: st, Ready: true, LastContact: t0, Started: t0.Add(-7 * time.Second), P: p,
		SelfAddr: "b:6379", Empty: true,
		Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", Time: t0, ReplID: "Rb"}}
	for _, tt := range []struct {
		name   string
		change func(in *localInput, peers map[string]peerView)
		want   localPlan
	}{
		{"every other Redis empty (seed 3706)", func(*localInput, map[string]peerView) {}, localPlan{Promote: true, Alone: true}},
		{"another Redis holds keys: the leader's holder", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Keys = 900
			ps["c"] = c
		}, localPlan{}},
		{"keys unknown", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Keys = -1
			ps["c"] = c
		}, localPlan{}},
		{"another Redis is a primary", func(_ *localInput, ps map[string]peerView) {
			a := ps["a"]
			a.Rep.Obs.Role, a.Rep.Obs.MasterAddr = monitor.RolePrimary, ""
			ps["a"] = a
		}, localPlan{}},
		{"a member's report is stale: it may come back with data", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Received = t0.Add(-time.Second)
			ps["c"] = c
		}, localPlan{}},
		{"a member's Redis does not answer (c's, killed at 53.9 s, at the refusal of 60.4 s)", func(_ *localInput, ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Reachable = false
			ps["c"] = c
		}, localPlan{}},
		{"a member never reported", func(_ *localInput, ps map[string]peerView) { delete(ps, "c") }, localPlan{}},
		{"isolated: the state may be stale", func(in *localInput, _ map[string]peerView) { in.LastContact = t0.Add(-2 * time.Second) },
			localPlan{Isolated: true}},
		{"not refused: the ordinary promotion with its checks", func(in *localInput, _ map[string]peerView) { in.Empty = false },
			localPlan{Promote: true}},
		{"not named", func(in *localInput, _ map[string]peerView) { in.State.Primary = "c"; in.PrimaryAddr = "c:6379" },
			localPlan{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := in
			peers := mk()
			tt.change(&in, peers)
			in.Peers = peers
			if diff := cmp.Diff(decideLocal(in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// The primary's last offset measures lag only for replicas on its history
// (chaos seed 5: replicas that had all restarted onto other histories were
// "lagging" behind it and a healthy majority waited for the primary).
func TestLagOnlyOnThePrimarysHistory(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "a", "b")}
	primary := down(peerView{Received: t0, Rep: report{Name: "p", Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "x", Offset: 10000}}}, "p", 4)
	on := func(name, replID string, offset int64) peerView {
		pv := down(rep(name, offset), "p", 4)
		pv.Rep.Obs.ReplID = replID
		return pv
	}
	d := decideLeader(t0, st, map[string]peerView{"p": primary, "a": on("a", "y", 50), "b": on("b", "z", 0)}, testParams(), "")
	if d.Action != leaderPromote || d.Target != "a" {
		t.Fatalf("replicas on other histories: %+v, want a promoted", d)
	}
	d = decideLeader(t0, st, map[string]peerView{"p": primary, "a": on("a", "x", 50)}, testParams(), "")
	if d.Action == leaderPromote || d.Excluded["a"] != whyLagging {
		t.Fatalf("a replica 9950 bytes behind on the primary's history: %+v, want it lagging", d)
	}
}

// Nothing is demoted or re-pointed to a primary whose own sidecar says its
// Redis came back empty or is not judged yet (chaos seed 10: a former
// primary holding every write in its AOF synced from the new primary that
// had just restarted empty).
func TestSyncSourceDoubtful(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "p", Promoted: true, Members: members("p", "a")}
	primary := func(mod func(*report), received time.Time) map[string]peerView {
		pv := peerView{Received: received, Rep: report{Name: "p", Obs: obsSummary{Reachable: true, Role: monitor.RolePrimary}}}
		mod(&pv.Rep)
		return map[string]peerView{"p": pv}
	}
	for _, tt := range []struct {
		name  string
		peers map[string]peerView
		want  bool
	}{
		{"judged, fine", primary(func(*report) {}, t0), false},
		{"came back empty", primary(func(r *report) { r.Empty = true }, t0), true},
		{"not judged yet", primary(func(r *report) { r.Unsure = true }, t0), true},
		{"only a stale report says so", primary(func(r *report) { r.Unsure = true }, t0.Add(-time.Minute)), false},
		{"its sidecar never reported", nil, false},
	} {
		if got := syncSourceDoubtful(st, tt.peers, t0, time.Second); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// Nobody vouches for it as a primary, and only a partial resync
	// follows it (chaos seeds 10, 19, N=3).
	for _, tt := range []struct {
		name  string
		peers map[string]peerView
		want  bool
	}{
		{"a primary in a fresh report", primary(func(*report) {}, t0), false},
		{"a stale report", primary(func(*report) {}, t0.Add(-time.Minute)), true},
		{"no report", nil, true},
		{"its Redis answers as a replica", primary(func(r *report) { r.Obs.Role = monitor.RoleReplica }, t0), true},
		{"its Redis does not answer", primary(func(r *report) { r.Obs.Reachable = false }, t0), true},
	} {
		if got := sourceUnvouched(st, tt.peers, t0, time.Second); got != tt.want {
			t.Errorf("sourceUnvouched, %s: %v, want %v", tt.name, got, tt.want)
		}
		// The history vouched for, which a full sync may follow (chaos
		// seed 2505): none where nobody vouches.
		for _, pv := range tt.peers {
			pv.Rep.Obs.ReplID = "h"
			tt.peers[pv.Rep.Name] = pv
		}
		if got, want := vouchedHistory(st, tt.peers, t0, time.Second), map[bool]string{false: "h"}[tt.want]; got != want {
			t.Errorf("vouchedHistory, %s: %q, want %q", tt.name, got, want)
		}
	}
}

// Chaos seed 417 (N=5): epoch 4's named primary d never promoted; e, parked
// exactly at epoch 3's fork, waits for c (pastForkHeld), d is below c's
// durable floor, c (the epoch-3 primary, restarted from its AOF) and b (the
// deposed epoch-2 primary) answer as primaries with the writes. The
// moment every member answered, the holder fallback promoted a, a replica
// pointing at itself on the history epoch 2 left, with 502 keys against
// 741+, and every copy of epoch 2's writes full-synced from it.
func TestHolderDoesNotCutShortADurableWait(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 4, Primary: "d", Promoted: false, Started: t0.Add(-3 * time.Second), Previous: "c",
		Members: members("a", "b", "c", "d", "e"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "H1", Offset: 28286, Start: t0.Add(-15 * time.Second)},
			{Epoch: 3, New: "c", ReplID: "H2", Offset: 51326, Start: t0.Add(-5 * time.Second)},
		}}
	mk := func(at time.Time) map[string]peerView {
		holder := rep("a", 32286)
		holder.Rep.Obs.Synced, holder.Rep.Obs.LinkUp, holder.Rep.Obs.Keys, holder.Rep.Obs.ReplID = false, false, 502, "H1"
		old := rep("b", 56798)
		old.Rep.Obs.Role, old.Rep.Obs.ReplID, old.Rep.Obs.Keys = monitor.RolePrimary, "H2", 760
		aof := rep("c", 0)
		aof.Rep.Obs.Role, aof.Rep.Obs.ReplID, aof.Rep.Obs.Keys = monitor.RolePrimary, "C", 741
		aof.Known = knownOffset{Epoch: 3, Offset: 51326, At: t0.Add(-5 * time.Second)}
		named := rep("d", 40)
		named.Rep.Obs.ReplID, named.Rep.Obs.Keys = "C", 741
		parked := rep("e", 51326)
		parked.Rep.Obs.ReplID, parked.Rep.Obs.Keys = "H2", 741
		peers := map[string]peerView{"a": holder, "b": old, "c": aof, "d": named, "e": parked}
		for n, pv := range peers {
			pv.Received = at
			peers[n] = pv
		}
		return peers
	}
	d := decideLeader(t0, st, mk(t0), p, "")
	if d.Action == leaderPromote || d.WaitFor != "c" || d.Excluded["e"] != whyBeforeFork {
		t.Fatalf("target %q holder %v action %v wait for %q excluded %v, want a wait for c", d.Target, d.Holder, d.Action, d.WaitFor, d.Excluded)
	}
	// The wait lapses: e, holding epoch 2's and 3's writes, goes.
	late := t0.Add(durableWait(p))
	if d := decideLeader(late, st, mk(late), p, ""); d.Action != leaderPromote || d.Target != "e" || d.Holder {
		t.Fatalf("after the wait: target %q holder %v (excluded %v, why not %q), want e", d.Target, d.Holder, d.Excluded, d.WhyNot)
	}
	// Nobody richer: the holder still replaces the group's wait as before.
	peers := mk(t0)
	for _, n := range []string{"b", "c", "d", "e"} {
		pv := peers[n]
		pv.Rep.Obs.Keys = 400
		peers[n] = pv
	}
	if d := decideLeader(t0, st, peers, p, ""); d.Target != "a" || !d.Holder {
		t.Fatalf("no richer member: target %q holder %v, want the holder a", d.Target, d.Holder)
	}
}

// Chaos seed 507 (N=3), the leader's view at 32.264 s: epoch 3 names a (a
// holder: its AOF, 660 keys), never promoted; c restarted without
// persistence from the RDB of its first full sync (0 keys, "synced" at
// offset 0 of epoch 1's history H1, which epoch 2's promotion left at
// 45148); b, the epoch-2 primary, answers as a primary. The durable wait
// for b and pastForkHeld lapse 20 s after epoch 2's failover (12.067 s).
func TestBelowForkDoesNotReplaceAHolder(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter = 1, 2*time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 32.264) * float64(time.Second))) }
	st := groupState{Epoch: 3, Primary: "a", Promoted: false, Started: at(14.465), Previous: "b",
		Members:   members("a", "b", "c"),
		PastForks: []pastFork{{Epoch: 2, New: "b", ReplID: "H1", Offset: 45148, Start: at(12.067)}}}
	mk := func(now time.Time, cKeys int64, bUp bool) map[string]peerView {
		a := rep("a", 0) // detached: a replica of itself, no provable position
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "A3", 660
		b := rep("b", 46332)
		b.Rep.Obs.Role, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = monitor.RolePrimary, "B2", 670
		b.Known = knownOffset{Epoch: 2, Offset: 45148, At: at(12.10)}
		c := down(rep("c", 0), "a", 3)
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, "H1", cKeys
		a.Received, b.Received, c.Received = now, now, now
		if !bUp {
			b.Received = now.Add(-time.Minute)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name       string
		now        float64
		cKeys      int64
		bUp        bool
		want       string
		wantHolder bool
	}{
		{"the wait for b still runs", 31.9, 0, true, "", false},
		{"the wait lapsed: the holder, not c with nothing", 32.264, 0, true, "a", true},
		{"b out of reach: nobody (b may hold more)", 32.264, 0, false, "", false},
		{"c holds as much: c", 32.264, 660, true, "c", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.cKeys, tt.bUp), p, "")
			checkHolderPromotion(t, d, tt.want, tt.wantHolder)
		})
	}
}

// Chaos seed 2712 (N=3), c's view at 21:25:18.3: c, epoch 4's promoted
// primary, holds epoch 4's writes at 115027 (retry-queue INCRs among them).
// Epoch 5 named a at 21:25:03.5; a's Redis was killed, came back empty and
// points at itself, and a never promoted. c's demotion into a could only
// full-sync (refused); left a paused primary, c's Redis was neither a
// candidate nor a holder, and 19 s later the leader promoted b, a holder
// from its AOF without epoch 4's writes, and c's Redis full-synced from it.
// Past down_after of the failover's start it points at itself, a holder.
func TestDeposedPrimaryOfAStuckFailoverBecomesAHolderSeed2712(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 50.9) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "a", Started: at(36.1), Previous: "c", Members: members("a", "b", "c"),
		PastForks: []pastFork{{Epoch: 4, New: "c", ReplID: "e4739a02", Offset: 101738, Start: at(31.1)}}}
	in := localInput{Now: at(50.9), Self: "c", State: st, Ready: true, LastContact: at(50.9), P: p,
		Obs:         localObs{Reachable: true, Role: monitor.RolePrimary, Time: at(50.9), ReplID: "1a1af7c2", Offset: 115027},
		PrimaryAddr: "a:6379", SelfAddr: "c:6379", SourceUnvouched: true, Fenced: true, PartialRefused: true}
	if got, want := decideLocal(in), (localPlan{Fence: true, Detach: true}); got != want {
		t.Errorf("demotion into a stuck, unvouched primary refused: plan %+v, want %+v", got, want)
	}
	// Within down_after of the failover's start the demotion is tried again.
	early := in
	early.Now, early.Obs.Time, early.LastContact = at(37.0), at(37.0), at(37.0)
	if got, want := decideLocal(early), (localPlan{Fence: true, DemoteTo: "a:6379", PartialOnly: true}); got != want {
		t.Errorf("early: plan %+v, want %+v", got, want)
	}
}

// Chaos seed 2914 (N=3), the leader b's view at 66.0 s: epoch 7's
// primary a (promoted at 120247 on H6, leading H7) came back empty after
// its node was killed with its AOF wiped; b's Redis, still following it,
// full-synced the empty restart (history E, 486 bytes, a few keys). c,
// epoch 6's deposed primary, points at itself on H6 beyond the fork with
// every acknowledged write: a holder. No candidate is on a's history, so
// b's offset on E was ranked and b promoted, and c full-synced from it. A
// candidate on another history than the primary's proves a position on
// it, not data: it does not replace a holder with more keys.
func TestOtherHistoryDoesNotReplaceAHolder(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 65.948) * float64(time.Second))) }
	st := groupState{Epoch: 7, Primary: "a", Previous: "c", Promoted: true, Started: at(60.911),
		Members: members("a", "b", "c"), Fork: 120247, ForkReplID: "H6",
		PastForks: []pastFork{{Epoch: 6, New: "c", ReplID: "H4", Offset: 86325, Start: at(56.697)}}}
	mk := func(cKeys int64) map[string]peerView {
		a := rep("a", 486)
		a.Rep.Epoch, a.Rep.Empty, a.Rep.Obs.Role, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = 7, true, monitor.RolePrimary, "E", 3
		a.Rep.SDownPrimary, a.Rep.SDownEpoch = "a", 7
		a.AsPrimary, a.UpAt = primaryMark{Epoch: 7, ReplID: "H7"}, t0
		b := rep("b", 486)
		b.Rep.Epoch, b.Rep.Obs.MasterAddr, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = 7, "a:6379", "E", 3
		b.Rep.SDownPrimary, b.Rep.SDownEpoch = "a", 7
		b.Known, b.UpAt = knownOffset{Epoch: 7, Offset: 486, At: t0}, t0
		c := rep("c", 123683) // detached: a replica of itself, no provable position
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 7, "c:6379", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "H6", cKeys
		c.Known, c.UpAt = knownOffset{Epoch: 6, Offset: 123683, At: at(62.0)}, t0
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name       string
		cKeys      int64
		want       string
		wantHolder bool
	}{
		{"c holds the writes: c, not the copy of the empty restart", 1100, "c", true},
		{"c holds no more keys: b", 3, "b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideLeader(t0, st, mk(tt.cKeys), p, "")
			if d.Action != leaderPromote || d.Target != tt.want || d.Holder != tt.wantHolder {
				t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot)
			}
		})
	}
}

// Chaos seed 7302 (N=3), the leader c's view at 41.563 s: epoch 2 named b
// at 17.877 s, never promoted (its Redis stopped, then killed without
// persistence). a's Redis, epoch 1's primary, points at itself at 63023 on
// epoch 1's history H1 with every acknowledged write: a holder. c's Redis,
// killed without persistence, came back from the RDB of its first full
// sync: 0 keys, "synced" at offset 0 of H1. No promotion left H1, so
// neither the fork nor the history rule set c aside once the durable wait
// lapsed (37.877 s): c was promoted, a's Redis full-synced nothing, and the
// retry-queue INCRs drained next lived on c's Redis, without persistence,
// and a's. A candidate behind a holder on the holder's own history holds
// a prefix of what the holder holds: it does not replace it.
func TestBehindAHolderOnItsHistoryDoesNotReplaceItSeed7302(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 41.563) * float64(time.Second))) }
	st := groupState{Epoch: 2, Primary: "b", Previous: "a", Promoted: false, Started: at(17.877),
		Members: members("a", "b", "c")}
	mk := func(now time.Time, cKeys int64, bUp bool) map[string]peerView {
		a := down(rep("a", 63023), "b", 2) // detached: a replica of itself, no provable position
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 2, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "H1", 900
		a.Known = knownOffset{Epoch: 1, Offset: 63023, At: at(15.8)}
		b := down(rep("b", 0), "b", 2) // back empty, pointing at itself
		b.Rep.Epoch, b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced = 2, "b:6379", false, false
		b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "H1", 0
		b.Received = at(40.3) // its sidecar was killed at 40.354 s
		if bUp {
			b.Received = now
		}
		c := down(rep("c", 0), "b", 2) // "synced": its RDB's history is the one it was seen synced on
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp = 2, "a:6379", false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "H1", cKeys
		a.Received, c.Received = now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name       string
		cKeys      int64
		bUp        bool
		want       string
		wantHolder bool
	}{
		{"c at 0 with no keys, b silent: nobody (b may hold more)", 0, false, "", false},
		{"c at 0 with no keys, b answers with nothing: the holder a", 0, true, "a", true},
		{"c holds as many keys as a: c", 900, false, "c", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(41.563)
			d := decideLeader(now, st, mk(now, tt.cKeys, tt.bUp), p, "")
			checkHolderPromotion(t, d, tt.want, tt.wantHolder)
		})
	}
}

// Chaos seed 7501 (N=3), the leader c's view at 52.135 s: epoch 5 named
// b at 31.861 s, never promoted (b's Redis, at 67211 on epoch 3's history
// H3, was wiped at 34.0 s and later cut off and killed). Epoch 2 had left
// epoch 1's history H1 at 27600, epoch 3 left epoch 2's at 52978. a's
// Redis, epoch 3's primary, killed at 26.66 s and back from its AOF (a new
// history at 0, pointing at itself), held every write of epochs 2 and 3
// (some 880 keys, 54 WAIT-confirmed retry-queue INCRs among them): a
// holder. c's Redis,
// stopped through epochs 2 and 3, stood exactly at epoch 2's fork on H1
// with epoch 1's 434 keys: not below the fork, so once the durable wait
// for b lapsed the holder rule kept it, c was promoted, and a's Redis
// full-synced 434 keys. At a recorded fork is no better than below it: it
// holds nothing written since that promotion.
func TestAtAForkDoesNotReplaceAHolderSeed7501(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 52.135) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Previous: "a", Promoted: false, Started: at(31.861),
		Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "H1", Offset: 27600, Start: at(8.945), NewReplID: "H2"},
			{Epoch: 3, New: "a", ReplID: "H2", Offset: 52978, Start: at(23.206), NewReplID: "H3"},
		}}
	mk := func(now time.Time, cKeys int64, bUp bool) map[string]peerView {
		a := down(rep("a", 0), "b", 5) // back from its AOF, pointing at itself: no provable position
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 5, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "A5", 880
		b := down(rep("b", 0), "b", 5) // its Redis out of reach
		b.Rep.Epoch, b.Rep.Obs.Reachable, b.Rep.Obs.Synced, b.Rep.Obs.LinkUp = 5, false, false, false
		b.Known = knownOffset{Epoch: 4, Offset: 67211, At: at(32.1)}
		b.UpAt = at(39.1)
		if bUp { // back wiped, answering with no key
			b.Rep.Obs.Reachable, b.Rep.Obs.MasterAddr, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = true, "b:6379", "B5", 0
		}
		c := down(rep("c", 27600), "b", 5) // "synced": pointing at itself at epoch 2's fork
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp = 5, "c:6379", false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "H1", cKeys
		a.Received, b.Received, c.Received = now, now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name       string
		now        float64
		cKeys      int64
		bUp        bool
		want       string
		wantHolder bool
	}{
		{"the wait for b still runs", 51.048, 434, false, "", false},
		{"the wait lapsed, b out of reach: nobody (b may hold more), not c at the fork with fewer keys", 52.135, 434, false, "", false},
		{"b answers with nothing: the holder a", 52.135, 434, true, "a", true},
		{"c holds as many keys as a: c", 52.135, 880, false, "c", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.cKeys, tt.bUp), p, "")
			checkHolderPromotion(t, d, tt.want, tt.wantHolder)
		})
	}
}

// Chaos seed 2916 (N=3), the leader c's view at 59.459 s: epoch 5
// promoted b at 197258 on 01f7d7f9 (the history epoch 4's primary a led);
// b's Redis, without persistence, was killed at 58.047 and its last report
// says it does not answer. a's Redis, the deposed primary, still answers
// as a primary at 199733 on 01f7d7f9 with every acknowledged write; c's,
// back from its AOF with only epoch 3's data, is re-pointed to b, never
// synced (d2dcd500 at 0): a holder. The leader promoted c and a's Redis
// full-synced from it. Within the durable wait it waits for a, which
// becomes a holder once its sidecar demotes it or points it at itself.
func TestDeposedPrimaryPastTheForkHoldsAHolderBackSeed2916(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 59.459) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Previous: "a", Promoted: true, Started: at(53.4),
		Members: members("a", "b", "c"), Fork: 197258, ForkReplID: "01f7d7f9",
		PastForks: []pastFork{{Epoch: 4, New: "a", ReplID: "H3", Offset: 152731, Start: at(41.99)}}}
	mk := func(now time.Time, aDetached bool) map[string]peerView {
		a := down(rep("a", 199733), "b", 5)
		a.Rep.Epoch, a.Rep.Unsure, a.Rep.Obs.Role, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = 5, true, monitor.RolePrimary, "01f7d7f9", 2400
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = "", false, false
		if aDetached { // pointing at itself: no position it can prove
			a.Rep.Unsure, a.Rep.Obs.Role, a.Rep.Obs.MasterAddr = false, monitor.RoleReplica, "a:6379"
		}
		a.Known, a.UpAt = knownOffset{Epoch: 4, Offset: 197258, At: at(44.1)}, now
		b := rep("b", 197258)
		b.Rep.Epoch, b.Rep.Obs.Reachable, b.Rep.Obs.Role, b.Rep.Obs.ReplID = 5, false, monitor.RolePrimary, "b5"
		b.Received, b.UpAt = now.Add(-1386*time.Millisecond), at(58.0)
		c := down(rep("c", 0), "b", 5)
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 5, "b:6379", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "d2dcd500", 2180
		c.UpAt = now
		a.Received, c.Received = now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name       string
		now        float64
		aDetached  bool
		want       string
		wantWait   string
		wantHolder bool
	}{
		{"a a primary past the fork: nobody, waiting for a", 59.459, false, "", "a", false},
		{"a points at itself: a, the holder with the most keys", 61.48, true, "a", "", true},
		{"the durable wait is over: c", 73.5, false, "c", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.aDetached), p, "")
			if d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) || d.Holder != tt.wantHolder || d.WaitFor != tt.wantWait {
				t.Fatalf("target %q action %v holder %v wait for %q, want %q waiting for %q (excluded %v, why not %q)",
					d.Target, d.Action, d.Holder, d.WaitFor, tt.want, tt.wantWait, d.Excluded, d.WhyNot)
			}
		})
	}
}

// Chaos seed 511 (N=3). Epoch 5 names b, promoted at 66377 on a's epoch-4
// history; b's Redis was stopped, then killed without persistence, and came
// back empty as a replica; a's was wiped and points at itself (0 keys). c,
// epoch 3's primary, cut off during epochs 4 and 5, is the one Redis holding
// every acknowledged write (history H3, which epoch 4's promotion left at
// 66377). Its demotion to b is refused (only a full sync would follow b,
// whose sidecar does not vouch for it): it must point at itself, so that
// the leader can choose it as a holder; a paused primary is neither a
// candidate (not_replica) nor a holder, and writes never came back.
func TestDeposedPrimaryWithDataBecomesAHolder(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 45.7) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Promoted: true, Started: at(24.0), Previous: "a",
		Members: members("a", "b", "c"), Fork: 66377, ForkReplID: "H4",
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "H1", Offset: 28051, Start: at(8.19)},
			{Epoch: 3, New: "c", ReplID: "H2", Offset: 44149, Start: at(12.69)},
			{Epoch: 4, New: "a", ReplID: "H3", Offset: 66377, Start: at(20.59)},
		}}

	// c's sidecar: a deposed primary with its history.
	in := localInput{Now: at(30.3), Self: "c", State: st, Ready: true, LastContact: at(30.3), P: p,
		Obs:         localObs{Reachable: true, Role: monitor.RolePrimary, Time: at(30.3), ReplID: "H3", Offset: 66377},
		PrimaryAddr: "b:6379", SelfAddr: "c:6379", SourceUnvouched: true, Fenced: true}
	if got, want := decideLocal(in), (localPlan{Fence: true, DemoteTo: "b:6379", PartialOnly: true}); got != want {
		t.Fatalf("first try: plan %+v, want %+v", got, want)
	}
	in.PartialRefused = true
	if got, want := decideLocal(in), (localPlan{Fence: true, Detach: true}); got != want {
		t.Fatalf("demotion refused: plan %+v, want %+v", got, want)
	}
	vouched := in
	vouched.SourceUnvouched = false // a primary vouched for: the usual demotion, which keeps its divergent writes
	if got, want := decideLocal(vouched), (localPlan{Fence: true, DemoteTo: "b:6379"}); got != want {
		t.Fatalf("vouched: plan %+v, want %+v", got, want)
	}
	early := in
	// Before the promotion is confirmed, within down_after of the
	// failover's start, nothing changes.
	early.State.Promoted, early.State.Started = false, in.Now.Add(-time.Second)
	if got, want := decideLocal(early), (localPlan{Fence: true, DemoteTo: "b:6379", PartialOnly: true}); got != want {
		t.Fatalf("not promoted: plan %+v, want %+v", got, want)
	}
	detached := in
	detached.Obs.Role, detached.Obs.MasterAddr = monitor.RoleReplica, "c:6379"
	if got, want := decideLocal(detached), (localPlan{Unfence: true, RepointTo: "b:6379", PartialOnly: true}); got != want {
		t.Fatalf("detached: plan %+v, want %+v", got, want)
	}

	// The leader (a) at 45.7 s: b out of reach (cut off, then partitioned).
	now := at(45.7)
	mk := func(cDetached bool) map[string]peerView {
		a := down(rep("a", 0), "b", 5) // wiped, pointing at itself
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID = "a:6379", false, false, "A6"
		b := rep("b", 66377)
		b.Rep.Obs.Reachable, b.Rep.Obs.Role, b.Rep.Obs.ReplID = false, "", ""
		b.AsPrimary = primaryMark{Epoch: 5, ReplID: "H4"}
		b.Received = at(32.0)
		c := down(rep("c", 66377), "b", 5)
		asPrimary(&c, "H3", 850)
		c.Known = knownOffset{Epoch: 2, Offset: 44149, At: at(12.6)}
		if cDetached {
			c.Rep.Obs.Role, c.Rep.Obs.MasterAddr = monitor.RoleReplica, "c:6379"
		}
		a.Received, c.Received = now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	d := decideLeader(now, st, mk(false), p, "")
	if !d.ODown || d.Action == leaderPromote || d.Excluded["c"] != whyNotReplica {
		t.Fatalf("c a paused primary: target %q action %v excluded %v", d.Target, d.Action, d.Excluded)
	}
	// With a's copies gone, b's Redis, out of reach, may hold the last
	// copy of what epoch 5 acknowledged (primaryLastCopy): c waits for it.
	d = decideLeader(now, st, mk(true), p, "")
	if d.Action == leaderPromote || d.WaitFor != "b" || !d.LastCopy {
		t.Fatalf("c detached, b out of reach: target %q action %v wait for %q (why not %q), want a wait for b",
			d.Target, d.Action, d.WaitFor, d.WhyNot)
	}
	// b's Redis back, empty, as a replica (as in the seed): c.
	peers := mk(true)
	b := peers["b"]
	b.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", ReplID: "B6"}
	b.Received = now
	peers["b"] = b
	d = decideLeader(now, st, peers, p, "")
	if d.Action != leaderPromote || d.Target != "c" || !d.Holder {
		t.Fatalf("c detached, b back empty: target %q action %v holder %v (excluded %v, why not %q), want the holder c",
			d.Target, d.Action, d.Holder, d.Excluded, d.WhyNot)
	}
}

// Chaos seed 6021 (N=5). b's Redis, epoch 5's primary, held the group's
// writes since its promotion (retry-queue INCRs among them, confirmed by
// WAIT 1) with a's and c's Redis its replicas. b's sidecar was stopped at
// 30.4 s; its Redis was killed without persistence at 36.2 s and came back
// at 37.6 s from a 16 s old RDB, on a new history. a's and c's Redis, their
// links down since 36.2 s and still configured to follow it, reconnected by
// themselves and full-synced it at 38.3 s and 38.5 s: no sidecar had
// judged it, and every copy of epoch 5's writes was gone. A replica of the
// promoted primary whose link is down while that primary's sidecar cannot
// watch its Redis must point at itself.
func TestReplicaOfUnwatchedPrimaryDetachesSeed6021(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	epoch5 := groupState{Epoch: 5, Primary: "b", Previous: "e", Promoted: true, Members: members("a", "b", "c", "d", "e")}
	// b's last report: its Redis a primary on d815, judged at epoch 5.
	bReport := func(ago time.Duration, reachable bool) peerView {
		pv := rep("b", 117803)
		pv.Received = t0.Add(-ago)
		pv.Rep.Obs.Role, pv.Rep.Obs.MasterAddr, pv.Rep.Obs.Reachable = monitor.RolePrimary, "", reachable
		pv.AsPrimary = primaryMark{Epoch: 5, ReplID: "d815"}
		return pv
	}
	c := func(st groupState, master string, linkUp bool, b peerView) localInput {
		return localInput{Now: t0, Self: "c", State: st, Ready: true, LastContact: t0, P: p,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: master, LinkUp: linkUp, Time: t0,
				ReplID: "d815", Offset: 117803},
			PrimaryAddr: "b:6379", SelfAddr: "c:6379", Peers: map[string]peerView{"b": b},
			SourceUnvouched: sourceUnvouched(st, map[string]peerView{"b": b}, t0, p.Fresh)}
	}
	silent := bReport(7*time.Second, true)
	tls := c(epoch5, "b:6379", false, silent)
	tls.SelfTLS = true
	olderMark := bReport(7*time.Second, true)
	olderMark.AsPrimary.Epoch = 4
	unpromoted := epoch5
	unpromoted.Promoted = false
	// c's Redis holds no key, and a's, e's and d's (dKeys) answer as replicas.
	empty := func(b peerView, dKeys int64) localInput {
		in := c(epoch5, "b:6379", false, b)
		in.Obs.NoKeys = true
		for name, keys := range map[string]int64{"a": 0, "d": dKeys, "e": 0} {
			in.Peers[name] = peerView{Received: t0, Rep: report{Name: name,
				Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: name + ":6379", Keys: keys}}}
		}
		return in
	}
	for _, tt := range []struct {
		name string
		in   localInput
		want localPlan
	}{
		{"seed 6021: following promoted b, link down, b's sidecar silent: detach", c(epoch5, "b:6379", false, silent), localPlan{Detach: true}},
		{"b's sidecar in reach says its Redis does not answer: detach", c(epoch5, "b:6379", false, bReport(0, false)), localPlan{Detach: true}},
		{"b's sidecar watches its Redis (it judges a restart itself): it stays", c(epoch5, "b:6379", false, bReport(0, true)), localPlan{}},
		{"link up: it streams, nothing changes", c(epoch5, "b:6379", true, silent), localPlan{}},
		{"detached: a re-point to b only with a partial resync", c(epoch5, "c:6379", false, silent), localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"no judged sighting of b at this epoch: it stays", c(epoch5, "b:6379", false, olderMark), localPlan{}},
		{"b not promoted yet: not this rule", c(unpromoted, "b:6379", false, silent), localPlan{}},
		{"TLS-only Redis: it stays", tls, localPlan{}},
		{"seed 16603: no key here, nor in any other member's Redis: it stays, syncing", empty(silent, 0), localPlan{}},
		{"no key here, but d's Redis holds some: detach", empty(silent, 12), localPlan{Detach: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(decideLocal(tt.in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// Chaos seed 12502 (N=5), a's sidecar at 63.5 s. b, epoch 7's primary
// (judged on h7), was forgotten at 59.4 s while its sidecar was stopped:
// the vote goes, the membership stays, and what a knew of b went with the
// report. b's sidecar resumed at 63.34 s and reported its Redis down (killed
// without persistence at 63.36 s); a's Redis, its link down, still
// configured to follow b's, full-synced the stale RDB b's came back with
// at 65.1 s. Kept through the forget, the judged sighting makes a's
// sidecar point a's Redis at itself.
func TestForgottenPrimaryKeepsItsSightingSeed12502(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 7, Primary: "b", Previous: "d", Promoted: true, Members: members("a", "b", "c", "d", "e")}
	before := rep("b", 235449)
	before.Received = t0.Add(-9 * time.Second)
	before.Rep.Epoch, before.Rep.Obs.Role, before.Rep.Obs.MasterAddr = 7, monitor.RolePrimary, ""
	before.AsPrimary = primaryMark{Epoch: 7, ReplID: "h7", At: before.Received}
	resumed := report{Name: "b", Addr: "b:6379", Epoch: 7, SDownPrimary: "b"} // its Redis does not answer
	a := func(b peerView) localInput {
		peers := map[string]peerView{"b": b}
		return localInput{Now: t0, Self: "a", State: st, Ready: true, LastContact: t0, P: p,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", LinkUp: false, Time: t0,
				ReplID: "h7", Offset: 235449},
			PrimaryAddr: "b:6379", SelfAddr: "a:6379", Peers: peers,
			SourceUnvouched: sourceUnvouched(st, peers, t0, p.Fresh)}
	}
	kept := nextPeerView(forgottenPrimary(before), true, resumed, t0.Add(-100*time.Millisecond), p)
	if diff := cmp.Diff(decideLocal(a(kept)), localPlan{Detach: true}); diff != "" {
		t.Errorf("b forgotten, its sighting kept: plan (-got +want):\n%s", diff)
	}
	lost := nextPeerView(peerView{}, false, resumed, t0.Add(-100*time.Millisecond), p)
	if diff := cmp.Diff(decideLocal(a(lost)), localPlan{}); diff != "" {
		t.Errorf("b forgotten, nothing kept (before the fix): plan (-got +want):\n%s", diff)
	}
	if got := forgottenPrimary(before); got.Rep.Name != "" || !got.Received.IsZero() || got.AsPrimary != before.AsPrimary {
		t.Errorf("forgottenPrimary kept %+v, want the judged sighting only", got)
	}
}

// Chaos seed 11907 (N=3), b's sidecar at 59.570 s. Epoch 6's primary a
// drained 32 retry-queue INCRs from a's and c's queues, confirmed by WAIT 1
// on c's Redis; a's Redis was killed without persistence at 48.9 s. Epoch
// 7 named c, whose sidecar (SIGSTOPped as the election's winner) promoted
// its Redis at 52.24 s on f28f2f80 at 91500 and was stopped again at
// 53.05 s. b's sidecar had begun demoting b's Redis (epoch 5's primary,
// at 75318 on 197cd553) to c at 52.5 s, while c's sidecar vouched for
// f28f2f80; the divergent-write replay into c's paused Redis held it to
// 59.566 s, when it found c's Redis still on f28f2f80 and pointed b's
// Redis at it. The full sync began at 59.566 s; 4 ms later the seed 6021
// rule (c's sidecar silent, b's link down) pointed b's Redis at itself,
// and c's Redis, the last copy, was wiped at 62.5 s. Epoch 8 promoted b
// without the INCRs. b's own check of c's Redis every tick found it the
// process c's sidecar had judged: the sync follows it.
func TestReplicaSyncingFromTheJudgedPrimaryStaysSeed11907(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 59.570) * float64(time.Second))) }
	now := at(59.570)
	st := groupState{Epoch: 7, Primary: "c", Previous: "a", Promoted: true, Started: at(49.540),
		Members: members("a", "b", "c"), Fork: 91500, ForkReplID: "9eb4ea03"}
	// c's last report, just before its sidecar was stopped: its Redis a
	// primary on f28f2f80, judged at epoch 7.
	c := rep("c", 91570)
	c.Rep.Epoch = 7
	c.Rep.Obs.Role, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID = monitor.RolePrimary, "", false, "f28f2f80"
	c.Received, c.UpAt = at(53.0), at(53.0)
	c.AsPrimary = primaryMark{Epoch: 7, ReplID: "f28f2f80"}
	// a's Redis, back empty, pointing at itself.
	a := rep("a", 0)
	a.Rep.Epoch = 7
	a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.Keys = "a:6379", false, false, 0
	a.Received, a.UpAt = now, now
	peers := map[string]peerView{"a": a, "c": c}
	seen := primarySighting{At: at(59.502), Epoch: 7, ReplID: "f28f2f80"}
	b := func(edit func(in *localInput)) localInput {
		in := localInput{Now: now, Self: "b", State: st, Ready: true, LastContact: now, Started: at(43.2), P: p,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "c:6379", LinkUp: false, Time: now,
				ReplID: "197cd553", Offset: 75318},
			PrimaryAddr: "c:6379", SelfAddr: "b:6379", Keeps: true, Peers: peers, PrimarySeen: seen,
			SourceUnvouched: sourceUnvouched(st, peers, now, p.Fresh)}
		if edit != nil {
			edit(&in)
		}
		return in
	}
	if !b(nil).SourceUnvouched {
		t.Fatal("c's sidecar silent for 6.5 s: want c unvouched")
	}
	for _, tt := range []struct {
		name string
		in   localInput
		want localPlan
	}{
		{"seed 11907: full sync from c's Redis, seen on the history c's sidecar judged: it stays", b(nil), localPlan{}},
		{"no check of c's Redis has answered: detach", b(func(in *localInput) { in.PrimarySeen = primarySighting{} }), localPlan{Detach: true}},
		{"c's Redis seen on a new history, restarted (seed 6021): detach", b(func(in *localInput) { in.PrimarySeen.ReplID = "0c4e1a77" }), localPlan{Detach: true}},
		{"c's Redis did not answer the last check (cut off at 61.1 s, wiped at 62.5 s): detach", b(func(in *localInput) { in.PrimarySeen.ReplID = "" }), localPlan{Detach: true}},
		{"the last sighting older than a report's lifetime: detach", b(func(in *localInput) { in.PrimarySeen.At = at(59.0) }), localPlan{Detach: true}},
		{"a sighting at an earlier epoch: detach", b(func(in *localInput) { in.PrimarySeen.Epoch = 6 }), localPlan{Detach: true}},
		{"synced from c, link up: nothing changes", b(func(in *localInput) { in.Obs.LinkUp = true }), localPlan{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(decideLocal(tt.in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSeenOnMark(t *testing.T) {
	st := groupState{Epoch: 7, Primary: "c", Promoted: true}
	fresh := 500 * time.Millisecond
	seen := primarySighting{At: t0.Add(-100 * time.Millisecond), Epoch: 7, ReplID: "H7"}
	for _, tt := range []struct {
		name string
		mark string
		s    primarySighting
		now  time.Time
		want bool
	}{
		{"a primary on the mark, 100 ms ago", "H7", seen, t0, true},
		{"no mark (its sidecar watches it, or no judged sighting)", "", seen, t0, false},
		{"never checked", "H7", primarySighting{}, t0, false},
		{"on another history: restarted", "H7", primarySighting{At: seen.At, Epoch: 7, ReplID: "H8"}, t0, false},
		{"no answer, or not as a primary", "H7", primarySighting{At: seen.At, Epoch: 7}, t0, false},
		{"at an earlier epoch", "H7", primarySighting{At: seen.At, Epoch: 6, ReplID: "H7"}, t0, false},
		{"just within a report's lifetime", "H7", seen, t0.Add(399 * time.Millisecond), true},
		{"a report's lifetime old", "H7", seen, t0.Add(400 * time.Millisecond), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := seenOnMark(tt.mark, tt.s, st, tt.now, fresh); got != tt.want {
				t.Errorf("seenOnMark = %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 708 (N=3). Epoch 4's primary a took retry-queue INCRs that b
// and c acknowledged (WAIT 1); a's and b's Redis were killed and came back
// from their AOFs with them, c's was killed without persistence. Epoch 6
// named c and a was re-pointed to it; c's Redis died during a's full sync,
// and epoch 7 named b, whose sidecar was stopped and whose promotion never
// completed. a stayed configured to follow c, its link down, for 13 s:
// when c's Redis came back from a stale snapshot (offset 109979, before
// the INCRs), a full-synced from it by itself, and b, judged empty against
// a's new offset, full-synced from a. Every copy was gone. A replica of a
// deposed Redis with its link down, with no re-point to come, must point
// at itself.
func TestReplicaOfDeposedPrimaryDetaches(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	epoch7 := groupState{Epoch: 7, Primary: "b", Previous: "c", Promoted: false, Members: members("a", "b", "c"),
		Started: t0.Add(-10 * time.Second)}
	justCommitted := epoch7
	justCommitted.Started = t0.Add(-100 * time.Millisecond)
	promoted := epoch7
	promoted.Promoted = true
	epoch6 := groupState{Epoch: 6, Primary: "c", Previous: "b", Promoted: true, Members: members("a", "b", "c")}
	// a's sidecar at 17:03:00: its Redis follows c (link down since c's
	// Redis died), b's sidecar is stopped (it vouches for nothing).
	a := func(st groupState, master string, linkUp bool) localInput {
		return localInput{Now: t0, Self: "a", State: st, Ready: true, LastContact: t0, P: p,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: master, LinkUp: linkUp, Time: t0,
				ReplID: "A8", Offset: 0},
			PrimaryAddr: "b:6379", SelfAddr: "a:6379", SourceUnvouched: true}
	}
	refused := a(promoted, "c:6379", false)
	refused.PartialRefused = true
	vouched := a(promoted, "c:6379", false)
	vouched.SourceUnvouched = false
	syncing := a(epoch6, "c:6379", false)
	syncing.PrimaryAddr, syncing.SourceUnvouched = "c:6379", false
	for _, tt := range []struct {
		name string
		in   localInput
		want localPlan
	}{
		{"seed 708: following deposed c, link down, b not promoted: detach", a(epoch7, "c:6379", false), localPlan{Detach: true}},
		{"b committed a moment ago, its promotion under way (an ordinary failover): it stays", a(justCommitted, "c:6379", false), localPlan{}},
		{"already detached: nothing more", a(epoch7, "a:6379", false), localPlan{}},
		{"link to the deposed primary up: it streams, nothing changes", a(epoch7, "c:6379", true), localPlan{}},
		{"following the committed primary, link down: it stays", a(epoch7, "b:6379", false), localPlan{}},
		{"epoch 6: full sync from the committed, promoted c under way: it stays", syncing, localPlan{}},
		{"b promoted and vouched for: the usual re-point", vouched, localPlan{RepointTo: "b:6379"}},
		{"b promoted, unvouched: a partial re-point is tried first", a(promoted, "c:6379", false), localPlan{RepointTo: "b:6379", PartialOnly: true}},
		{"b promoted, unvouched, only a full sync would follow it: detach", refused, localPlan{Detach: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(decideLocal(tt.in), tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}

	// b's sidecar at 17:03:09.5: its Redis came back from its AOF (offset 0,
	// with its keys). Against a full-synced from c's stale snapshot it was
	// judged empty and pointed at a; against a detached a (never synced
	// since its own AOF restart) nothing proves it lost anything.
	prev := redisIdentity{RunID: "b-run-2", ReplID: "B7", Offset: 0, Keys: 1300}
	cur := redisIdentity{RunID: "b-run-3", ReplID: "B8", Offset: 0, Keys: 1300}
	if got := judgeRestart(prev, cur, promotion{}, []replicaPos{{ReplID: "C7", Offset: 109979}}); got != restartEmpty {
		t.Fatalf("a synced from c's stale restart: verdict %v, want restartEmpty (what the run did)", got)
	}
	if got := judgeRestart(prev, cur, promotion{}, []replicaPos{{ReplID: "A8", Offset: 0}}); got == restartEmpty {
		t.Fatalf("a detached: verdict %v, want b's data not called empty", got)
	}
}

// Chaos seed 602 (N=5), the leader d's view at 65.50 s. Epoch 8 promoted a
// at 193197 on H7, the history b led at epoch 7 (b and c cut off with it);
// a's writes on its own history A8, retry-queue INCRs among them, were
// acknowledged by e alone (WAIT 1) before a was killed without persistence.
// e's sidecar was down; c, detached at 196729 on H7, had followed b past
// the fork and held none of them, yet its offset beat e's 196439 and it was
// promoted: e's Redis then full-synced c's data and every copy was gone. An
// offset on the history the primary's promotion left counts up to the fork
// only.
func TestDurableFloorPastTheForkOnTheLeftHistory(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 65.5) * float64(time.Second))) }
	st := groupState{Epoch: 8, Primary: "a", Promoted: true, Started: at(59.28), Previous: "b",
		Members: members("a", "b", "c", "d", "e"), Fork: 193197, ForkReplID: "H7",
		PastForks: []pastFork{{Epoch: 7, New: "b", ReplID: "H6", Offset: 163414, Start: at(49.0)}}}
	mk := func(now time.Time, eUp, eSeen bool) map[string]peerView {
		a := rep("a", 196439) // killed, wiped: its last report
		a.Rep.Obs.Role, a.Rep.Obs.MasterAddr, a.Rep.Obs.ReplID = monitor.RolePrimary, "", "A8"
		a.AsPrimary, a.Received, a.UpAt = primaryMark{Epoch: 8, ReplID: "A8"}, at(62.84), at(62.84)
		b := down(rep("b", 196743), "a", 8) // deposed, demoted to a, never linked
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced, b.Rep.Obs.ReplID = "a:6379", false, false, "H7"
		b.Rep.Obs.Keys = 1                  // not empty: a Redis with no key counts as a lost copy (floorLastCopy)
		c := down(rep("c", 196729), "a", 8) // detached while cut off with b
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, "H7", 2430
		c.Known = knownOffset{Epoch: 8, Offset: 196729, At: now}
		d := down(rep("d", 0), "a", 8) // its Redis restarting from its AOF
		d.Rep.Obs = obsSummary{Reachable: false}
		d.Known = knownOffset{Epoch: 8, Offset: 193197, At: at(59.89)}
		e := rep("e", 196439) // acknowledged a's writes; its sidecar killed at 64.29
		e.Rep.Obs.MasterAddr, e.Rep.Obs.LinkUp, e.Rep.Obs.ReplID, e.Rep.Obs.Keys = "a:6379", false, "A8", 2474
		e.Received = at(64.2)
		if eSeen {
			e.Known = knownOffset{Epoch: 8, Offset: 196439, At: at(64.2)}
		}
		b.Received, c.Received, d.Received = now, now, now
		if eUp {
			e.Received = now
		}
		return map[string]peerView{"a": a, "b": b, "c": c, "d": d, "e": e}
	}
	for _, tt := range []struct {
		name         string
		now          float64
		eUp, eSeen   bool
		want         string
		waitFor      string
		cExcludedWhy string
	}{
		{"e out of reach: c, past the fork on H7, holds none of epoch 8's writes", 65.5, false, true, "", "e", whyBehind},
		{"e's sidecar back: e, on a's history", 65.95, true, true, "e", "", whyOtherHistory},
		{"the durable wait lapsed: c", 84.3, false, true, "c", "", ""},
		{"no replica seen on a's history: c at once, not held by its own offset", 65.5, false, false, "c", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.eUp, tt.eSeen), p, "")
			if !d.ODown || d.Target != tt.want || (tt.want != "") != (d.Action == leaderPromote) || d.Holder ||
				d.WaitFor != tt.waitFor || d.Excluded["c"] != tt.cExcludedWhy {
				t.Fatalf("odown %v target %q action %v holder %v wait for %q, want %q waiting for %q (excluded %v, why not %q)",
					d.ODown, d.Target, d.Action, d.Holder, d.WaitFor, tt.want, tt.waitFor, d.Excluded, d.WhyNot)
			}
		})
	}
}

// Chaos seed 710 (N=3): a's sidecar, restarted alone (kill-sidecar) while
// a was epoch 3's primary, judged a's Redis afresh. That Redis had been
// promoted at 5871 on b's history d2553 and stood at 7633, holding
// retry-queue INCRs b had acknowledged; c's Redis, stopped since before
// epoch 2, was at 34335 on the stale history cb2095 and b, deposed, at
// 6143 on d2553. Called empty against c's offset, a was failed over to c
// and every copy of the INCRs went.
func TestJudgeRestartPromotedProcessSeed710(t *testing.T) {
	replicas := []replicaPos{{ReplID: "d2553", Offset: 6143}, {ReplID: "cb2095", Offset: 34335}}
	// Promoted at 5871 on d2553, beginning 645f8; old entries lack the
	// new history and fall back to master_replid2 past the fork.
	recorded := promotion{Fork: 5871, ForkReplID: "d2553", NewReplID: "645f8"}
	old := promotion{Fork: 5871, ForkReplID: "d2553"}
	for _, tt := range []struct {
		name      string
		prev, cur redisIdentity
		p         promotion
		replicas  []replicaPos
		want      restartVerdict
	}{
		{"sidecar restarted, the promoted process still runs", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 7633, Keys: 40}, recorded, replicas, restartNone},
		{"the same, new history not recorded", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 7633, Keys: 40}, old, replicas, restartNone},
		{"fork history not recorded: judged as before", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 7633, Keys: 40}, promotion{Fork: 5871}, replicas, restartEmpty},
		{"restarted without persistence: no history before", redisIdentity{},
			redisIdentity{RunID: "a-run2", ReplID: "e1", ReplID2: strings.Repeat("0", 40), Offset: 0}, recorded, []replicaPos{{ReplID: "645f8", Offset: 7633}}, restartEmpty},
		{"promoted process behind a replica on its own history", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 7633}, recorded, []replicaPos{{ReplID: "645f8", Offset: 8000}}, restartEmpty},
		{"promoted from another history than the one recorded", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "77ab1", ReplID2: "zz", Offset: 7633}, recorded, replicas, restartEmpty},
		{"the same, new history not recorded", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "zz", Offset: 7633}, old, replicas, restartEmpty},
		{"the promoted process before its first write", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 5871, Keys: 40}, recorded, replicas, restartNone},
		// Without the new history an RDB written at the fork cannot be
		// told from it: judged by the other rules, at worst a needless
		// failover, never writes since the promotion hidden.
		{"the promoted process before its first write, new history not recorded", redisIdentity{},
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 5871, Keys: 40}, old, replicas, restartEmpty},
		// Chaos seed 2001 (N=5), scaled to this fork: promoted at 206229
		// on ab7665…, d's Redis came back from an RDB written at 113310
		// on that history, and Redis 7.0 made ab7665… its master_replid2;
		// the replicas were on the promoted history or detached at the fork.
		{"seed 2001: restarted from an RDB written on the left history below the fork",
			redisIdentity{RunID: "a-run", ReplID: "645f8", ReplID2: "d2553", Offset: 5871},
			redisIdentity{RunID: "a-run2", ReplID: "a9a43", ReplID2: "d2553", Offset: 3000, Keys: 30}, recorded,
			[]replicaPos{{ReplID: "645f8", Offset: 5871}, {ReplID: "d2553", Offset: 5871}}, restartEmpty},
		{"seed 2001, its sidecar restarted too", redisIdentity{},
			redisIdentity{RunID: "a-run2", ReplID: "a9a43", ReplID2: "d2553", Offset: 3000, Keys: 30}, recorded,
			[]replicaPos{{ReplID: "645f8", Offset: 5871}, {ReplID: "d2553", Offset: 5871}}, restartEmpty},
		{"seed 2001, new history not recorded", redisIdentity{},
			redisIdentity{RunID: "a-run2", ReplID: "a9a43", ReplID2: "d2553", Offset: 3000, Keys: 30}, old,
			[]replicaPos{{ReplID: "645f8", Offset: 5871}, {ReplID: "d2553", Offset: 5871}}, restartEmpty},
		// An RDB written at the fork itself: only the recorded new
		// history tells it from the promoted process (seed 2201's shape).
		{"restarted from an RDB written at the fork, its replica ahead on the promoted history", redisIdentity{},
			redisIdentity{RunID: "a-run2", ReplID: "3c2529", ReplID2: "d2553", Offset: 5871}, recorded,
			[]replicaPos{{ReplID: "645f8", Offset: 6210}}, restartEmpty},
		{"restarted from an RDB written at the fork, no replica heard from", redisIdentity{},
			redisIdentity{RunID: "a-run2", ReplID: "3c2529", ReplID2: "d2553", Offset: 5871}, recorded,
			[]replicaPos{{ReplID: "cb2095", Offset: 34335}}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(tt.prev, tt.cur, tt.p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 4713 (N=3): c's Redis, epoch 2's primary, promoted at 72029
// beginning 97d3d587, restarted from its AOF (1c9274, where b's Redis
// acknowledged 29 retry-queue INCRs at 6071) and again (243131, offset 0,
// every key kept: base 0 keys, one incr file since its first sync). c's
// restarted sidecar judged it against a's Redis (2141 keys), a
// replica of the promoted process at 145392, and called it empty: it
// full-synced from a, and the INCRs were gone.
func TestJudgeRestartAOFKeepsItsPromotedHistorySeed4713(t *testing.T) {
	recorded := promotion{Fork: 72029, ForkReplID: "8c0292", NewReplID: "97d3d587"}
	cur := redisIdentity{RunID: "c-run3", ReplID: "243131", Offset: 0, Keys: 2310}
	a := replicaPos{ReplID: "97d3d587", Offset: 145392, Keys: 2141}
	b := replicaPos{ReplID: "1c9274", Offset: 6071, Keys: 2310}
	for _, tt := range []struct {
		name     string
		prev     redisIdentity
		cur      redisIdentity
		p        promotion
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 4713: a replica of the promoted process beyond the fork, fewer keys", redisIdentity{}, cur, recorded, []replicaPos{a, b}, restartNone},
		{"seed 4713, only that replica", redisIdentity{}, cur, recorded, []replicaPos{a}, restartNone},
		{"that replica holds more keys: the AOF was begun afresh since", redisIdentity{}, cur, recorded,
			[]replicaPos{{ReplID: "97d3d587", Offset: 145392, Keys: 2400}, b}, restartEmpty},
		{"that replica's keys not known", redisIdentity{}, cur, recorded,
			[]replicaPos{{ReplID: "97d3d587", Offset: 145392, Keys: -1}, b}, restartEmpty},
		{"the new history not recorded", redisIdentity{}, cur, promotion{Fork: 72029, ForkReplID: "8c0292"}, []replicaPos{a, b}, restartEmpty},
		{"restarted without keys", redisIdentity{}, redisIdentity{RunID: "c-run3", ReplID: "243131"}, recorded, []replicaPos{a, b}, restartEmpty},
		{"a replica on another history beyond the fork still tells", redisIdentity{}, cur, recorded,
			[]replicaPos{a, {ReplID: "f00d", Offset: 80000, Keys: 2000}}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(tt.prev, tt.cur, tt.p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 11670 (N=5), a's view at 64.66 s: a's Redis, promoted at
// epoch 9 at 178729 on cd7fae98 (beginning eade8a9c), was killed and wiped
// while the promotion held writes, so c's, d's and e's Redis stayed at the
// fork with 2471 keys. It came back from its initial config and took one
// probe write before its sidecar first saw it: offset 0 on a new history,
// 1 key. Taken for an AOF restart with its data, it was released and the
// replicas full-synced its one key.
func TestJudgeRestartOneKeyAgainstTheForkSeed11670(t *testing.T) {
	p := promotion{Fork: 178729, ForkReplID: "cd7fae98", NewReplID: "eade8a9c"}
	prev := redisIdentity{RunID: "a-943", ReplID: "eade8a9c", ReplID2: "cd7fae98", Offset: 178729, Keys: 2471}
	r := replicaPos{ReplID: "eade8a9c", ReplID2: "cd7fae98", Offset: 178729, Keys: 2471}
	cur := func(keys int64) redisIdentity {
		return redisIdentity{RunID: "a-979", ReplID: "515a20da", Keys: keys}
	}
	fewer := r
	fewer.Keys = 2000
	unknown := r
	unknown.Keys = -1
	deposed := replicaPos{ReplID: "cd7fae98", Offset: 178972, Keys: 2480, Deposed: true}
	for _, tt := range []struct {
		name     string
		cur      redisIdentity
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 11670: back empty with a client's key, replicas of the promoted process at the fork", cur(1), []replicaPos{r, r, r}, restartEmpty},
		{"back with no key", cur(0), []replicaPos{r, r, r}, restartEmpty},
		// Replicas of the promoted process holding no more keys prove
		// nothing (aofKeptPromotedHistory): not judged, not empty.
		{"back from its AOF with every key", cur(2471), []replicaPos{r, r, r}, restartUnknown},
		{"back from its AOF, the replica holding fewer keys", cur(2471), []replicaPos{fewer}, restartUnknown},
		{"the replica's keys not known", cur(1), []replicaPos{unknown}, restartNone},
		{"also a deposed primary on the left history", cur(1), []replicaPos{r, r, r, deposed}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(prev, tt.cur, p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
	// Through the sidecar's bookkeeping: the restart is judged empty and
	// the promoted process's identity is kept.
	o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "a-979", ReplID: "515a20da", Keys: 1}
	reps := []replicaPos{r, r, r}
	s := nextIdentity(identities{Ident: prev, SeenRunID: "a-943", SeenOffset: 178729}, o, identityCtx{Named: true, Epoch: 9,
		Fork: 178729, ForkReplID: "cd7fae98", NewReplID: "eade8a9c", SelfAddr: "127.0.0.2:6379",
		Replicas: func() []replicaPos { return reps }, Now: t0, DownAfter: 2 * time.Second})
	if !s.Empty || s.Ident.RunID != "a-943" {
		t.Errorf("nextIdentity: empty %v, identity %q; want empty, a-943 kept", s.Empty, s.Ident.RunID)
	}
}

// Chaos seed 2201 (N=5): c, epoch 6's primary, promoted at 49045 on e's
// history 2af384, was killed without persistence and came back from the
// RDB of its full sync from e (28457 on 2af384). Redis 7.0 restarting as a
// primary from an RDB that carries a replication position takes the RDB's
// history for master_replid2, so c's Redis showed 3c2529 with 2af384
// before it, the pair the promoted process shows. c's sidecar, restarted
// with it, took it for that process, released it, and a, b, d and e
// full-synced from it: e's Redis, at 49045 with 154 retry-queue INCRs,
// among them. Through the sidecar's bookkeeping: named at epoch 6, no
// identity remembered, it keeps writes paused and reports its Redis empty.
func TestNextIdentityStaleRDBOnTheForkHistorySeed2201(t *testing.T) {
	reports := []replicaPos{{ReplID: "4514231a", Offset: 32352}, {ReplID: "b1d07a", Offset: 28415}, {ReplID: "17d698", Offset: 1}, {ReplID: "2af384", Offset: 49045}}
	o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "c-run3", ReplID: "3c2529", ReplID2: "2af384", Offset: 29420, Keys: 449}
	for _, newID := range []string{"728404", ""} {
		s := nextIdentity(identities{}, o, identityCtx{Named: true, Epoch: 6, Fork: 49045, ForkReplID: "2af384", NewReplID: newID,
			SelfAddr: "c:6379", Replicas: func() []replicaPos { return reports }, Now: t0, DownAfter: 2 * time.Second})
		if !s.Empty || s.EmptyEpoch != 6 {
			t.Errorf("new history %q: %+v, want empty at epoch 6", newID, s)
		}
	}
}

// Chaos seed 2711 (N=3), a's view at 21:23:54.136: a's Redis, epoch 6's
// primary (promoted at 158527, history b443373e), was killed without
// persistence and came back empty. b's sidecar had been stopped at 45.8 s
// with its Redis down (last seen synced at epoch 4); c's Redis was stopped,
// its sidecar reporting it out of reach, last seen synced at 158651 at
// 48.7 s. With no replica's report showing a replica, the restart was not
// judged, and after down_after its identity stood: b's Redis was
// re-pointed to it and c's, resumed, full-synced it by itself. c's last
// known offset now counts, and a's Redis is empty (also with the key a
// client's write gave it before its sidecar paused it).
func TestKnownReplicaOutOfReachJudgesRestartSeed2711(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 54.136) * float64(time.Second))) }
	b := rep("b", 0)
	b.Rep.Obs = obsSummary{Reachable: false}
	b.Received, b.Known = at(45.8), knownOffset{Epoch: 4, Offset: 152024, At: at(39.6)}
	c := rep("c", 0)
	c.Rep.Obs = obsSummary{Reachable: false}
	c.Received, c.Known = at(54.0), knownOffset{Epoch: 6, Offset: 158651, At: at(48.7)}
	peers := map[string]peerView{"a": rep("a", 0), "b": b, "c": c}
	got := replicaPositions("a", peers, 6, t0, p)
	if len(got) != 1 || got[0].Offset != 158651 {
		t.Fatalf("replicaPositions = %+v, want c's last known offset 158651 only", got)
	}
	// Not at an earlier epoch's offset, nor past the durable wait.
	c.Known.At = at(54.136 - 20)
	if got := replicaPositions("a", map[string]peerView{"b": b, "c": c}, 6, t0, p); len(got) != 0 {
		t.Errorf("known offsets of another epoch or too old: %+v, want none", got)
	}
	prev := identities{Ident: redisIdentity{RunID: "a-3145", ReplID: "b443373e", Offset: 169292, Keys: 1200}}
	for _, keys := range []int64{0, 1} {
		o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "a-3332", ReplID: "0cb30d29", Offset: 0, Keys: keys}
		s := nextIdentity(prev, o, identityCtx{Named: true, Epoch: 6, Fork: 158527, ForkReplID: "ce33c574", NewReplID: "b443373e",
			SelfAddr: "a:6379", Replicas: func() []replicaPos { return replicaPositions("a", peers, 6, t0, p) }, Now: t0, DownAfter: p.DownAfter})
		if !s.Empty || s.EmptyEpoch != 6 {
			t.Errorf("empty restart with %d keys, c out of reach at 158651: %+v, want empty at epoch 6", keys, s)
		}
	}
}

// Chaos seed 4902 (N=3), b's view at 56.018 s: b's Redis, epoch 2's
// primary (promoted at 24504 on 893f8732, beginning dc04975d), killed at
// 43.6 s with the last copy of the 820 writes and 36 retry-queue INCRs it
// took from 25.9 s, came back from its AOF (offset 0 on d2744c39, its
// keys) beside a restarted sidecar. a's Redis, wiped, pointed at itself at
// 0 with no keys; c's, detached at 61107 on dc04975d at 18 s with 898
// keys, was stopped, its offset known only from c's report. Counted as a
// replica on another history beyond the fork, it made b's Redis empty: it
// full-synced c's 898 keys. Known with its history and keys, it is a
// replica of the promoted process holding no more than the AOF.
func TestKnownReplicaOnThePromotedHistoryLeavesAOFRestartSeed4902(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 56.018) * float64(time.Second))) }
	a := rep("a", 0) // wiped, pointing at itself
	a.Rep.Obs.ReplID, a.Rep.Obs.Keys, a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp = "484f5008", 0, "a:6379", false, false
	seen := report{Name: "c", Epoch: 2, Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "c:6379", Synced: true,
		Offset: 61107, ReplID: "dc04975d", Keys: 898}}
	stopped := report{Name: "c", Epoch: 2, Obs: obsSummary{Reachable: false}}
	sent := func(replID string, keys int64) report { // c's sidecar's report, with what it last saw
		r := stopped
		r.KnownEpoch, r.KnownOffset, r.KnownAgoMs, r.KnownReplID, r.KnownKeys = 2, 61107, 9200, replID, keys
		return r
	}
	for _, tt := range []struct {
		name  string
		known knownOffset // b's view of c, from c's reports
		keys  int64       // b's Redis's
		empty bool
	}{
		{"seed 4902: c's report tells the history and keys it last saw", mergeKnown(knownOffset{}, sent("dc04975d", 898), at(56)), 1700, false},
		{"b's sidecar saw c's Redis itself before it stopped", mergeKnown(mergeKnown(knownOffset{}, seen, at(46.5)), stopped, at(56)), 1700, false},
		{"c held more keys: the AOF was begun afresh", mergeKnown(knownOffset{}, sent("dc04975d", 2000), at(56)), 1700, true},
		{"c on another history", mergeKnown(knownOffset{}, sent("other", 898), at(56)), 1700, true},
		{"c's sidecar does not send the history", mergeKnown(knownOffset{}, sent("", 0), at(56)), 1700, true},
		{"b's Redis restarted without keys", mergeKnown(knownOffset{}, sent("dc04975d", 898), at(56)), 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := peerView{Rep: stopped, Received: at(56), Known: tt.known}
			peers := map[string]peerView{"a": a, "b": rep("b", 0), "c": c}
			o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "b-run2", ReplID: "d2744c39", Offset: 0, Keys: tt.keys}
			s := nextIdentity(identities{}, o, identityCtx{Named: true, Epoch: 2, Fork: 24504, ForkReplID: "893f8732", NewReplID: "dc04975d",
				SelfAddr: "b:6379", Replicas: func() []replicaPos { return replicaPositions("b", peers, 2, t0, p) }, Now: t0, DownAfter: p.DownAfter})
			if s.Empty != tt.empty || !tt.empty && s.Ident.RunID != "b-run2" {
				t.Errorf("%+v (replicas %+v), want empty %v", s, replicaPositions("b", peers, 2, t0, p), tt.empty)
			}
		})
	}
}

// Chaos seed 2714 (N=3), a's view at 21:28:46.191: a's sidecar and Redis
// were killed at epoch 4 (a named and promoted, no fork recorded: its Redis
// was a primary already); the Redis came back from its AOF with 36 keys at
// offset 0, beside a sidecar with nothing remembered. c's Redis, back from
// its AOF with the writes of the epochs before, pointed at itself at
// offset 0 on its own history. Offsets told nothing, the restart was "not
// judged", and after down_after its identity stood: c's Redis was
// re-pointed to a's and full-synced 36 keys. A replica holding more keys
// on another history makes it empty; one holding fewer leaves it unjudged.
func TestRicherReplicaJudgesRestartSeed2714(t *testing.T) {
	o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "a-8428", ReplID: "c368e88d", Offset: 0, Keys: 36}
	for _, tt := range []struct {
		name     string
		replicas []replicaPos
		empty    bool
	}{
		{"c holds more keys", []replicaPos{{ReplID: "c1f8fd69", Offset: 0, Keys: 700}}, true},
		{"c holds fewer keys", []replicaPos{{ReplID: "c1f8fd69", Offset: 0, Keys: 12}}, false},
		{"c's keys not known", []replicaPos{{ReplID: "c1f8fd69", Offset: 0, Keys: -1}}, false},
	} {
		s := nextIdentity(identities{}, o, identityCtx{Named: true, Epoch: 4, SelfAddr: "a:6379",
			Replicas: func() []replicaPos { return tt.replicas }, Now: t0, DownAfter: 2 * time.Second})
		if s.Empty != tt.empty || !tt.empty && s.Unsure.IsZero() {
			t.Errorf("%s: %+v, want empty %v (else not judged yet)", tt.name, s, tt.empty)
		}
	}
	// The keys reach the judgement from the replica's report.
	c := rep("c", 0)
	c.Rep.Obs.ReplID, c.Rep.Obs.Synced, c.Rep.Obs.LinkUp, c.Rep.Obs.MasterAddr, c.Rep.Obs.Keys = "c1f8fd69", false, false, "c:6379", 700
	if got := replicaPositions("a", map[string]peerView{"c": c}, 4, t0, testParams()); len(got) != 1 || got[0].Keys != 700 {
		t.Errorf("replicaPositions = %+v, want c with 700 keys", got)
	}
}

// Chaos seed 9909 (N=3), b's view at 40.744 s: b's Redis, epoch 5's
// primary (promoted at 128235 on e8bece0a, the history epoch 4's primary c
// began, beginning 4d96032b), was killed without persistence at 38.13 s
// and came back at offset 0 with no key. a's Redis, wiped at 25.2 s and
// pointing at itself at 0, was killed with a's sidecar at 36.6 s; c's
// Redis, epoch 4's primary, deposed at 36.67 s and cut from b's by a
// Redis-only partition (34.56–46.19 s), stayed a paused primary at 135918
// on e8bece0a with the writes of epochs 3 and 4, among them the 148 writes
// acknowledged at 26.33–28.31 s and 40 retry-queue INCRs. With no replica
// beyond 0 the restart was "not judged"; after down_after its identity
// stood and b vouched for it, and at 46.19 s, the partition healed, b
// demoted c's Redis into it: c's full-synced 0 keys, only its tail beyond
// 128235 replayed. The deposed primary on the history the promotion left
// counts, up to the fork: the restart is empty, while one from an AOF with
// keys still stands.
func TestDeposedPrimaryJudgesRestartSeed9909(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 40.744) * float64(time.Second))) }
	a := rep("a", 0) // wiped, pointing at itself; its sidecar killed since
	a.Received = at(36.5)
	a.Rep.Obs.ReplID, a.Rep.Obs.Keys, a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp = "59ec4491", 0, "a:6379", false, false
	deposed := func(replID string) peerView {
		c := rep("c", 135918)
		c.Received = at(40.7)
		c.Rep.Obs.Role, c.Rep.Obs.ReplID, c.Rep.Obs.ReplID2, c.Rep.Obs.MasterAddr, c.Rep.Obs.Keys = monitor.RolePrimary, replID, "10fd76cd", "", 460
		c.Rep.Obs.Synced, c.Rep.Obs.LinkUp = false, false
		return c
	}
	prev := identities{Ident: redisIdentity{RunID: "b-15841", ReplID: "4d96032b", Offset: 128300, Keys: 460}}
	for _, tt := range []struct {
		name  string
		c     peerView
		keys  int64 // b's restarted Redis's
		empty bool
	}{
		{"seed 9909: c deposed on the history the promotion left, b back with no key", deposed("e8bece0a"), 0, true},
		{"b back from its AOF with its keys: c counts up to the fork only", deposed("e8bece0a"), 460, false},
		{"c a primary on another history proves nothing", deposed("other"), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{"a": a, "b": rep("b", 0), "c": tt.c}
			ctx := func(now time.Time) identityCtx {
				return identityCtx{Named: true, Epoch: 5, Fork: 128235, ForkReplID: "e8bece0a", NewReplID: "4d96032b", SelfAddr: "b:6379",
					Replicas: func() []replicaPos { return replicaPositions("b", peers, 5, now, p) }, DownAfter: p.DownAfter, Now: now}
			}
			o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "b-15960", ReplID: "628b0bb4", ReplID2: "39338557", Offset: 0, Keys: tt.keys}
			s := nextIdentity(prev, o, ctx(t0))
			// Asked again after down_after, as the sidecar does while the
			// restart is not judged: an unknown verdict then stands.
			o.Time = at(42.8)
			s = nextIdentity(s, o, ctx(o.Time))
			if s.Empty != tt.empty || !tt.empty && s.Ident.RunID != "b-15960" {
				t.Errorf("%+v (replicas %+v), want empty %v (else its identity stands)", s, replicaPositions("b", peers, 5, t0, p), tt.empty)
			}
		})
	}
	// A deposed primary on another history is no replica that follows
	// the restarted one: with nothing else to compare, not judged.
	other := []replicaPos{{ReplID: "other", Offset: 135918, Keys: 460, Deposed: true}}
	if v := judgeRestart(redisIdentity{}, redisIdentity{RunID: "b-15960", ReplID: "628b0bb4"}, promotion{Fork: 128235, ForkReplID: "e8bece0a"}, other); v != restartUnknown {
		t.Errorf("judgeRestart with a deposed primary on another history = %v, want %v", v, restartUnknown)
	}
}

// Chaos seed 719 (N=3), the leader a's view at 57.173 s. Epoch 5 names b,
// promoted at 53.8 s over a's epoch-4 history (no fork recorded: its
// REPLICAOF NO ONE answered late and the retried promotion found a
// primary); b's Redis holds every retry-queue INCR of epoch 4 at 60120, and
// b was cut off with it at 56.155 s, its last report (56.10 s) showing its
// Redis a primary with its data. c's Redis, epoch 3's primary, is a paused
// primary on epoch 4's fork history with the INCRs before 37 s. a's Redis,
// killed at epoch 4 without persistence, came back from the 25 s old RDB of
// an earlier full sync (414 keys, offset 0, a new history) and points at
// itself: a holder. Promoted, it became the sync source of b and c and 86
// INCRs were lost. The holder waits for b, for the durable wait at most.
func TestHolderWaitsForAPrimaryLastSeenWithItsData(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 57.173) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Promoted: true, Started: at(44.310), Previous: "a",
		Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 3, New: "c", ReplID: "H1", Offset: 26048, Start: at(11.376)},
			{Epoch: 4, New: "a", ReplID: "H3", Offset: 44305, Start: at(39.109)},
		}}
	mk := func(now time.Time, edit func(b *peerView)) map[string]peerView {
		a := down(rep("a", 0), "b", 5) // restarted from a stale RDB, detached
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "A6", 414
		b := rep("b", 60120)
		b.Rep.Epoch = 5
		asPrimary(&b, "B5", 700)
		b.AsPrimary = primaryMark{Epoch: 5, ReplID: "B5"}
		b.Known = knownOffset{Epoch: 4, Offset: 60120, At: at(42.4)}
		b.Received, b.UpAt = at(56.10), at(56.10)
		c := down(rep("c", 44680), "b", 5) // a paused primary
		asPrimary(&c, "H3", 650)
		a.Received, c.Received = now, now
		if edit != nil {
			edit(&b)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(b *peerView)
		want        string // "" for a wait for b
	}{
		{"b cut off 1.1 s ago with its data: wait for b", 57.173, 1, nil, ""},
		{"b's last report: its Redis down", 57.173, 1, func(b *peerView) {
			b.Rep.Obs.Reachable, b.Rep.Obs.Role, b.UpAt = false, "", at(55.0)
		}, "a"},
		{"b's last report: its Redis came back empty", 57.173, 1, func(b *peerView) {
			b.Rep.Empty, b.Rep.SDownPrimary, b.Rep.SDownEpoch = true, "b", 5
		}, "a"},
		{"b's last report: its Redis a replica", 57.173, 1, func(b *peerView) {
			b.Rep.Obs.Role, b.Rep.Obs.MasterAddr = monitor.RoleReplica, "c:6379"
		}, "a"},
		{"ten down_after after b last answered: the holder", 76.2, 1, nil, "a"},
		{"without min_replicas: the holder", 57.173, 0, nil, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "b")
		})
	}
}

// Chaos seed 2702 (N=3), the leader a's view at 62.13 s. Epoch 3's
// primary a took writes and 21 retry-queue INCRs that b's Redis alone
// acknowledged (a's Redis was then killed without persistence); epoch 5
// promoted b's Redis at its offset on a's history, 139302, at 60.09 s, and
// a partition cut b off as it did: the promoted entry committed, but b's
// last report to arrive was sent before, its Redis a replica at the fork.
// c's Redis, back from its AOF at 53.8 s without any of those writes,
// points at itself (1667 keys); a's, back from an RDB, too (762 keys). The
// leader took b's replica role for a Redis whose next sync wipes it,
// promoted c as a holder, and b's Redis full-synced from it at 67.6 s.
func TestPrimaryLastSeenAtItsPromotionSeed2702(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 62.132) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Promoted: true, Started: at(59.022), Previous: "a",
		Members: members("a", "b", "c"), Fork: 139302, ForkReplID: "F9B7",
		PastForks: []pastFork{
			{Epoch: 2, New: "c", ReplID: "2E1E", Offset: 34488, Start: at(13.432)},
			{Epoch: 3, New: "a", ReplID: "CDFC", Offset: 126514, Start: at(50.417)},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 52884), "b", 5) // back from an old RDB, detached
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "A6", 762
		c := down(rep("c", 0), "b", 5) // back from its AOF, detached
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, false, "62DD", 1667
		a.Received, c.Received, a.UpAt, c.UpAt = now, now, now, now
		b := rep("b", 139302) // sent just before its promotion
		b.Rep.Epoch = 5
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "a:6379", false, "F9B7", 1900
		b.Received, b.UpAt = at(60.05), at(60.05)
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	editB := func(f func(b *peerView)) func(map[string]peerView) {
		return func(peers map[string]peerView) { b := peers["b"]; f(&b); peers["b"] = b }
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		want        string // "" for a wait for b
	}{
		{"b cut off as it was promoted: wait for b", 62.132, 1, nil, ""},
		{"the same for a synced replica below the fork (forkFloor)", 62.132, 1, func(peers map[string]peerView) {
			c := peers["c"]
			c.Rep.Obs.Role, c.Rep.Obs.MasterAddr = monitor.RolePrimary, ""
			peers["c"] = c
			a := peers["a"]
			a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Offset = "c:6379", true, true, "62DD", 100
			peers["a"] = a
		}, ""},
		{"b's last report below the fork: the holder", 62.132, 1, editB(func(b *peerView) { b.Rep.Obs.Offset = 120000 }), "c"},
		{"b's last report a replica on another history: the holder", 62.132, 1, editB(func(b *peerView) { b.Rep.Obs.ReplID = "CB3B" }), "c"},
		{"ten down_after after b last answered: the holder", 80.1, 1, nil, "c"},
		{"without min_replicas: the holder", 62.132, 0, nil, "c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "b")
		})
	}
}

// Chaos seed 1308 (N=3), the leader a's view. Epoch 4 named c at 27.78 s;
// its promotion was refused (its Redis had restarted empty), so it was
// never promoted. a's Redis, killed without persistence, came back from
// the RDB of an earlier full sync (725 keys, offset 52808 on a new
// history) and, demoted to c at 43.4 s, points at c with its link down: a
// holder. b's Redis, its AOF wiped, points at itself with no key. c's
// Redis, synced from a's with the same 725 keys, was last heard answering
// at 39.33 s; then a partition, two kills without persistence, a node kill
// and a forget kept it out of reach, and the leader waited for it to
// answer until it came back at 63.6 s: 38.7 s without writes, 22 s of
// them with faults on c only. A member out of reach holds a holder back for
// the durable wait since it was last heard answering, not for ever.
func TestHolderStopsWaitingForAMemberOutOfReach(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 60) * float64(time.Second))) }
	st := groupState{Epoch: 4, Primary: "c", Promoted: false, Started: at(27.78), Previous: "a",
		Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "H1", Offset: 27988, Start: at(8.38)},
			{Epoch: 3, New: "a", ReplID: "H2", Offset: 72733, Start: at(23.77)},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 52808), "c", 4)
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "c:6379", false, false, "H4", 725
		b := down(rep("b", 1), "c", 4)
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "b:6379", false, false, "B4", 0
		c := down(rep("c", 52808), "c", 4) // detached as empty when its promotion was refused
		c.Rep.Epoch, c.Rep.Empty = 4, true
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, false, "H4", 725
		c.Known = knownOffset{Epoch: 4, Offset: 52808, At: at(35.07)}
		c.Received, c.UpAt, c.UpKeys, c.First = at(39.33), at(39.33), 725, at(0.5)
		a.Received, b.Received = now, now
		a.UpAt, b.UpAt = now, now
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		want        string // "" for no promotion
		forgotten   bool   // c forgotten (vigil forget)
	}{
		{"c last heard 10.7 s ago: the holder waits", 50, 1, nil, "", false},
		{"ten down_after after c last answered: the holder", 59.4, 1, nil, "a", false},
		{"c answers again: the holder, as before", 50, 1, func(peers map[string]peerView) {
			c := peers["c"]
			c.Received, c.UpAt = at(50), at(50)
			peers["c"] = c
		}, "a", false},
		{"b out of reach too, more than min_replicas: nobody", 59.4, 1, func(peers map[string]peerView) {
			b := peers["b"]
			b.Received, b.UpAt = at(30), at(30)
			peers["b"] = b
		}, "", false},
		{"c never heard answering: nobody", 59.4, 1, func(peers map[string]peerView) {
			c := peers["c"]
			c.UpAt = time.Time{}
			peers["c"] = c
		}, "", false},
		// Without min_replicas: down_after (2 s) after c last answered
		// (39.33 s) and the failover started (chaos seeds 15501, 15505).
		{"without min_replicas, c last heard 1.6 s ago: the holder waits", 40.9, 0, nil, "", false},
		{"without min_replicas, down_after after c last answered: the holder", 41.4, 0, nil, "a", false},
		{"without min_replicas, b out of reach too, heard 1 s ago: nobody", 59.4, 0, func(peers map[string]peerView) {
			b := peers["b"]
			b.Received, b.UpAt = at(58.4), at(58.4)
			peers["b"] = b
		}, "", false},
		{"without min_replicas, c never heard answering: nobody", 59.4, 0, func(peers map[string]peerView) {
			c := peers["c"]
			c.UpAt = time.Time{}
			peers["c"] = c
		}, "", false},
		{"without min_replicas, c forgotten: the holder at once", 40.9, 0, nil, "a", true},
		// c last heard holding more keys than a, or an unknown count: the
		// durable wait (ten down_after), as its report may only be late
		// (chaos seed 16131).
		{"without min_replicas, c last heard with more keys: the holder waits", 41.4, 0, func(peers map[string]peerView) {
			c := peers["c"]
			c.UpKeys = 1158
			peers["c"] = c
		}, "", false},
		{"without min_replicas, c last heard with more keys, the durable wait over: the holder", 59.4, 0, func(peers map[string]peerView) {
			c := peers["c"]
			c.UpKeys = 1158
			peers["c"] = c
		}, "a", false},
		{"without min_replicas, c's keys unknown: the holder waits", 41.4, 0, func(peers map[string]peerView) {
			c := peers["c"]
			c.UpKeys = -1
			peers["c"] = c
		}, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			st := st
			if tt.forgotten {
				st.Members = members("a", "b", "c")
				st.Members["c"] = memberAddrs{Redis: st.Members["c"].Redis, Priority: 100, Forgotten: true}
			}
			d := decideLeader(now, st, mk(now, tt.edit), q, "")
			if !d.Stuck {
				t.Fatalf("not stuck: %+v", d)
			}
			if tt.want == "" {
				if d.Action == leaderPromote {
					t.Fatalf("target %q holder %v, want no promotion (excluded %v, why not %q)", d.Target, d.Holder, d.Excluded, d.WhyNot)
				}
				return
			}
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v wait for %q, want the holder %s (excluded %v, why not %q)",
					d.Target, d.Action, d.Holder, d.WaitFor, tt.want, d.Excluded, d.WhyNot)
			}
		})
	}
}

// Chaos seed 5507 (N=3), the leader c's view at 52.57 s. Epoch 4's primary
// b took retry-queue INCRs that a's Redis acknowledged (WAIT 1); b was cut
// off at 30.3 s and epoch 5 promoted a at 32.49 s (its fork not recorded).
// a's Redis was killed without persistence and came back from an old RDB,
// judged empty (pointing at itself, 433 keys); b's Redis, stopped, alone
// held epoch 4's writes. c's Redis, parked at epoch 4's fork on the history
// it left, followed a with the link down (890 keys): a holder. 20.08 s
// after epoch 5 began, holderWaitOver counted a as in reach and b as the
// one Redis out of reach "within min_replicas", the leader promoted c, and
// b's Redis, back 2.4 s later, full-synced from its successor.
func TestHolderWaitsWhenTheEmptyPrimaryHeldTheOtherCopy(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 52.57) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "a", Promoted: true, Started: at(32.49), Previous: "b",
		Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "AF27", Offset: 27339, Start: at(9.49), NewReplID: "963A"},
			{Epoch: 3, New: "c", ReplID: "963A", Offset: 27353, Start: at(18.67), NewReplID: "C505"},
			{Epoch: 4, New: "b", ReplID: "C505", Offset: 60086, Start: at(26.79), NewReplID: "F2F2"},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 27353), "a", 5) // back from an old RDB, judged empty, pointing at itself
		a.Rep.Epoch, a.Rep.Empty = 5, true
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "B840", 433
		b := rep("b", 78000) // last heard as epoch 4's primary, before the cut
		b.Rep.Epoch = 4
		asPrimary(&b, "F2F2", 1300)
		b.Received, b.UpAt = at(30.3), at(30.3)
		c := down(rep("c", 60086), "a", 5)
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "a:6379", false, false, "C505", 890
		a.Received, a.UpAt, c.Received, c.UpAt = now, now, now, now
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		forgotten   string // a member the operator forgot
		want        string // "" for no promotion
	}{
		{"b out of reach, a's copies gone: the holder waits", 52.57, 1, nil, "", ""},
		{"b forgotten by the operator: the holder c", 52.57, 1, nil, "b", "c"},
		{"b forgotten within the durable wait of the failover's start: the holder waits", 52.0, 1, nil, "b", ""},
		{"b answers again, pointing at itself with epoch 4's writes: b", 55.0, 1, func(peers map[string]peerView) {
			b := peers["b"]
			b.Rep.Epoch = 5
			b.Rep.Obs.Role, b.Rep.Obs.MasterAddr, b.Rep.Obs.Offset, b.Rep.Obs.Keys = monitor.RoleReplica, "b:6379", 80674, 1394
			b.Received, b.UpAt = at(55.0), at(55.0)
			peers["b"] = b
		}, "", "b"},
		{"a not found empty, answering as a replica: the holder c after the durable wait, as before", 52.57, 1, func(peers map[string]peerView) {
			a := peers["a"]
			a.Rep.Empty = false
			peers["a"] = a
		}, "", "c"},
		{"b last heard less than ten down_after ago: the holder waits, as before", 52.0, 1, func(peers map[string]peerView) {
			a := peers["a"]
			a.Rep.Empty = false
			peers["a"] = a
		}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			st := st
			st.Members = members("a", "b", "c")
			if tt.forgotten != "" {
				m := st.Members[tt.forgotten]
				m.Forgotten = true
				st.Members[tt.forgotten] = m
			}
			d := decideLeader(now, st, mk(now, tt.edit), q, "")
			if tt.want == "" {
				if d.Action == leaderPromote {
					t.Fatalf("target %q holder %v, want no promotion (excluded %v, why not %q)", d.Target, d.Holder, d.Excluded, d.WhyNot)
				}
				return
			}
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v wait for %q, want the holder %s (excluded %v, why not %q)",
					d.Target, d.Action, d.Holder, d.WaitFor, tt.want, d.Excluded, d.WhyNot)
			}
		})
	}
}

// Chaos seed 1809 (N=5): d's sidecar restarted inside the minority [c d],
// never verified; its Redis followed c, link down, holding c's
// WAIT-confirmed writes past the fork. Cut off for fence_after since its
// start, it points at itself before c's Redis restarts on a new history.
func TestUnreadyIsolatedReplicaDetaches(t *testing.T) {
	p := testParams()
	p.MinReplicas = 1
	st := groupState{Epoch: 4, Primary: "c", Promoted: true, Members: members("a", "b", "c", "d", "e")}
	d := func(master string, linkUp bool, started time.Time) localInput {
		return localInput{Now: t0, Self: "d", State: st, Ready: false, Started: started, P: p,
			Obs: localObs{Reachable: true, Role: monitor.RoleReplica, MasterAddr: master, LinkUp: linkUp, Time: t0,
				ReplID: "C4", Offset: 139791},
			PrimaryAddr: "c:6379", SelfAddr: "d:6379"}
	}
	long := t0.Add(-2 * p.FenceAfter)
	noMin := d("c:6379", false, long)
	noMin.P.MinReplicas = 0
	contact := d("c:6379", false, long)
	contact.LastContact = t0
	for _, tt := range []struct {
		name string
		in   localInput
		want bool
	}{
		{"seed 1809: unready, cut off since start, link down: detach", d("c:6379", false, long), true},
		{"just started: not yet", d("c:6379", false, t0.Add(-p.FenceAfter/2)), false},
		{"link up: it streams", d("c:6379", true, long), false},
		{"already detached", d("d:6379", false, long), false},
		{"Raft contact: not isolated", contact, false},
		{"without min_replicas", noMin, false},
	} {
		if got := decideLocal(tt.in).Detach; got != tt.want {
			t.Errorf("%s: Detach %v, want %v", tt.name, got, tt.want)
		}
	}
}

// checkHolderOrWait fails t unless d, with ODOWN, promotes the holder
// want or, with want "", promotes nobody and waits for waitFor.
// holderWaitCase is one leader decision of a holder-or-wait table: at now
// (the seed's seconds), with min_replicas, after edit changes the waited-for
// member's view, the holder promoted (want) or a wait ("").
type holderWaitCase struct {
	name        string
	now         float64
	minReplicas int
	edit        func(*peerView)
	want        string
}

// runHolderWaits runs the cases against decideLeader with the peers mk
// builds, expecting a wait for waitFor where a case wants none promoted.
func runHolderWaits(t *testing.T, p params, st groupState, at func(float64) time.Time,
	mk func(time.Time, func(*peerView)) map[string]peerView, waitFor string, cases []holderWaitCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, waitFor)
		})
	}
}

func checkHolderOrWait(t *testing.T, d leaderDecision, want, waitFor string) {
	t.Helper()
	if !d.ODown {
		t.Fatalf("no ODOWN: %+v", d)
	}
	if want == "" {
		if d.Action == leaderPromote || d.WaitFor != waitFor {
			t.Fatalf("target %q action %v holder %v wait for %q, want a wait for %s (excluded %v, why not %q)",
				d.Target, d.Action, d.Holder, d.WaitFor, waitFor, d.Excluded, d.WhyNot)
		}
		return
	}
	if d.Action != leaderPromote || d.Target != want || !d.Holder {
		t.Fatalf("target %q action %v holder %v wait for %q, want the holder %s (excluded %v, why not %q)",
			d.Target, d.Action, d.Holder, d.WaitFor, want, d.Excluded, d.WhyNot)
	}
}

// Chaos seed 3307 (N=3), the leader a's view at 65.546 s. Epoch 5 promoted
// a over b's history 5DF5 at 155276; the retry-queue INCRs of a's and c's
// queues were applied on a's Redis and acknowledged by c's. a's Redis was
// then killed without persistence, and epoch 6 promoted c at 168627. c's
// Redis was killed at 60.05 s (AOF on); its sidecar reports it down. a's
// Redis came back empty and points at itself; b's, still on 5DF5 past
// epoch 5's fork, points at itself with 2204 keys: a holder lacking every
// write acknowledged since that fork. The leader promoted b 110 ms before
// c's Redis came back from its AOF with them; c full-synced from b and 32
// INCRs were lost. A holder on a history a recorded promotion left waits
// for the promoted primary whose Redis answered within the durable wait.
func TestLeftHistoryHolderWaitsForADownPrimarySeed3307(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 65.546) * float64(time.Second))) }
	st := groupState{Epoch: 6, Primary: "c", Promoted: true, Started: at(53.483), Previous: "a",
		Members: members("a", "b", "c"), Fork: 168627, ForkReplID: "6429",
		PastForks: []pastFork{
			{Epoch: 2, New: "c", ReplID: "205D", Offset: 124122, Start: at(30.427)},
			{Epoch: 4, New: "b", ReplID: "5DA3", Offset: 146737, Start: at(38.480)},
			{Epoch: 5, New: "a", ReplID: "5DF5", Offset: 155276, Start: at(45.996)},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 0), "c", 6) // back empty, detached
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "6B53", 0
		b := down(rep("b", 157297), "c", 6) // detached on epoch 5's left history
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "b:6379", false, false, "5DF5", 2204
		c := down(rep("c", 0), "c", 6) // its sidecar up, its Redis killed
		c.Rep.Epoch = 6
		c.Rep.Obs = obsSummary{}
		a.Received, b.Received, c.Received = now, now, now
		a.UpAt, b.UpAt, c.UpAt = now, now, at(60.05)
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		want        string // "" for a wait for c
	}{
		{"c's Redis down 5.5 s, b past epoch 5's fork on the history it left: wait for c", 65.546, 1, nil, ""},
		{"b on an older left history (epoch 4's)", 65.546, 1, editPeer("b", func(b *peerView) { b.Rep.Obs.ReplID = "5DA3" }), ""},
		{"b past the fork on the history c's promotion left, a's Redis holding keys: the holder", 65.546, 1, edits(keyed("a"), editPeer("b", func(b *peerView) { b.Rep.Obs.ReplID = "6429" })), "b"},
		{"c's Redis back, not judged yet: still wait for c", 65.7, 1, editPeer("c", func(c *peerView) {
			c.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "9E5A", Keys: 2330}
			c.Rep.Unsure = true
		}), ""},
		{"b on a history no promotion left (back from its AOF), a's Redis holding keys: the holder", 65.546, 1, edits(keyed("a"), editPeer("b", func(b *peerView) { b.Rep.Obs.ReplID = "B7" })), "b"},
		{"b on a history no promotion left, a's Redis empty: wait for c, the last copy", 65.546, 1, editPeer("b", func(b *peerView) { b.Rep.Obs.ReplID = "B7" }), ""},
		{"c's Redis came back empty: the holder", 65.546, 1, editPeer("c", func(c *peerView) {
			c.Rep.Empty = true
			c.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "9E5A"}
		}), "b"},
		{"c's Redis answers as a replica: the holder", 65.546, 1, editPeer("c", func(c *peerView) {
			c.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "b:6379", ReplID: "9E5A"}
		}), "b"},
		{"ten down_after after c last answered, a's Redis holding keys: the holder", 80.1, 1, keyed("a"), "b"},
		{"ten down_after after c last answered, a's Redis empty: still wait for c, the last copy", 80.1, 1, nil, ""},
		{"without min_replicas: the holder", 65.546, 0, nil, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "c")
		})
	}
}

// Chaos seed 3702 (N=3), the leader c's view at 66.266 s. Epoch 5 promoted
// a at 73162, leaving c658 (epoch 4's history), and began d06c; a's and
// c's retry queues drained 37 INCRs into a's Redis, acknowledged by c's
// (WAIT 1), its one replica, which detached at 83468 when c's sidecar lost
// the majority. a's sidecar was stopped at 44.2 s, the last report of it
// the leader had with its Redis up; after it resumed, cut off by a gossip
// partition, it saw its Redis answer as the primary at 84737 until it was
// killed (AOF on) at 57.4 s, and its reports carried that (Known) once the
// partition healed. c's Redis was killed without persistence and wiped at
// 62.0 s and came back empty. b's Redis, epoch 4's deposed primary exactly
// at the fork on c658, pointed at itself with 996 keys: a holder lacking
// every write a took since its promotion. Measured from the last report's
// arrival (44.2 s) the wait for a had lapsed, and a holder on the history
// a's own promotion left was not held for it at all: b was promoted, a's
// Redis came back from its AOF 1.7 s later and full-synced from b.
func TestForkHistoryHolderWaitsForAPrimarySeenPastItsForkSeed3702(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 66.266) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "a", Promoted: true, Started: at(43.363), Previous: "b",
		Members: members("a", "b", "c"), Fork: 73162, ForkReplID: "c658",
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "ed02", Offset: 47492, Start: at(12.285)},
			{Epoch: 3, New: "c", ReplID: "1ede", Offset: 53227, Start: at(19.429)},
			{Epoch: 4, New: "b", ReplID: "d5a9", Offset: 65704, Start: at(36.668)},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		// a's sidecar: its Redis down, what it last saw of it carried in
		// its report (reached the leader at 64.9 s).
		a := down(rep("a", 0), "a", 5)
		a.Rep.Epoch, a.Rep.Obs = 5, obsSummary{}
		a.Rep.KnownEpoch, a.Rep.KnownOffset, a.Rep.KnownAgoMs = 5, 84737, 7530
		a.UpAt, a.AsPrimary = at(44.2), primaryMark{Epoch: 5, ReplID: "d06c"}
		a.Known = mergeKnown(knownOffset{Epoch: 5, Offset: 80210, At: at(44.2)}, a.Rep, at(64.9))
		b := down(rep("b", 73162), "a", 5) // epoch 4's deposed primary, pointing at itself
		b.Rep.Epoch = 5
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced, b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "b:6379", false, false, "c658", 996
		b.Known = knownOffset{Epoch: 4, Offset: 73162, At: at(65.4)}
		c := down(rep("c", 0), "a", 5) // back empty, pointing at itself
		c.Rep.Epoch = 5
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, false, "e1", 0
		c.Known = knownOffset{Epoch: 5, Offset: 83468, At: at(60.44)}
		a.Received, b.Received, c.Received = now, now, now
		b.UpAt, c.UpAt = now, now
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		want        string // "" for a wait for a
	}{
		{"a's Redis seen past its fork 8.9 s ago, b at the fork on the history a's promotion left: wait for a", 66.266, 1, nil, ""},
		{"b past the fork on that history (the deposed primary's tail) lacks a's writes too: wait for a", 66.266, 1,
			editPeer("b", func(b *peerView) { b.Rep.Obs.Offset = 75000 }), ""},
		{"a's Redis back from its AOF, judged: wait for a", 67.95, 1, editPeer("a", func(a *peerView) {
			a.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "f401", Keys: 1100}
			a.UpAt = at(67.95)
		}), ""},
		{"a seen only at its fork, nothing taken since, c's Redis holding keys: b", 66.266, 1,
			edits(keyed("c"), editPeer("a", func(a *peerView) { a.Known = knownOffset{Epoch: 5, Offset: 73162, At: at(57.4)} })), "b"},
		{"a's sidecar saw nothing after its last report at 44.2 s, c's Redis holding keys: the wait lapsed, b", 66.266, 1,
			edits(keyed("c"), editPeer("a", func(a *peerView) { a.Known = knownOffset{Epoch: 5, Offset: 80210, At: at(44.2)} })), "b"},
		{"a's sidecar saw nothing after 44.2 s, c's Redis empty: wait for a, the last copy", 66.266, 1,
			editPeer("a", func(a *peerView) { a.Known = knownOffset{Epoch: 5, Offset: 80210, At: at(44.2)} }), ""},
		{"ten down_after after a's sidecar last saw its Redis, c's Redis holding keys: b", 77.4, 1, keyed("c"), "b"},
		{"ten down_after after a's sidecar last saw its Redis, c's Redis empty: still wait for a", 77.4, 1, nil, ""},
		{"a's Redis came back empty: b", 66.266, 1, editPeer("a", func(a *peerView) {
			a.Rep.Empty = true
			a.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RolePrimary, ReplID: "f401"}
		}), "b"},
		{"without min_replicas: b", 66.266, 0, nil, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "a")
		})
	}
}

// Chaos seed 5306 (N=3), the leader a's view at 48.570 s. Epoch 2 promoted
// b at 28151, leaving 9861 and beginning 4c7a; epoch 3 promoted c at 54812,
// leaving 4c7a; epoch 4 promoted b at 54826 on d0cb (its Redis had kept
// its tail). The retry queues drained 27 INCRs into b's Redis at epoch 2.
// a's Redis, stopped from 7.0 s to 17.0 s, then made a primary at 21.2 s
// on 9861 at 28521 to keep its tail (fc31, master_replid2 9861), followed
// b's with the link down: a holder with 452 keys, lacking every write since
// epoch 2. b's Redis was stopped at 45.7 s; its sidecar reported it out of
// reach. When c's sidecar came back (c's Redis wiped, empty), the leader
// promoted a as a holder; b's Redis resumed 0.7 s later and full-synced
// from it.
func TestHolderMadePrimaryOnALeftHistoryWaitsSeed5306(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 48.570) * float64(time.Second))) }
	st := groupState{Epoch: 4, Primary: "b", Promoted: true, Started: at(44.363), Previous: "c",
		Members: members("a", "b", "c"), Fork: 54826, ForkReplID: "d0cb",
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "9861", Offset: 28151, Start: at(9.015), NewReplID: "4c7a"},
			{Epoch: 3, New: "c", ReplID: "4c7a", Offset: 54812, Start: at(20.216), NewReplID: "8424"},
		}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 28521), "b", 4) // made a primary on 9861, then re-pointed to b
		a.Rep.Epoch = 4
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.Keys = "b:6379", false, false, 452
		a.Rep.Obs.ReplID, a.Rep.Obs.ReplID2 = "fc31", "9861"
		b := down(rep("b", 0), "b", 4) // its sidecar up, its Redis stopped
		b.Rep.Epoch = 4
		b.Rep.Obs = obsSummary{}
		c := down(rep("c", 0), "b", 4) // back wiped, empty
		c.Rep.Epoch = 4
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "a:6379", false, false, "e1", 0
		a.Received, b.Received, c.Received = now, now, now
		a.UpAt, b.UpAt, c.UpAt = now, at(45.7), now
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(peers map[string]peerView)
		want        string // "" for a wait for b
	}{
		{"b's Redis down 2.9 s, a made a primary on epoch 2's left history: wait for b", 48.570, 1, nil, ""},
		{"a on the history epoch 3 began (followed c; master_replid2 the history it left), c's Redis holding keys: the holder", 48.570, 1, edits(keyed("c"), editPeer("a", func(a *peerView) {
			a.Rep.Obs.ReplID, a.Rep.Obs.ReplID2 = "8424", "4c7a"
		})), "a"},
		{"a made a primary on the history b's own promotion left, c's Redis holding keys: the holder", 48.570, 1, edits(keyed("c"), editPeer("a", func(a *peerView) { a.Rep.Obs.ReplID2 = "d0cb" })), "a"},
		{"a made a primary on the history b's own promotion left, c's Redis empty: wait for b, the last copy", 48.570, 1, editPeer("a", func(a *peerView) { a.Rep.Obs.ReplID2 = "d0cb" }), ""},
		{"a without master_replid2 (back from its AOF), c's Redis holding keys: the holder", 48.570, 1, edits(keyed("c"), editPeer("a", func(a *peerView) { a.Rep.Obs.ReplID2 = "" })), "a"},
		{"b's Redis came back empty: the holder", 48.570, 1, editPeer("b", func(b *peerView) { b.Rep.Empty = true }), "a"},
		{"ten down_after after b last answered, c's Redis holding keys: the holder", 65.8, 1, keyed("c"), "a"},
		{"ten down_after after b last answered, c's Redis empty: still wait for b, the last copy", 65.8, 1, nil, ""},
		{"without min_replicas: the holder", 48.570, 0, nil, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "b")
		})
	}
}

// Chaos seed 6106 (N=3), the leader a's view at 44.6 s. Epoch 4 promoted a
// at 33966 (beginning 3890); a's Redis took 79 writes and 15 retry-queue
// INCRs that b's acknowledged, then was killed without persistence and came
// back with no key, pointing at itself (not the named primary: never judged
// empty). Epoch 5 promoted b at 43120 on 3890 (23.3 s, beginning 0561);
// b's sidecar was wiped and cut off, its last report at 24.5 s, and its
// Redis was stopped from 37.5 s. c's Redis, back from its AOF with epoch
// 3's data (513 keys, 2c32 at 0), followed b with the link down: a holder.
// Every other Redis answered, so once primaryHolds' durable wait lapsed the
// leader promoted c, and b's Redis full-synced from it when it resumed.
func TestHolderWaitsForThePrimarysLastCopySeed6106(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 44.6) * float64(time.Second))) }
	base := groupState{Epoch: 5, Primary: "b", Promoted: true, Started: at(23.26), Previous: "a",
		Members: members("a", "b", "c"), Fork: 43120, ForkReplID: "3890",
		PastForks: []pastFork{{Epoch: 4, New: "a", ReplID: "7ed5", Offset: 33966, Start: at(19.1), NewReplID: "3890"}}}
	mk := func(now time.Time, edit func(peers map[string]peerView)) map[string]peerView {
		a := down(rep("a", 0), "b", 5) // no key, pointing at itself
		a.Rep.Epoch = 5
		a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "a1b2", 0
		b := rep("b", 43500) // last heard as the primary, with its data
		b.Rep.Epoch = 5
		asPrimary(&b, "0561", 1100)
		b.Received, b.UpAt = at(24.5), at(24.5)
		c := down(rep("c", 0), "b", 5)
		c.Rep.Epoch = 5
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "b:6379", false, false, "2c32", 513
		a.Received, a.UpAt, c.Received, c.UpAt = now, now, now, now
		peers := map[string]peerView{"a": a, "b": b, "c": c}
		if edit != nil {
			edit(peers)
		}
		return peers
	}
	for _, tt := range []struct {
		name        string
		minReplicas int
		forgotten   bool // b forgotten by the operator
		edit        func(peers map[string]peerView)
		want        string // "" for a wait for b
	}{
		{"b out of reach, a's Redis without its copies: wait for b, the last copy", 1, false, nil, ""},
		{"a's Redis holding keys: the holder, the durable wait over", 1, false, keyed("a"), "c"},
		{"a's sidecar found its Redis empty: wait for b", 1, false, editPeer("a", func(a *peerView) { a.Rep.Empty, a.Rep.Obs.Keys = true, 3 }), ""},
		{"b last reported its Redis empty: the holder", 1, false, editPeer("b", func(b *peerView) { b.Rep.Empty = true }), "c"},
		{"b forgotten: the holder", 1, true, nil, "c"},
		{"without min_replicas: the holder", 0, false, nil, "c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			st := base
			st.Members = members("a", "b", "c")
			if tt.forgotten {
				m := st.Members["b"]
				m.Forgotten = true
				st.Members["b"] = m
			}
			now := at(44.6)
			d := decideLeader(now, st, mk(now, tt.edit), q, "")
			checkHolderOrWait(t, d, tt.want, "b")
			if tt.want == "" && (!d.LastCopy || !strings.Contains(d.WhyNot, "vigil forget b")) {
				t.Fatalf("last copy %v, why not %q: want the unbounded wait named", d.LastCopy, d.WhyNot)
			}
		})
	}
}

// editPeer returns an edit of a table row's peer views: f changes name's.
func editPeer(name string, f func(v *peerView)) func(map[string]peerView) {
	return func(peers map[string]peerView) { v := peers[name]; f(&v); peers[name] = v }
}

// edits applies each edit in turn.
func edits(es ...func(map[string]peerView)) func(map[string]peerView) {
	return func(peers map[string]peerView) {
		for _, e := range es {
			e(peers)
		}
	}
}

// keyed gives name's Redis keys, so it may still hold its copies of
// acknowledged writes (not copyLost).
func keyed(name string) func(map[string]peerView) {
	return editPeer(name, func(v *peerView) { v.Rep.Empty, v.Rep.Obs.Keys = false, 10 })
}

// Chaos seed 4705 (N=3), the leader b's view at 49.23 s: epoch 3 named c
// (32.9 s), which never promoted (its Redis made a primary at 47095 on
// 2cfac406, its promotion never committed). b's Redis, epoch 2's primary
// (promoted at 44477 on 42aa4b4a, leading a3b7bc3a), points at itself at
// 47163 on a3b7bc3a with every write epoch 2 acknowledged; a's, epoch 1's
// deposed primary, came back from its AOF on a new history (8630ca9a at
// 0) with 720 keys, 54 of them writes it took past epoch 2's fork after a
// partition cut it off. The leader promoted a for its keys and b's Redis
// full-synced from it. A holder on the history the newest recorded
// promotion began, at or past where it began, ranks first.
func TestHolderOnTheLastPromotedHistoryOutranksAnAOFHolderSeed4705(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 49.23) * float64(time.Second))) }
	fork := pastFork{Epoch: 2, New: "b", ReplID: "42aa4b4a", Offset: 44477, Start: at(16.05), NewReplID: "a3b7bc3a"}
	mk := func(bReplID string, bOffset, aKnown int64) map[string]peerView {
		a := rep("a", 0) // back from its AOF, pointing at itself: no provable position
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp = 3, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "8630ca9a", 720
		a.UpAt = t0
		if aKnown > 0 {
			a.Known = knownOffset{Epoch: 2, Offset: aKnown, At: at(30)}
		}
		b := rep("b", bOffset) // epoch 2's primary, detached
		b.Rep.Epoch, b.Rep.Obs.MasterAddr, b.Rep.Obs.Synced, b.Rep.Obs.LinkUp = 3, "b:6379", false, false
		b.Rep.Obs.ReplID, b.Rep.Obs.Keys = bReplID, 683
		b.Known, b.UpAt = knownOffset{Epoch: 2, Offset: bOffset, At: at(29.7)}, t0
		c := rep("c", 47095) // named, never promoted: its Redis made a primary
		c.Rep.Epoch, c.Rep.Obs.Role, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = 3, monitor.RolePrimary, "2cfac406", 683
		c.UpAt = t0
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name    string
		forks   []pastFork
		bReplID string
		bOffset int64
		aKnown  int64
		want    string
	}{
		{"b on the history epoch 2 began: b", []pastFork{fork}, "a3b7bc3a", 47163, 0, "b"},
		{"no history recorded as begun (older entries): the most keys", func() []pastFork { f := fork; f.NewReplID = ""; return []pastFork{f} }(), "a3b7bc3a", 47163, 0, "a"},
		{"b on another history: the most keys", []pastFork{fork}, "other", 47163, 0, "a"},
		{"another holder known further on: the most keys", []pastFork{fork}, "a3b7bc3a", 47163, 48000, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := groupState{Epoch: 3, Primary: "c", Started: at(32.93), Previous: "b", Members: members("a", "b", "c"), PastForks: tt.forks}
			d := decideLeader(at(49.23), st, mk(tt.bReplID, tt.bOffset, tt.aKnown), p, "")
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q, stuck %v)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot, d.Stuck)
			}
		})
	}
}

// Chaos seed 13806 (N=3), the leader b's view at 64.45 s: epoch 4 promoted
// c at 57923 on c50e78d4 (beginning 07848b42), and 58 retry-queue INCRs
// applied under epochs 3 and 4 were in every Redis that followed c. Epoch 5
// named a at 65089 on 07848b42; a's Redis was killed and came back from the
// RDB of its full sync from c, at 57923 on 07848b42 with 893 keys (every
// INCR), so its sidecar refused the promotion (not at 65089) and reported
// it empty. c's Redis was wiped (0 keys); b's, epoch 2's deposed primary,
// pointed at itself at 56161 on bf94487d, past epoch 3's fork, with 878
// keys and none of the INCRs. Excluded as the refused primary, a's Redis
// was no holder; the leader promoted b for its keys and a's full-synced
// from it. A named primary reported empty whose Redis still holds keys is
// a holder like any other.
func TestRefusedNamedPrimaryWithKeysIsAHolderSeed13806(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 64.454) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "a", Previous: "c", Started: at(43.064), Members: members("a", "b", "c"),
		PastForks: []pastFork{{Epoch: 3, New: "a", ReplID: "bf94487d", Offset: 52423, Start: at(26.155), NewReplID: "c50e78d4"},
			{Epoch: 4, New: "c", ReplID: "c50e78d4", Offset: 57923, Start: at(39.858), NewReplID: "07848b42"}}}
	parked := func(name, replID string, offset, keys int64) peerView {
		pv := rep(name, offset)
		pv.Rep.Epoch, pv.Rep.Obs.MasterAddr, pv.Rep.Obs.Synced, pv.Rep.Obs.LinkUp = 5, name+":6379", false, false
		pv.Rep.Obs.ReplID, pv.Rep.Obs.Keys = replID, keys
		pv.UpAt = t0
		return down(pv, "a", 5)
	}
	mk := func() map[string]peerView {
		a := parked("a", "07848b42", 57923, 893)
		a.Rep.Empty = true // its promotion refused
		return map[string]peerView{"a": a, "b": parked("b", "bf94487d", 56161, 878), "c": parked("c", "f7cc8060", 0, 0)}
	}
	for _, tt := range []struct {
		name string
		edit func(map[string]peerView)
		want string
	}{
		{"seed 13806: a's Redis on epoch 4's history, the most keys", func(map[string]peerView) {}, "a"},
		{"a's Redis on another history with fewer keys: b", editPeer("a", func(v *peerView) { v.Rep.Obs.ReplID, v.Rep.Obs.Keys = "e1e1e1e1", 700 }), "b"},
		// The replay: a's Redis back from the RDB as a primary on a new
		// history (master_replid2 07848b42), judged empty, then detached.
		{"replay: a's Redis on a new history, the most keys", editPeer("a", func(v *peerView) {
			v.Rep.Obs.ReplID, v.Rep.Obs.ReplID2 = "46e25603", "07848b42"
		}), "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := mk()
			tt.edit(peers)
			d := decideLeader(at(64.454), st, peers, p, "")
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q, stuck %v)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot, d.Stuck)
			}
		})
	}
	// Named again, it has down_after to promote: the ODOWN votes its
	// peers carry over from epoch 5 do not replace it at once (the replay
	// named it at epoch 6 and again at epoch 7, 22 ms later).
	again := st
	again.Epoch, again.Previous, again.Started = 6, "a", at(64.454)
	named := mk()
	for n, pv := range named {
		pv.Rep.Empty = false
		named[n] = down(pv, "a", 6)
	}
	if d := decideLeader(at(64.476), again, named, p, ""); d.Action == leaderPromote {
		t.Fatalf("22 ms after naming a again: promote %q (odown %v)", d.Target, d.ODown)
	}
	again.Started = at(62.4)
	if d := decideLeader(at(64.476), again, named, p, ""); d.Action != leaderPromote {
		t.Fatalf("down_after after naming a again: action %v, want a failover (why not %q)", d.Action, d.WhyNot)
	}

	// A refused named primary that holds no key is no holder (chaos seed
	// 1906: a copy of nothing).
	peers := mk()
	editPeer("a", func(v *peerView) { v.Rep.Obs.Keys = 0 })(peers)
	if d := decideLeader(at(64.454), st, peers, p, ""); d.Target == "a" {
		t.Fatalf("target a with no key (holder %v)", d.Holder)
	}
}

// A named primary the leader chose as a holder for its keys (seed 13806's
// fix names a refused one so) stands at its promotion while it still
// holds as many and no replica holds more, wherever its history began:
// judged empty against a replica's higher offset on another history, its
// sidecar refused it again, and the leader, finding it still the holder
// with the most keys, named it again, a new epoch each round. A replica
// ahead on its own history, or one holding more keys, still makes it empty.
func TestHolderChosenForItsKeysStands(t *testing.T) {
	prev := redisIdentity{RunID: "a-1", ReplID: "07848b42", Offset: 69798, Keys: 1085}
	cur := redisIdentity{RunID: "a-2", ReplID: "55d18ef0", ReplID2: "07848b42", Offset: 57797, Keys: 893}
	holder := promotion{ChosenKeys: 893}
	for _, tt := range []struct {
		name     string
		replicas []replicaPos
		want     restartVerdict
	}{
		{"a replica further on another history, fewer keys", []replicaPos{{ReplID: "fc8a236c", Offset: 60000, Keys: 874}}, restartNone},
		{"a replica with more keys", []replicaPos{{ReplID: "fc8a236c", Offset: 60000, Keys: 900}}, restartEmpty},
		{"a replica ahead on its own history", []replicaPos{{ReplID: "55d18ef0", Offset: 58000, Keys: 874}}, restartEmpty},
	} {
		if got := judgeRestart(prev, cur, holder, tt.replicas); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := judgeRestart(prev, cur, promotion{}, []replicaPos{{ReplID: "fc8a236c", Offset: 60000, Keys: 874}}); got != restartEmpty {
		t.Errorf("not chosen as a holder, a replica further on another history: %v, want empty", got)
	}
}

// Chaos seed 9817 (N=5), the leader e's view at 69.48 s: 11 retry-queue
// INCRs enqueued at c, d and e (57.0–60.6 s) while the partition [a] |
// [b c d e] cut off a, epoch 9's primary, were applied by epoch 11's c
// (promoted at 142444 on b643bdfc, beginning 13357cbe) at 62.82 s, just
// before its Redis was stopped, and acknowledged by d's and e's Redis.
// Epoch 12 promoted d at 144498 on 13357cbe; d's node was killed without
// persistence at 65.96 s before d took a write (NOREPLICAS), and its Redis
// came back from an old RDB, found empty. e's Redis, never re-pointed to d,
// parked (pointing at itself) at exactly 144498 on 13357cbe with every
// INCR: a synced candidate on another history than d's 727b2d44. a's
// Redis, fenced after 96 commands past epoch 10's fork (142444 on
// 5986436b), pointed at itself on 63600eb3 (master_replid2 5986436b): a
// holder with more keys, its extra ones that deposed tail. e was set aside
// as "fewer keys", a promoted, and e's and c's Redis full-synced from it.
// A holder an earlier promotion left does not set aside a candidate at or
// past the primary's own fork on the history it left.
func TestHolderLeftByAnEarlierForkDoesNotSetAsideOneAtThePrimarysForkSeed9817(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 69.478) * float64(time.Second))) }
	st := groupState{Epoch: 12, Primary: "d", Previous: "c", Promoted: true, Started: at(64.896),
		Members: members("a", "b", "c", "d", "e"), Fork: 144498, ForkReplID: "13357cbe",
		PastForks: []pastFork{
			{Epoch: 9, New: "a", ReplID: "3f61e695", Offset: 128464, Start: at(54.016), NewReplID: "5986436b"},
			{Epoch: 10, New: "b", ReplID: "5986436b", Offset: 142444, Start: at(58.803), NewReplID: "b643bdfc"},
			{Epoch: 11, New: "c", ReplID: "b643bdfc", Offset: 142444, Start: at(62.0), NewReplID: "13357cbe"},
		}}
	holder := func(name string, offset int64, replID, replID2 string, keys int64) peerView {
		v := rep(name, offset) // pointing at itself: no provable position
		v.Rep.Epoch, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp, v.Rep.Obs.Synced = 12, name+":6379", false, false
		v.Rep.Obs.ReplID, v.Rep.Obs.ReplID2, v.Rep.Obs.Keys = replID, replID2, keys
		v.UpAt = t0
		return v
	}
	mk := func(aReplID, aReplID2 string, eOffset int64) map[string]peerView {
		d := rep("d", 82097) // back from an old RDB, found empty, pointing at itself
		d.Rep.Epoch, d.Rep.Empty, d.Rep.Obs.MasterAddr, d.Rep.Obs.LinkUp, d.Rep.Obs.Synced = 12, true, "d:6379", false, false
		d.Rep.Obs.ReplID, d.Rep.Obs.Keys = "631217d6", 700
		d.Rep.SDownPrimary, d.Rep.SDownEpoch = "d", 12
		d.AsPrimary, d.UpAt = primaryMark{Epoch: 12, ReplID: "727b2d44"}, t0
		e := rep("e", eOffset) // parked at d's fork, pointing at itself; still synced on 13357cbe
		e.Rep.Epoch, e.Rep.Obs.MasterAddr, e.Rep.Obs.LinkUp = 12, "e:6379", false
		e.Rep.Obs.ReplID, e.Rep.Obs.Keys = "13357cbe", 1985
		e.UpAt = t0
		return map[string]peerView{
			"a": holder("a", 145922, aReplID, aReplID2, 2050),
			"b": holder("b", 142444, "b643bdfc", "5986436b", 1950),
			"c": holder("c", 144601, "13357cbe", "b643bdfc", 1988),
			"d": d,
			"e": e,
		}
	}
	for _, tt := range []struct {
		name              string
		aReplID, aReplID2 string
		eOffset           int64
		want              string
		wantHolder        bool
	}{
		{"a left by epoch 10's fork, e at d's fork: e", "63600eb3", "5986436b", 144498, "e", false},
		{"a on a history no promotion left (an AOF restart): the most keys", "aof0", "", 144498, "a", true},
		{"e below d's fork: the most keys", "63600eb3", "5986436b", 144000, "a", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideLeader(t0, st, mk(tt.aReplID, tt.aReplID2, tt.eOffset), p, "")
			if d.Action != leaderPromote || d.Target != tt.want || d.Holder != tt.wantHolder {
				t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q, wait for %q)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot, d.WaitFor)
			}
		})
	}
}

// Chaos seed 11314 (N=5), the leader e's view of epoch 10's failover:
// epoch 9's a, promoted at 236017 on e97cca (beginning e47d59), took 6
// writes that b's Redis alone received before a's Redis was killed; b's
// pointed at itself at 238260 on e47d59. d's Redis held e97cca up to
// 243430 (c's epoch-8 writes past a's fork) and had begun a history of its
// own there, with more keys. The leader promoted d, and the 6 writes were
// lost. A holder on the promoted primary's own history leads, and a
// holder's last known offset on another history does not take that lead;
// a replica synced on e97cca past a's fork, with more keys than b, is set
// aside for it as well once the durable floor b set has lapsed.
func TestHolderOnThePromotedPrimarysHistoryLeadsSeed11314(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 61.3) * float64(time.Second))) }
	holder := func(name string, offset int64, replID, replID2 string, keys int64, known knownOffset) peerView {
		v := down(rep(name, offset), "a", 9) // pointing at itself: no provable position
		v.Rep.Epoch, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp, v.Rep.Obs.Synced = 9, name+":6379", false, false
		v.Rep.Obs.ReplID, v.Rep.Obs.ReplID2, v.Rep.Obs.Keys = replID, replID2, keys
		v.Known, v.UpAt = known, t0
		return v
	}
	for _, tt := range []struct {
		name    string
		dKnown  knownOffset
		aHolder bool // a's Redis back from its AOF, pointing at itself
		eSynced bool // e's Redis synced on e97cca past a's fork, with more keys than b's
		want    string
	}{
		{"d known further on another history: b", knownOffset{Epoch: 8, Offset: 243430, ReplID: "e97cca", At: at(40)}, false, false, "b"},
		{"d known further on an unreported history: the most keys", knownOffset{Epoch: 8, Offset: 243430, At: at(40)}, false, false, "d"},
		{"d known further on b's history: the most keys", knownOffset{Epoch: 9, Offset: 239000, ReplID: "e47d59", At: at(58)}, false, false, "d"},
		{"a replica synced past a's fork with more keys than b: b", knownOffset{Epoch: 8, Offset: 243430, ReplID: "e97cca", At: at(40)}, false, true, "b"},
		{"the primary's own Redis among the holders: the most keys", knownOffset{Epoch: 8, Offset: 243430, ReplID: "e97cca", At: at(40)}, true, false, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := groupState{Epoch: 9, Primary: "a", Promoted: true, Started: at(50), Previous: "c",
				Members: members("a", "b", "c", "d", "e"), Fork: 236017, ForkReplID: "e97cca", NewReplID: "e47d59",
				PastForks: []pastFork{{Epoch: 8, New: "c", ReplID: "5ee1", Offset: 200000, Start: at(40), NewReplID: "e97cca"}}}
			a := rep("a", 0) // its Redis killed
			a.Rep.Epoch, a.Rep.Obs.Reachable, a.Rep.Obs.Role = st.Epoch, false, monitor.RoleUnknown
			a.UpAt, a.AsPrimary = at(59.085), primaryMark{Epoch: 9, ReplID: "e47d59"}
			if tt.aHolder {
				a = holder("a", 0, "a0f0", "", 730, knownOffset{})
				a.Rep.Obs.Reachable = true
			}
			peers := map[string]peerView{
				"a": a,
				"b": holder("b", 238260, "e47d59", "e97cca", 700, knownOffset{Epoch: 9, Offset: 238260, ReplID: "e47d59", At: at(59)}),
				"c": holder("c", 243430, "e97cca", "5ee1", 718, knownOffset{Epoch: 8, Offset: 243430, ReplID: "e97cca", At: at(40)}),
				"d": holder("d", 243535, "d0d0", "e97cca", 720, tt.dKnown),
				"e": holder("e", 236017, "e97cca", "5ee1", 690, knownOffset{}),
			}
			if tt.eSynced {
				// Still following c's Redis, which now points at itself.
				e := down(rep("e", 243430), "a", 9)
				e.Rep.Obs.MasterAddr, e.Rep.Obs.LinkUp, e.Rep.Obs.ReplID, e.Rep.Obs.Keys, e.UpAt = "c:6379", false, "e97cca", 710, t0
				// b's sidecar last saw its Redis synced a durable wait ago:
				// the floor it set (durableFloor) has lapsed.
				b := peers["b"]
				b.Known.At = at(41)
				peers["b"], peers["e"] = b, e
			}
			for n, v := range peers {
				v.Rep.Epoch = st.Epoch
				if v.Rep.SDown {
					v.Rep.SDownEpoch = st.Epoch
				}
				peers[n] = v
			}
			d := decideLeader(at(61.3), st, peers, p, "")
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v, want holder %q (excluded %v, why not %q, wait for %q)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot, d.WaitFor)
			}
		})
	}
}

// Chaos seed 17754 (N=5, shipped defaults): b's node, epoch 6's primary
// (promoted at 41838 on a3a13acc), was killed with no replica synced. The
// leader promoted the holder with the most keys: d's Redis, back from its
// AOF on a history of its own at 0 with 650 keys of epochs 3 and 4. e's,
// with 625, stood on a3a13acc at exactly 41838, with every write
// acknowledged up to the fork, and 8 of them were lost. A holder that
// proves the history up to the fork ranks first; one that left it at or
// past the fork for its own proves as much and ranks by keys with it.
func TestHolderAtTheForkRanksOverAnAOFRestartSeed17754(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := t0.Add(-10 * time.Second)
	holder := func(name string, offset int64, replID, replID2 string, offset2, keys int64) peerView {
		v := down(rep(name, offset), "b", 6) // pointing at itself: no provable position
		v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp, v.Rep.Obs.Synced = name+":6379", false, false
		v.Rep.Obs.ReplID, v.Rep.Obs.ReplID2, v.Rep.Obs.ReplOffset2, v.Rep.Obs.Keys = replID, replID2, offset2, keys
		v.UpAt = t0
		return v
	}
	aof := holder("d", 0, "d0d0", "", 0, 650)
	for _, tt := range []struct {
		name string
		d    peerView
		want string
	}{
		{"d back from its AOF, e at the fork: e", aof, "e"},
		{"d left the history past the fork for its own: the most keys", holder("d", 900, "d0d0", "a3a13acc", 43001, 650), "d"},
		{"d left it before the fork: e", holder("d", 900, "d0d0", "a3a13acc", 40001, 650), "e"},
		{"d from a sidecar that does not report where it left it: e", holder("d", 900, "d0d0", "a3a13acc", 0, 650), "e"},
		{"d last known on b's history: the most keys", func() peerView {
			v := aof
			v.Known = knownOffset{Epoch: 6, Offset: 42000, ReplID: "b6b6b6b6", At: at}
			return v
		}(), "d"},
		{"d last known past the fork on an unreported history: the most keys", func() peerView {
			v := aof
			v.Known = knownOffset{Epoch: 6, Offset: 42000, At: at}
			return v
		}(), "d"},
		{"d last known before the fork: e", func() peerView {
			v := aof
			v.Known = knownOffset{Epoch: 5, Offset: 30000, ReplID: "a3a13acc", At: at}
			return v
		}(), "e"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := groupState{Epoch: 6, Primary: "b", Promoted: true, Started: at, Previous: "a",
				Members: members("a", "b", "c", "d", "e"), Fork: 41838, ForkReplID: "a3a13acc", NewReplID: "b6b6b6b6"}
			gone := func(name string) peerView {
				v := down(rep(name, 0), "b", 6)
				v.Rep.Obs.Reachable, v.Rep.Obs.Role = false, monitor.RoleUnknown
				return v
			}
			b := gone("b")
			b.Rep.SDown = false
			b.AsPrimary = primaryMark{Epoch: 6, ReplID: "b6b6b6b6"}
			// a's and c's Redis answer, behind the fork.
			peers := map[string]peerView{"a": holder("a", 30000, "a3a13acc", "", 0, 400), "b": b, "c": holder("c", 30500, "a3a13acc", "", 0, 410), "d": tt.d,
				"e": holder("e", 41838, "a3a13acc", "", 0, 625)}
			for n, v := range peers {
				v.Rep.Epoch = st.Epoch
				peers[n] = v
			}
			d := decideLeader(t0, st, peers, p, "")
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v, want holder %q (excluded %v, why not %q, wait for %q)", d.Target, d.Action, d.Holder, tt.want, d.Excluded, d.WhyNot, d.WaitFor)
			}
		})
	}
}

// Chaos seed 5108 (N=3): a's node, epoch 3's primary (promoted at 51307,
// leaving 734a956e, beginning bc007201), came back from an AOF begun afresh
// after a wipe: 2 keys at offset 0 on 7d65c3ab. Its restarted sidecar
// judged it with c's report alone (c's wiped Redis pointing at itself, 0,
// no key) and let it stand; b's, pointing at itself at 52576 on 734a956e
// with every write, came a moment later and was demoted into it.
func TestRestartedSidecarJudgesWithEveryMemberSeed5108(t *testing.T) {
	o := monitor.Observation{Time: t0, Role: monitor.RolePrimary, RunID: "a-2", ReplID: "7d65c3ab", Offset: 0, Keys: 2}
	c := replicaPos{ReplID: "c0ffee00", Offset: 0, Keys: 0}
	b := replicaPos{ReplID: "734a956e", Offset: 52576, Keys: 650}
	for _, tt := range []struct {
		name     string
		replicas []replicaPos
		unheard  bool
		empty    bool
		unsure   bool
	}{
		{"c heard, b not yet", []replicaPos{c}, true, false, true},
		{"both heard", []replicaPos{c, b}, false, true, false},
		{"c alone in the group", []replicaPos{c}, false, false, false},
	} {
		s := nextIdentity(identities{}, o, identityCtx{Named: true, Epoch: 3, Fork: 51307, ForkReplID: "734a956e", NewReplID: "bc007201",
			SelfAddr: "a:6379", Replicas: func() []replicaPos { return tt.replicas }, Unheard: func() bool { return tt.unheard },
			Now: t0, DownAfter: 2 * time.Second})
		if s.Empty != tt.empty || s.Unsure.IsZero() == tt.unsure || tt.unsure && s.Ident.RunID != "" {
			t.Errorf("%s: %+v, want empty %v, unsure %v", tt.name, s, tt.empty, tt.unsure)
		}
	}
	// A sidecar that saw its Redis hold data judges as before.
	if got := judgeHeard(redisIdentity{RunID: "a-1"}, restartNone, true); got != restartNone {
		t.Errorf("judgeHeard with a known identity = %v, want restartNone", got)
	}
	st := groupState{Members: map[string]memberAddrs{"a": {}, "b": {}, "c": {}}}
	peers := map[string]peerView{"c": {Received: t0}}
	if !unheardMember("a", st, peers, t0, testParams()) {
		t.Error("unheardMember: b never reported, want true")
	}
	peers["b"] = peerView{Received: t0}
	if unheardMember("a", st, peers, t0, testParams()) {
		t.Error("unheardMember: every member reported, want false")
	}
}

// A replica whose sidecar went silent while its Redis still followed the
// promoted primary may hold what that primary took since: with
// min_replicas the leader counts it at the primary's last known offset,
// not at the replica's own last report. Chaos seed 6119 (N=3): c's
// sidecar was SIGSTOPped at 42.68 while c's Redis, a's only linked
// replica (b's Redis was parked at 152187), went on acknowledging a's
// writes, a retry-queue INCR among them, to 156017; a's Redis was killed
// at 44.97 and the leader promoted b for 152187 against c's last report,
// and c's and a's copies later full-synced from b.
func TestDurableFloorSilentSidecarFollowingPrimarySeed6119(t *testing.T) {
	st := groupState{Epoch: 4, Primary: "a", Promoted: true, Members: members("a", "b", "c")}
	silent := t0.Add(-4300 * time.Millisecond)
	for _, tt := range []struct {
		name       string
		edit       func(a, c *peerView)
		wantTarget string
	}{
		{"c's Redis was linked to a when its sidecar went silent: wait for c", func(a, c *peerView) {}, ""},
		{"c's Redis was not linked to a then", func(a, c *peerView) { c.Rep.Obs.LinkUp = false }, "b"},
		{"c's Redis did not answer then", func(a, c *peerView) { c.Rep.Obs = obsSummary{} }, "b"},
		{"linked to another primary", func(a, c *peerView) { c.Rep.Obs.MasterAddr = "b:6379" }, "b"},
		{"a's offset was seen before c went silent", func(a, c *peerView) { a.Known.At = silent.Add(-time.Second) }, "b"},
		{"a's offset is on another history", func(a, c *peerView) { a.Known.ReplID = "other" }, "b"},
		{"c silent for ten down_after", func(a, c *peerView) {
			c.Received = t0.Add(-10 * time.Second)
			c.Known.At = c.Received
		}, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// a: the leader's own sidecar, its Redis killed after it was
			// last seen leading 6ae4d5 at 156017.
			a := down(rep("a", 0), "a", 4)
			a.Rep.Epoch, a.Rep.Obs = 4, obsSummary{}
			a.Known = knownOffset{Epoch: 4, Offset: 156017, At: t0.Add(-2 * time.Second), ReplID: "6ae4d5"}
			// b: parked on itself at 152187, its link to a down.
			b := down(rep("b", 152187), "a", 4)
			b.Rep.Epoch, b.Rep.Obs.ReplID, b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp = 4, "6ae4d5", "b:6379", false
			// c: its last report before its sidecar stopped, linked to a.
			c := rep("c", 152000)
			c.Received = silent
			c.Rep.Epoch, c.Rep.Obs.ReplID, c.Rep.Obs.MasterAddr = 4, "6ae4d5", "a:6379"
			c.Known = knownOffset{Epoch: 4, Offset: 152000, At: silent, ReplID: "6ae4d5"}
			tt.edit(&a, &c)
			p := testParams()
			p.MinReplicas, p.MaxLagBytes = 1, 1<<20
			checkTargetOrBehind(t, decideLeader(t0, st, map[string]peerView{"a": a, "b": b, "c": c}, p, ""), tt.wantTarget, "b", "c")
		})
	}
}

// checkHolderPromotion fails t unless d promotes want (none when empty),
// as a holder exactly when holder.
func checkHolderPromotion(t *testing.T, d leaderDecision, want string, holder bool) {
	t.Helper()
	if d.Target != want || (want != "") != (d.Action == leaderPromote) || d.Holder != holder {
		t.Fatalf("target %q action %v holder %v, want %q (excluded %v, why not %q)", d.Target, d.Action, d.Holder, want, d.Excluded, d.WhyNot)
	}
}

// checkTargetOrBehind checks a leader decision with ODOWN: the promotion
// of want, or, with want "", none, behind excluded as behind while the
// leader waits for waitFor.
func checkTargetOrBehind(t *testing.T, d leaderDecision, want, behind, waitFor string) {
	t.Helper()
	if !d.ODown {
		t.Fatalf("no ODOWN: %+v", d)
	}
	if d.Target != want || (want != "") != (d.Action == leaderPromote) {
		t.Fatalf("target %q action %v, want %q (excluded %v, why not %q)", d.Target, d.Action, want, d.Excluded, d.WhyNot)
	}
	if want == "" && (d.Excluded[behind] != whyBehind || d.WaitFor != waitFor) {
		t.Errorf("excluded %v, wait for %q; want %s behind, waiting for %s", d.Excluded, d.WaitFor, behind, waitFor)
	}
}

// With min_replicas, a replica out of reach last seen synced on the
// promoted primary's own history holds writes that primary acknowledged
// there; a candidate on a third history is not promoted over it, whatever
// its offset (historyHeld). Chaos seed 6214 (N=5): e's Redis, epoch 5's
// primary (promoted at 57479 leaving b12020, beginning 557cd9), came back
// from its AOF on a new history and took writes on 8d3605 with a's Redis
// as its one replica; a's report went stale for a moment and the leader
// promoted d, parked at 62930 on 557cd9, over a's 7116; a full-synced
// from d.
func TestHistoryHeldSeed6214(t *testing.T) {
	st := groupState{Epoch: 5, Primary: "e", Promoted: true, Fork: 57479, ForkReplID: "b12020", Members: members("a", "b", "c", "d", "e")}
	for _, tt := range []struct {
		name       string
		edit       func(a *peerView)
		wantTarget string
	}{
		{"a, on e's history, stale: wait for a", func(a *peerView) {}, ""},
		{"a last seen ten down_after ago", func(a *peerView) {
			a.Received = t0.Add(-10 * time.Second)
			a.Known.At = a.Received
		}, "d"},
		{"a last seen on another history", func(a *peerView) { a.Known.ReplID, a.Rep.Obs.ReplID = "other", "other" }, "d"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// e: its Redis stopped after it was last seen leading 8d3605.
			e := down(rep("e", 0), "e", 5)
			e.Rep.Epoch, e.Rep.Obs = 5, obsSummary{}
			e.AsPrimary = primaryMark{Epoch: 5, ReplID: "8d3605"}
			// a: linked to e on 8d3605 at 7116, its last report 600 ms old.
			a := rep("a", 7116)
			a.Received = t0.Add(-600 * time.Millisecond)
			a.Rep.Epoch, a.Rep.Obs.ReplID, a.Rep.Obs.MasterAddr = 5, "8d3605", "e:6379"
			a.Known = knownOffset{Epoch: 5, Offset: 7116, At: a.Received, ReplID: "8d3605", Keys: 900}
			// d: parked on itself at 62930 on the history e's promotion began.
			d := down(rep("d", 62930), "e", 5)
			d.Rep.Epoch, d.Rep.Obs.ReplID, d.Rep.Obs.MasterAddr, d.Rep.Obs.LinkUp = 5, "557cd9", "d:6379", false
			d.Known = knownOffset{Epoch: 5, Offset: 62930, At: t0, ReplID: "557cd9", Keys: 886}
			// b and c: resyncing, not synced.
			b, c := down(rep("b", 0), "e", 5), down(rep("c", 0), "e", 5)
			b.Rep.Epoch, c.Rep.Epoch = 5, 5
			b.Rep.Obs.Synced, c.Rep.Obs.Synced, b.Rep.Obs.LinkUp, c.Rep.Obs.LinkUp = false, false, false, false
			tt.edit(&a)
			p := testParams()
			p.MinReplicas, p.MaxLagBytes = 1, 1<<20
			checkTargetOrBehind(t, decideLeader(t0, st, map[string]peerView{"a": a, "b": b, "c": c, "d": d, "e": e}, p, ""), tt.wantTarget, "d", "a")
		})
	}
}

// Chaos seed 6813 (N=5): b's Redis, epoch 6's primary (promoted at 61333,
// leaving a's 7352377, beginning c274604a), came back from its AOF at
// offset 0 with every retry-queue INCR d's Redis had taken at epoch 4
// (acknowledged by a's and b's). d's Redis, epoch 4's deposed primary,
// detached at 63611 on 7b0772, which epoch 5 left at 61333: beyond that
// fork it held only its own divergent tail. Counted at 63611 it made b's
// restart "empty"; the group promoted e at 54977 on an older history, and
// b's Redis full-synced from it.
func TestAOFRestartAgainstATailPastAnEarlierForkSeed6813(t *testing.T) {
	prev := redisIdentity{RunID: "b-1", ReplID: "c274604a", Offset: 61400, Keys: 880}
	cur := redisIdentity{RunID: "b-2", ReplID: "20bea07e", Offset: 0, Keys: 880}
	past := []pastFork{
		{Epoch: 3, New: "c", ReplID: "4eacb666", Offset: 54977},
		{Epoch: 4, New: "d", ReplID: "ddcb1761", Offset: 54977},
		{Epoch: 5, New: "a", ReplID: "7b077293", Offset: 61333, NewReplID: "7352377"},
	}
	p := promotion{Fork: 61333, ForkReplID: "7352377", NewReplID: "c274604a", PastForks: past}
	a := replicaPos{ReplID: "9cb65dfc", Offset: 54977, Keys: 790}
	e := replicaPos{ReplID: "4eacb666", Offset: 54977, Keys: 790}
	d := replicaPos{ReplID: "7b077293", Offset: 63611, Keys: 915}
	for _, tt := range []struct {
		name     string
		p        promotion
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 6813: d past epoch 5's fork on the history it left", p, []replicaPos{a, e, d}, restartNone},
		{"no earlier fork recorded on d's history", promotion{Fork: 61333, ForkReplID: "7352377", NewReplID: "c274604a", PastForks: past[:2]},
			[]replicaPos{a, e, d}, restartEmpty},
		{"the earlier fork beyond this promotion's", promotion{Fork: 60000, ForkReplID: "7352377", NewReplID: "c274604a", PastForks: past},
			[]replicaPos{a, e, d}, restartEmpty},
		// Seed 5108: on the history this promotion left, past its fork,
		// the replica still makes an AOF restart empty.
		{"past this promotion's own fork", p, []replicaPos{a, e, {ReplID: "7352377", Offset: 61500, Keys: 900}}, restartEmpty},
		{"another replica beyond the fork on an unrecorded history", p, []replicaPos{a, d, {ReplID: "f00d", Offset: 61400}}, restartEmpty},
		{"a restart without keys", p, []replicaPos{a, e, d}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := cur
			if tt.name == "a restart without keys" {
				c.Keys = 0
			}
			if got := judgeRestart(prev, c, tt.p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
	if got, want := leftAt(d, p, redisIdentity{}), int64(61333); got != want {
		t.Errorf("leftAt(d) = %d, want %d", got, want)
	}
}

// Chaos seed 12102 (N=3): b's Redis, epoch 2's primary (promoted at
// 29036, leaving 9f31d978 and beginning c3b893a8), took 19 retry-queue
// INCRs and came back from its AOF at offset 0 with 932 keys. a's Redis,
// epoch 1's primary, cut off since before the promotion, sat as a replica
// at 29282 on 9f31d978 with 459 keys: the 246 bytes past the fork were its
// own tail, which no replica of b could hold. b's sidecar called the
// restart empty against them; epoch 3 promoted a, and b's Redis full-synced
// from it.
func TestAOFRestartAgainstTheTailPastItsOwnForkSeed12102(t *testing.T) {
	p := promotion{Fork: 29036, ForkReplID: "9f31d978", NewReplID: "c3b893a8"}
	prev := redisIdentity{RunID: "b-1", ReplID: "c3b893a8", Offset: 77000, Keys: 930}
	cur := redisIdentity{RunID: "b-2", ReplID: "7254ea16", Offset: 0, Keys: 932}
	a := replicaPos{ReplID: "9f31d978", Offset: 29282, Keys: 459}
	c := replicaPos{ReplID: "9f31d978", Offset: 0, Keys: 0} // restarted without persistence
	for _, tt := range []struct {
		name     string
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 12102: a's tail past the fork, fewer keys", []replicaPos{a, c}, restartNone},
		{"the tail's Redis holds more keys: the AOF may have begun afresh", []replicaPos{{ReplID: "9f31d978", Offset: 29282, Keys: 1000}, c}, restartEmpty},
		{"its keys not known", []replicaPos{{ReplID: "9f31d978", Offset: 29282, Keys: -1}, c}, restartEmpty},
		{"a replica past the fork on another history still tells", []replicaPos{{ReplID: "f00d", Offset: 29282, Keys: 459}, c}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(prev, cur, p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
	// An RDB restart is not helped: the rule is for offset 0 with keys.
	if got := judgeRestart(prev, redisIdentity{RunID: "b-2", ReplID: "7254ea16", Offset: 0}, p, []replicaPos{a, c}); got != restartEmpty {
		t.Errorf("restarted without keys: judgeRestart = %v, want empty", got)
	}
}

// Chaos seed 8330 (N=3), at 65.8 s. c's Redis, epoch 6's primary (promoted
// at 122485, leaving a's ae72f5c2 and beginning 7a0ffa8a), took 13
// retry-queue INCRs that b's Redis acknowledged; b's was killed without
// persistence and c's came back from its AOF with them (offset 0 on
// 24831bf7), pointing at itself once its sidecar, restarted with it, knew
// the state. Epoch 7's b came back empty; a's Redis pointed at itself at
// 123963 on ae72f5c2 (epoch 5's tail past the fork epoch 6 left, holding
// no acknowledged write), 1762 keys. The leader chose c, the holder with
// the most keys (1800 here: more than a's, not counted in the logs); c's
// sidecar judged its Redis empty against a's offset, epoch 9 promoted
// a, and c's Redis full-synced from it. A holder restarted from its AOF
// that still holds the keys it was chosen for, with no replica holding
// more, stands.
func TestHolderFromAOFStandsSeed8330(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	st := groupState{Epoch: 7, Primary: "b", Promoted: true, Started: t0.Add(-12 * time.Second), Previous: "c",
		Members: members("a", "b", "c"), ForkReplID: "7a0ffa8a", Fork: 125939,
		PastForks: []pastFork{
			{Epoch: 5, New: "a", ReplID: "07bb7283", Offset: 122485, NewReplID: "ae72f5c2"},
			{Epoch: 6, New: "c", ReplID: "ae72f5c2", Offset: 122485, NewReplID: "7a0ffa8a"},
		}}
	detached := func(name, replID string, offset, keys int64) peerView {
		pv := rep(name, offset)
		pv.Rep.Epoch = 7
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.Synced, pv.Rep.Obs.LinkUp = name+":6379", false, false
		pv.Rep.Obs.ReplID, pv.Rep.Obs.Keys = replID, keys
		return pv
	}
	a := detached("a", "ae72f5c2", 123963, 1762)
	b := detached("b", "a1458521", 122485, 1429) // the RDB of its full sync from c at the fork
	b.Rep.Empty, b.Rep.SDownPrimary, b.Rep.SDownEpoch = true, "b", 7
	c := detached("c", "24831bf7", 0, 1800)
	peers := map[string]peerView{"a": a, "b": b, "c": c}
	d := decideLeader(t0, st, peers, p, "")
	if d.Action != leaderPromote || d.Target != "c" || !d.Holder || d.ChosenKeys != 1800 {
		t.Fatalf("target %q action %v holder %v chosen keys %d, want the holder c with 1800 (excluded %v, why not %q)",
			d.Target, d.Action, d.Holder, d.ChosenKeys, d.Excluded, d.WhyNot)
	}
	// c's sidecar, restarted with its Redis, never saw it hold data: it
	// judges the holder it is named as, pointing at itself, then the
	// promoted process before "promoted" reaches it.
	named := st
	named.Epoch, named.Primary, named.Promoted, named.Previous = 8, "c", false, "b"
	named.ForkReplID, named.Fork = "", 0
	replicas := func() []replicaPos { return replicaPositions("c", peers, 8, t0, p) }
	for _, o := range []monitor.Observation{
		{Time: t0, Role: monitor.RoleReplica, MasterHost: "c", MasterPort: 6379, RunID: "c66a3dea", ReplID: "24831bf7", Offset: 0, Keys: 1800},
		{Time: t0, Role: monitor.RolePrimary, RunID: "c66a3dea", ReplID: "619c516a", Offset: 0, Keys: 1800},
	} {
		s := nextIdentity(identities{}, o, identityCtx{Named: true, Epoch: 8, ChosenKeys: d.ChosenKeys, PastForks: named.PastForks,
			SelfAddr: "c:6379", Replicas: replicas, Now: t0, DownAfter: p.DownAfter})
		if s.Empty || s.Ident.RunID != "c66a3dea" {
			t.Errorf("%s: %+v, want the holder's restart to stand", o.Role, s)
		}
	}
	cur := redisIdentity{RunID: "c66a3dea", ReplID: "24831bf7", Offset: 0, Keys: 1800}
	for _, tt := range []struct {
		name     string
		cur      redisIdentity
		p        promotion
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 8330: the holder holds the keys it was chosen for", cur, promotion{ChosenKeys: 1800}, replicas(), restartNone},
		{"not chosen as a holder: judged by offset as before", cur, promotion{}, replicas(), restartEmpty},
		{"restarted again since, with fewer keys than it was chosen for", redisIdentity{RunID: "c2", ReplID: "h9", Keys: 900},
			promotion{ChosenKeys: 1800}, replicas(), restartEmpty},
		{"restarted again since, without keys", redisIdentity{RunID: "c2", ReplID: "h9"}, promotion{ChosenKeys: 1800}, replicas(), restartEmpty},
		{"a replica on another history holds more keys", cur, promotion{ChosenKeys: 1800},
			[]replicaPos{{ReplID: "ae72f5c2", Offset: 123963, Keys: 1900}}, restartEmpty},
		{"a replica on its own history is ahead", cur, promotion{ChosenKeys: 1800},
			[]replicaPos{{ReplID: "24831bf7", Offset: 10, Keys: 1700}}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(redisIdentity{}, tt.cur, tt.p, tt.replicas); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

// A promotion whose local Redis is already a primary, made one by an
// earlier attempt's REPLICAOF NO ONE, records the fork that REPLICAOF
// left (resumedFork). Chaos seed 9315 (N=3): epoch 3 named c, chosen at
// 65351 on b's history 93fcf6ff; its first attempt timed out on a
// REPLICAOF NO ONE that landed, the third committed "promoted" with no
// fork, and 5 s later the leader a, c cut off with every write since
// 7.7 s, promoted its own Redis parked at 36856 on 93fcf6ff: nothing
// (forkFloor, behindFork) held it below a fork; c's Redis later
// full-synced from a.
func TestResumedForkSeed9315(t *testing.T) {
	none := strings.Repeat("0", 40)
	for _, tt := range []struct {
		name   string
		pos    replPosition
		chosen string
		fork   int64 // 0 for none
		newID  string
	}{
		{"seed 9315: its own REPLICAOF NO ONE, at the chosen offset", replPosition{ReplID: "D1F0", ReplID2: "93FC", Offset: 65421, Second: 65352}, "93FC", 65351, "D1F0"},
		{"left the chosen history past the chosen offset", replPosition{ReplID: "D1F0", ReplID2: "93FC", Offset: 70000, Second: 65500}, "93FC", 65499, "D1F0"},
		{"no position chosen (a holder, a switchover, the initial primary)", replPosition{ReplID: "D1F0", ReplID2: "93FC", Offset: 65421, Second: 65352}, "", 0, ""},
		{"left another history", replPosition{ReplID: "D1F0", ReplID2: "01ED", Offset: 65421, Second: 65352}, "93FC", 0, ""},
		{"left the chosen history before the chosen offset", replPosition{ReplID: "D1F0", ReplID2: "93FC", Offset: 65421, Second: 60000}, "93FC", 0, ""},
		{"a primary with no past history", replPosition{ReplID: "AOF0", ReplID2: none, Offset: 0, Second: -1}, "93FC", 0, ""},
	} {
		f, id := resumedFork(tt.pos, tt.chosen, 65351)
		wantID := ""
		if tt.fork > 0 {
			wantID = tt.chosen
		}
		if f.Offset != tt.fork || f.OldReplID != wantID || id != tt.newID {
			t.Errorf("%s: resumedFork = %+v, %q, want fork %d on %s, new %q", tt.name, f, id, tt.fork, tt.chosen, tt.newID)
		}
	}

	// The leader a's view at 27.761 s, the epoch 3 entry as the retry now
	// commits it: a's Redis, detached at 36856 on 93fcf6ff, is below the
	// fork, and the leader waits for c.
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter, p.Fresh = 1, 2*time.Second, time.Second, 600*time.Millisecond
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 27.761) * float64(time.Second))) }
	fork, _ := resumedFork(replPosition{ReplID: "D1F0", ReplID2: "93FC", Offset: 65421, Second: 65352}, "93FC", 65351)
	st := groupState{Epoch: 3, Primary: "c", Promoted: true, Started: at(16.065), Previous: "b",
		Members: members("a", "b", "c"), Fork: fork.Offset, ForkReplID: fork.OldReplID,
		PastForks: []pastFork{{Epoch: 2, New: "b", ReplID: "01ED", Offset: 28877, Start: at(6.27)}}}
	now := at(27.761)
	a := down(rep("a", 36856), "c", 3) // detached at 8.8 s, pointing at itself
	a.Rep.Epoch = 3
	a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, "93FC", 560
	a.Received, a.UpAt = now, now
	b := down(rep("b", 0), "c", 3) // killed without persistence at 24.45 s
	b.Rep.Epoch = 3
	b.Rep.Obs = obsSummary{}
	b.Received = now
	c := rep("c", 65421) // its old sidecar's last report, before the wipe cut it off
	c.Rep.Epoch = 3
	c.Rep.Obs.Role, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID, c.Rep.Obs.ReplID2, c.Rep.Obs.Keys = monitor.RolePrimary, "", false, "D1F0", "93FC", 1279
	c.Received, c.UpAt = at(22.9), at(22.9)
	d := decideLeader(now, st, map[string]peerView{"a": a, "b": b, "c": c}, p, "")
	if !d.ODown || d.Action == leaderPromote || d.WaitFor != "c" {
		t.Fatalf("target %q action %v wait for %q odown %v, want a wait for c (excluded %v, why not %q)",
			d.Target, d.Action, d.WaitFor, d.ODown, d.Excluded, d.WhyNot)
	}
}

func TestHandoverLapsed(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 35, 28, 0, time.UTC)
	h := &handover{Epoch: 9, To: "b", Offset: 4242}
	running := &switchoverIntent{From: "a", To: "b", Epoch: 9, Deadline: t0.Add(10 * time.Second)}
	for _, tc := range []struct {
		name string
		h    *handover
		sw   *switchoverIntent
		now  time.Time
		want bool
	}{
		{"no handover", nil, nil, t0, false},
		{"the switchover runs", h, running, t0.Add(time.Second), false},
		{"the switchover ended (seed 9414: its client gave up, switchover-end committed)", h, nil, t0.Add(2 * time.Second), true},
		{"past the deadline", h, running, t0.Add(10 * time.Second), true},
		{"a switchover of another epoch", h, &switchoverIntent{From: "a", To: "b", Epoch: 10, Deadline: t0.Add(10 * time.Second)}, t0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := handoverLapsed(tc.h, tc.sw, tc.now); got != tc.want {
				t.Fatalf("handoverLapsed = %v, want %v", got, tc.want)
			}
		})
	}
}

// Chaos seed 9522 (N=3): a, epoch 1's initial primary, was killed with its
// Redis (AOF on) at 27.0 s; b's Redis had been cut off since 22.7 s, behind
// on a's history. a's Redis came back from its AOF with every write (a new
// history at offset 0), among them 7 retry-queue INCRs whose other copy,
// on c's Redis, had been lost. With no history recorded for epoch 1, a's
// restarted sidecar judged it empty against b's 105229, and epoch 2
// promoted b. The initial primary's confirmation now records its Redis's
// history (initialHistory), and b, a replica on it with fewer keys, says
// nothing against the AOF restart (aofKeptPromotedHistory).
func TestInitialPrimaryAOFRestartSeed9522(t *testing.T) {
	primary := monitor.Observation{Role: monitor.RolePrimary, RunID: "a-run1", ReplID: "a1", Offset: 105300, Keys: 310}
	for _, tt := range []struct {
		reason string
		o      monitor.Observation
		want   string
	}{
		{ReasonInitial, primary, "a1"},
		{ReasonInitial, monitor.Observation{Role: monitor.RoleReplica, ReplID: "x"}, ""},
		{ReasonAuto, primary, ""},
		{ReasonSwitchover, primary, ""},
	} {
		if got := initialHistory(tt.reason, tt.o); got != tt.want {
			t.Errorf("initialHistory(%s, %s) = %q, want %q", tt.reason, tt.o.Role, got, tt.want)
		}
	}
	recorded := promotion{NewReplID: initialHistory(ReasonInitial, primary)}
	cur := redisIdentity{RunID: "a-run2", ReplID: "a2", Offset: 0, Keys: 310}
	b := replicaPos{ReplID: "a1", Offset: 105229, Keys: 303}
	for _, tt := range []struct {
		name     string
		p        promotion
		replicas []replicaPos
		want     restartVerdict
	}{
		{"seed 9522: b behind on the initial primary's history", recorded, []replicaPos{b}, restartNone},
		{"the initial history not recorded", promotion{}, []replicaPos{b}, restartEmpty},
		{"b holds more keys: the AOF was begun afresh", recorded, []replicaPos{{ReplID: "a1", Offset: 105229, Keys: 400}}, restartEmpty},
	} {
		if got := judgeRestart(redisIdentity{}, cur, tt.p, tt.replicas); got != tt.want {
			t.Errorf("%s: judgeRestart = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHeldBack(t *testing.T) {
	now := time.Unix(1000, 0)
	soon, past := now.Add(50*time.Millisecond), now.Add(-time.Millisecond)
	for _, tc := range []struct {
		name                  string
		retryAt               time.Time
		retryPromote, promote bool
		want                  bool
	}{
		{"no back-off", time.Time{}, false, false, false},
		{"back-off over", past, true, true, false},
		{"a failed re-point holds the next re-point", soon, false, false, true},
		{"a failed promotion holds the next promotion (chaos seed 101's spin)", soon, true, true, true},
		{"a failed promotion holds a demotion too", soon, true, false, true},
		// BenchmarkFailover: a re-point to the killed primary failed 2 ms
		// after the commit naming this node, and its back-off delayed
		// the promotion by 160-175 ms in 3 of 6 runs.
		{"a failed re-point does not hold a promotion", soon, false, true, false},
	} {
		if got := heldBack(now, tc.retryAt, tc.retryPromote, tc.promote); got != tc.want {
			t.Errorf("%s: heldBack = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// Chaos seed 11714 (N=3), the leader b's view at 62.848 s. Epoch 7 promoted
// b at 126026 (leaving 62ad3c89, beginning 22ed1e97); the retry-queue INCRs
// of every queue drained into b's Redis and c's acknowledged them (WAIT 1).
// A partition cut b off at 50.995 s and epoch 8 promoted c at 133230 on
// 22ed1e97 (beginning fce38910). c's node was killed at 53.514 s with its
// AOF; its Redis came back at 59.07 s with every one of those writes, a new
// history at offset 0 (a1047f9c). c's restarted sidecar reported it a
// primary it had not judged yet (no replica heard: "not judged"), and was
// killed again at 59.708 s, its last report arriving about 59.63 s. b's
// Redis, killed without persistence, came back from a 16 s old RDB (1666
// keys, 121459 on b08d58fd); a's, killed at 47.847 s before epoch 7, came
// back from its AOF with epoch 6's data (5932d9ca at 0) and points at
// itself: a holder. The moment b's Redis answered, the leader promoted a;
// a's sidecar demoted c's Redis, whose capture found no fork ("does not
// hold the old replication history"), and it full-synced from a: 15 INCRs
// lost. Key counts are not logged; c's Redis held a's data and epoch 7's
// writes besides. An unjudged restart of the primary's Redis holding more
// keys than the holder holds the holder back, for the durable wait at most.
func TestHolderWaitsForAnUnjudgedRicherPrimarySeed11714(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 62.848) * float64(time.Second))) }
	st := groupState{Epoch: 8, Primary: "c", Promoted: true, Started: at(52.934), Previous: "b",
		Members: members("a", "b", "c"), Fork: 133230, ForkReplID: "22ed1e97",
		PastForks: []pastFork{
			{Epoch: 5, New: "b", ReplID: "7f36bb49", Offset: 93374, Start: at(41.340), NewReplID: "057b5201"},
			{Epoch: 6, New: "a", ReplID: "7f36bb49", Offset: 93388, Start: at(44.861), NewReplID: "62ad3c89"},
			{Epoch: 7, New: "b", ReplID: "62ad3c89", Offset: 126026, Start: at(49.838), NewReplID: "22ed1e97"},
		}}
	mk := func(now time.Time, edit func(c *peerView)) map[string]peerView {
		a := down(rep("a", 0), "c", 8) // back from its AOF, pointing at itself
		a.Rep.Epoch = 8
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "5932d9ca", 1720
		b := down(rep("b", 121459), "c", 8) // back from a stale RDB, a primary until its sidecar detaches it
		b.Rep.Epoch = 8
		asPrimary(&b, "b08d58fd", 1666)
		c := rep("c", 0) // its restarted sidecar's one report, not judged yet
		c.Rep.Epoch, c.Rep.Unsure = 8, true
		asPrimary(&c, "a1047f9c", 1840)
		c.Received, c.UpAt = at(59.63), at(59.63)
		a.Received, b.Received, a.UpAt, b.UpAt = now, now, now, now
		if edit != nil {
			edit(&c)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	runHolderWaits(t, p, st, at, mk, "c", []holderWaitCase{
		{"c's Redis back with more keys, not judged: wait for c", 62.848, 1, nil, ""},
		{"not judged, no more keys than the holder: the holder", 62.848, 1, func(c *peerView) { c.Rep.Obs.Keys = 1720 }, "a"},
		{"not judged, no key: the holder", 62.848, 1, func(c *peerView) { c.Rep.Obs.Keys = 0 }, "a"},
		{"found empty: the holder", 62.848, 1, func(c *peerView) { c.Rep.Unsure, c.Rep.Empty = false, true }, "a"},
		{"its Redis a replica: the holder", 62.848, 1, func(c *peerView) {
			c.Rep.Obs.Role, c.Rep.Obs.MasterAddr = monitor.RoleReplica, "a:6379"
		}, "a"},
		{"ten down_after after c last answered: the holder", 79.7, 1, nil, "a"},
		{"without min_replicas: the holder", 62.848, 0, nil, "a"},
	})
}

// Chaos seed 13615 (N=3), the leader c's view at 65.389 s. Epoch 6
// promoted a at 96566 (leaving dabe1ba2, beginning b666f228); the
// retry-queue INCRs of a's and b's queues drained into a's Redis, and b's,
// its replica, acknowledged them. a's Redis was killed without persistence
// at 50.85 s and epoch 7 named b (110877 on b666f228, 1537 keys), whose
// sidecar was stopped right after (pause-winner) and then cut from its
// Redis; b's Redis was killed at 59.17 s with its AOF and came back at
// 65.381 s with every one of them: a primary on a new history at offset 0,
// not judged yet, while b's sidecar, reaching it again, resumed the
// promotion. 8 ms later the leader promoted c, back from its AOF with
// epoch 5's data (1326 keys) and pointing at itself, as a holder, and b's
// Redis full-synced from it: 32 INCRs lost. primaryUnjudgedHolds waited
// only for a promoted primary; the named one before its promotion, its
// Redis chosen for the data it held, holds the holder back the same way.
func TestHolderWaitsForAnUnjudgedRicherNamedPrimarySeed13615(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 65.389) * float64(time.Second))) }
	st := groupState{Epoch: 7, Primary: "b", Started: at(52.774), Previous: "a", Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "9362f2d3", Offset: 39403, Start: at(11.57), NewReplID: "64caff37"},
			{Epoch: 4, New: "b", ReplID: "9362f2d3", Offset: 39827, Start: at(31.62), NewReplID: "cd97e802"},
			{Epoch: 5, New: "c", ReplID: "cd97e802", Offset: 41026, Start: at(36.57), NewReplID: "dabe1ba2"},
			{Epoch: 6, New: "a", ReplID: "dabe1ba2", Offset: 96566, Start: at(48.28), NewReplID: "b666f228"},
		}}
	mk := func(now time.Time, edit func(b *peerView)) map[string]peerView {
		a := down(rep("a", 41026), "b", 7) // back from an old RDB, pointing at itself
		a.Rep.Epoch = 7
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.LinkUp, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, false, "37d8de16", 620
		c := down(rep("c", 0), "b", 7) // back from its AOF, pointing at itself: the holder
		c.Rep.Epoch = 7
		c.Rep.Obs.MasterAddr, c.Rep.Obs.Synced, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, false, "c0a3ca31", 1326
		b := rep("b", 0) // its Redis back from its AOF, not judged yet
		b.Rep.Epoch, b.Rep.Unsure = 7, true
		asPrimary(&b, "29fe0926", 1537)
		b.Received, b.UpAt = at(65.381), at(65.381)
		a.Received, c.Received, a.UpAt, c.UpAt = now, now, now, now
		if edit != nil {
			edit(&b)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	runHolderWaits(t, p, st, at, mk, "b", []holderWaitCase{
		{"b's Redis back with more keys, not judged: wait for b", 65.389, 1, nil, ""},
		{"not judged, no more keys than the holder: the holder", 65.389, 1, func(b *peerView) { b.Rep.Obs.Keys = 1326 }, "c"},
		{"found empty: the holder", 65.389, 1, func(b *peerView) { b.Rep.Unsure, b.Rep.Empty = false, true }, "c"},
		{"ten down_after after b last answered: the holder", 85.4, 1, nil, "c"},
		{"ten down_after after epoch 7 began, b heard: the holder", 72.8, 1, func(b *peerView) {
			b.Received, b.UpAt = at(72.8), at(72.8)
		}, "c"},
		{"b's Redis made a primary from another history (namedHolds' case): the holder", 65.389, 1, func(b *peerView) {
			b.Rep.Obs.ReplID2 = "64caff37"
		}, "c"},
		{"without min_replicas: the holder", 65.389, 0, nil, "c"},
	})
}

// Chaos seed 12522 (N=3), the leader c's view at 36.97 s. b's Redis,
// epoch 4's primary (promoted at 28286 on e27450fc), took writes that a's
// Redis, its one replica, acknowledged before it was wiped; b's sidecar,
// cut from its Redis at 31.3 s, reported it down, and then b's node was cut
// off. c's Redis, back from its AOF (461 keys, a new history at 0), was a
// holder; a's answered as a primary with one key. c was promoted over b,
// whose Redis held 512 keys, and the writes were lost once b's Redis
// full-synced from the next primary.
func TestHolderWaitsForAPrimaryKnownRicherSeed12522(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 36.97) * float64(time.Second))) }
	st := groupState{Epoch: 4, Primary: "b", Promoted: true, Started: at(22.47), Previous: "c",
		Members: members("a", "b", "c"), Fork: 28286, ForkReplID: "e27450fc"}
	mk := func(now time.Time, edit func(b *peerView)) map[string]peerView {
		a := down(rep("a", 0), "b", 4) // a primary with one key: not a replica
		a.Rep.Epoch = 4
		asPrimary(&a, "49a80d80", 1)
		c := down(rep("c", 0), "b", 4) // back from its AOF, pointing at itself
		c.Rep.Epoch = 4
		c.Rep.Obs.MasterAddr, c.Rep.Obs.Synced, c.Rep.Obs.LinkUp, c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "c:6379", false, false, "3dc528b0", 461
		b := rep("b", 0) // its last report: its Redis out of its sidecar's reach
		b.Rep.Epoch = 4
		b.Rep.Obs = obsSummary{}
		b.Received, b.UpAt = at(34.6), at(31.2)
		b.Known = knownOffset{Epoch: 4, Offset: 33696, At: at(31.2), ReplID: "283197fe", Keys: 512}
		a.Received, c.Received, a.UpAt, c.UpAt = now, now, now, now
		if edit != nil {
			edit(&b)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	runHolderWaits(t, p, st, at, mk, "b", []holderWaitCase{
		{"b last seen with more keys: wait for b", 36.97, 1, nil, ""},
		{"b last seen with no more keys: the holder", 36.97, 1, func(b *peerView) { b.Known.Keys = 461 }, "c"},
		{"b's keys not reported: the holder", 36.97, 1, func(b *peerView) { b.Known.ReplID, b.Known.Keys = "", 0 }, "c"},
		{"b seen at an earlier epoch: the holder", 36.97, 1, func(b *peerView) { b.Known.Epoch = 3 }, "c"},
		{"b's Redis found empty since: the holder", 36.97, 1, func(b *peerView) { b.Rep.Empty = true }, "c"},
		{"b's Redis a replica now: the holder", 36.97, 1, func(b *peerView) {
			b.Rep.Obs = obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "c:6379", ReplID: "3dc528b0"}
		}, "c"},
		{"ten down_after after b was last seen: the holder", 51.3, 1, nil, "c"},
		{"without min_replicas: the holder", 36.97, 0, nil, "c"},
	})
}

func TestPrimaryUnjudgedHolds(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter = 1, 2*time.Second
	st := groupState{Epoch: 8, Primary: "c", Promoted: true, Members: members("a", "b", "c")}
	h := candidate{Name: "a", Keys: 1720}
	base := func() peerView {
		c := rep("c", 0)
		c.Rep.Unsure = true
		c.Rep.Obs.Role, c.Rep.Obs.MasterAddr, c.Rep.Obs.Synced, c.Rep.Obs.Keys = monitor.RolePrimary, "", false, 1840
		c.UpAt = t0.Add(-3 * time.Second)
		return c
	}
	for _, tt := range []struct {
		name string
		edit func(st *groupState, p *params, c *peerView, h *candidate)
		want bool
	}{
		{"not judged, more keys than the holder, 3 s ago", nil, true},
		{"judged: primaryHolds' case", func(_ *groupState, _ *params, c *peerView, _ *candidate) { c.Rep.Unsure = false }, false},
		{"as many keys as the holder", func(_ *groupState, _ *params, c *peerView, _ *candidate) { c.Rep.Obs.Keys = 1720 }, false},
		{"holder's keys unknown", func(_ *groupState, _ *params, _ *peerView, h *candidate) { h.Keys = -1 }, false},
		{"found empty", func(_ *groupState, _ *params, c *peerView, _ *candidate) { c.Rep.Empty = true }, false},
		{"not answering", func(_ *groupState, _ *params, c *peerView, _ *candidate) { c.Rep.Obs.Reachable = false }, false},
		{"a replica", func(_ *groupState, _ *params, c *peerView, _ *candidate) { c.Rep.Obs.Role = monitor.RoleReplica }, false},
		{"last answered ten down_after ago", func(_ *groupState, _ *params, c *peerView, _ *candidate) {
			c.UpAt = t0.Add(-20 * time.Second)
		}, false},
		{"named, not promoted", func(st *groupState, _ *params, _ *peerView, _ *candidate) { st.Promoted = false }, false},
		{"without min_replicas", func(_ *groupState, p *params, _ *peerView, _ *candidate) { p.MinReplicas = 0 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, p, c, h := st, p, base(), h
			if tt.edit != nil {
				tt.edit(&st, &p, &c, &h)
			}
			if got := primaryUnjudgedHolds(h, st, map[string]peerView{"c": c}, t0, p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 11706 (N=3), at 64.5 s (00:49:08.8), every fault healed.
// Epoch 8's primary a (promoted at 115053 on c's dbdfa4ef, leading
// fc882d7a) took epoch 8's writes and the retry-queue INCRs b's queue had
// held since c's sidecar died at 39.9 s. Epoch 9 promoted b at 126565 on
// fc882d7a; b's Redis was killed without persistence and came back empty,
// pointing at itself (its sidecar reports it Empty). a's sidecar had been
// restarted with its data dir wiped while cut off: it never tried a
// demotion, so none was refused (PartialRefused), and with b empty the
// shell withholds b's address (syncSourceDoubtful), so no demotion came
// either. a's Redis, still a paused primary at 127057 on fc882d7a with
// every acknowledged write, was neither a candidate ("not replica") nor a
// holder; the leader c waited the durable wait for it (deposedHolds,
// "waiting up to 20s for a, which had more data") with no write taken for
// 23 s, then promoted c, a holder back from its AOF with epoch 7's data
// only, and a's Redis full-synced from it: 31 INCRs lost. With no primary
// to follow it points at itself, a holder, and the leader promotes it.
func TestDeposedPrimaryWithNoPrimaryToFollowBecomesAHolderSeed11706(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 64.5) * float64(time.Second))) }
	st := groupState{Epoch: 9, Primary: "b", Previous: "a", Promoted: true, Started: at(56.2),
		Members: members("a", "b", "c"), Fork: 126565, ForkReplID: "fc882d7a",
		PastForks: []pastFork{
			{Epoch: 7, New: "c", ReplID: "31332fe4", Offset: 65522, Start: at(36.99), NewReplID: "dbdfa4ef"},
			{Epoch: 8, New: "a", ReplID: "dbdfa4ef", Offset: 115053, Start: at(49.39), NewReplID: "fc882d7a"},
		}}

	// a's sidecar, restarted with a wiped data dir: no demotion tried.
	in := localInput{Now: at(64.5), Self: "a", State: st, Ready: true, LastContact: at(64.5), Started: at(54.15), P: p,
		Obs:         localObs{Reachable: true, Role: monitor.RolePrimary, Time: at(64.5), ReplID: "fc882d7a", Offset: 127057},
		PrimaryAddr: "", SelfAddr: "a:6379", SourceUnvouched: true, Fenced: true}
	if got, want := decideLocal(in), (localPlan{Fence: true, Detach: true}); got != want {
		t.Errorf("deposed primary, no primary to follow: plan %+v, want %+v", got, want)
	}
	// Once b is vouched for again, the usual demotion (which keeps the
	// writes past the fork).
	vouched := in
	vouched.PrimaryAddr, vouched.SourceUnvouched = "b:6379", false
	if got, want := decideLocal(vouched), (localPlan{Fence: true, DemoteTo: "b:6379"}); got != want {
		t.Errorf("primary vouched for: plan %+v, want %+v", got, want)
	}
	// Within down_after of an unconfirmed failover's start, nothing yet:
	// a named primary's promotion takes milliseconds.
	early := in
	early.State.Promoted, early.State.Started = false, in.Now.Add(-time.Second)
	if got, want := decideLocal(early), (localPlan{Fence: true}); got != want {
		t.Errorf("early: plan %+v, want %+v", got, want)
	}

	// The leader c at 64.5 s.
	now := at(64.5)
	mk := func(aDetached bool) map[string]peerView {
		a := down(rep("a", 127057), "b", 9)
		a.Rep.Epoch, a.Rep.Obs.Role, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 9, monitor.RolePrimary, "", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.ReplID2, a.Rep.Obs.Keys, a.Rep.Fenced = "fc882d7a", "dbdfa4ef", 1700, true
		if aDetached {
			a.Rep.Obs.Role, a.Rep.Obs.MasterAddr = monitor.RoleReplica, "a:6379"
		}
		a.First, a.UpAt = at(63.9), now
		b := down(rep("b", 65522), "b", 9) // back empty, pointing at itself
		b.Rep.Epoch, b.Rep.Empty, b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced = 9, true, "b:6379", false, false
		b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "e8d624fb", 0
		b.AsPrimary, b.UpAt = primaryMark{Epoch: 9, ReplID: "9a928aeb"}, now
		c := down(rep("c", 0), "b", 9) // back from its AOF (epoch 7's data), pointing at itself
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 9, "c:6379", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "3826f533", 1620
		c.UpAt = now
		a.Received, b.Received, c.Received = now, now, now
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	d := decideLeader(now, st, mk(false), p, "")
	if !d.ODown || d.Action == leaderPromote || d.Excluded["a"] != whyNotReplica || d.WaitFor != "a" {
		t.Fatalf("a a paused primary: target %q action %v excluded %v wait for %q (why not %q), want a wait for a",
			d.Target, d.Action, d.Excluded, d.WaitFor, d.WhyNot)
	}
	checkHolderPromotion(t, decideLeader(now, st, mk(true), p, ""), "a", true)
	// Past the durable wait, a still a paused primary: c, and a's writes
	// full-sync away (the seed's outcome).
	late := now.Add(12 * time.Second)
	lp := mk(false)
	for n, pv := range lp {
		pv.Received, pv.UpAt = late, late
		lp[n] = pv
	}
	checkHolderPromotion(t, decideLeader(late, st, lp, p, ""), "c", true)
}

// Chaos seed 11714 (N=3), the second run (on f3ad859): b's promotion at
// epoch 8, 58.46 s into the run (01:14:26.428; the run began at
// 01:13:27.965). Epoch 7 promoted a at 146281 on c's 99e20f9d (beginning
// f2d2b520); the retry-queue INCRs enqueued from 46.05 s drained into a's
// Redis and b's, its one replica (linked at 146281 from 48.76 s),
// acknowledged them. The partition [a] | [b c] (49.79 s) cut a off and
// epoch 8 named b at its offset on f2d2b520 (146612 or more: the offset is
// not logged). b's node was killed without persistence at 52.31 s, before
// its REPLICAOF NO ONE; its Redis came back at 57.91 s from the RDB of its
// full sync from c at 45.89 s (1906 keys, 142071 on 99e20f9d, a cached
// primary to resume from) as a replica pointing at itself, link never up:
// "not synced". b's restarted sidecar resumed the promotion: unpromotable
// let it go ahead for its keys, and leftChosen skipped every replica never
// synced since it started, taking it for an AOF restart without a
// position. Promoted at 142071 (fork 99e20f9d, "before that 99e20f9d up to
// 142071"), it was the primary a's Redis, back from its AOF with every
// INCR, and c's, back from its AOF with epoch 6's, full-synced from at
// 64.70 s and 64.86 s: 19 INCRs lost. The INFO below is that Redis's as
// Redis 7.0.15 gives it after such a restart.
func TestPromotionRefusesAStaleRDBReplicaSeed11714(t *testing.T) {
	const chosenID, chosenOff = "f2d2b520a60d4449ea4524491e65ca7ba1edf4e2", 146612
	info := func(replID string, offset int64) string {
		return strings.Join([]string{"# Replication", "role:slave", "master_host:127.0.0.3", "master_port:6379",
			"master_link_status:down", "master_last_io_seconds_ago:-1", "master_sync_in_progress:0",
			fmt.Sprintf("slave_read_repl_offset:%d", offset), fmt.Sprintf("slave_repl_offset:%d", offset),
			"master_link_down_since_seconds:-1", "slave_priority:100", "slave_read_only:1", "connected_slaves:0",
			"master_replid:" + replID, "master_replid2:0000000000000000000000000000000000000000",
			fmt.Sprintf("master_repl_offset:%d", offset), "second_repl_offset:-1", "repl_backlog_active:0",
			"repl_backlog_size:1048576", "repl_backlog_first_byte_offset:0", "repl_backlog_histlen:0"}, "\r\n") + "\r\n"
	}
	obs := func(replID string, offset, keys int64) monitor.Observation {
		return monitor.Observation{Time: time.Now(), Role: monitor.RoleReplica, MasterHost: "127.0.0.3", MasterPort: 6379,
			MasterLinkDownSinceSeconds: -1, ReplID: replID, Offset: offset, Keys: keys}
	}
	for _, tt := range []struct {
		name    string
		replID  string
		offset  int64
		keys    int64
		refused bool
	}{
		{"back from the RDB of a full sync before the choice: refused", "99e20f9d980117aeffe08ec74049242193700a45", 142071, 1906, true},
		{"back from an RDB on the chosen history, behind the choice: refused", chosenID, 146400, 1950, true},
		{"back from an RDB written at or past the choice: promoted", chosenID, 146700, 1990, false},
		{"back from its AOF (offset 0, a new history): judged by its keys", "5d9864a247a911bc497d2020203bafa779ea0944", 0, 1990, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := obs(tt.replID, tt.offset, tt.keys)
			if o.Synced {
				t.Fatal("the observation must be a replica never synced since its Redis started")
			}
			if why := unpromotable(o, false); why != "" {
				t.Fatalf("unpromotable = %q: a replica holding keys goes ahead there", why)
			}
			why := leftChosen(o, parseReplPosition(info(tt.replID, tt.offset)), chosenID, chosenOff)
			if (why != "") != tt.refused {
				t.Fatalf("leftChosen = %q, want refused %v", why, tt.refused)
			}
		})
	}

	// Refused, b's sidecar reports its Redis empty, and the leader (a,
	// at 65.0 s, b's sidecar back after its kill at 58.5 s and refusing
	// again; at(s) takes wall-clock seconds past 01:14, as the logs show
	// them) chooses the holder with the most keys: a's Redis,
	// back from its AOF (offset 0, pointing at itself) with epoch 7's
	// writes. Key counts are not logged: a's Redis holds c's data and
	// epoch 7's writes besides, c's (back from its AOF) epoch 6's.
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 33.0) * float64(time.Second))) }
	st := groupState{Epoch: 8, Primary: "b", Started: at(19.722), Previous: "a", Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 6, New: "c", ReplID: "0c37909c", Offset: 120260, Start: at(11.73), NewReplID: "99e20f9d"},
			{Epoch: 7, New: "a", ReplID: "99e20f9d", Offset: 146280, Start: at(16.51), NewReplID: "f2d2b520"},
		}}
	parked := func(name, replID string, offset, keys int64) peerView {
		pv := down(rep(name, offset), "b", 8)
		pv.Rep.Epoch, pv.UpAt = 8, t0
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.Synced, pv.Rep.Obs.LinkUp, pv.Rep.Obs.ReplID, pv.Rep.Obs.Keys = name+":6379", false, false, replID, keys
		return pv
	}
	b := parked("b", "99e20f9d", 142071, 1906)
	b.Rep.Empty = true
	peers := map[string]peerView{"a": parked("a", "8b747033", 0, 1990), "b": b, "c": parked("c", "5d9864a2", 0, 1935)}
	checkHolderOrWait(t, decideLeader(t0, st, peers, p, ""), "a", "")
}

// Chaos seed 11816 (N=3, on 56a8ec4; seconds since the run's start at
// 01:39:00.479), the leader c's view at 35.123 s. Epoch 2 promoted b at
// 53546 on a's 721db52d (beginning bb6196f2), epoch 3 (a switchover)
// promoted c at 63977 on bb6196f2 (beginning 4c1bb080); the writes of
// 18.2-24.4 s and the retry-queue INCRs enqueued at c from 12.67 s went
// there, b's Redis acknowledging them. a's Redis, SIGSTOPped 16.4-27.3 s
// through both promotions, was parked (pointing at itself) at 56460 on
// 721db52d: epoch 1's data and what a took past epoch 2's fork, none of
// epochs 2 and 3. c's Redis was killed without persistence at 24.88 s
// (back empty at 33.98 s); b's Redis, detached at 87962 on 4c1bb080, was
// named at epoch 4 and again at epoch 5, whose sidecar ran REPLICAOF NO ONE
// at 31.119 s (2c7eaa81, master_replid2 4c1bb080 up to 87963) and was
// killed before the promotion committed, its data dir wiped. The moment its
// restarted sidecar (no Raft state) reported its Redis answering, every
// member answered and the leader promoted a as a holder over the stuck
// epoch 5 (epoch 6, 35.602 wall); a's sidecar demoted b's Redis (capture:
// "does not hold the old replication history") and it later full-synced
// from a: 426 writes and 20 INCRs lost. Key counts are not logged; b's
// Redis held a's data up to epoch 2's fork and epochs 2 and 3's writes.
func TestHolderWaitsForTheNamedPrimarysPromotedRedisSeed11816(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 35.123) * float64(time.Second))) }
	st := groupState{Epoch: 5, Primary: "b", Previous: "b", Started: at(30.487),
		Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "721db52d", Offset: 53546, Start: at(17.832), NewReplID: "bb6196f2"},
			{Epoch: 3, New: "c", ReplID: "bb6196f2", Offset: 63977, Start: at(20.087), NewReplID: "4c1bb080"},
		}}
	const aKeys, bKeys = 560, 790
	mk := func(now time.Time, edit func(a, b *peerView)) map[string]peerView {
		a := down(rep("a", 56460), "b", 5) // parked, pointing at itself
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 5, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "721db52d", aKeys
		b := rep("b", 87962) // its restarted sidecar, no Raft state: its Redis a primary, paused
		b.Rep.Fenced, b.Rep.Unsure = true, true
		asPrimary(&b, "2c7eaa81", bKeys)
		b.Rep.Obs.ReplID2 = "4c1bb080"
		b.Known = knownOffset{Epoch: 3, Offset: 87962, At: at(24.8), ReplID: "4c1bb080"}
		c := down(rep("c", 0), "b", 5) // back empty, pointing at itself
		c.Rep.Epoch, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 5, "c:6379", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "764d22b4", 0
		a.Received, b.Received, c.Received, a.UpAt, b.UpAt, c.UpAt = now, now, now, now, now, now
		if edit != nil {
			edit(&a, &b)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name        string
		now         float64
		minReplicas int
		edit        func(a, b *peerView)
		want        string // "" for a wait for b
	}{
		{"b's Redis made a primary from epoch 3's history: wait for b (the run promoted a)", 35.123, 1, nil, ""},
		{"b's Redis pointing at itself there: b, the holder with more keys", 35.123, 1, func(_, b *peerView) {
			b.Rep.Obs.Role, b.Rep.Obs.MasterAddr = monitor.RoleReplica, "b:6379"
		}, "b"},
		// primaryUnjudgedHolds since seed 13615: an AOF restart keeps what
		// the replica held.
		{"b's Redis on a history no recorded promotion began (an AOF restart), more keys: wait for b", 35.123, 1, func(_, b *peerView) {
			b.Rep.Obs.ReplID, b.Rep.Obs.ReplID2, b.Rep.Obs.Offset = "9e0d1c2b", strings.Repeat("0", 40), 0
		}, ""},
		{"b's Redis on a history no recorded promotion began, no more keys than the holder: a", 35.123, 1, func(_, b *peerView) {
			b.Rep.Obs.ReplID, b.Rep.Obs.ReplID2, b.Rep.Obs.Offset, b.Rep.Obs.Keys = "9e0d1c2b", strings.Repeat("0", 40), 0, aKeys
		}, "a"},
		{"b's Redis found empty", 35.123, 1, func(_, b *peerView) { b.Rep.Unsure, b.Rep.Empty = false, true }, "a"},
		{"a durable wait after epoch 5 started", 50.6, 1, nil, "a"},
		{"the holder parked on epoch 3's history at b's offset", 35.123, 1, func(a, _ *peerView) {
			a.Rep.Obs.ReplID, a.Rep.Obs.Offset = "4c1bb080", 87962
		}, "a"},
		{"without min_replicas", 35.123, 0, nil, "a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MinReplicas = tt.minReplicas
			now := at(tt.now)
			checkHolderOrWait(t, decideLeader(now, st, mk(now, tt.edit), q, ""), tt.want, "b")
		})
	}
}

func TestNamedHolds(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter = 1, 2*time.Second
	st := groupState{Epoch: 5, Primary: "b", Started: t0.Add(-5 * time.Second), Members: members("a", "b", "c"),
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "721db52d", Offset: 53546, NewReplID: "bb6196f2"},
			{Epoch: 3, New: "c", ReplID: "bb6196f2", Offset: 63977, NewReplID: "4c1bb080"},
		}}
	base := func() (peerView, peerView, candidate) {
		b := rep("b", 87962)
		b.Rep.Unsure = true
		b.Rep.Obs.Role, b.Rep.Obs.MasterAddr, b.Rep.Obs.Synced = monitor.RolePrimary, "", false
		b.Rep.Obs.ReplID, b.Rep.Obs.ReplID2, b.Rep.Obs.Keys = "2c7eaa81", "4c1bb080", 790
		a := rep("a", 56460)
		a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "a:6379", false, "721db52d", 560
		return a, b, candidate{Name: "a", ReplID: "721db52d", Keys: 560}
	}
	for _, tt := range []struct {
		name string
		edit func(st *groupState, p *params, a, b *peerView, h *candidate)
		want bool
	}{
		{"made a primary from the newest history, the holder on an older one", nil, true},
		{"still a primary on the newest history, past its start", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) {
			b.Rep.Obs.ReplID, b.Rep.Obs.ReplID2 = "4c1bb080", ""
		}, true},
		{"on the newest history below where it began", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) {
			b.Rep.Obs.Offset = 60000
		}, false},
		{"made a primary from an older recorded history", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) {
			b.Rep.Obs.ReplID2 = "bb6196f2"
		}, false},
		{"the holder left by a past fork with more keys", func(_ *groupState, _ *params, _, _ *peerView, h *candidate) {
			h.Keys = 900
		}, true},
		{"the holder back from its AOF with more keys", func(_ *groupState, _ *params, a, _ *peerView, h *candidate) {
			a.Rep.Obs.ReplID, a.Rep.Obs.Offset = "9e0d1c2b", 0
			h.ReplID, h.Keys = "9e0d1c2b", 900
		}, false},
		{"the holder on the newest history as far", func(_ *groupState, _ *params, a, _ *peerView, h *candidate) {
			a.Rep.Obs.ReplID, a.Rep.Obs.Offset = "4c1bb080", 87962
			h.ReplID = "4c1bb080"
		}, false},
		{"the holder on the newest history, behind", func(_ *groupState, _ *params, a, _ *peerView, h *candidate) {
			a.Rep.Obs.ReplID, a.Rep.Obs.Offset = "4c1bb080", 80000
			h.ReplID = "4c1bb080"
		}, true},
		{"found empty", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) { b.Rep.Empty = true }, false},
		{"not answering", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) { b.Rep.Obs.Reachable = false }, false},
		{"a replica: a holder itself", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) { b.Rep.Obs.Role = monitor.RoleReplica }, false},
		{"report not fresh", func(_ *groupState, _ *params, _, b *peerView, _ *candidate) { b.Received = t0.Add(-time.Second) }, false},
		{"promoted: primaryHolds' case", func(st *groupState, _ *params, _, _ *peerView, _ *candidate) { st.Promoted = true }, false},
		{"no recorded promotion", func(st *groupState, _ *params, _, _ *peerView, _ *candidate) { st.PastForks = nil }, false},
		{"a durable wait after the failover started", func(st *groupState, _ *params, _, _ *peerView, _ *candidate) {
			st.Started = t0.Add(-20 * time.Second)
		}, false},
		{"without min_replicas", func(_ *groupState, p *params, _, _ *peerView, _ *candidate) { p.MinReplicas = 0 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, p := st, p
			st.PastForks = slices.Clone(st.PastForks)
			a, b, h := base()
			if tt.edit != nil {
				tt.edit(&st, &p, &a, &b, &h)
			}
			if got := namedHolds(h, st, map[string]peerView{"a": a, "b": b}, t0, p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// Chaos seed 11714 (N=3), the third run (on 1c4b6d2), the leader c's view
// at 64.490 s (02:24:27.702). Epoch 7 promoted a at 153775 on 9b8dff94
// (beginning 857402cb); the retry-queue INCRs enqueued from 46.823 s
// drained into a's Redis and b's acknowledged them. The partition [a] |
// [b c] cut a off and epoch 8 promoted b at 161193 on 857402cb; b's node
// was killed without persistence and its Redis came back from the RDB of
// an earlier full sync (148935, 2025 keys), judged empty by its sidecar.
// c's Redis, killed with its AOF at 46.73 s before any of those INCRs,
// points at itself at 0 on 81a8fe31: a holder. a's Redis, killed with its
// AOF at 54.04 s, came back a primary at 0 on e6a98687 with every INCR
// while a's sidecar was down; the restarted sidecar's first report (its
// Redis a primary it has not judged) let every member answer, and the
// leader promoted c in that decision: a's Redis full-synced from it and
// 16 INCRs were lost. Key counts are not logged; a's Redis held c's data
// and epoch 7's writes besides.
func TestHolderWaitsForAnUnjudgedRicherMemberSeed11714(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 64.490) * float64(time.Second))) }
	st := groupState{Epoch: 8, Primary: "b", Promoted: true, Started: at(51.895), Previous: "a",
		Members: members("a", "b", "c"), Fork: 161193, ForkReplID: "857402cb",
		PastForks: []pastFork{
			{Epoch: 5, New: "b", ReplID: "4b9a37fb", Offset: 125400, Start: at(40.188), NewReplID: "4aa0dfa4"},
			{Epoch: 6, New: "c", ReplID: "4aa0dfa4", Offset: 125400, Start: at(43.693), NewReplID: "9b8dff94"},
			{Epoch: 7, New: "a", ReplID: "9b8dff94", Offset: 153775, Start: at(48.697), NewReplID: "857402cb"},
		}}
	mk := func(now time.Time, edit func(a *peerView)) map[string]peerView {
		a := rep("a", 0) // its restarted sidecar's first report
		a.Rep.Epoch, a.Rep.Unsure = 8, true
		asPrimary(&a, "e6a98687", 2150)
		b := down(rep("b", 148935), "b", 8) // judged empty, pointing at itself
		b.Rep.Epoch, b.Rep.Empty = 8, true
		b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced = "b:6379", false, false
		b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "6d3731a0", 2025
		c := rep("c", 0) // back from its AOF, pointing at itself
		c.Rep.Epoch = 8
		c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = "c:6379", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "81a8fe31", 2097
		a.Received, b.Received, c.Received = now, now, now
		a.UpAt, b.UpAt, c.UpAt = now, now, now
		if edit != nil {
			edit(&a)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name string
		now  float64
		edit func(a *peerView)
		want string // "" for a wait for a
	}{
		{"a's Redis a primary, not judged, more keys: wait for a", 64.490, nil, ""},
		{"pointed at itself: a holder with the most keys, a", 64.590, func(a *peerView) {
			a.Rep.Unsure, a.Rep.Obs.Role, a.Rep.Obs.MasterAddr = false, monitor.RoleReplica, "a:6379"
		}, "a"},
		{"no more keys than the holder: the holder c", 64.490, func(a *peerView) { a.Rep.Obs.Keys = 2097 }, "c"},
		{"found empty: the holder c", 64.490, func(a *peerView) { a.Rep.Unsure, a.Rep.Empty = false, true }, "c"},
		{"ten down_after after the failover began: the holder c", 71.9, nil, "c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			d := decideLeader(now, st, mk(now, tt.edit), p, "")
			if !d.Empty {
				t.Fatalf("b's empty restart not seen: %+v", d)
			}
			if tt.want == "" {
				if d.Action == leaderPromote || d.WaitFor != "a" {
					t.Fatalf("target %q action %v holder %v wait for %q, want a wait for a (excluded %v, why not %q)",
						d.Target, d.Action, d.Holder, d.WaitFor, d.Excluded, d.WhyNot)
				}
				return
			}
			if d.Action != leaderPromote || d.Target != tt.want || !d.Holder {
				t.Fatalf("target %q action %v holder %v wait for %q, want the holder %s (excluded %v, why not %q)",
					d.Target, d.Action, d.Holder, d.WaitFor, tt.want, d.Excluded, d.WhyNot)
			}
		})
	}
}

func TestUnjudgedMemberHolds(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter = 1, 2*time.Second
	st := groupState{Epoch: 8, Primary: "b", Promoted: true, Started: t0.Add(-12 * time.Second), Members: members("a", "b", "c")}
	h := candidate{Name: "c", Keys: 2097}
	base := func() peerView {
		a := rep("a", 0)
		a.Rep.Unsure = true
		a.Rep.Obs.Role, a.Rep.Obs.MasterAddr, a.Rep.Obs.Synced, a.Rep.Obs.Keys = monitor.RolePrimary, "", false, 2150
		return a
	}
	for _, tt := range []struct {
		name string
		edit func(st *groupState, p *params, a *peerView, h *candidate)
		want string
	}{
		{"not judged, a primary, more keys than the holder", nil, "a"},
		{"judged by its sidecar", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Unsure = false }, ""},
		{"as many keys as the holder", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Obs.Keys = 2097 }, ""},
		{"holder's keys unknown", func(_ *groupState, _ *params, _ *peerView, h *candidate) { h.Keys = -1 }, ""},
		{"found empty", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Empty = true }, ""},
		{"not answering", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Obs.Reachable = false }, ""},
		{"a replica", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Obs.Role = monitor.RoleReplica }, ""},
		{"report not fresh", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Received = t0.Add(-time.Minute) }, ""},
		{"priority 0", func(_ *groupState, _ *params, a *peerView, _ *candidate) { a.Rep.Priority = 0 }, ""},
		{"the primary itself: primaryUnjudgedHolds' case", func(st *groupState, _ *params, _ *peerView, _ *candidate) { st.Primary = "a" }, ""},
		{"the holder itself", func(_ *groupState, _ *params, _ *peerView, h *candidate) { h.Name = "a" }, ""},
		{"the failover ten down_after old", func(st *groupState, _ *params, _ *peerView, _ *candidate) {
			st.Started = t0.Add(-20 * time.Second)
		}, ""},
		{"without min_replicas", func(_ *groupState, p *params, _ *peerView, _ *candidate) { p.MinReplicas = 0 }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, p, a, h := st, p, base(), h
			if tt.edit != nil {
				tt.edit(&st, &p, &a, &h)
			}
			if got := unjudgedMemberHolds(h, st, map[string]peerView{"a": a}, t0, p); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	b := rep("b", 238260)
	b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "e47d592fafc77e7f9a2697b652acec3ca7d143f8", 1200
	d := rep("d", 243535)
	d.Rep.Obs.ReplID, d.Rep.Obs.Keys = "f9c365e5", 1300
	d.Received = t0.Add(-time.Second)
	a := peerView{Received: t0, Rep: report{Name: "a"}}
	got := positions(map[string]peerView{"a": a, "b": b, "d": d}, t0, 500*time.Millisecond)
	want := map[string]string{
		"a": "unreachable",
		"b": "slave e47d592f@238260 keys=1200",
		"d": "slave f9c365e5@243535 keys=1300 stale",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

// replicaOf is a replica's report at t0 holding primary down at epoch: its
// Redis follows master (a node name) on replID at offset with keys keys,
// its link up if linked (then also seen following it, Follows).
func replicaOf(name, primary string, epoch uint64, master, replID string, offset, keys int64, linked bool) peerView {
	pv := down(rep(name, offset), primary, epoch)
	pv.Rep.Epoch, pv.UpAt = epoch, t0
	pv.Rep.Obs.MasterAddr, pv.Rep.Obs.LinkUp = master+":6379", linked
	pv.Rep.Obs.ReplID, pv.Rep.Obs.Keys = replID, keys
	pv.Known = knownOffset{Epoch: epoch, Offset: offset, At: t0, ReplID: replID, Keys: keys}
	if linked {
		pv.Follows = followMark{Epoch: epoch, Master: master + ":6379", ReplID: replID, Keys: keys, At: t0}
	}
	return pv
}

// requirePromotes fails t unless d promotes want, with every node in
// whyNot excluded for the reason it names.
func requirePromotes(t *testing.T, d leaderDecision, want string, whyNot map[string]string) {
	t.Helper()
	if d.Action != leaderPromote || d.Target != want {
		t.Fatalf("action %v target %q, want %q (excluded %v, why not %q, wait for %q)", d.Action, d.Target, want, d.Excluded, d.WhyNot, d.WaitFor)
	}
	for n, why := range whyNot {
		if d.Excluded[n] != why {
			t.Errorf("%s excluded as %q, want %q", n, d.Excluded[n], why)
		}
	}
}

// Chaos seed 12161 (N=3), at 55.07 s, as a, the leader, saw it. b's Redis,
// epoch 4's primary (promoted a holder at 55760, leaving e369645b and
// beginning e1041530), was killed at 37.4 s and came back from its AOF at
// 45.9 s on a new history, 1d17dd61, with every write; b's sidecar vouched
// for it and c's Redis full-synced it (1489 keys) before b's was killed
// again at 46.9 s. A bridge partition ([b] | [a], c reaching both, 44.1 s
// to 53.8 s) kept b's reports from a, which last saw b lead e1041530.
// c's sidecar had detached its Redis (pointing at itself). a's Redis came
// back at 54.9 s from a 34 s old RDB taken at the fork: 842 keys at 55760
// on e1041530. a set c aside as "other history" and promoted its own
// Redis; c's full-synced from it and 107 acknowledged writes and 42 INCRs
// were lost. c's report relays b's vouched history, newer than a's own
// sighting.
func TestRelayedPrimaryHistorySeed12161(t *testing.T) {
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 55.07) * float64(time.Second))) }
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter = 1, 2*time.Second, time.Second
	st := groupState{Epoch: 4, Primary: "b", Promoted: true, Previous: "c", Started: at(21.22),
		Members: members("a", "b", "c"), Fork: 55760, ForkReplID: "e369645b", NewReplID: "e1041530",
		PastForks: []pastFork{
			{Epoch: 2, New: "b", ReplID: "f74587df", Offset: 28247, NewReplID: "e369645b"},
			{Epoch: 3, New: "c", ReplID: "e369645b", Offset: 51970, NewReplID: "b9338ac6"},
		}}
	replica := func(name, master, replID string, offset, keys int64) peerView {
		return replicaOf(name, "b", 4, master, replID, offset, keys, false)
	}
	a := replica("a", "b", "e1041530", 55760, 842)
	b := down(rep("b", 0), "b", 4)
	b.Rep.Epoch, b.Rep.Obs = 4, obsSummary{}
	b.Received, b.UpAt = at(55.0), at(37.3)
	b.AsPrimary = primaryMark{Epoch: 4, ReplID: "e1041530", At: at(37.3)}
	b.Known = knownOffset{Epoch: 4, Offset: 14, At: at(46.0), ReplID: "1d17dd61", Keys: 1489}
	c := replica("c", "c", "1d17dd61", 14, 1489)
	c.Known.At = at(46.8)
	c.Received = at(55.02)
	relay := func(pv peerView, epoch uint64, replID string, seen float64) peerView {
		pv.Rep.LedEpoch, pv.Rep.LedReplID = epoch, replID
		pv.Rep.LedAgoMs = pv.Received.Sub(at(seen)).Milliseconds()
		return pv
	}
	for _, tt := range []struct {
		name   string
		c      peerView
		want   string
		whyNot map[string]string
	}{
		{"seed 12161: c relays b's AOF restart, newer than a's sighting", relay(c, 4, "1d17dd61", 46.0), "c", nil},
		{"no relay: a knows b on e1041530 only", c, "a", map[string]string{"c": whyOtherHistory}},
		{"the relayed sighting is older than a's own", relay(c, 4, "1d17dd61", 30.0), "a", map[string]string{"c": whyOtherHistory}},
		{"relayed from an earlier epoch", relay(c, 3, "1d17dd61", 46.0), "a", map[string]string{"c": whyOtherHistory}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{"a": a, "b": b, "c": tt.c}
			d := decideLeader(t0, st, peers, p, "")
			requirePromotes(t, d, tt.want, tt.whyNot)
		})
	}
}

// Chaos seed 12450 (N=3), at 40.9 s, as c, the leader, saw it. a's Redis,
// epoch 3's primary (promoted on 5efd3825), came back from its AOF on a
// new history, 937dcb49; c's Redis full-synced it (1183 keys) and
// acknowledged retry-queue INCRs. A partition then cut a off, and c's
// sidecar, restarted meanwhile, never heard a: no history was known, b's
// Redis, parked at 75549 on 5efd3825 (1132 keys), outranked c's at 10671
// by offset, and c's full-synced from it. c's Redis, linked to a's on
// 937dcb49, shows the history a leads.
func TestLinkedReplicasNameTheHistorySeed12450(t *testing.T) {
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter, p.MaxLagBytes = 1, 2*time.Second, time.Second, 1<<20
	st := groupState{Epoch: 3, Primary: "a", Promoted: true, Previous: "b", Started: t0.Add(-30 * time.Second),
		Members: members("a", "b", "c"), Fork: 40000, ForkReplID: "c2a1b3d4", NewReplID: "5efd3825"}
	replica := func(name, master, replID string, offset, keys int64, linked bool) peerView {
		return replicaOf(name, "a", 3, master, replID, offset, keys, linked)
	}
	b := replica("b", "b", "5efd3825", 75549, 1132, false)
	c := replica("c", "a", "937dcb49", 10671, 1183, true)
	sighted := peerView{Received: t0.Add(-12 * time.Second), Rep: report{Name: "a", Addr: "a:6379", Epoch: 3},
		AsPrimary: primaryMark{Epoch: 3, ReplID: "5efd3825", At: t0.Add(-12 * time.Second)}}
	with := func(pv peerView, f func(*peerView)) peerView {
		f(&pv)
		return pv
	}
	// A sighting no older than c's link outranks it (followedSince).
	sightedSince := with(sighted, func(pv *peerView) { pv.AsPrimary.At = t0 })
	for _, tt := range []struct {
		name   string
		peers  map[string]peerView
		want   string
		whyNot map[string]string
	}{
		{"seed 12450: c follows a on the history a leads", map[string]peerView{"b": b, "c": c}, "c", map[string]string{"b": whyOtherHistory}},
		{"c's link went down since: c was seen following a", map[string]peerView{"b": b, "c": with(c, func(pv *peerView) { pv.Rep.Obs.LinkUp = false })}, "c", map[string]string{"b": whyOtherHistory}},
		{"c was never seen following a: no history known, offsets compared", map[string]peerView{"b": b, "c": with(c, func(pv *peerView) { pv.Rep.Obs.LinkUp, pv.Follows = false, followMark{} })}, "b", nil},
		{"c follows another Redis", map[string]peerView{"b": b, "c": with(c, func(pv *peerView) { pv.Rep.Obs.MasterAddr, pv.Follows.Master = "x:6379", "x:6379" })}, "b", nil},
		{"c follows an empty restart: fewer keys than b", map[string]peerView{"b": b, "c": with(c, func(pv *peerView) { pv.Rep.Obs.Keys, pv.Follows.Keys = 0, 0 })}, "b", nil},
		{"a was seen leading 5efd3825 before c's link: c's link counts", map[string]peerView{"a": sighted, "b": b, "c": c}, "c", map[string]string{"b": whyOtherHistory}},
		{"a was seen leading 5efd3825 since: the sighting counts", map[string]peerView{"a": sightedSince, "b": b, "c": c}, "b", map[string]string{"c": whyOtherHistory}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideLeader(t0, st, tt.peers, p, "")
			requirePromotes(t, d, tt.want, tt.whyNot)
		})
	}
}

// Chaos seed 13302 (N=3), at 22.33 s, as c, the leader, saw it. a's Redis,
// epoch 1's primary (on 8740cdb3), was killed at 15.35 s and came back
// from its AOF at 19.04 s on a new history, 6ba39b42, with every write;
// b's Redis, restarted empty at 18.0 s, full-synced it (586 keys) and its
// link went down when a's was killed again at 20.33 s, before a's sidecar
// had judged the restart. c's Redis was cut off from 6.42 s to 17.7 s at
// 28083 on 8740cdb3 (444 keys), the history c last saw a lead. c set b
// aside as "other history" and promoted its own Redis; b's full-synced
// from it and four acknowledged INCRs were lost.
func TestFollowedHistorySeed13302(t *testing.T) {
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 22.33) * float64(time.Second))) }
	p := testParams()
	p.MinReplicas, p.DownAfter, p.FenceAfter, p.MaxLagBytes = 1, 2*time.Second, time.Second, 1<<20
	st := groupState{Epoch: 1, Primary: "a", Promoted: true, Started: at(1.33), Members: members("a", "b", "c"), NewReplID: "8740cdb3"}
	replica := func(name, master, replID string, offset, keys int64) peerView {
		return replicaOf(name, "a", 1, master, replID, offset, keys, false)
	}
	a := down(rep("a", 0), "a", 1)
	a.Rep.Epoch, a.Rep.Obs = 1, obsSummary{}
	a.Received, a.UpAt = at(22.3), at(20.3)
	a.AsPrimary = primaryMark{Epoch: 1, ReplID: "8740cdb3", At: at(6.3)}
	c := replica("c", "a", "8740cdb3", 28083, 444)
	b := replica("b", "a", "6ba39b42", 14, 586)
	b.Follows = followMark{Epoch: 1, Master: "a:6379", ReplID: "6ba39b42", Keys: 586, At: at(20.3)}
	with := func(pv peerView, f func(*peerView)) peerView {
		f(&pv)
		return pv
	}
	for _, tt := range []struct {
		name   string
		a, b   peerView
		want   string
		whyNot map[string]string
	}{
		{"seed 13302: b followed a's restart after c last saw a lead", a, b, "b", map[string]string{"c": whyOtherHistory}},
		{"b followed a before the sighting", a, with(b, func(pv *peerView) { pv.Follows.At = at(5.0) }), "c", map[string]string{"b": whyOtherHistory}},
		{"b followed an empty restart: fewer keys than c", a, with(b, func(pv *peerView) { pv.Follows.Keys, pv.Rep.Obs.Keys = 3, 3 }), "c", map[string]string{"b": whyOtherHistory}},
		{"b followed another Redis", a, with(b, func(pv *peerView) { pv.Follows.Master = "x:6379" }), "c", map[string]string{"b": whyOtherHistory}},
		{"b followed a at an earlier epoch", a, with(b, func(pv *peerView) { pv.Follows.Epoch = 0 }), "c", map[string]string{"b": whyOtherHistory}},
		{"a's sidecar vouched for its restart after b's link", with(a, func(pv *peerView) { pv.AsPrimary = primaryMark{Epoch: 1, ReplID: "8740cdb3", At: at(21.0)} }), b, "c", map[string]string{"b": whyOtherHistory}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideLeader(t0, st, map[string]peerView{"a": tt.a, "b": tt.b, "c": c}, p, "")
			requirePromotes(t, d, tt.want, tt.whyNot)
		})
	}
}

func TestNextFollows(t *testing.T) {
	linked := rep("b", 14).Rep
	linked.Epoch = 3
	linked.Obs.MasterAddr, linked.Obs.LinkUp, linked.Obs.ReplID, linked.Obs.Keys = "a:6379", true, "h1", 9
	prev := followMark{Epoch: 2, Master: "c:6379", ReplID: "h0", Keys: 5, At: t0.Add(-time.Second)}
	if got, want := nextFollows(prev, linked, t0), (followMark{Epoch: 3, Master: "a:6379", ReplID: "h1", Keys: 9, At: t0}); got != want {
		t.Errorf("linked and synced: %+v, want %+v", got, want)
	}
	for name, f := range map[string]func(*report){
		"link down":   func(r *report) { r.Obs.LinkUp = false },
		"not synced":  func(r *report) { r.Obs.Synced = false },
		"a primary":   func(r *report) { r.Obs.Role = monitor.RolePrimary },
		"unreachable": func(r *report) { r.Obs.Reachable = false },
	} {
		r := linked
		f(&r)
		if got := nextFollows(prev, r, t0); got != prev {
			t.Errorf("%s: %+v, want the last mark %+v", name, got, prev)
		}
	}
}

func TestFenceMinReplicas(t *testing.T) {
	for _, tt := range []struct{ want, members, hold int }{
		{0, 3, 0},  // min_replicas off: nothing set
		{1, 3, 1},  // as the group keeps it
		{2, 2, 1},  // capped at the other members
		{1, 1, 0},  // a group of one
		{1, 0, 1},  // group not known yet: the configured value
		{-1, 0, 0}, // nonsense is nothing
	} {
		if got := fenceMinReplicas(tt.want, tt.members); got != tt.hold {
			t.Errorf("fenceMinReplicas(%d, %d) = %d, want %d", tt.want, tt.members, got, tt.hold)
		}
	}
	// On its own Redis, a sidecar holds half the members' Redis (with
	// itself a majority) without min_replicas too, once the group has
	// several members (chaos seeds 15205, 16203).
	for _, tt := range []struct{ want, members, expect, hold int }{
		{0, 3, 3, 1}, // seed 15205: min_replicas off, a lapsed pause still takes nothing unreplicated
		{0, 5, 5, 2}, // seed 16203: a replica on a minority's side is not enough
		{0, 4, 3, 2}, // four members: a majority is three
		{0, 2, 3, 1}, // two members
		{3, 5, 5, 3}, // more, as the group keeps it
		{0, 0, 5, 2}, // group not known yet, bootstrap_expect 5
		{1, 3, 3, 1}, // as the group keeps it
		{2, 3, 3, 2}, // more, as the group keeps it
		{0, 1, 1, 0}, // a group of one
		{0, 0, 3, 1}, // seed 15509: group not known yet, bootstrap_expect says several
		{1, 0, 3, 1}, // the same with min_replicas
		{0, 0, 1, 0}, // group not known yet, of one: the configured value
		{1, 0, 1, 1}, // the configured value, as fenceMinReplicas
	} {
		if got := ownFenceMinReplicas(tt.want, tt.members, tt.expect); got != tt.hold {
			t.Errorf("ownFenceMinReplicas(%d, %d, %d) = %d, want %d", tt.want, tt.members, tt.expect, got, tt.hold)
		}
	}
}

// Chaos seed 12250 (N=3): a's Redis, epoch 5's primary (promoted at 53635
// on 34135ef7), came back from its AOF at 0 with every write; c's, epoch
// 3's primary, had been made a primary at 54344 on 193fe091 (which epoch 4
// left at 48710) to keep its tail, and parked. Its offset counts up to
// epoch 4's fork only.
func TestAOFRestartAgainstATailKeptPastAnEarlierForkSeed12250(t *testing.T) {
	p := promotion{Fork: 53635, ForkReplID: "34135ef7", NewReplID: "36023441", PastForks: []pastFork{
		{Epoch: 3, New: "c", ReplID: "382909e3", NewReplID: "e0a80b26"},
		{Epoch: 4, New: "b", ReplID: "193fe091", Offset: 48710, NewReplID: "34135ef7"},
	}}
	prev := redisIdentity{RunID: "a-1", ReplID: "36023441", Offset: 55000, Keys: 812}
	cur := redisIdentity{RunID: "a-2", ReplID: "65c5caca", Offset: 0, Keys: 812}
	b := replicaPos{ReplID: "a09d8ffa", Offset: 3176, Keys: 60}
	for _, tt := range []struct {
		name string
		c    replicaPos
		want restartVerdict
	}{
		{"seed 12250: c keeps its tail past epoch 4's fork", replicaPos{ReplID: "b2730299", ReplID2: "193fe091", Offset: 54344, Keys: 818}, restartNone},
		{"master_replid2 not reported", replicaPos{ReplID: "b2730299", Offset: 54344, Keys: 818}, restartEmpty},
		{"on a history a recorded promotion began", replicaPos{ReplID: "e0a80b26", ReplID2: "193fe091", Offset: 54344, Keys: 818}, restartEmpty},
		{"left from a history no fork recorded", replicaPos{ReplID: "b2730299", ReplID2: "f00d", Offset: 54344, Keys: 818}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(prev, cur, p, []replicaPos{b, tt.c}); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAOFRestartAgainstATailKeptPastItsOwnForkSeed12269: a Redis made a
// primary on the history the current promotion left, to keep its tail,
// counts against the promoted primary's AOF restart up to the fork, as one
// still on that history does (seed 12102), while it holds no more keys.
func TestAOFRestartAgainstATailKeptPastItsOwnForkSeed12269(t *testing.T) {
	p := promotion{Fork: 41011, ForkReplID: "ac1ded2a", NewReplID: "4deea6bd", PastForks: []pastFork{
		{Epoch: 1, New: "a", NewReplID: "ac1ded2a"},
	}}
	cur := redisIdentity{RunID: "b-2", ReplID: "b67c47bf", Offset: 0, Keys: 859}
	c := replicaPos{ReplID: "b11de1bc", Offset: 0, Keys: 0} // wiped, pointing at itself
	for _, tt := range []struct {
		name string
		a    replicaPos
		want restartVerdict
	}{
		{"seed 12269: a keeps its tail past epoch 2's fork", replicaPos{ReplID: "442292b5", ReplID2: "ac1ded2a", Offset: 44978, Keys: 664}, restartNone},
		{"more keys than the restart", replicaPos{ReplID: "442292b5", ReplID2: "ac1ded2a", Offset: 44978, Keys: 900}, restartEmpty},
		{"keys not reported", replicaPos{ReplID: "442292b5", ReplID2: "ac1ded2a", Offset: 44978, Keys: -1}, restartEmpty},
		{"master_replid2 not reported", replicaPos{ReplID: "442292b5", Offset: 44978, Keys: 664}, restartEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeRestart(redisIdentity{}, cur, p, []replicaPos{c, tt.a}); got != tt.want {
				t.Errorf("judgeRestart = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLedHolderOnAResumedPromotion: the history a promotion of a Redis back
// from its AOF began (Resumed) starts at offset 0, not at the fork where
// the leader chose it, so a holder on it below the fork's offset still
// leads. Chaos seed 11584 (N=5): d, chosen at 28794 on 9262198f and back
// from its AOF, began df75d9f0 at 0.
func TestLedHolderOnAResumedPromotion(t *testing.T) {
	for _, resumed := range []bool{true, false} {
		st := groupState{Epoch: 2, Primary: "d", Promoted: true, Fork: 28794, ForkReplID: "9262198f", NewReplID: "df75d9f0", Resumed: resumed}
		peers := map[string]peerView{}
		for name, pos := range map[string]struct {
			replID string
			offset int64
		}{"a": {"df75d9f0", 19767}, "b": {"77e0", 0}} {
			v := rep(name, pos.offset)
			v.Rep.Obs.ReplID = pos.replID
			peers[name] = v
		}
		hs := []candidate{{Name: "a", Offset: 19767, Keys: 735}, {Name: "b", Offset: 0, Keys: 800}}
		led := ledHolders(st, peers, hs)
		if got := led["a"]; got != resumed {
			t.Errorf("resumed %v: a's Redis at 19767 on the promoted history led %v, want %v", resumed, got, resumed)
		}
		if led["b"] {
			t.Errorf("resumed %v: b, on another history, led", resumed)
		}
	}
	if f := (pastFork{Offset: 28794, Resumed: true}); f.newFrom() != 0 {
		t.Errorf("a resumed past fork's history begins at %d, want 0", f.newFrom())
	}
}

// asPrimary makes v's report say its Redis answers as a primary on
// history replID with keys keys.
func asPrimary(v *peerView, replID string, keys int64) {
	v.Rep.Obs.Role, v.Rep.Obs.MasterAddr, v.Rep.Obs.LinkUp, v.Rep.Obs.Synced = monitor.RolePrimary, "", false, false
	v.Rep.Obs.ReplID, v.Rep.Obs.Keys = replID, keys
}

// Chaos seed 16630 (N=3, shipped defaults), epoch 9's decision 50.14 s
// into the run: Redis-only partitions cut epoch 8's primary b off from
// a's and c's sidecars, which judged it down, while b's own sidecar saw
// its Redis answering with 1641 keys; c's Redis, epoch 7's deposed
// primary, answered with 1613, and a's pointed at itself on epoch 6's
// history with 1246, the one holder. The leader promoted a 0.5 s before
// the first partition healed, and 169 writes acknowledged by epoch 7's
// primary, which b's Redis held, were lost. Without min_replicas a holder
// now waits, within the durable wait, for a member whose Redis answers as
// a primary with more keys (seed 16634: a deposed primary).
func TestShippedHolderWaitsForARicherAnsweringPrimarySeed16630(t *testing.T) {
	p := testParams()
	p.DownAfter = 5 * time.Second
	at := func(s float64) time.Time { return t0.Add(time.Duration((s - 50.14) * float64(time.Second))) }
	now := at(50.14)
	st := groupState{Epoch: 8, Primary: "b", Previous: "c", Promoted: true, Started: at(48.14),
		Members: members("a", "b", "c"), Fork: 74484, ForkReplID: "78a44268"}
	mk := func(edit func(a, b, c *peerView)) map[string]peerView {
		a := down(rep("a", 47910), "b", 8) // a holder: pointing at itself
		a.Rep.Epoch, a.Rep.Obs.MasterAddr, a.Rep.Obs.LinkUp, a.Rep.Obs.Synced = 8, "a:6379", false, false
		a.Rep.Obs.ReplID, a.Rep.Obs.Keys = "2b38834f", 1246
		b := rep("b", 77215) // the primary, seen by its own sidecar only
		b.Rep.Epoch, b.Rep.Obs.Role, b.Rep.Obs.MasterAddr, b.Rep.Obs.LinkUp, b.Rep.Obs.Synced = 8, monitor.RolePrimary, "", false, false
		b.Rep.Obs.ReplID, b.Rep.Obs.Keys = "3bb22d88", 1641
		c := down(rep("c", 74969), "b", 8) // epoch 7's deposed primary
		c.Rep.Epoch, c.Rep.Obs.Role, c.Rep.Obs.MasterAddr, c.Rep.Obs.LinkUp, c.Rep.Obs.Synced = 8, monitor.RolePrimary, "", false, false
		c.Rep.Obs.ReplID, c.Rep.Obs.Keys = "78a44268", 1613
		a.Rep.PrimaryDownMs, c.Rep.PrimaryDownMs = 5100, 5200 // judged down just now
		for _, pv := range []*peerView{&a, &b, &c} {
			pv.Received, pv.UpAt = now, now
		}
		if edit != nil {
			edit(&a, &b, &c)
		}
		return map[string]peerView{"a": a, "b": b, "c": c}
	}
	for _, tt := range []struct {
		name    string
		edit    func(a, b, c *peerView)
		forgetB bool
		waitFor string // "": a promoted
	}{
		{"seed 16630: b, the primary, answers its sidecar with more keys", nil, false, "b"},
		{"seed 16634: c, a deposed primary, answers with more keys", func(_, b, _ *peerView) { b.Rep.Obs.Keys = 1200 }, false, "c"},
		{"neither has more keys than a", func(_, b, c *peerView) { b.Rep.Obs.Keys, c.Rep.Obs.Keys = 1246, 1000 }, false, ""},
		{"both found empty", func(_, b, c *peerView) { b.Rep.Empty, c.Rep.Empty = true, true }, false, ""},
		{"both restarted, not judged yet", func(_, b, c *peerView) { b.Rep.Unsure, c.Rep.Unsure = true, true }, false, ""},
		{"b forgotten, c with no more keys than a", func(_, _, c *peerView) { c.Rep.Obs.Keys = 1000 }, true, ""},
		{"b down to a quorum for down_after past its judgement", func(a, _, c *peerView) { a.Rep.PrimaryDownMs, c.Rep.PrimaryDownMs = 10100, 12000 }, false, ""},
		{"one voter's no-reply past it, the other's not: the quorum's is not", func(a, _, _ *peerView) { a.Rep.PrimaryDownMs = 12000 }, false, "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := st
			if tt.forgetB {
				st.Members = members("a", "b", "c")
				st.Members["b"] = memberAddrs{Redis: "b:6379", Priority: 100, Forgotten: true}
			}
			d := decideLeader(now, st, mk(tt.edit), p, "")
			if !d.ODown {
				t.Fatalf("no ODOWN: %+v", d)
			}
			if tt.waitFor == "" {
				checkHolderPromotion(t, d, "a", true)
				return
			}
			if d.Action == leaderPromote || d.WaitFor != tt.waitFor {
				t.Fatalf("target %q action %v wait for %q (why not %q), want a wait for %s", d.Target, d.Action, d.WaitFor, d.WhyNot, tt.waitFor)
			}
		})
	}
	// With min_replicas the durable rules decide: b, the primary, holds.
	p.MinReplicas = 1
	if d := decideLeader(now, st, mk(nil), p, ""); d.Action == leaderPromote || d.WaitFor != "b" {
		t.Errorf("min_replicas 1: target %q action %v wait for %q, want a wait for b", d.Target, d.Action, d.WaitFor)
	}
}

// strayTargets: before the named primary's promotion, only members whose
// own sidecar does not report its Redis reachable are checked for a stray
// primary (seed 17040); one whose sidecar watches it pauses it itself.
func TestStrayTargets(t *testing.T) {
	now := t0
	st := groupState{Epoch: 5, Primary: "a", Members: members("a", "b", "c", "d", "e")}
	b := rep("b", 100) // watched by its sidecar, a replica
	c := rep("c", 0)   // its sidecar cut from it
	c.Rep.Obs = obsSummary{}
	d := rep("d", 100) // watched, a primary: its own sidecar pauses it
	d.Rep.Obs.Role = monitor.RolePrimary
	e := rep("e", 100) // silent sidecar
	e.Received = now.Add(-time.Minute)
	peers := map[string]peerView{"b": b, "c": c, "d": d, "e": e}
	got := strayTargets("b", st, peers, now, time.Second)
	if want := map[string]string{"c": "c:6379", "e": "e:6379"}; !maps.Equal(got, want) {
		t.Errorf("stray targets %v, want %v", got, want)
	}
	if got := strayTargets("b", groupState{Members: st.Members}, peers, now, time.Second); len(got) != 0 {
		t.Errorf("no primary named: stray targets %v, want none", got)
	}
}

func TestHandTo(t *testing.T) {
	now := t0
	voters := func(names ...string) map[string]memberAddrs {
		m := members(names...)
		for n, a := range m {
			a.Voter = true
			m[n] = a
		}
		return m
	}
	heard := func(name, unheard string) peerView {
		p := rep(name, 100)
		p.Rep.Epoch, p.Rep.Unheard = 4, unheard
		return p
	}
	stale := func(p peerView) peerView {
		p.Received = now.Add(-time.Minute)
		return p
	}
	for _, tt := range []struct {
		name    string
		members map[string]memberAddrs
		peers   map[string]peerView
		want    string
	}{
		{"hears everyone", voters("a", "b", "c"),
			map[string]peerView{"a": heard("a", ""), "b": heard("b", ""), "c": heard("c", "")}, ""},
		// Seed 16964: b leads, a's reports stop at b but reach c.
		{"bridge: c hears a", voters("a", "b", "c"),
			map[string]peerView{"a": stale(heard("a", "b")), "b": heard("b", "a"), "c": heard("c", "")}, "c"},
		{"a is gone for everyone", voters("a", "b", "c"),
			map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a"), "c": heard("c", "a")}, ""},
		{"never heard a at all", voters("a", "b", "c"),
			map[string]peerView{"b": heard("b", "a"), "c": heard("c", "")}, "c"},
		{"c is no voter", func() map[string]memberAddrs {
			m := voters("a", "b", "c")
			m["c"] = memberAddrs{Redis: "c:6379", Priority: 100}
			return m
		}(), map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a"), "c": heard("c", "")}, ""},
		{"c's report is stale", voters("a", "b", "c"),
			map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a,c"), "c": stale(heard("c", ""))}, ""},
		{"c is behind the epoch", voters("a", "b", "c"),
			map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a"), "c": func() peerView {
				p := heard("c", "")
				p.Rep.Epoch = 3
				return p
			}()}, ""},
		{"a forgotten", func() map[string]memberAddrs {
			m := voters("a", "b", "c")
			m["a"] = memberAddrs{Redis: "a:6379", Forgotten: true}
			return m
		}(), map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", ""), "c": heard("c", "")}, ""},
		// N=5: b hears neither a nor e; d hears both, c only a.
		{"the voter that hears the most", voters("a", "b", "c", "d", "e"),
			map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a,e"), "c": heard("c", "e"), "d": heard("d", ""), "e": stale(heard("e", ""))}, "d"},
		{"a tie goes by name", voters("a", "b", "c", "d"),
			map[string]peerView{"a": stale(heard("a", "")), "b": heard("b", "a"), "c": heard("c", ""), "d": heard("d", "")}, "c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := groupState{Epoch: 4, Primary: "b", Members: tt.members}
			if got := handTo("b", st, tt.peers, now, time.Second); got != tt.want {
				t.Errorf("handTo = %q, want %q (b does not hear %q)", got, tt.want, unheardBy("b", st, tt.peers, now, time.Second))
			}
		})
	}
}

func TestDecideLeaderBlocked(t *testing.T) {
	p := params{Quorum: 2, DownAfter: 5 * time.Second, Fresh: time.Second}
	st := groupState{Epoch: 4, Primary: "b", Promoted: true, Members: members("a", "b", "c")}
	// b's Redis is dead; a's report is stale at b, c will not be promoted.
	a := down(rep("a", 100), "b", 4)
	a.Received = t0.Add(-time.Minute)
	bb := down(rep("b", 0), "b", 4)
	bb.Rep.Obs = obsSummary{}
	c := down(rep("c", 100), "b", 4)
	c.Rep.Priority = 0
	peers := map[string]peerView{"a": a, "b": bb, "c": c}
	d := decideLeader(t0, st, peers, p, "")
	if !d.ODown || d.Action != leaderNone || !d.Blocked {
		t.Fatalf("decision %+v, want ODOWN, no action, blocked", d)
	}
	st.Paused = true
	if d := decideLeader(t0, st, peers, p, ""); d.Blocked {
		t.Errorf("paused: decision %+v, want not blocked", d)
	}
	st.Paused = false
	a.Received = t0
	peers["a"] = a
	if d := decideLeader(t0, st, peers, p, ""); d.Blocked || d.Action != leaderPromote || d.Target != "a" {
		t.Errorf("a heard: decision %+v, want a promoted", d)
	}
}

// Seed 17205 (N=3): c, epoch 2's primary, restarted wiped and pointing at
// itself while its sidecar judged it, then its sidecar stopped; a's and
// b's Redis, empty, never synced from it. Nothing can be lost: a, first by
// name, is promoted as a holder. Not while any Redis may hold a key.
func TestNothingToLoseSeed17205(t *testing.T) {
	now := t0
	p := params{Quorum: 2, DownAfter: 2 * time.Second, Fresh: time.Second, MaxLagBytes: 1 << 20}
	st := groupState{Epoch: 2, Primary: "c", Promoted: true, Members: members("a", "b", "c")}
	empty := func(name string) peerView {
		pv := down(rep(name, 0), "c", 2)
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.LinkUp, pv.Rep.Obs.Synced = "c:6379", false, false
		pv.UpAt = now
		return pv
	}
	primary := func() peerView {
		pv := rep("c", 0)
		pv.Rep.Obs.MasterAddr, pv.Rep.Obs.LinkUp, pv.Rep.Obs.Synced = "c:6379", false, false
		pv.Received, pv.UpAt = now.Add(-5*time.Second), now.Add(-5*time.Second)
		return pv
	}
	for _, tt := range []struct {
		name string
		edit func(map[string]peerView)
		want string // promoted; "" none
	}{
		{"every Redis empty", func(map[string]peerView) {}, "a"},
		{"a has priority 0", func(ps map[string]peerView) {
			a := ps["a"]
			a.Rep.Priority = 0
			ps["a"] = a
		}, "b"},
		{"the primary last held a key", func(ps map[string]peerView) {
			c := ps["c"]
			c.UpKeys = 1
			ps["c"] = c
		}, ""},
		{"the primary's sidecar reports its Redis answering", func(ps map[string]peerView) {
			c := ps["c"]
			c.Received = now
			ps["c"] = c
		}, ""},
		// Seed 17216: c's sidecar cut from its Redis, killed without
		// persistence, last seen with no key.
		{"the primary's sidecar reports its Redis out of reach", func(ps map[string]peerView) {
			c := ps["c"]
			c.Received, c.Rep.Obs = now, obsSummary{}
			ps["c"] = c
		}, "a"},
		{"the primary's sidecar reports its Redis out of reach, last seen with a key", func(ps map[string]peerView) {
			c := ps["c"]
			c.Received, c.Rep.Obs, c.UpKeys = now, obsSummary{}, 3
			ps["c"] = c
		}, ""},
		{"the primary last answered as a primary", func(ps map[string]peerView) {
			c := ps["c"]
			c.Rep.Obs.Role, c.Rep.Obs.MasterAddr = monitor.RolePrimary, ""
			ps["c"] = c
		}, ""},
		{"b's Redis syncing", func(ps map[string]peerView) {
			b := ps["b"]
			b.Rep.Obs.SyncInProgress = true
			ps["b"] = b
		}, ""},
		{"b's Redis does not answer", func(ps map[string]peerView) {
			b := ps["b"]
			b.Rep.Obs = obsSummary{}
			ps["b"] = b
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peers := map[string]peerView{"a": empty("a"), "b": empty("b"), "c": primary()}
			tt.edit(peers)
			d := decideLeader(now, st, peers, p, "")
			if !d.ODown {
				t.Fatalf("decision %+v, want ODOWN", d)
			}
			got := promotedBy(d)
			if got != tt.want || got != "" && (!d.Holder || d.ChosenKeys != 0) {
				t.Errorf("promoted %q (holder %v, keys %d), want %q; why not: %s", got, d.Holder, d.ChosenKeys, tt.want, d.WhyNot)
			}
		})
	}
}

// Seed 17143 (N=5, shipped defaults): b's Redis, restarted without
// persistence, synced at offset 0 with no key, was promoted while c and e,
// out of reach, were last heard with 1841 and 1843 keys. Without
// min_replicas it is set aside within the durable wait of their last
// report; not once that wait is over, nor when they held no key, nor
// when b's Redis holds keys.
func TestEmptyReplicaWaitsForRicherUnheardSeed17143(t *testing.T) {
	now := t0
	p := params{Quorum: 2, DownAfter: 2 * time.Second, Fresh: time.Second, MaxLagBytes: 1 << 20}
	st := groupState{Epoch: 7, Primary: "c", Promoted: true, Started: now.Add(-time.Minute), Members: members("a", "b", "c", "d", "e")}
	gone := func(name string, keys int64, ago time.Duration) peerView {
		pv := rep(name, 18885)
		pv.Received, pv.UpAt, pv.UpKeys = now.Add(-ago), now.Add(-ago), keys
		return pv
	}
	for _, tt := range []struct {
		name    string
		bKeys   int64
		bOffset int64
		keys    int64         // c's and e's Redis, last heard
		ago     time.Duration // when they were last heard
		want    string        // promoted; "" none
		waitFor string
	}{
		{"seed 17143: c and e last heard with keys", 0, 0, 1841, 3 * time.Second, "", "c"},
		{"their report beyond the durable wait", 0, 0, 1841, 10*p.DownAfter + time.Second, "b", ""},
		{"they held no key", 0, 0, 0, 3 * time.Second, "b", ""},
		{"b's Redis holds keys", 5, 0, 1841, 3 * time.Second, "b", ""},
		{"b synced past offset 0", 0, 4096, 1841, 3 * time.Second, "b", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := down(rep("b", tt.bOffset), "c", 7)
			b.Rep.Obs.Keys = tt.bKeys
			d := down(rep("d", 0), "c", 7)
			d.Rep.Obs.Role, d.Rep.Obs.MasterAddr, d.Rep.Obs.Keys = monitor.RolePrimary, "", 1552
			peers := map[string]peerView{"b": b, "d": d, "c": gone("c", tt.keys, tt.ago), "e": gone("e", tt.keys, tt.ago)}
			dec := decideLeader(now, st, peers, p, "")
			if !dec.ODown {
				t.Fatalf("decision %+v, want ODOWN", dec)
			}
			got := promotedBy(dec)
			if got != tt.want || dec.WaitFor != tt.waitFor {
				t.Errorf("promoted %q, waiting for %q; want %q, %q (why not: %s)", got, dec.WaitFor, tt.want, tt.waitFor, dec.WhyNot)
			}
		})
	}
}

// promotedBy names the node d commits as the primary, "" if none.
func promotedBy(d leaderDecision) string {
	if d.Action != leaderPromote {
		return ""
	}
	return d.Target
}

// TestEpochStartOnOwnClock checks nextEpochStart: the waits that run from a
// failover's start judge it on this sidecar's clock, whatever the clock of
// the leader that committed it said.
func TestEpochStartOnOwnClock(t *testing.T) {
	now := t0
	for _, tt := range []struct {
		name      string
		prev      epochStart
		started   time.Time // committed, on the committing leader's clock
		following bool
		want      time.Time
	}{
		{"no failover: the initial primary", epochStart{}, time.Time{}, true, time.Time{}},
		{"applied live, the committing clock 60 s ahead", epochStart{Epoch: 4, At: now.Add(-time.Hour)}, now.Add(time.Minute), true, now},
		{"applied live, the committing clock 60 s behind", epochStart{Epoch: 4, At: now.Add(-time.Hour)}, now.Add(-time.Minute), true, now},
		{"the same epoch keeps its start", epochStart{Epoch: 5, At: now.Add(-3 * time.Second)}, now.Add(time.Minute), true, now.Add(-3 * time.Second)},
		{"caught up at start: the committed start", epochStart{}, now.Add(-time.Minute), false, now.Add(-time.Minute)},
		{"caught up, the committed start in the future: now", epochStart{}, now.Add(time.Minute), false, now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := nextEpochStart(tt.prev, 5, tt.started, tt.following, now)
			if !got.At.Equal(tt.want) || got.Epoch != 5 {
				t.Errorf("nextEpochStart = %v at epoch %d, want %v at epoch 5", got.At, got.Epoch, tt.want)
			}
		})
	}

	// What it prevents: e was committed at epoch 5, 300 ms ago, by a
	// leader whose clock ran 60 s behind this one's, and is promoting. On
	// the committed start this leader finds the promotion stuck (60 s
	// past down_after) and would name another primary at once; so would
	// every durable wait be over. On its own clock it gives the promotion
	// down_after.
	applied := now.Add(-300 * time.Millisecond)
	committed := applied.Add(-time.Minute)
	peers := map[string]peerView{"e": rep("e", 4500), "a": rep("a", 4000), "b": rep("b", 3900)}
	raw := groupState{Epoch: 5, Primary: "e", Started: committed, Members: members("e", "a", "b")}
	if d := decideLeader(now, raw, peers, testParams(), ""); !d.Stuck {
		t.Fatalf("on the committed start: stuck %v, want the premise (a promotion judged stuck) to hold", d.Stuck)
	}
	own := raw
	own.Started = nextEpochStart(epochStart{Epoch: 4}, 5, committed, true, applied).At
	if d := decideLeader(now, own, peers, testParams(), ""); d.Stuck {
		t.Errorf("on this sidecar's clock 300 ms after the commit: stuck, want the promotion given down_after")
	}
	if d := decideLeader(applied.Add(testParams().DownAfter), own, peers, testParams(), ""); !d.Stuck {
		t.Errorf("on this sidecar's clock down_after after the commit: not stuck, want it stuck")
	}
}

// TestOpinionsOfAPromotedPrimaryCountFromItsPromotion: the leader counts
// no opinion of a promoted primary sent before an interval after it
// applied the promotion (chaos seed 17525, N=3: the leader replaced c 4 ms
// after c confirmed its promotion, on opinions formed while c's Redis was
// a replica cut off, and a write c took in between was lost).
func TestOpinionsOfAPromotedPrimaryCountFromItsPromotion(t *testing.T) {
	from := t0.Add(100 * time.Millisecond)
	st := groupState{Epoch: 5, Primary: "c", Promoted: true, Started: t0.Add(-13 * time.Second), OpinionsFrom: from, Members: members("a", "b", "c")}
	peer := func(name string, received time.Time) peerView {
		pv := down(rep(name, 4000), "c", 5)
		pv.Received = received
		return pv
	}
	for _, tt := range []struct {
		name     string
		received time.Time
		from     time.Time
		odown    bool
	}{
		{"opinions sent before the promotion", t0, from, false},
		{"opinions sent within the interval after it", t0.Add(50 * time.Millisecond), from, false},
		{"opinions sent after", from, from, true},
		{"the promotion not seen as it committed", t0, time.Time{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := st
			st.OpinionsFrom = tt.from
			peers := map[string]peerView{"a": peer("a", tt.received), "b": peer("b", tt.received), "c": rep("c", 4000)}
			d := decideLeader(from.Add(200*time.Millisecond), st, peers, testParams(), "")
			if d.ODown != tt.odown {
				t.Errorf("ODOWN %v (votes %d), want %v", d.ODown, d.Votes, tt.odown)
			}
		})
	}
	// Before the promotion, the same opinions count: a named primary that
	// does not promote is replaced.
	unpromoted := st
	unpromoted.Promoted = false
	peers := map[string]peerView{"a": peer("a", t0), "b": peer("b", t0), "c": rep("c", 4000)}
	if d := decideLeader(t0, unpromoted, peers, testParams(), ""); !d.ODown {
		t.Errorf("unpromoted: ODOWN false (votes %d), want the opinions counted", d.Votes)
	}
}
