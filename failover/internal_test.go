package failover

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/monitor"
)

// memNet is an in-memory message bus between sidecars for tests of the
// voting protocol; Redis plays no part in them.
type memNet struct {
	mu    sync.Mutex
	boxes map[string]chan memMsg
	names []string
}

type memMsg struct {
	from    string
	kind    byte
	payload []byte
}

func newMemNet(names ...string) *memNet {
	n := &memNet{boxes: map[string]chan memMsg{}, names: names}
	for _, name := range names {
		n.boxes[name] = make(chan memMsg, 1024)
	}
	return n
}

type memCluster struct {
	net  *memNet
	name string
}

func (c memCluster) Name() string                 { return c.name }
func (c memCluster) Known() []string              { return append([]string(nil), c.net.names...) }
func (c memCluster) Alive() []string              { return c.Known() }
func (c memCluster) Forget(string) error          { return nil }
func (c memCluster) Settle(context.Context) error { return nil }
func (c memCluster) Broadcast(kind byte, payload []byte) {
	for _, n := range c.net.names {
		if n != c.name {
			_ = c.Send(context.Background(), n, kind, payload)
		}
	}
}
func (c memCluster) BroadcastReliable(ctx context.Context, kind byte, payload []byte) error {
	c.Broadcast(kind, payload)
	return nil
}
func (c memCluster) Send(ctx context.Context, node string, kind byte, payload []byte) error {
	c.net.mu.Lock()
	box := c.net.boxes[node]
	c.net.mu.Unlock()
	if box == nil {
		return errors.New("unknown node")
	}
	select {
	case box <- memMsg{c.name, kind, append([]byte(nil), payload...)}:
		return nil
	default:
		return errors.New("box full")
	}
}
func (c memCluster) Recv(ctx context.Context) (string, byte, []byte, error) {
	select {
	case m := <-c.net.boxes[c.name]:
		return m.from, m.kind, m.payload, nil
	case <-ctx.Done():
		return "", 0, nil, ctx.Err()
	}
}

// newTestFailover builds a Failover with its state loaded from dir, as Run
// would, but runs nothing. Its Local is a Prober that is never run.
func newTestFailover(t testing.TB, name, dir string, net *memNet, reg prometheus.Registerer) *Failover {
	t.Helper()
	f, _ := newTestFailoverOf(t, name, "127.0.0.1:1", dir, net, reg)
	return f
}

// newTestFailoverOf is newTestFailover for the Redis at addr, with its
// Prober, which the caller may run.
func newTestFailoverOf(t testing.TB, name, addr, dir string, net *memNet, reg prometheus.Registerer) (*Failover, *monitor.Prober) {
	t.Helper()
	mc := monitor.Config{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond}
	rc := monitor.RedisConfig{Addr: addr, Priority: 100}
	prober, err := monitor.New(rc, mc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prober.Close() })
	cfg := DefaultConfig()
	cfg.Cooldown = 0
	cfg.ElectionTimeout = time.Second
	f, err := New(cfg, nil, reg, Deps{
		Self: Node{Name: name, Addr: addr, Priority: 100}, DataDir: dir,
		Redis: rc, Monitor: mc, Local: prober, Cluster: memCluster{net, name},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := openHistory(dir, cfg.HistorySize)
	if err != nil {
		t.Fatal(err)
	}
	f.loadLocked(st, h)
	return f, prober
}

// primeVoter makes f see primary "p" down at epoch 1 and every other
// member an eligible, equally advanced replica.
func primeVoter(f *Failover, members []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conf = Configuration{Epoch: 1, Primary: "p", PrimaryAddr: "127.0.0.1:2"}
	f.sdown, f.ready = true, true
	forever := time.Now().Add(time.Hour) // reports stay fresh for the test
	f.obs = monitor.Observation{Time: forever, Role: monitor.RoleReplica, Synced: true, LinkUp: true, Offset: 100}
	for _, m := range members {
		if m == f.self.Name {
			continue
		}
		f.peers[m] = peerState{received: forever, rep: report{Name: m, Addr: "127.0.0.1:1", Priority: 100,
			Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, Synced: true, LinkUp: true, Offset: 100}}}
	}
}

