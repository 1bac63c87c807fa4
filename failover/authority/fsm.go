package authority

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
)

// Reasons for a primary change, as in State.Reason and history entries.
const (
	ReasonInitial    = "initial"
	ReasonAuto       = "auto"
	ReasonSwitchover = "switchover"
	ReasonHandover   = "handover"
)

// applyCommand returns s changed by c, or an error saying why c does not
// apply. It is pure: the same state and command give the same answer on
// every node, which is what makes a rejection deterministic. s must not be
// shared with anyone (callers pass a clone).
func applyCommand(s State, c Command) (State, error) {
	switch c.Op {
	case OpSetPrimary:
		if c.IfEpoch != s.Epoch {
			return s, fmt.Errorf("%w: set-primary %s if epoch %d, epoch is %d", ErrStale, c.Primary, c.IfEpoch, s.Epoch)
		}
		if c.Epoch <= s.Epoch {
			return s, fmt.Errorf("%w: set-primary epoch %d must exceed the current epoch %d", ErrInvalid, c.Epoch, s.Epoch)
		}
		if _, ok := s.Members[c.Primary]; !ok {
			return s, fmt.Errorf("%w: set-primary %q: %w", ErrInvalid, c.Primary, ErrNotMember)
		}
		switch c.Reason {
		case ReasonInitial, ReasonAuto, ReasonSwitchover, ReasonHandover:
		default:
			return s, fmt.Errorf("%w: set-primary reason %q (want initial, auto, switchover or handover)", ErrInvalid, c.Reason)
		}
		if s.Primary != c.Primary {
			s.Previous = s.Primary
			if old, ok := s.Members[s.Primary]; ok && old.Removed {
				delete(s.Members, s.Primary) // kept only while it was the primary
			}
		}
		s.Epoch, s.Primary, s.Promoted, s.Reason, s.Started = c.Epoch, c.Primary, false, c.Reason, c.Start
		// An entry without a position (older, or none chosen) clears the
		// last one: the promotion then checks nothing, as before.
		s.ChosenReplID, s.ChosenOffset, s.ChosenKeys = c.ChosenReplID, c.ChosenOffset, c.ChosenKeys
		s.Switchover = nil // a switchover ends with its set-primary (or is overtaken by a failover)
		if c.Reason == ReasonAuto {
			s.Failovers = appendBounded(s.Failovers, c.Start, MaxFailoverTimes)
		}
	case OpPromoted:
		if c.IfEpoch != s.Epoch || (c.Epoch != 0 && c.Epoch != s.Epoch) {
			return s, fmt.Errorf("%w: promoted %s at epoch %d, epoch is %d", ErrStale, c.Node, max(c.IfEpoch, c.Epoch), s.Epoch)
		}
		if c.Node == "" || c.Node != s.Primary {
			return s, fmt.Errorf("%w: promoted %q, the primary at epoch %d is %q", ErrStale, c.Node, s.Epoch, s.Primary)
		}
		s.Promoted = true
		if c.Entry != nil {
			// Where the promotion left the old history, committed with
			// it: a replica re-pointed at once must know it (aheadOfFork).
			s.History = upsertHistory(s.History, *c.Entry)
		}
	case OpRegister:
		if c.Member == nil || c.Member.Name == "" {
			return s, fmt.Errorf("%w: register without a member name", ErrInvalid)
		}
		old, ok := s.Members[c.Member.Name]
		if !ok || old.Removed {
			return s, fmt.Errorf("register %q: %w", c.Member.Name, ErrNotMember)
		}
		m := *c.Member
		m.Voter, m.Removed = old.Voter, false // suffrage comes from the raft configuration only
		m.Since = old.Since
		if m.Since.IsZero() {
			m.Since = c.Start
		}
		if m.RaftAddr == "" {
			m.RaftAddr = old.RaftAddr
		}
		s.Members[m.Name] = m
	case OpPause:
		s.Paused = true
	case OpResume:
		s.Paused, s.FlapPaused = false, ""
	case OpFlapPause:
		if c.Reason == "" {
			return s, fmt.Errorf("%w: flap-pause without a reason", ErrInvalid)
		}
		s.FlapPaused = c.Reason
	case OpSwitchoverBegin:
		if c.IfEpoch != s.Epoch {
			return s, fmt.Errorf("%w: switchover-begin if epoch %d, epoch is %d", ErrStale, c.IfEpoch, s.Epoch)
		}
		if c.Switchover == nil || c.Switchover.To == "" {
			return s, fmt.Errorf("%w: switchover-begin without a target", ErrInvalid)
		}
		if _, ok := s.Members[c.Switchover.To]; !ok {
			return s, fmt.Errorf("%w: switchover to %q: %w", ErrInvalid, c.Switchover.To, ErrNotMember)
		}
		if s.Switchover != nil {
			return s, fmt.Errorf("%w: a switchover %s -> %s is already under way", ErrInvalid, s.Switchover.From, s.Switchover.To)
		}
		sw := *c.Switchover
		sw.Epoch = s.Epoch
		s.Switchover = &sw
	case OpSwitchoverEnd:
		if c.IfEpoch != s.Epoch {
			return s, fmt.Errorf("%w: switchover-end if epoch %d, epoch is %d", ErrStale, c.IfEpoch, s.Epoch)
		}
		if s.Switchover == nil {
			return s, fmt.Errorf("%w: no switchover under way", ErrStale)
		}
		s.Switchover = nil
	case OpForget:
		if _, ok := s.Members[c.Node]; !ok {
			return s, fmt.Errorf("forget %q: %w", c.Node, ErrNotMember)
		}
		if c.Node == s.Primary {
			// Its Redis may still serve: keep the record (and its address)
			// while it is the primary, out of the configuration.
			m := s.Members[c.Node]
			m.Voter, m.Removed = false, true
			s.Members[c.Node] = m
			break
		}
		delete(s.Members, c.Node)
	case OpSettings:
		if c.Settings == nil {
			return s, fmt.Errorf("%w: settings command without settings", ErrInvalid)
		}
		s.Settings = c.Settings.Clone()
	case OpHistory:
		if c.Entry == nil {
			return s, fmt.Errorf("%w: history command without an entry", ErrInvalid)
		}
		s.History = upsertHistory(s.History, *c.Entry)
	default:
		return s, fmt.Errorf("%w: unknown op %q", ErrInvalid, c.Op)
	}
	return s, nil
}

