package authority

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestBootstrapServers(t *testing.T) {
	p := func(name string, has bool) PeerInfo { return PeerInfo{Name: name, Addr: name + ":1", HasState: has} }
	voters := func(names ...string) []raft.Server {
		var out []raft.Server
		for _, n := range names {
			out = append(out, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n), Address: raft.ServerAddress(n + ":1")})
		}
		return out
	}
	tests := []struct {
		name     string
		expect   int
		self     string
		hasState bool
		alive    []PeerInfo
		want     []raft.Server
	}{
		{name: "three fresh nodes", expect: 3, self: "b", alive: []PeerInfo{p("c", false), p("a", false), p("b", false)}, want: voters("a", "b", "c")},
		{name: "too few", expect: 3, self: "a", alive: []PeerInfo{p("a", false), p("b", false)}},
		{name: "alone with a wiped data dir", expect: 3, self: "a", alive: []PeerInfo{p("a", false)}},
		{name: "single node group", expect: 1, self: "a", alive: []PeerInfo{p("a", false)}, want: voters("a")},
		{name: "this node has state", expect: 3, self: "a", hasState: true, alive: []PeerInfo{p("a", false), p("b", false), p("c", false)}},
		{name: "a peer has state: never bootstrap", expect: 3, self: "a", alive: []PeerInfo{p("a", false), p("b", false), p("c", true)}},
		{name: "more than expected: the smallest names", expect: 3, self: "c", alive: []PeerInfo{p("d", false), p("c", false), p("b", false), p("a", false)}, want: voters("a", "b", "c")},
		{name: "more than expected, self not chosen", expect: 3, self: "d", alive: []PeerInfo{p("d", false), p("c", false), p("b", false), p("a", false)}},
		{name: "duplicates do not count", expect: 3, self: "a", alive: []PeerInfo{p("a", false), p("b", false), p("b", false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bootstrapServers(tt.expect, tt.self, tt.hasState, tt.alive)
			if ok != (tt.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, tt.want != nil)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("servers (-got +want):\n%s", diff)
			}
		})
	}
}

