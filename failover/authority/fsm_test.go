package authority

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// base is a group of three registered voters with a primary at epoch 3.
func base() State {
	return State{
		Index: 10, Epoch: 3, Primary: "a", Promoted: true, Reason: ReasonInitial,
		Members: map[string]Member{
			"a": {Name: "a", RaftAddr: "127.0.0.1:1", RedisAddr: "127.0.0.1:6379", Voter: true, Since: t0},
			"b": {Name: "b", RaftAddr: "127.0.0.1:2", RedisAddr: "127.0.0.1:6380", Voter: true, Since: t0},
			"c": {Name: "c", RaftAddr: "127.0.0.1:3", Voter: false},
		},
	}
}

func TestApplyCommand(t *testing.T) {
	two := 2
	tests := []struct {
		name    string
		cmd     Command
		wantErr error
		want    func(s *State) // how base changes; nil with wantErr
	}{
		{name: "set-primary", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: ReasonAuto, Start: t0},
			want: func(s *State) {
				s.Epoch, s.Primary, s.Previous, s.Promoted, s.Reason, s.Started = 4, "b", "a", false, ReasonAuto, t0
				s.Failovers = []time.Time{t0}
			}},
		{name: "set-primary records the position the leader chose", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: ReasonAuto, Start: t0,
			ChosenReplID: "h", ChosenOffset: 34070},
			want: func(s *State) {
				s.Epoch, s.Primary, s.Previous, s.Promoted, s.Reason, s.Started = 4, "b", "a", false, ReasonAuto, t0
				s.ChosenReplID, s.ChosenOffset = "h", 34070
				s.Failovers = []time.Time{t0}
			}},
		{name: "set-primary records the keys of the holder the leader chose", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: ReasonAuto, Start: t0,
			ChosenKeys: 1800},
			want: func(s *State) {
				s.Epoch, s.Primary, s.Previous, s.Promoted, s.Reason, s.Started = 4, "b", "a", false, ReasonAuto, t0
				s.ChosenKeys = 1800
				s.Failovers = []time.Time{t0}
			}},
		{name: "set-primary switchover keeps anti-flap list", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 9, Primary: "b", Reason: ReasonSwitchover, Start: t0},
			want: func(s *State) {
				s.Epoch, s.Primary, s.Previous, s.Promoted, s.Reason, s.Started = 9, "b", "a", false, ReasonSwitchover, t0
			}},
		{name: "set-primary ends a switchover", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: ReasonSwitchover, Start: t0},
			want: func(s *State) {
				s.Epoch, s.Primary, s.Previous, s.Promoted, s.Reason, s.Started, s.Switchover = 4, "b", "a", false, ReasonSwitchover, t0, nil
			}},
		{name: "set-primary stale if-epoch", cmd: Command{Op: OpSetPrimary, IfEpoch: 2, Epoch: 4, Primary: "b", Reason: ReasonAuto}, wantErr: ErrStale},
		{name: "set-primary future if-epoch", cmd: Command{Op: OpSetPrimary, IfEpoch: 4, Epoch: 5, Primary: "b", Reason: ReasonAuto}, wantErr: ErrStale},
		{name: "set-primary epoch not newer", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 3, Primary: "b", Reason: ReasonAuto}, wantErr: ErrInvalid},
		{name: "set-primary unknown node", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "x", Reason: ReasonAuto}, wantErr: ErrNotMember},
		{name: "set-primary bad reason", cmd: Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: "whim"}, wantErr: ErrInvalid},
		{name: "promoted", cmd: Command{Op: OpPromoted, IfEpoch: 3, Epoch: 3, Node: "a"}, want: func(s *State) {}},
		{name: "promoted stale epoch", cmd: Command{Op: OpPromoted, IfEpoch: 2, Epoch: 2, Node: "a"}, wantErr: ErrStale},
		{name: "promoted by a non-primary", cmd: Command{Op: OpPromoted, IfEpoch: 3, Epoch: 3, Node: "b"}, wantErr: ErrStale},
		{name: "register updates addresses, keeps suffrage and since",
			cmd: Command{Op: OpRegister, Start: t0.Add(time.Hour), Member: &Member{Name: "b", RaftAddr: "127.0.0.1:22", RedisAddr: "10.0.0.2:6379", SentinelAddr: "s", HTTPAddr: "h", Priority: 5, Voter: false}},
			want: func(s *State) {
				s.Members["b"] = Member{Name: "b", RaftAddr: "127.0.0.1:22", RedisAddr: "10.0.0.2:6379", SentinelAddr: "s", HTTPAddr: "h", Priority: 5, Voter: true, Since: t0}
			}},
		{name: "first register sets since", cmd: Command{Op: OpRegister, Start: t0.Add(time.Hour), Member: &Member{Name: "c", RedisAddr: "r", Voter: true}},
			want: func(s *State) {
				s.Members["c"] = Member{Name: "c", RaftAddr: "127.0.0.1:3", RedisAddr: "r", Since: t0.Add(time.Hour)}
			}},
		{name: "register outside the configuration", cmd: Command{Op: OpRegister, Member: &Member{Name: "x"}}, wantErr: ErrNotMember},
		{name: "register without name", cmd: Command{Op: OpRegister, Member: &Member{}}, wantErr: ErrInvalid},
		{name: "pause", cmd: Command{Op: OpPause}, want: func(s *State) { s.Paused = true }},
		{name: "flap-pause", cmd: Command{Op: OpFlapPause, Reason: "3 failovers in 10m"}, want: func(s *State) { s.FlapPaused = "3 failovers in 10m" }},
		{name: "flap-pause without reason", cmd: Command{Op: OpFlapPause}, wantErr: ErrInvalid},
		{name: "switchover-begin", cmd: Command{Op: OpSwitchoverBegin, IfEpoch: 3, Switchover: &Switchover{From: "a", To: "b", Deadline: t0}},
			want: func(s *State) { s.Switchover = &Switchover{From: "a", To: "b", Epoch: 3, Deadline: t0} }},
		{name: "switchover-begin stale", cmd: Command{Op: OpSwitchoverBegin, IfEpoch: 1, Switchover: &Switchover{From: "a", To: "b"}}, wantErr: ErrStale},
		{name: "switchover-begin to a stranger", cmd: Command{Op: OpSwitchoverBegin, IfEpoch: 3, Switchover: &Switchover{From: "a", To: "x"}}, wantErr: ErrNotMember},
		{name: "switchover-begin without target", cmd: Command{Op: OpSwitchoverBegin, IfEpoch: 3}, wantErr: ErrInvalid},
		{name: "switchover-end without switchover", cmd: Command{Op: OpSwitchoverEnd, IfEpoch: 3}, wantErr: ErrStale},
		{name: "forget", cmd: Command{Op: OpForget, Node: "c"}, want: func(s *State) { delete(s.Members, "c") }},
		{name: "forget the primary keeps its record out of the configuration", cmd: Command{Op: OpForget, Node: "a"},
			want: func(s *State) { m := s.Members["a"]; m.Voter, m.Removed = false, true; s.Members["a"] = m }},
		{name: "forget a stranger", cmd: Command{Op: OpForget, Node: "x"}, wantErr: ErrNotMember},
		{name: "settings", cmd: Command{Op: OpSettings, Settings: &Settings{Quorum: 2, MinReplicas: &two}},
			want: func(s *State) { s.Settings = Settings{Quorum: 2, MinReplicas: &two} }},
		{name: "settings missing", cmd: Command{Op: OpSettings}, wantErr: ErrInvalid},
		{name: "history", cmd: Command{Op: OpHistory, Entry: &HistoryEntry{Epoch: 3, New: "a", Result: "success"}},
			want: func(s *State) { s.History = []HistoryEntry{{Epoch: 3, New: "a", Result: "success"}} }},
		{name: "history missing", cmd: Command{Op: OpHistory}, wantErr: ErrInvalid},
		{name: "unknown op", cmd: Command{Op: "reboot"}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			if strings.Contains(tt.name, "ends a switchover") {
				in.Switchover = &Switchover{From: "a", To: "b", Epoch: 3}
			}
			got, err := applyCommand(in.Clone(), tt.cmd)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			want := base()
			tt.want(&want)
			if tt.cmd.Op == OpPromoted {
				want.Promoted = true
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("state (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(in.Members, base().Members); diff != "" {
				t.Errorf("applyCommand changed its input (-got +want):\n%s", diff)
			}
		})
	}
}