// applyConfiguration makes s.Members follow a committed raft
// configuration: servers become members (keeping what they registered),
// suffrage sets Voter, and members no longer in the configuration go,
// except the primary, which stays marked Removed until it is replaced.
func applyConfiguration(s State, servers []raft.Server) State {
	next := make(map[string]Member, len(servers))
	for _, srv := range servers {
		name := string(srv.ID)
		m, ok := s.Members[name]
		if !ok {
			m = Member{Name: name, RaftAddr: string(srv.Address)}
		}
		m.Voter, m.Removed = srv.Suffrage == raft.Voter, false
		next[name] = m
	}
	if m, ok := s.Members[s.Primary]; ok {
		if _, in := next[s.Primary]; !in {
			m.Voter, m.Removed = false, true
			next[s.Primary] = m
		}
	}
	s.Members = next
	return s
}

// appendBounded appends v to list and keeps the newest n elements in a new slice.
func appendBounded[T any](list []T, v T, n int) []T {
	out := append(slices.Clone(list), v)
	if len(out) > n {
		out = slices.Clone(out[len(out)-n:])
	}
	return out
}

// applyResult is what fsm.Apply returns to the proposer through raft.
type applyResult struct {
	state State
	err   error
}

// fsm is the raft state machine. raft calls Apply, StoreConfiguration,
// Snapshot and Restore from its FSM goroutine; readers take a copy
// under mu. It does no I/O but what raft asks of it (Persist, Restore).
//
// Readers see view: the applied state, or a newer committed state the
// leader returned (adopt). A follower that restarts applies its log only
// once the leader's replication reaches it, and hashicorp/raft backs off
// up to seconds from a follower that was down; meanwhile the leader's
// answers keep this member's decisions current (chaos seed 3: a restarted
// primary's sidecar kept its Redis paused for 5 s at epoch 0).
type fsm struct {
	mu      sync.Mutex
	st      State         // applied: what Apply builds on and Snapshot saves
	view    State         // published: st, or a newer committed state adopted
	changed chan struct{} // closed and replaced on every change of view
}

