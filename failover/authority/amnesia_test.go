package authority

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Chaos seed 1505 (N=3): a's sidecar came back with a wiped data dir (an
// empty log); b's, with its log at index 66 from before epoch 5, asked it
// for its vote; c held the committed entries 67-76. A node without raft
// state grants no vote to a group that ran (a candidate past the bootstrap
// configuration at index 1), and passes everything else on to raft.
func TestAmnesiacNodeRefusesVotes(t *testing.T) {
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("a"), Addr: []byte("a:7946")}
	vote := func(last uint64) any {
		return &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte("b")}, Term: 7, LastLogIndex: last, LastLogTerm: 6}
	}
	preVote := func(last uint64) any {
		return &raft.RequestPreVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte("b")}, Term: 7, LastLogIndex: last, LastLogTerm: 6}
	}
	for _, tt := range []struct {
		name     string
		amnesiac bool
		cmd      any
		refused  bool
	}{
		{"seed 1505: wiped, asked by b at index 66: refused", true, vote(66), true},
		{"wiped, pre-vote from b at index 66: refused", true, preVote(66), true},
		{"wiped, a candidate forming the group (its bootstrap entry only): raft decides", true, vote(1), false},
		{"wiped, a pre-vote forming the group: raft decides", true, preVote(1), false},
		{"with raft state: raft decides", false, vote(66), false},
		{"with raft state, pre-vote: raft decides", false, preVote(66), false},
		{"wiped, a leader's entries: raft takes them", true, &raft.AppendEntriesRequest{Term: 7, PrevLogEntry: 66}, false},
		{"wiped, a leader's snapshot: raft takes it", true, &raft.InstallSnapshotRequest{Term: 7, LastLogIndex: 66}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in, out, done := make(chan raft.RPC), make(chan raft.RPC), make(chan struct{})
			defer close(done)
			refusals := 0
			go filterVotes(in, out, done, func(string, logPosition) bool { return tt.amnesiac }, hdr, func(string, uint64) { refusals++ }, nil)
			resp := make(chan raft.RPCResponse, 1)
			in <- raft.RPC{Command: tt.cmd, RespChan: resp}
			select {
			case got := <-out:
				if tt.refused {
					t.Fatalf("passed to raft: %T", got.Command)
				}
			case r := <-resp:
				if !tt.refused {
					t.Fatalf("answered by the filter: %+v", r.Response)
				}
				granted, term := true, uint64(0)
				switch v := r.Response.(type) {
				case *raft.RequestVoteResponse:
					granted, term = v.Granted, v.Term
				case *raft.RequestPreVoteResponse:
					granted, term = v.Granted, v.Term
				default:
					t.Fatalf("answer %T", r.Response)
				}
				if granted || term != 7 || r.Error != nil || refusals != 1 {
					t.Fatalf("granted %v term %d err %v refusals %d, want refused at the candidate's term 7", granted, term, r.Error, refusals)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("neither answered nor passed on")
			}
		})
	}
}