func TestApplyCommandSequences(t *testing.T) {
	s := base()
	s.Promoted = false
	step := func(c Command) error {
		t.Helper()
		next, err := applyCommand(s.Clone(), c)
		if err == nil {
			s = next
		}
		return err
	}
	// A switchover begins at epoch 3, a failover to c wins at 4: the
	// switchover's end at the old epoch and a paused winner's promoted
	// at epoch 3 are stale.
	if err := step(Command{Op: OpSwitchoverBegin, IfEpoch: 3, Switchover: &Switchover{From: "a", To: "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := step(Command{Op: OpSwitchoverBegin, IfEpoch: 3, Switchover: &Switchover{From: "a", To: "c"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second switchover: err = %v, want ErrInvalid", err)
	}
	if err := step(Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "c", Reason: ReasonAuto}); err != nil {
		t.Fatal(err)
	}
	// Two proposals from the same view: only the first commits.
	if err := step(Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 5, Primary: "b", Reason: ReasonAuto}); !errors.Is(err, ErrStale) {
		t.Fatalf("second set-primary from epoch 3: err = %v, want ErrStale", err)
	}
	if err := step(Command{Op: OpPromoted, IfEpoch: 3, Epoch: 3, Node: "a"}); !errors.Is(err, ErrStale) {
		t.Fatalf("late promoted: err = %v, want ErrStale", err)
	}
	// The failover ended the switchover: ending it again is stale.
	if s.Switchover != nil {
		t.Fatalf("switchover %+v survived set-primary", s.Switchover)
	}
	if err := step(Command{Op: OpSwitchoverEnd, IfEpoch: 4}); !errors.Is(err, ErrStale) {
		t.Fatalf("switchover-end after set-primary: err = %v, want ErrStale", err)
	}
	if err := step(Command{Op: OpPromoted, IfEpoch: 4, Epoch: 4, Node: "c"}); err != nil || !s.Promoted {
		t.Fatalf("promoted c: err = %v, promoted %v", err, s.Promoted)
	}
	if err := step(Command{Op: OpPause}); err != nil {
		t.Fatal(err)
	}
	if err := step(Command{Op: OpFlapPause, Reason: "flap"}); err != nil {
		t.Fatal(err)
	}
	if err := step(Command{Op: OpResume}); err != nil || s.Paused || s.FlapPaused != "" {
		t.Fatalf("resume: err = %v, paused %v, flap %q", err, s.Paused, s.FlapPaused)
	}
	if s.Previous != "a" || s.Epoch != 4 {
		t.Fatalf("previous %q epoch %d, want a at 4", s.Previous, s.Epoch)
	}
}