func TestVoteStore(t *testing.T) {
	dir := t.TempDir()
	s, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		epoch     uint64
		candidate string
		want      bool
	}{
		{0, "b", false}, // epoch 0 is never an election
		{3, "b", true},
		{3, "b", true},  // the same vote again
		{3, "c", false}, // one vote per epoch
		{2, "c", false}, // never backwards
		{4, "c", true},
	}
	for i, st := range steps {
		got, err := s.vote(st.epoch, st.candidate)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("step %d: vote(%d, %s) = %v, want %v", i, st.epoch, st.candidate, got, st.want)
		}
	}
	// A restart reads the vote back.
	s2, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.vote(4, "b"); got {
		t.Error("after restart, a second vote in epoch 4 was granted")
	}
	if got, _ := s2.vote(4, "c"); !got {
		t.Error("after restart, the same vote in epoch 4 was refused")
	}
}

// A restarted sidecar never votes twice in one epoch: the vote is on disk
// before the reply leaves.
func TestRestartedVoterDoesNotVoteTwice(t *testing.T) {
	members := []string{"b", "c", "v"}
	net := newMemNet(members...)
	dir := t.TempDir()
	ask := func(f *Failover, from string, epoch uint64) voteReply {
		t.Helper()
		f.onVoteRequest(context.Background(), from, voteRequest{Epoch: epoch, Candidate: from, CandidateAddr: "127.0.0.1:1",
			Primary: "p", PrimaryEpoch: 1, Reason: ReasonAuto})
		select {
		case m := <-net.boxes[from]:
			r, err := decodeVoteReply(m.payload)
			if err != nil {
				t.Fatal(err)
			}
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no vote reply")
		}
		return voteReply{}
	}
	v := newTestFailover(t, "v", dir, net, nil)
	primeVoter(v, members)
	if r := ask(v, "b", 7); !r.Granted {
		t.Fatalf("first vote refused: %s", r.Why)
	}
	v2 := newTestFailover(t, "v", dir, net, nil) // the restart
	primeVoter(v2, members)
	if r := ask(v2, "c", 7); r.Granted {
		t.Error("restarted voter voted twice in epoch 7")
	}
	if r := ask(v2, "b", 7); !r.Granted {
		t.Errorf("restarted voter refused to repeat its vote: %s", r.Why)
	}
	if r := ask(v2, "c", 6); r.Granted {
		t.Error("restarted voter voted in an older epoch")
	}
	if r := ask(v2, "c", 8); r.Granted {
		t.Error("restarted voter voted for c at epoch 8 while b may be promoting after winning epoch 7")
	}
	v2.mu.Lock()
	v2.hold.until = time.Now() // b's outcome never came: the hold lapses
	v2.mu.Unlock()
	if r := ask(v2, "c", 8); !r.Granted {
		t.Errorf("restarted voter refused a newer epoch: %s", r.Why)
	}
}