func newFSM() *fsm {
	st := State{Members: map[string]Member{}}
	return &fsm{st: st, view: st, changed: make(chan struct{})}
}

// Apply applies one committed command entry.
func (f *fsm) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd, err := decodeCommand(l.Data)
	next := f.st
	if err == nil {
		next, err = applyCommand(f.st.Clone(), cmd)
	}
	if err != nil {
		next = f.st // rejected: only the index moves
	}
	next.Index = l.Index
	f.setLocked(next)
	return applyResult{state: next.Clone(), err: err}
}

// StoreConfiguration applies a committed raft configuration change.
func (f *fsm) StoreConfiguration(index uint64, c raft.Configuration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := applyConfiguration(f.st.Clone(), c.Servers)
	next.Index = index
	f.setLocked(next)
}

func (f *fsm) setLocked(s State) {
	f.st = s
	if s.Index >= f.view.Index {
		f.publishLocked(s)
	}
}

func (f *fsm) publishLocked(s State) {
	f.view = s
	close(f.changed)
	f.changed = make(chan struct{})
}

// adopt publishes s, a state the leader returned after it was committed,
// when it is newer than what this member applied.
func (f *fsm) adopt(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Index > f.view.Index {
		if s.Members == nil {
			s.Members = map[string]Member{}
		}
		f.publishLocked(s.Clone())
	}
}

// state returns a copy of the current state.
func (f *fsm) state() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view.Clone()
}

// applied returns a copy of the applied state.
func (f *fsm) applied() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Clone()
}

// watch returns a copy of the current state and a channel closed on the next change.
func (f *fsm) watch() (State, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view.Clone(), f.changed
}

// snapshotVersion is the first byte of a snapshot.
const snapshotVersion byte = 1

// Snapshot returns a point-in-time copy; raft persists it on another goroutine.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{st: f.applied()}, nil
}

// Restore replaces the state with a snapshot written by Persist.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("authority: read snapshot: %w", err)
	}
	st, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(st)
	return nil
}

func decodeSnapshot(b []byte) (State, error) {
	if len(b) == 0 || b[0] != snapshotVersion {
		return State{}, fmt.Errorf("authority: snapshot: unsupported format")
	}
	var st State
	if err := json.Unmarshal(b[1:], &st); err != nil {
		return State{}, fmt.Errorf("authority: decode snapshot: %w", err)
	}
	if st.Members == nil {
		st.Members = map[string]Member{}
	}
	return st, nil
}

type fsmSnapshot struct{ st State }

// Persist writes the snapshot to sink.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := json.Marshal(s.st)
	if err == nil {
		_, err = sink.Write(append([]byte{snapshotVersion}, b...))
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("authority: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds a private copy.
func (fsmSnapshot) Release() {}

// upsertHistory records e: it replaces the entry of the same failover
// (epoch, result and new primary), which a promotion committed first and
// its end completes with the duration, or is appended.
func upsertHistory(h []HistoryEntry, e HistoryEntry) []HistoryEntry {
	if i := slices.IndexFunc(h, func(x HistoryEntry) bool {
		return x.Epoch == e.Epoch && x.Result == e.Result && x.New == e.New
	}); i >= 0 {
		h = slices.Clone(h)
		h[i] = e
		return h
	}
	return appendBounded(h, e, MaxHistory)
}