// A member without raft state refuses its vote while another member, not
// the candidate, is down, or advertises state and holds a log more up to
// date than the candidate's or does not say where its log ends (seed 1505:
// c held the committed entries b's log lacked); it votes for the one
// member left with state (seed 1703, N=3: a and b wiped, c the only log),
// and for a candidate at least as up to date as every other member with
// state (seed 3901, N=3: c, a non-voter, held the log a held). It refuses
// while gossip knows fewer members than the group formed with (seed 6916,
// N=3: c, wiped and cut off, knew only the candidate a, not b, which held
// later terms).
func TestRefuseAmnesiacVote(t *testing.T) {
	peer := func(name string, has bool) PeerInfo {
		return PeerInfo{Name: name, Addr: name + ":7946", HasState: has, Alive: true}
	}
	down := func(p PeerInfo) PeerInfo { p.Alive = false; return p }
	at := func(term, index uint64) logPosition { return logPosition{Term: term, Index: index} }
	for _, tt := range []struct {
		name      string
		self      string
		hasState  bool
		candidate string
		at        logPosition
		alive     []PeerInfo
		positions map[string]logPosition // a member's answer; none: it did not answer
		refuse    bool
		expect    int // bootstrap_expect: the members the group formed with
	}{
		{"seed 1505: a wiped, b asks, c holds state", "a", false, "b", at(6, 66), []PeerInfo{peer("a", false), peer("b", true), peer("c", true)},
			nil, true, 3},
		{"seed 1505: c answers, its log ends past b's", "a", false, "b", at(6, 66), []PeerInfo{peer("a", false), peer("b", true), peer("c", true)},
			map[string]logPosition{"c": at(6, 76)}, true, 3},
		{"seed 1505: c's last term is later than b's", "a", false, "b", at(6, 66), []PeerInfo{peer("a", false), peer("b", true), peer("c", true)},
			map[string]logPosition{"c": at(7, 60)}, true, 3},
		{"seed 1505: a wiped, c asks, b holds state: Raft's rule is left to b", "a", false, "c", at(7, 76), []PeerInfo{peer("a", false), peer("b", true), peer("c", true)},
			nil, true, 3},
		{"seed 1505: a wiped, c asks, b answers with the shorter log: a votes", "a", false, "c", at(7, 76), []PeerInfo{peer("a", false), peer("b", true), peer("c", true)},
			map[string]logPosition{"b": at(6, 66)}, false, 3},
		{"seed 1703: a and b wiped, c asks", "a", false, "c", at(7, 76), []PeerInfo{peer("a", false), peer("b", false), peer("c", true)},
			nil, false, 3},
		{"a group of two: a wiped, c asks, nobody else known", "a", false, "c", at(7, 76), []PeerInfo{peer("a", false), peer("c", true)},
			nil, false, 2},
		{"seed 1907: a wiped, b asks, c (with the log) stopped", "a", false, "b", at(6, 66), []PeerInfo{peer("a", false), peer("b", true), down(peer("c", true))},
			map[string]logPosition{"c": at(6, 45)}, true, 3},
		{"a wiped, b asks, c down, its state unknown", "a", false, "b", at(6, 66), []PeerInfo{peer("a", false), peer("b", true), down(peer("c", false))},
			nil, true, 3},
		{"seed 1703 while b restarts: refused until b is seen alive", "a", false, "c", at(7, 76), []PeerInfo{peer("a", false), down(peer("b", false)), peer("c", true)},
			nil, true, 3},
		{"a with state: Raft decides", "a", true, "b", at(6, 66), []PeerInfo{peer("a", true), peer("b", true), peer("c", true)},
			nil, false, 3},
		{"seed 3901: b wiped, a asks, c (a non-voter) holds the log a holds", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true)},
			map[string]logPosition{"c": at(4, 158)}, false, 3},
		{"seed 3901: c holds less", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true)},
			map[string]logPosition{"c": at(4, 132)}, false, 3},
		{"seed 3901: c holds less, at an earlier term", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true)},
			map[string]logPosition{"c": at(3, 170)}, false, 3},
		{"seed 3901, but c holds an entry a lacks", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true)},
			map[string]logPosition{"c": at(4, 159)}, true, 3},
		{"N=5: one member with state vouches, another does not answer", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true), peer("d", true), peer("e", false)},
			map[string]logPosition{"c": at(4, 158)}, true, 5},
		{"N=5: every member with state vouches", "b", false, "a", at(4, 158), []PeerInfo{peer("a", true), peer("b", false), peer("c", true), peer("d", true), peer("e", false)},
			map[string]logPosition{"c": at(4, 158), "d": at(4, 150)}, false, 5},
		{"seed 6916: c wiped, knows only the candidate a; b, never heard of, held terms 6 and 7", "c", false, "a", at(5, 95), []PeerInfo{peer("a", true), peer("c", false)},
			nil, true, 3},
		{"seed 6914: c wiped, its gossip knows nobody yet; a (index 64) asks, b holds epoch 5", "c", false, "a", at(3, 64), []PeerInfo{peer("c", false)},
			nil, true, 3},
		{"seed 6916 once c knows b: b answers with a log past a's", "c", false, "a", at(5, 95), []PeerInfo{peer("a", true), peer("b", true), peer("c", false)},
			map[string]logPosition{"b": at(7, 97)}, true, 3},
		{"seed 6916 once c knows b: b's candidacy, a answers with the shorter log", "c", false, "b", at(7, 97), []PeerInfo{peer("a", true), peer("b", true), peer("c", false)},
			map[string]logPosition{"a": at(5, 95)}, false, 3},
	} {
		position := func(p PeerInfo) (logPosition, bool) {
			pos, ok := tt.positions[p.Name]
			return pos, ok
		}
		if got := refuseAmnesiacVote(tt.hasState, tt.expect, tt.self, tt.candidate, tt.at, tt.alive, position); got != tt.refuse {
			t.Errorf("%s: refuse = %v, want %v", tt.name, got, tt.refuse)
		}
	}
}

// A node that started without raft state counts as having it only once
// its log reaches the highest commit index a leader sent it. Chaos seed
// 12314 (N=3): two wiped members, each given a prefix of the log by the
// one member holding it, elected each other and replaced its committed
// entries.
func TestCatchUp(t *testing.T) {
	entries := func(commit uint64) any { return &raft.AppendEntriesRequest{Term: 7, LeaderCommitIndex: commit} }
	var c catchUp
	steps := []struct {
		name string
		cmd  any    // an RPC observed, nil for none
		last uint64 // the log's last index then
		want bool   // check(last) after it
	}{
		{"no leader heard yet", nil, 0, false},
		{"a vote request says nothing of the log", &raft.RequestVoteRequest{Term: 7, LastLogIndex: 120}, 0, false},
		{"the leader, committed to 120, starts sending from index 1", entries(120), 0, false},
		{"seed 12314: a prefix to 64", entries(120), 64, false},
		{"the whole log", entries(120), 120, true},
		{"caught up once, it stays so behind a later commit", entries(200), 150, true},
	}
	for _, s := range steps {
		if s.cmd != nil {
			c.observe(s.cmd, s.last)
		}
		if got := c.check(s.last); got != s.want {
			t.Fatalf("%s: caught up %v, want %v", s.name, got, s.want)
		}
	}
	var snap catchUp
	snap.observe(&raft.InstallSnapshotRequest{Term: 7, LastLogIndex: 90}, 0)
	if snap.check(89) || !snap.check(90) {
		t.Error("a snapshot to 90: want caught up at 90 and not before")
	}
}