// Two equally good candidates campaigning at the same time never both win
// an epoch.
func TestConcurrentCandidatesOneWinnerPerEpoch(t *testing.T) {
	members := []string{"b", "c", "v1", "v2", "v3"}
	net := newMemNet(members...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs := map[string]*Failover{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, m := range members {
		f := newTestFailover(t, m, t.TempDir(), net, nil)
		f.cfg.ElectionTimeout = 200 * time.Millisecond
		primeVoter(f, members)
		fs[m] = f
		wg.Add(1)
		go func() { defer wg.Done(); f.recvLoop(ctx) }()
	}
	defer cancel()
	winners := map[uint64][]string{}
	spec := electionSpec{reason: ReasonAuto, primary: "p", primaryAddr: "127.0.0.1:2", primaryEpoch: 1}
	for range 30 {
		var mu sync.Mutex
		var rw sync.WaitGroup
		for _, cand := range []string{"b", "c"} {
			rw.Add(1)
			go func() {
				defer rw.Done()
				epoch, err := fs[cand].campaign(ctx, spec)
				if err == nil {
					mu.Lock()
					winners[epoch] = append(winners[epoch], cand)
					mu.Unlock()
				}
			}()
		}
		rw.Wait()
	}
	if len(winners) == 0 {
		t.Fatal("nobody ever won; the test proves nothing")
	}
	for epoch, w := range winners {
		if len(w) > 1 {
			t.Errorf("epoch %d won by %v", epoch, w)
		}
	}
}

func TestRankCandidates(t *testing.T) {
	rep := func(name string, prio int, offset int64) candidate {
		return candidate{Name: name, Priority: prio, Fresh: true, Reachable: true, Role: monitor.RoleReplica, Synced: true, Offset: offset}
	}
	tests := []struct {
		name     string
		nodes    []candidate
		maxLag   int64
		want     []string
		excluded map[string]string
	}{
		{
			name:  "priority first, then offset, then name",
			nodes: []candidate{rep("a", 100, 10), rep("b", 50, 5), rep("c", 100, 20), rep("d", 100, 20)},
			// b is 15 bytes behind: within the limit.
			maxLag: 100, want: []string{"b", "c", "d", "a"}, excluded: map[string]string{},
		},
		{
			name:     "priority 0 never, but its data counts for lag",
			nodes:    []candidate{rep("a", 0, 5000), rep("b", 100, 1000)},
			maxLag:   1024,
			want:     nil,
			excluded: map[string]string{"a": whyPriority, "b": whyLagging},
		},
		{
			name: "never synced and stale reports are out",
			nodes: []candidate{
				{Name: "a", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RoleReplica, Synced: false, Offset: 0},
				{Name: "b", Priority: 1, Fresh: false, Reachable: true, Role: monitor.RoleReplica, Synced: true, Offset: 9},
				{Name: "c", Priority: 1, Fresh: true, Reachable: false, Role: monitor.RoleReplica, Synced: true, Offset: 9},
				rep("d", 200, 3),
			},
			maxLag: 1 << 20, want: []string{"d"},
			excluded: map[string]string{"a": whyNotSynced, "b": whyUnreachable, "c": whyUnreachable},
		},
		{
			name:   "the primary itself and other primaries are not candidates",
			nodes:  []candidate{{Name: "p", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RolePrimary}, {Name: "q", Priority: 1, Fresh: true, Reachable: true, Role: monitor.RolePrimary}, rep("r", 100, 0)},
			maxLag: 0, want: []string{"r"}, excluded: map[string]string{"q": whyNotReplica},
		},
		{
			name:     "lag exactly at the limit qualifies, one byte more does not",
			nodes:    []candidate{rep("a", 100, 2000), rep("b", 100, 976), rep("c", 100, 975)},
			maxLag:   1024,
			want:     []string{"a", "b"},
			excluded: map[string]string{"c": whyLagging},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ranked, excluded := rankCandidates(tt.nodes, "p", tt.maxLag)
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

func TestDiscoverLocked(t *testing.T) {
	type nd struct {
		name   string
		role   monitor.Role
		master string
	}
	addr := func(name string) string {
		return "10.0.0." + map[string]string{"a": "1", "b": "2", "c": "3"}[name] + ":6379"
	}
	tests := []struct {
		name         string
		nodes        []nd
		initial      string
		want         string
		wantConflict bool
	}{
		{"one primary followed by all", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}, {"c", monitor.RoleReplica, addr("a")}}, "", "a", false},
		{"all standalone: no guess", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RolePrimary, ""}, {"c", monitor.RolePrimary, ""}}, "", "", true},
		{"all standalone with initial_primary", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RolePrimary, ""}, {"c", monitor.RolePrimary, ""}}, "b", "b", false},
		{"replicas follow an unknown node", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, "10.9.9.9:6379"}, {"c", monitor.RoleReplica, addr("a")}}, "", "", true},
		{"a node has not reported", []nd{{"a", monitor.RolePrimary, ""}, {"b", monitor.RoleReplica, addr("a")}}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := newMemNet("a", "b", "c")
			f := newTestFailover(t, "a", t.TempDir(), net, nil)
			f.cfg.InitialPrimary = tt.initial
			forever := time.Now().Add(time.Hour)
			for _, n := range tt.nodes {
				if n.name == "a" {
					host, port := "", 0
					if n.master != "" {
						host, port = "10.0.0.1", 6379
					}
					f.obs = monitor.Observation{Time: forever, Role: n.role, MasterHost: host, MasterPort: port}
					continue
				}
				f.peers[n.name] = peerState{received: forever, rep: report{Name: n.name, Addr: addr(n.name),
					Obs: obsSummary{Reachable: true, Role: n.role, MasterAddr: n.master}}}
			}
			f.self.Addr = addr("a")
			got, conflict := f.discoverLocked(time.Now())
			if got != tt.want || (conflict != "") != tt.wantConflict {
				t.Errorf("discover = %q, conflict %q; want %q, conflict %v", got, conflict, tt.want, tt.wantConflict)
			}
		})
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
	err := cfg.Validate()
	for _, want := range []string{
		"failover.fence_after (6s) must be shorter than failover.down_after (5s)",
		"failover.quorum (0) must be at least 1",
		"failover.parallel_syncs (0) must be at least 1",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	newTestFailover(t, "a", t.TempDir(), newMemNet("a"), reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// Malformed, truncated and foreign messages are dropped and counted, never
// a panic.
func TestBadMessagesDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	net := newMemNet("a", "b")
	f := newTestFailover(t, "a", t.TempDir(), net, reg)
	primeVoter(f, []string{"a", "b"})
	valid := map[byte][]byte{
		kindReport:      encode(report{Name: "b", Addr: "127.0.0.1:1"}),
		kindVoteRequest: encode(voteRequest{Epoch: 5, Candidate: "b", Reason: ReasonAuto}),
		kindVoteReply:   encode(voteReply{Epoch: 5, Candidate: "a"}),
		kindConfig:      encode(Configuration{Epoch: 9, Primary: "b", PrimaryAddr: "127.0.0.1:1"}),
		kindCallReply:   encode(callReply{ID: 1}),
	}
	bad := 0
	for kind, b := range valid {
		for _, p := range [][]byte{nil, {}, {wireVersion}, {2, '{', '}'}, b[:len(b)/2], b[:len(b)-1], append([]byte{wireVersion}, "[1,2]"...), append([]byte{wireVersion}, `{"n":7}`...)} {
			f.handle(context.Background(), "b", kind, p)
			bad++
		}
	}
	f.handle(context.Background(), "b", 0x01, []byte("whatever"))
	f.handle(context.Background(), "b", kindCall, encode(call{ID: 1, Op: "format-disk"}))
	got := testutil.ToFloat64(f.m.dropped.WithLabelValues(dropMalformed)) + testutil.ToFloat64(f.m.dropped.WithLabelValues(dropVersion))
	if got != float64(bad+1) {
		t.Errorf("dropped %v malformed messages, want %d", got, bad+1)
	}
	if got := testutil.ToFloat64(f.m.dropped.WithLabelValues(dropUnknown)); got != 1 {
		t.Errorf("dropped %v messages of unknown kind, want 1", got)
	}
	if f.Configuration().Epoch != 1 {
		t.Errorf("a bad message changed the configuration: %+v", f.Configuration())
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder and to the message
// handler: nothing may panic, and whatever decodes must encode again.
func FuzzDecode(fz *testing.F) {
	fz.Add(kindReport, encode(report{Name: "b", Addr: "127.0.0.1:1", Config: Configuration{Epoch: 3, Primary: "b", PrimaryAddr: "x:1"}}))
	fz.Add(kindVoteRequest, encode(voteRequest{Epoch: 5, Candidate: "b", Reason: ReasonAuto}))
	fz.Add(kindVoteReply, encode(voteReply{Epoch: 5, Candidate: "a", Granted: true}))
	fz.Add(kindConfig, encode(Configuration{Epoch: 9, Primary: "b", PrimaryAddr: "127.0.0.1:1"}))
	fz.Add(kindCallReply, encode(callReply{ID: 1, Err: "x"}))
	fz.Add(byte(0), []byte{})
	fz.Add(kindReport, []byte{wireVersion, '{'})
	f := newTestFailover(fz, "a", fz.TempDir(), newMemNet("a", "b"), nil)
	fz.Fuzz(func(t *testing.T, kind byte, b []byte) {
		if r, err := decodeReport(b); err == nil {
			if _, err := decodeReport(encode(r)); err != nil {
				t.Errorf("report does not round-trip: %v", err)
			}
		}
		_, _ = decodeVoteRequest(b)
		_, _ = decodeVoteReply(b)
		_, _ = decodeConfig(b)
		_, _ = decodeCall(b)
		_, _ = decodeCallReply(b)
		if kind != kindCall && kind != kindVoteRequest {
			// Calls start operator actions and vote requests write to
			// disk; their decoders are fuzzed above.
			f.handle(context.Background(), "b", kind, b)
		}
	})
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
			f := newTestFailover(t, tt.self, t.TempDir(), newMemNet("r1", "r2", "r3"), nil)
			f.cfg.ParallelSyncs = tt.parallel
			f.conf = Configuration{Epoch: 2, Primary: "p", PrimaryAddr: newAddr}
			forever := time.Now().Add(time.Hour)
			for _, p := range tt.peers {
				f.peers[p.name] = peerState{received: forever, rep: report{Name: p.name,
					Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: p.master, LinkUp: p.linkUp}}}
			}
			if got := f.mayResyncLocked(time.Now()); got != tt.want {
				t.Errorf("mayResync = %v, want %v", got, tt.want)
			}
		})
	}
}