func TestHistoryAndFailoversBounded(t *testing.T) {
	s := base()
	for i := range 3 * MaxHistory {
		var err error
		s, err = applyCommand(s, Command{Op: OpHistory, Entry: &HistoryEntry{Epoch: uint64(i), New: "a", Result: "success"}})
		if err != nil {
			t.Fatal(err)
		}
		// A repeated entry is recorded once.
		if s, err = applyCommand(s, Command{Op: OpHistory, Entry: &HistoryEntry{Epoch: uint64(i), New: "a", Result: "success"}}); err != nil {
			t.Fatal(err)
		}
		next := "b"
		if s.Primary == "b" {
			next = "a"
		}
		if s, err = applyCommand(s, Command{Op: OpSetPrimary, IfEpoch: s.Epoch, Epoch: s.Epoch + 1, Primary: next, Reason: ReasonAuto, Start: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.History) != MaxHistory || s.History[0].Epoch != 2*MaxHistory || s.History[MaxHistory-1].Epoch != 3*MaxHistory-1 {
		t.Fatalf("history: %d entries, first epoch %d, last %d", len(s.History), s.History[0].Epoch, s.History[len(s.History)-1].Epoch)
	}
	if len(s.Failovers) != MaxFailoverTimes || !s.Failovers[MaxFailoverTimes-1].Equal(t0.Add(time.Duration(3*MaxHistory-1)*time.Second)) {
		t.Fatalf("failovers: %d, last %v", len(s.Failovers), s.Failovers[len(s.Failovers)-1])
	}
}

func TestForgottenPrimaryStaysUntilReplaced(t *testing.T) {
	s := base()
	s, err := applyCommand(s, Command{Op: OpForget, Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// raft removes it from the configuration: the record stays.
	s = applyConfiguration(s, []raft.Server{{ID: "b", Suffrage: raft.Voter}, {ID: "c", Suffrage: raft.Voter}})
	if m, ok := s.PrimaryMember(); !ok || !m.Removed || m.Voter || m.RedisAddr != "127.0.0.1:6379" {
		t.Fatalf("primary record after forget: %+v %v", m, ok)
	}
	if _, err := applyCommand(s.Clone(), Command{Op: OpRegister, Member: &Member{Name: "a"}}); !errors.Is(err, ErrNotMember) {
		t.Fatalf("register of a removed member: err = %v, want ErrNotMember", err)
	}
	s, err = applyCommand(s, Command{Op: OpSetPrimary, IfEpoch: 3, Epoch: 4, Primary: "b", Reason: ReasonAuto})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Members["a"]; ok || s.Previous != "a" {
		t.Fatalf("forgotten old primary still a member after set-primary: %+v", s.Members)
	}
}

func TestApplyConfiguration(t *testing.T) {
	s := base()
	got := applyConfiguration(s.Clone(), []raft.Server{
		{ID: "a", Address: "127.0.0.1:1", Suffrage: raft.Voter},
		{ID: "c", Address: "127.0.0.1:3", Suffrage: raft.Voter},    // promoted
		{ID: "d", Address: "127.0.0.1:4", Suffrage: raft.Nonvoter}, // added
		// b removed
	})
	want := map[string]Member{
		"a": s.Members["a"],
		"c": {Name: "c", RaftAddr: "127.0.0.1:3", Voter: true},
		"d": {Name: "d", RaftAddr: "127.0.0.1:4"},
	}
	if diff := cmp.Diff(got.Members, want); diff != "" {
		t.Errorf("members (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(got.Voters(), []string{"a", "c"}); diff != "" {
		t.Errorf("voters (-got +want):\n%s", diff)
	}
}

func TestFSMApplyRejectsDeterministically(t *testing.T) {
	// Two state machines fed the same log end in the same state, rejected
	// entries included, and a rejection moves only the index.
	enc := func(c Command) []byte { return mustEncode(t, c) }
	logs := []*raft.Log{
		{Index: 1, Type: raft.LogConfiguration},
		{Index: 2, Data: enc(Command{Op: OpRegister, Start: t0, Member: &Member{Name: "a", RedisAddr: "r1"}})},
		{Index: 3, Data: enc(Command{Op: OpSetPrimary, IfEpoch: 0, Epoch: 1, Primary: "a", Reason: ReasonInitial, Start: t0})},
		{Index: 4, Data: enc(Command{Op: OpSetPrimary, IfEpoch: 0, Epoch: 2, Primary: "b", Reason: ReasonAuto, Start: t0})},
		{Index: 5, Data: []byte{9, '{', '}'}},
		{Index: 6, Data: enc(Command{Op: OpPromoted, IfEpoch: 1, Epoch: 1, Node: "a"})},
	}
	run := func() (*fsm, []error) {
		f := newFSM()
		var errs []error
		for _, l := range logs {
			if l.Type == raft.LogConfiguration {
				f.StoreConfiguration(l.Index, raft.Configuration{Servers: []raft.Server{
					{ID: "a", Address: "x:1", Suffrage: raft.Voter}, {ID: "b", Address: "x:2", Suffrage: raft.Voter}}})
				continue
			}
			before := f.state()
			res := f.Apply(l).(applyResult)
			errs = append(errs, res.err)
			if res.err != nil {
				after := f.state()
				before.Index = l.Index
				if diff := cmp.Diff(after, before); diff != "" {
					t.Errorf("rejected entry %d changed the state (-got +want):\n%s", l.Index, diff)
				}
			}
		}
		return f, errs
	}
	f1, errs1 := run()
	f2, _ := run()
	if diff := cmp.Diff(f1.state(), f2.state()); diff != "" {
		t.Errorf("replicas diverge (-1 +2):\n%s", diff)
	}
	wantErrs := []error{nil, nil, ErrStale, ErrInvalid, nil}
	for i, e := range wantErrs {
		if (e == nil) != (errs1[i] == nil) || (e != nil && !errors.Is(errs1[i], e)) {
			t.Errorf("entry %d: err = %v, want %v", i+2, errs1[i], e)
		}
	}
	st := f1.state()
	if st.Index != 6 || st.Primary != "a" || !st.Promoted || st.Epoch != 1 {
		t.Errorf("final state: index %d primary %q promoted %v epoch %d", st.Index, st.Primary, st.Promoted, st.Epoch)
	}
}

type memSink struct {
	bytes.Buffer
	cancelled, closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := newFSM()
	two := 2
	st := base()
	st.Switchover = &Switchover{From: "a", To: "b", Epoch: 3, Deadline: t0}
	st.Settings = Settings{DownAfter: time.Second, MinReplicas: &two}
	st.History = []HistoryEntry{{Epoch: 3, New: "a", Start: t0, Duration: time.Second, ForkReplID: "abc", ForkOffset: 42}}
	st.Failovers = []time.Time{t0}
	st.Paused, st.FlapPaused = true, "flap"
	f.setLocked(st)

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot is a copy: later changes do not leak into it.
	f.setLocked(State{Members: map[string]Member{}})
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("persist: err %v closed %v", err, sink.closed)
	}
	g := newFSM()
	_, changed := g.watch()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g.state(), st); diff != "" {
		t.Errorf("restored (-got +want):\n%s", diff)
	}
	select {
	case <-changed:
	default:
		t.Error("restore did not signal watchers")
	}
	if err := g.Restore(io.NopCloser(strings.NewReader("\x07{}"))); err == nil {
		t.Error("restore of an unknown format succeeded")
	}
}

func TestCommandRoundTrip(t *testing.T) {
	c := Command{Op: OpSetPrimary, IfEpoch: 1, Epoch: 2, Primary: "b", Reason: ReasonAuto, Start: t0,
		Switchover: &Switchover{From: "a", To: "b"}, Entry: &HistoryEntry{Epoch: 2}}
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != commandVersion {
		t.Fatalf("first byte %d, want the version %d", b[0], commandVersion)
	}
	got, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, c); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, {2, '{', '}'}, {commandVersion, '['}} {
		if _, err := decodeCommand(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("decode %q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestStateCloneIsDeep(t *testing.T) {
	one := 1
	s := base()
	s.Switchover = &Switchover{To: "b"}
	s.Settings.MinReplicas = &one
	s.History = []HistoryEntry{{Epoch: 1}}
	s.Failovers = []time.Time{t0}
	c := s.Clone()
	c.Members["a"] = Member{Name: "changed"}
	c.Switchover.To = "x"
	*c.Settings.MinReplicas = 5
	c.History[0].Epoch = 9
	c.Failovers[0] = time.Time{}
	if s.Members["a"].Name != "a" || s.Switchover.To != "b" || *s.Settings.MinReplicas != 1 || s.History[0].Epoch != 1 || s.Failovers[0].IsZero() {
		t.Fatalf("clone shares memory with the original: %+v", s)
	}
	if m, ok := s.PrimaryMember(); !ok || m.Name != "a" {
		t.Fatalf("PrimaryMember = %+v %v", m, ok)
	}
}

// A state the leader returned is published when newer than what this
// member applied, without becoming the base of the entries it applies
// later, and without reaching its snapshots.
func TestFSMAdoptsNewerCommittedState(t *testing.T) {
	enc := func(c Command) []byte { return mustEncode(t, c) }
	leader := newFSM()
	follower := newFSM()
	logs := []*raft.Log{
		{Index: 2, Data: enc(Command{Op: OpRegister, Start: t0, Member: &Member{Name: "a", RedisAddr: "r1"}})},
		{Index: 3, Data: enc(Command{Op: OpSetPrimary, IfEpoch: 0, Epoch: 1, Primary: "a", Reason: ReasonInitial, Start: t0})},
	}
	conf := raft.Configuration{Servers: []raft.Server{{ID: "a", Address: "x:1", Suffrage: raft.Voter}}}
	leader.StoreConfiguration(1, conf)
	for _, l := range logs {
		leader.Apply(l)
	}
	_, changed := follower.watch()
	follower.adopt(leader.state())
	select {
	case <-changed:
	default:
		t.Fatal("adopting a newer state did not notify watchers")
	}
	if st := follower.state(); st.Epoch != 1 || st.Primary != "a" || st.Index != 3 {
		t.Fatalf("view after adopt: epoch %d primary %q index %d, want 1 a 3", st.Epoch, st.Primary, st.Index)
	}
	if st := follower.applied(); st.Index != 0 {
		t.Fatalf("adopt changed the applied state: index %d", st.Index)
	}
	// The follower's log catches up: the first entries do not move the
	// view back; the last reaches it, built on the applied state.
	_, changed = follower.watch()
	follower.StoreConfiguration(1, conf)
	follower.Apply(logs[0])
	select {
	case <-changed:
		t.Fatal("an older applied entry was published over the adopted state")
	default:
	}
	if st := follower.state(); st.Index != 3 {
		t.Fatalf("view moved back to index %d", st.Index)
	}
	follower.Apply(logs[1])
	if diff := cmp.Diff(follower.state(), leader.state()); diff != "" {
		t.Errorf("follower after catching up (-got +leader):\n%s", diff)
	}
	// An older state adopted later changes nothing.
	follower.adopt(State{Index: 1, Members: map[string]Member{}})
	if st := follower.state(); st.Index != 3 {
		t.Errorf("an older adopted state replaced the view: index %d", st.Index)
	}
	f := newFSM()
	f.adopt(leader.state())
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.(fsmSnapshot).st.Index; got != 0 {
		t.Errorf("snapshot saved the adopted state (index %d), want the applied one", got)
	}
}

// mustEncode encodes a command for a test's log.
func mustEncode(t *testing.T, c Command) []byte {
	t.Helper()
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A promotion commits where it left the old history together with
// "promoted"; the failover's end completes the same entry (its duration)
// instead of adding another.
func TestPromotedRecordsFork(t *testing.T) {
	s := base()
	s.Promoted = false
	entry := HistoryEntry{Epoch: 3, New: "a", Result: "success", ForkReplID: "h", ForkOffset: 10, Duration: time.Millisecond}
	s, err := applyCommand(s, Command{Op: OpPromoted, IfEpoch: 3, Epoch: 3, Node: "a", Entry: &entry})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Promoted || len(s.History) != 1 || s.History[0] != entry {
		t.Fatalf("promoted %v, history %+v, want the fork recorded with it", s.Promoted, s.History)
	}
	done := entry
	done.Duration = time.Second
	if s, err = applyCommand(s, Command{Op: OpHistory, Entry: &done}); err != nil {
		t.Fatal(err)
	}
	if len(s.History) != 1 || s.History[0] != done {
		t.Fatalf("history %+v, want the one entry completed", s.History)
	}
	if _, err := applyCommand(s, Command{Op: OpPromoted, IfEpoch: 2, Epoch: 2, Node: "a", Entry: &entry}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale promoted with an entry: %v, want ErrStale", err)
	}
}

// The position a set-primary was chosen at (chaos seed 1906) is new in the
// state: log entries and snapshots written before it decode without one,
// which checks nothing, as before; an entry without one clears the last.
func TestChosenPositionBackwardsCompatible(t *testing.T) {
	f := newFSM()
	st := base()
	st.ChosenReplID, st.ChosenOffset, st.ChosenKeys = "h", 34070, 1800
	f.setLocked(st)
	old := append([]byte{commandVersion}, `{"op":"set-primary","if_epoch":3,"epoch":4,"primary":"b","reason":"auto"}`...)
	if r := f.Apply(&raft.Log{Index: 11, Data: old}).(applyResult); r.err != nil {
		t.Fatal(r.err)
	}
	if got := f.state(); got.Epoch != 4 || got.Primary != "b" || got.ChosenReplID != "" || got.ChosenOffset != 0 || got.ChosenKeys != 0 {
		t.Fatalf("after an entry without a position: epoch %d primary %q chosen %d on %q, want b at epoch 4 with none",
			got.Epoch, got.Primary, got.ChosenOffset, got.ChosenReplID)
	}
	snap := append([]byte{snapshotVersion}, `{"index":10,"epoch":3,"primary":"a","members":{"a":{"name":"a"}},"settings":{}}`...)
	restored, err := decodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Epoch != 3 || restored.ChosenReplID != "" || restored.ChosenOffset != 0 {
		t.Fatalf("old snapshot: epoch %d chosen %d on %q, want epoch 3 with none", restored.Epoch, restored.ChosenOffset, restored.ChosenReplID)
	}
	c := Command{Op: OpSetPrimary, IfEpoch: 4, Epoch: 5, Primary: "a", Reason: ReasonAuto, ChosenReplID: "h2", ChosenOffset: 7, ChosenKeys: 9}
	got, err := decodeCommand(mustEncode(t, c))
	if err != nil || got.ChosenReplID != "h2" || got.ChosenOffset != 7 || got.ChosenKeys != 9 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}
