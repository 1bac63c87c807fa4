package authority

import (
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
			go filterVotes(in, out, done, func(string) bool { return tt.amnesiac }, hdr, func(string, uint64) { refusals++ })
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
// the candidate, advertises state (seed 1505: c held the committed
// entries b's log lacked); it votes for the one member left with state
// (seed 1703, N=3: a and b wiped, c the only log).
func TestRefuseAmnesiacVote(t *testing.T) {
	peer := func(name string, has bool) PeerInfo {
		return PeerInfo{Name: name, Addr: name + ":7946", HasState: has, Alive: true}
	}
	down := func(p PeerInfo) PeerInfo { p.Alive = false; return p }
	for _, tt := range []struct {
		name      string
		hasState  bool
		candidate string
		alive     []PeerInfo
		refuse    bool
	}{
		{"seed 1505: a wiped, b asks, c holds state", false, "b", []PeerInfo{peer("a", false), peer("b", true), peer("c", true)}, true},
		{"seed 1505: a wiped, c asks, b holds state: Raft's rule is left to b", false, "c", []PeerInfo{peer("a", false), peer("b", true), peer("c", true)}, true},
		{"seed 1703: a and b wiped, c asks", false, "c", []PeerInfo{peer("a", false), peer("b", false), peer("c", true)}, false},
		{"a wiped, c asks, nobody else known", false, "c", []PeerInfo{peer("a", false), peer("c", true)}, false},
		{"seed 1907: a wiped, b asks, c (with the log) stopped", false, "b", []PeerInfo{peer("a", false), peer("b", true), down(peer("c", true))}, true},
		{"a wiped, b asks, c down, its state unknown", false, "b", []PeerInfo{peer("a", false), peer("b", true), down(peer("c", false))}, true},
		{"seed 1703 while b restarts: refused until b is seen alive", false, "c", []PeerInfo{peer("a", false), down(peer("b", false)), peer("c", true)}, true},
		{"a with state: Raft decides", true, "b", []PeerInfo{peer("a", true), peer("b", true), peer("c", true)}, false},
	} {
		if got := refuseAmnesiacVote(tt.hasState, "a", tt.candidate, tt.alive); got != tt.refuse {
			t.Errorf("%s: refuse = %v, want %v", tt.name, got, tt.refuse)
		}
	}
}
