package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files in node.data_dir.
const (
	stateFileName   = "failover-state.json"
	historyFileName = "failover-history.json"
	stateVersion    = 1
)

// Configuration is the replicated group configuration: who is primary at
// which epoch, and whether automatic failover is paused. Every sidecar
// adopts the newest configuration it hears (see Newer) and enforces it on
// its own Redis.
type Configuration struct {
	// Epoch is the failover epoch that installed Primary. Only a candidate
	// holding votes from a majority of the known set for an epoch may
	// publish a configuration with a new primary at that epoch.
	Epoch uint64 `json:"epoch"`
	// Version orders changes within one epoch that do not change the
	// primary (pause, resume).
	Version uint64 `json:"version,omitempty"`
	// Primary is the node name of the primary; "" while none is known.
	Primary string `json:"primary,omitempty"`
	// PrimaryAddr is the primary's Redis announce address.
	PrimaryAddr string `json:"primary_addr,omitempty"`
	// Paused stops automatic failover group-wide.
	Paused bool `json:"paused,omitempty"`
	// Reason says how Primary was installed: initial, auto or switchover.
	Reason string `json:"reason,omitempty"`
	// Previous is the primary this configuration replaced.
	Previous string `json:"previous,omitempty"`
	// Started and Took describe the failover that installed Primary, for
	// the history kept by every sidecar.
	Started time.Time     `json:"started,omitzero"`
	Took    time.Duration `json:"took,omitempty"`
}

// Newer reports whether c supersedes o: a higher epoch, then a higher
// version, then paused over running (the safe side of a race between pause
// and resume), then the primary name as a last deterministic tie-break.
func (c Configuration) Newer(o Configuration) bool {
	switch {
	case c.Epoch != o.Epoch:
		return c.Epoch > o.Epoch
	case c.Version != o.Version:
		return c.Version > o.Version
	case c.Paused != o.Paused:
		return c.Paused
	default:
		return c.Primary > o.Primary
	}
}

// persisted is the on-disk state: the configuration and the last vote.
type persisted struct {
	Version    int           `json:"version"`
	Config     Configuration `json:"config"`
	VotedEpoch uint64        `json:"voted_epoch"`
	VotedFor   string        `json:"voted_for,omitempty"`
}

// store keeps the persisted state. Every change is on disk (fsynced) before
// the method returns, so a vote is never sent before it is durable.
type store struct {
	dir string
	mu  sync.Mutex
	st  persisted
}

// openStore reads the state from dir; a missing file is a fresh node.
func openStore(dir string) (*store, error) {
	s := &store{dir: dir, st: persisted{Version: stateVersion}}
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read failover state: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse failover state %s: %w", filepath.Join(dir, stateFileName), err)
	}
	if p.Version != stateVersion {
		return nil, fmt.Errorf("parse failover state: unsupported version %d", p.Version)
	}
	s.st = p
	return s, nil
}

// state returns a copy of the persisted state.
func (s *store) state() persisted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// vote grants candidate the vote of epoch unless this node already voted in
// epoch or a later one for someone else. Asking again for the same
// candidate and epoch is granted again (a retransmission changes nothing).
// The vote is durable before vote returns true.
func (s *store) vote(epoch uint64, candidate string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch < s.st.VotedEpoch || (epoch == s.st.VotedEpoch && epoch != 0) {
		return epoch == s.st.VotedEpoch && candidate == s.st.VotedFor, nil
	}
	if epoch == 0 {
		return false, nil
	}
	next := s.st
	next.VotedEpoch, next.VotedFor = epoch, candidate
	if err := s.write(next); err != nil {
		return false, err
	}
	s.st = next
	return true, nil
}

// saveConfig persists c as the current configuration.
func (s *store) saveConfig(c Configuration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == s.st.Config {
		return nil
	}
	next := s.st
	next.Config = c
	if err := s.write(next); err != nil {
		return err
	}
	s.st = next
	return nil
}

func (s *store) write(p persisted) error {
	p.Version = stateVersion
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode failover state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, stateFileName), append(b, '\n')); err != nil {
		return fmt.Errorf("write failover state: %w", err)
	}
	return nil
}

// HistoryEntry is one failover this sidecar took part in or heard of.
type HistoryEntry struct {
	Epoch    uint64        `json:"epoch"`
	Old      string        `json:"old,omitempty"`
	New      string        `json:"new,omitempty"`
	Reason   string        `json:"reason"` // auto, switchover, initial
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Result   string        `json:"result"` // success, failure
	Error    string        `json:"error,omitempty"`
}

// Failover reasons, as in history entries and configurations.
const (
	ReasonAuto       = "auto"
	ReasonSwitchover = "switchover"
	ReasonInitial    = "initial"
)

// history is the ring of recent failovers, persisted in data_dir.
type history struct {
	path string
	size int
	mu   sync.Mutex
	list []HistoryEntry
}

func openHistory(dir string, size int) (*history, error) {
	h := &history{path: filepath.Join(dir, historyFileName), size: size}
	b, err := os.ReadFile(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read failover history: %w", err)
	}
	if err := json.Unmarshal(b, &h.list); err != nil {
		// History is informational: a corrupt file must not stop failover.
		h.list = nil
		return h, nil
	}
	if len(h.list) > size {
		h.list = h.list[len(h.list)-size:]
	}
	return h, nil
}

// add appends e (replacing an entry of the same epoch and result) and
// persists the ring.
func (h *history) add(e HistoryEntry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.list {
		if h.list[i].Epoch == e.Epoch && h.list[i].Result == e.Result && h.list[i].New == e.New {
			return nil
		}
	}
	h.list = append(h.list, e)
	if len(h.list) > h.size {
		h.list = append([]HistoryEntry(nil), h.list[len(h.list)-h.size:]...)
	}
	b, err := json.MarshalIndent(h.list, "", "  ")
	if err != nil {
		return fmt.Errorf("encode failover history: %w", err)
	}
	if err := writeFileAtomic(h.path, append(b, '\n')); err != nil {
		return fmt.Errorf("write failover history: %w", err)
	}
	return nil
}

func (h *history) entries() []HistoryEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HistoryEntry(nil), h.list...)
}

// writeFileAtomic writes b to a temporary file next to path, syncs it,
// renames it over path and syncs the directory, so a crash leaves the old
// or the new content and never a torn file.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