func TestReconcileMembership(t *testing.T) {
	now := t0.Add(time.Hour)
	stab := 10 * time.Second
	srv := func(id string, voter bool) raft.Server {
		s := raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(id + ":1"), Suffrage: raft.Nonvoter}
		if voter {
			s.Suffrage = raft.Voter
		}
		return s
	}
	alive := func(names ...string) []PeerInfo {
		var out []PeerInfo
		for _, n := range names {
			out = append(out, PeerInfo{Name: n, Addr: n + ":1"})
		}
		return out
	}
	tests := []struct {
		name      string
		in        membershipInput
		want      []change
		wantSince map[string]time.Time
	}{
		{name: "new alive member is added as non-voter",
			in:   membershipInput{servers: []raft.Server{srv("a", true)}, alive: alive("a", "d")},
			want: []change{{kind: addNonvoter, id: "d", addr: "d:1"}}},
		{name: "unregistered non-voter waits",
			in:        membershipInput{servers: []raft.Server{srv("a", true), srv("d", false)}, alive: alive("a", "d")},
			wantSince: map[string]time.Time{}},
		{name: "registered non-voter starts its clock",
			in:        membershipInput{servers: []raft.Server{srv("a", true), srv("d", false)}, alive: alive("a", "d"), registered: map[string]bool{"d": true}},
			wantSince: map[string]time.Time{"d": now}},
		{name: "stable non-voter is promoted",
			in: membershipInput{servers: []raft.Server{srv("a", true), srv("d", false)}, alive: alive("a", "d"), registered: map[string]bool{"d": true},
				healthySince: map[string]time.Time{"d": now.Add(-stab)}},
			want:      []change{{kind: promote, id: "d", addr: "d:1"}},
			wantSince: map[string]time.Time{"d": now.Add(-stab)}},
		{name: "not yet stable",
			in: membershipInput{servers: []raft.Server{srv("a", true), srv("d", false)}, alive: alive("a", "d"), registered: map[string]bool{"d": true},
				healthySince: map[string]time.Time{"d": now.Add(-stab + time.Millisecond)}},
			wantSince: map[string]time.Time{"d": now.Add(-stab + time.Millisecond)}},
		{name: "caller's check fails: clock restarts",
			in: membershipInput{servers: []raft.Server{srv("a", true), srv("d", false)}, alive: alive("a", "d"), registered: map[string]bool{"d": true},
				canVote: map[string]bool{"d": false}, healthySince: map[string]time.Time{"d": now.Add(-time.Hour)}},
			wantSince: map[string]time.Time{}},
		{name: "vanished non-voter is removed, dead voter stays",
			in: membershipInput{servers: []raft.Server{srv("a", true), srv("b", true), srv("d", false)}, alive: alive("a"), registered: map[string]bool{"d": true},
				healthySince: map[string]time.Time{"d": now.Add(-time.Hour)}},
			want:      []change{{kind: removeNonvoter, id: "d"}},
			wantSince: map[string]time.Time{}},
		{name: "moved member: raft dials its new address, the configuration stays",
			in:        membershipInput{servers: []raft.Server{srv("a", true), srv("b", true)}, alive: []PeerInfo{{Name: "a", Addr: "a:1"}, {Name: "b", Addr: "b:2"}}},
			wantSince: map[string]time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.now, tt.in.stabilization = now, stab
			got, since := reconcileMembership(tt.in)
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(change{})); diff != "" {
				t.Errorf("changes (-got +want):\n%s", diff)
			}
			if tt.wantSince == nil {
				tt.wantSince = map[string]time.Time{}
			}
			if diff := cmp.Diff(since, tt.wantSince); diff != "" {
				t.Errorf("healthy since (-got +want):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := DefaultConfig()
	c.BootstrapExpect = 0
	c.Stabilization = -time.Second
	c.RaftLeaderLeaseTimeout = time.Second
	c.RaftSnapshotThreshold = 1
	c.RaftElectionTimeout = 100 * time.Millisecond
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, tc := range []struct {
		calm time.Duration
		want string
	}{
		{100 * time.Millisecond, "failover.raft_calm_heartbeat_timeout (100ms) must not be shorter than failover.raft_heartbeat_timeout (200ms)"},
		{600 * time.Millisecond, "failover.raft_calm_heartbeat_timeout (600ms) must not exceed 250ms with failover.raft_leader_lease_timeout 150ms"},
	} {
		c := DefaultConfig()
		c.RaftCalmHeartbeatTimeout = tc.calm
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("calm %s: error %v, want %q", tc.calm, err, tc.want)
		}
	}
	for _, want := range []string{"failover.bootstrap_expect (0)", "failover.stabilization (-1s)",
		"failover.raft_leader_lease_timeout (1s) must not exceed failover.raft_heartbeat_timeout (200ms)", "failover.raft_snapshot_threshold (1)",
		"failover.raft_election_timeout (100ms) must not be shorter than failover.raft_heartbeat_timeout (200ms)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestTimed(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	set := Config{RaftHeartbeatTimeout: ms(300), RaftElectionTimeout: ms(500), RaftLeaderLeaseTimeout: ms(250), RaftCommitTimeout: ms(10), RaftCalmHeartbeatTimeout: ms(320)}
	for _, tc := range []struct {
		name                    string
		c                       Config
		downAfter               time.Duration
		hb, el, l, commit, calm time.Duration
	}{
		{"down_after 1s: the 200 ms floor; the 150 ms lease leaves little calm", Config{}, time.Second, ms(200), ms(200), ms(150), ms(200), ms(250)},
		{"down_after 2s: a fifth", Config{}, 2 * time.Second, ms(400), ms(400), ms(300), ms(400), ms(1000)},
		{"default down_after 5s", Config{}, 5 * time.Second, time.Second, time.Second, ms(750), time.Second, ms(2500)},
		{"down_after 30s: the 1 s ceiling", Config{}, 30 * time.Second, time.Second, time.Second, ms(750), time.Second, ms(2500)},
		{"explicit values stay", set, 5 * time.Second, ms(300), ms(500), ms(250), ms(10), ms(320)},
		{"explicit heartbeat, the rest follow it", Config{RaftHeartbeatTimeout: ms(800)}, time.Second, ms(800), ms(800), ms(600), ms(800), ms(2000)},
		{"a short lease caps calm", Config{RaftHeartbeatTimeout: ms(300), RaftLeaderLeaseTimeout: ms(200)}, time.Second, ms(300), ms(300), ms(200), ms(300), ms(500)},
		{"a lease too short for any calm", Config{RaftHeartbeatTimeout: ms(300), RaftLeaderLeaseTimeout: ms(60)}, time.Second, ms(300), ms(300), ms(60), ms(300), ms(300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.Timed(tc.downAfter)
			if got.RaftHeartbeatTimeout != tc.hb || got.RaftElectionTimeout != tc.el || got.RaftLeaderLeaseTimeout != tc.l ||
				got.RaftCommitTimeout != tc.commit || got.RaftCalmHeartbeatTimeout != tc.calm {
				t.Errorf("Timed(%s) = heartbeat %s, election %s, lease %s, commit %s, calm %s; want %s, %s, %s, %s, %s", tc.downAfter,
					got.RaftHeartbeatTimeout, got.RaftElectionTimeout, got.RaftLeaderLeaseTimeout, got.RaftCommitTimeout, got.RaftCalmHeartbeatTimeout,
					tc.hb, tc.el, tc.l, tc.commit, tc.calm)
			}
			v := DefaultConfig()
			v.RaftHeartbeatTimeout, v.RaftElectionTimeout, v.RaftLeaderLeaseTimeout = got.RaftHeartbeatTimeout, got.RaftElectionTimeout, got.RaftLeaderLeaseTimeout
			v.RaftCommitTimeout, v.RaftCalmHeartbeatTimeout = got.RaftCommitTimeout, got.RaftCalmHeartbeatTimeout
			if err := v.Validate(); err != nil {
				t.Errorf("Timed(%s) is invalid: %v", tc.downAfter, err)
			}
		})
	}
}

func TestTimings(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	c := Config{RaftHeartbeatTimeout: ms(200), RaftElectionTimeout: ms(300), RaftCalmHeartbeatTimeout: ms(500)}
	for _, tc := range []struct {
		name         string
		c            Config
		calm         bool
		hb, election time.Duration
	}{
		{"failover timings", c, false, ms(200), ms(300)},
		{"calm: the election timeout follows up", c, true, ms(500), ms(500)},
		{"calm keeps a longer election timeout", Config{RaftHeartbeatTimeout: ms(200), RaftElectionTimeout: ms(800), RaftCalmHeartbeatTimeout: ms(500)}, true, ms(500), ms(800)},
		{"no calm timeout: calm changes nothing", Config{RaftHeartbeatTimeout: ms(200), RaftElectionTimeout: ms(300)}, true, ms(200), ms(300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if hb, el := tc.c.timings(tc.calm); hb != tc.hb || el != tc.election {
				t.Errorf("timings(%t) = %s, %s; want %s, %s", tc.calm, hb, el, tc.hb, tc.election)
			}
		})
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("component", "raft"))
	l.Named("transport").With("peer", "b").Error("Failed to contact", "error", "boom")
	l.Error("failed to heartbeat to", "peer", "c", "error", "dial refused")
	l.Debug("hidden")
	l.Trace("hidden too")
	l.Warn("RPC timed out", "servers", hclog.Fmt("%+v", []int{1, 2}))
	l.StandardLogger(nil).Print("[WARN] raft: something")
	out := buf.String()
	for _, want := range []string{
		`level=ERROR msg="failed to contact" component=raft subsystem=transport peer=b err=boom`,
		`level=WARN msg="RPC timed out" component=raft servers="[1 2]"`,
		`level=WARN msg="raft: something"`,
		`level=WARN msg="failed to heartbeat to" component=raft peer=c err="dial refused"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug/trace logged at info level: %q", out)
	}
	if l.IsDebug() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Errorf("levels: debug %v info %v level %v", l.IsDebug(), l.IsInfo(), l.GetLevel())
	}
}

func TestQuorumContact(t *testing.T) {
	now := time.Now()
	ago := func(ms int) time.Time { return now.Add(-time.Duration(ms) * time.Millisecond) }
	three := []raft.ServerID{"a", "b", "c"}
	five := []raft.ServerID{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name   string
		voters []raft.ServerID
		acks   map[raft.ServerID]ack
		want   time.Time
		ok     bool
	}{
		{"alone: self is the majority", []raft.ServerID{"a"}, nil, now, true},
		{"no follower acknowledged", three, nil, time.Time{}, false},
		{"one of two followers is enough of three", three,
			map[raft.ServerID]ack{"b": {7, ago(300)}}, ago(300), true},
		{"the later of two", three,
			map[raft.ServerID]ack{"b": {7, ago(300)}, "c": {7, ago(100)}}, ago(100), true},
		{"an older term does not count", three,
			map[raft.ServerID]ack{"b": {6, ago(10)}, "c": {7, ago(400)}}, ago(400), true},
		{"only older terms", three,
			map[raft.ServerID]ack{"b": {6, ago(10)}, "c": {6, ago(10)}}, time.Time{}, false},
		{"a non-voter does not count", three,
			map[raft.ServerID]ack{"x": {7, ago(10)}}, time.Time{}, false},
		{"five: the second latest of four", five,
			map[raft.ServerID]ack{"b": {7, ago(500)}, "c": {7, ago(100)}, "d": {7, ago(300)}, "e": {7, ago(900)}}, ago(300), true},
		{"five: one follower is not a majority", five,
			map[raft.ServerID]ack{"b": {7, ago(10)}}, time.Time{}, false},
		{"self no voter (being removed)", []raft.ServerID{"b", "c"},
			map[raft.ServerID]ack{"b": {7, ago(10)}, "c": {7, ago(10)}}, time.Time{}, false},
		{"an acknowledgement stamped after now counts as now", three,
			map[raft.ServerID]ack{"b": {7, now.Add(time.Second)}}, now, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := quorumContact("a", tc.voters, 7, tc.acks, now)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("quorumContact = %v, %v; want %v, %v", got.Sub(now), ok, tc.want.Sub(now), tc.ok)
			}
		})
	}
}

func TestContactsKeepTheNewestConfiguration(t *testing.T) {
	c := newContacts("a")
	cfg := func(ids ...raft.ServerID) raft.Configuration {
		var s []raft.Server
		for _, id := range ids {
			s = append(s, raft.Server{ID: id, Suffrage: raft.Voter})
		}
		return raft.Configuration{Servers: s}
	}
	now := time.Now()
	c.acked("b", 3, now.Add(-time.Second))
	if got := c.last(true, 3, now); !got.IsZero() {
		t.Fatalf("contact %v before any configuration was read", got)
	}
	c.setVoters(3, 10, cfg("a", "b", "c"))
	if got := c.last(true, 3, now); !got.Equal(now.Add(-time.Second)) {
		t.Fatalf("contact %v, want b's acknowledgement", got)
	}
	// Two more voters: b alone is no longer a majority, and a read of the
	// older configuration that lands late does not undo that.
	c.setVoters(3, 12, cfg("a", "b", "c", "d", "e"))
	c.setVoters(3, 10, cfg("a", "b", "c"))
	c.acked("b", 3, now)
	if got := c.last(true, 3, now); !got.Equal(now.Add(-time.Second)) {
		t.Fatalf("contact %v moved on one acknowledgement of five voters", got)
	}
	// Not leading, or leading in a term whose configuration was not read:
	// the acknowledgements do not count.
	c.acked("c", 3, now)
	if got := c.last(false, 3, now); !got.Equal(now.Add(-time.Second)) {
		t.Fatalf("contact %v counted while not leading", got)
	}
	if got := c.last(true, 4, now); !got.Equal(now.Add(-time.Second)) {
		t.Fatalf("contact %v counted in a term whose configuration was not read", got)
	}
	if got := c.last(true, 3, now); !got.Equal(now) {
		t.Fatalf("contact %v, want now: b and c acknowledged", got)
	}
	// A follower's accepted heartbeat counts whatever the state.
	c.heard(now.Add(time.Second))
	if got := c.last(false, 5, now); !got.Equal(now.Add(time.Second)) {
		t.Fatalf("contact %v, want the heartbeat heard", got)
	}
}

func TestHousekeepingPeriod(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		interval, every time.Duration
		settle          int
	}{
		{0, ms(100), 5},               // no interval given: the shortest period
		{ms(50), ms(100), 5},          // never faster than loopInterval
		{ms(100), ms(100), 5},         // the default probe interval
		{ms(300), ms(300), 2},         // 600 ms of stable membership
		{time.Second, time.Second, 1}, // probing once a second
		{5 * time.Second, 5 * time.Second, 1},
	} {
		every := housekeepingPeriod(tc.interval)
		if every != tc.every || settleTicks(every) != tc.settle {
			t.Errorf("interval %s: period %s, settle %d ticks; want %s, %d", tc.interval, every, settleTicks(every), tc.every, tc.settle)
		}
	}
}

func TestMajorityLost(t *testing.T) {
	alive := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		voters []string
		alive  map[string]bool
		node   string
		want   []string
	}{
		{"seed 16110: c forgotten while a is down", []string{"a", "b", "c"}, alive("b"), "c", []string{"a"}},
		{"the rest alive", []string{"a", "b", "c"}, alive("a", "b"), "c", nil},
		{"five voters, one other down", []string{"a", "b", "c", "d", "e"}, alive("a", "b", "c"), "e", nil},
		{"five voters, two others down", []string{"a", "b", "c", "d", "e"}, alive("a", "b"), "e", []string{"c", "d"}},
		{"two voters, the other forgotten", []string{"a", "b"}, alive("a"), "b", nil},
		{"not a voter", []string{"a", "b", "c"}, alive("b"), "d", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := majorityLost(tc.voters, tc.alive, tc.node); !cmp.Equal(got, tc.want) {
				t.Errorf("majorityLost(%v, %v, %s) = %v, want %v", tc.voters, tc.alive, tc.node, got, tc.want)
			}
		})
	}
}