// switchPeers is a gossip view of this node and one other member, alive
// while on.
type switchPeers struct {
	alonePeers
	other PeerInfo
	on    atomic.Bool
}

func (p *switchPeers) AlivePeers() []PeerInfo {
	alive := p.alonePeers.AlivePeers()
	if p.on.Load() {
		alive = append(alive, p.other)
	}
	return alive
}

// failing is a Layer whose first fails dials fail.
type failing struct {
	tcpLayer
	fails atomic.Int32
	dials atomic.Int32
}

func (l *failing) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	l.dials.Add(1)
	if l.fails.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return l.tcpLayer.Dial(addr, timeout)
}

// TestDialRetriesADeadPeer: a raft dial that fails to a member gossip does
// not count alive is tried again until it succeeds or its timeout passes
// (chaos seed 17516: raft's back-off from a follower down for 11 s kept
// the log from it for seconds after it came back wiped, and the group
// elected nobody). A failed dial to a member gossip counts alive fails at
// once, and so does one while the authority stops.
func TestDialRetriesADeadPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	addr := ln.Addr().String()
	peers := &switchPeers{alonePeers: alonePeers{self: PeerInfo{Name: "a", Addr: "127.0.0.1:1"}}, other: PeerInfo{Name: "b", Addr: addr, Alive: true}}
	p := &addressProvider{peers: peers}
	p.refresh()
	stopping := make(chan struct{})
	layer := func(fails int32) (*trackedLayer, *failing) {
		f := &failing{}
		f.fails.Store(fails)
		l := newTrackedLayer(f)
		l.alive, l.stopping = p.alive, stopping
		return l, f
	}

	// b dead in gossip: the dial is tried again, and reaches b once it
	// answers (b back before gossip says so).
	l, f := layer(3)
	c, err := l.Dial(raft.ServerAddress(addr), time.Minute)
	if err != nil {
		t.Fatalf("dial to a dead member that came back: %v", err)
	}
	_ = c.Close()
	if n := f.dials.Load(); n != 4 {
		t.Errorf("%d dials, want 4 (three failures, then the one that reached it)", n)
	}

	// b dead, then alive in gossip again: the dial reaches it.
	l, _ = layer(1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		peers.on.Store(true)
		p.refresh()
	}()
	if c, err = l.Dial(raft.ServerAddress(addr), time.Minute); err != nil {
		t.Fatalf("dial to a member back alive: %v", err)
	}
	_ = c.Close()

	// b dead, and gossip's view changes without it (b back at another
	// address, say): the failure comes back then, long before the timeout.
	peers.on.Store(false)
	p.refresh()
	l, _ = layer(1 << 20)
	moved := &switchPeers{alonePeers: alonePeers{self: peers.self}, other: PeerInfo{Name: "b", Addr: "127.0.0.1:2", Alive: true}}
	go func() {
		time.Sleep(20 * time.Millisecond)
		moved.on.Store(true)
		p.peers = moved
		p.refresh()
	}()
	start := time.Now()
	if _, err := l.Dial(raft.ServerAddress(addr), time.Minute); err == nil {
		t.Fatal("a dial to a member gone from its address succeeded")
	} else if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the failure came back after %s, want it once gossip's view changed", d)
	}
	p.peers = peers
	peers.on.Store(true)
	p.refresh()

	// b alive: the failure comes back at once, with no second dial.
	l, f = layer(1)
	if _, err := l.Dial(raft.ServerAddress(addr), time.Minute); err == nil {
		t.Fatal("a failed dial to a live member succeeded")
	}
	if n := f.dials.Load(); n != 1 {
		t.Errorf("%d dials to a live member, want 1", n)
	}

	// b dead for good: the failure comes back at the timeout, or once
	// stopping.
	peers.on.Store(false)
	p.refresh()
	l, _ = layer(1 << 20)
	if _, err := l.Dial(raft.ServerAddress(addr), 250*time.Millisecond); err == nil {
		t.Fatal("a dial to a dead member that never answers succeeded")
	}
	close(stopping)
	l, f = layer(1 << 20)
	if _, err := l.Dial(raft.ServerAddress(addr), time.Minute); err == nil {
		t.Fatal("a failed dial while stopping succeeded")
	}
	if n := f.dials.Load(); n != 1 {
		t.Errorf("%d dials while stopping, want 1", n)
	}
}
