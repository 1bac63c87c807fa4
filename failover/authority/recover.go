package authority

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Recovery is what Recover did to one member's raft state.
type Recovery struct {
	// Before lists the voters of the last configuration this member held.
	Before []string
	// Voters is the configuration written.
	Voters []string
	// Index and Term are where this member's log ended: every entry up to
	// there now counts as committed on it.
	Index, Term uint64
	// State is the group's state as this member held it, with the new
	// configuration applied.
	State State
}

// Recover rewrites the raft configuration kept in dataDir so that voters
// alone make up the group, for a group that lost its majority for good
// (hosts destroyed, or a configuration no member can win an election in).
// It is hashicorp/raft's RecoverCluster, as Consul's peers.json: every
// entry this member holds counts as committed, the state is snapshotted
// with the new configuration, and the log is truncated. The sidecar must
// be stopped (its store is locked while it runs); run it with the same
// voters on every member listed, then start them. Members left out drop
// out of the state too, except a primary's record, which stays until a
// failover replaces it, as a forget of the primary's node leaves it.
//
// self must be among voters, and every voter must have been in a
// configuration this member holds (a typo would otherwise make a voter
// nobody runs).
func Recover(dataDir, self string, voters []string, logger *slog.Logger) (_ Recovery, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(voters) == 0 {
		return Recovery{}, errors.New("authority: recover: no voters given")
	}
	if !slices.Contains(voters, self) {
		return Recovery{}, fmt.Errorf("authority: recover: the voters %v leave out this member %q: run it on a member that stays", voters, self)
	}
	if dup := duplicate(voters); dup != "" {
		return Recovery{}, fmt.Errorf("authority: recover: voter %q given twice", dup)
	}
	dir := filepath.Join(dataDir, "raft")
	path := filepath.Join(dir, "raft.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Recovery{}, fmt.Errorf("authority: recover: no raft state in %s: this member never joined a group, or its data dir is gone; start it and the leader adds it", dir)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: path,
		BoltOptions: &bbolt.Options{Timeout: storeLockWait}})
	if errors.Is(err, berrors.ErrTimeout) {
		return Recovery{}, fmt.Errorf("authority: recover: %s is locked: stop this member's sidecar first", path)
	}
	if err != nil {
		return Recovery{}, fmt.Errorf("authority: recover: open %s: %w", path, err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("authority: recover: close %s: %w", path, cerr)
		}
	}()
	hc := newHCLog(logger.With("component", "raft", "node", self))
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hc.Named("snapshot"))
	if err != nil {
		return Recovery{}, fmt.Errorf("authority: recover: open snapshots in %s: %w", dir, err)
	}
	h, err := readHeld(store, snaps)
	if err != nil {
		return Recovery{}, fmt.Errorf("authority: recover: %w", err)
	}
	rec := Recovery{Voters: slices.Clone(voters)}
	for _, s := range h.last.Servers {
		if s.Suffrage == raft.Voter {
			rec.Before = append(rec.Before, string(s.ID))
		}
	}
	var servers []raft.Server
	for _, v := range voters {
		addr, ok := h.known[v]
		if !ok {
			return Recovery{}, fmt.Errorf("authority: recover: voter %q was never in a configuration this member holds (last voters: %v)", v, rec.Before)
		}
		// raft dials the address gossip announces (addressProvider); this
		// one is only the fallback.
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(v), Address: addr})
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(self)
	conf.Logger = hc
	_, trans := raft.NewInmemTransport(h.known[self])
	defer trans.Close()
	f := &recoveryFSM{st: applyConfiguration(h.st, servers)}
	if err := raft.RecoverCluster(conf, f, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
		return Recovery{}, fmt.Errorf("authority: recover %s: %w", dir, err)
	}
	snapshots, err := snaps.List()
	if err != nil {
		return Recovery{}, fmt.Errorf("authority: recover: list the snapshot written in %s: %w", dir, err)
	}
	if len(snapshots) == 0 {
		return Recovery{}, fmt.Errorf("authority: recover: no snapshot in %s after writing one", dir)
	}
	rec.Index, rec.Term, rec.State = snapshots[0].Index, snapshots[0].Term, f.st
	return rec, nil
}

// duplicate returns the first name given twice, or "".
func duplicate(names []string) string {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}

// held is what a member's raft store holds, read in one pass over its
// newest snapshot and its log.
type held struct {
	// st is the state: the snapshot, then every entry after it.
	// RecoverCluster's own replay applies commands only, but members enter
	// the state through configuration entries, and a command naming a
	// member the state lacks is refused.
	st State
	// last is the newest configuration (in the log or the snapshot), known
	// the address of every server in any configuration held: a member's
	// last configuration may leave out one still running, or the member
	// itself (an appended removal that never committed, chaos seed 13221).
	last  raft.Configuration
	known map[string]raft.ServerAddress
}

func readHeld(logs raft.LogStore, snaps raft.SnapshotStore) (held, error) {
	h := held{known: map[string]raft.ServerAddress{}}
	found, at := false, uint64(0)
	note := func(c raft.Configuration, index uint64) {
		if !found || index > at {
			h.last, found, at = c, true, index
		}
		for _, s := range c.Servers {
			if _, ok := h.known[string(s.ID)]; !ok {
				h.known[string(s.ID)] = s.Address
			}
		}
	}
	f := newFSM()
	applyAfter := uint64(0)
	list, err := snaps.List()
	if err != nil {
		return h, fmt.Errorf("list snapshots: %w", err)
	}
	if len(list) > 0 {
		newest := list[0]
		_, rc, err := snaps.Open(newest.ID)
		if err != nil {
			return h, fmt.Errorf("open snapshot %s: %w", newest.ID, err)
		}
		if err := f.Restore(rc); err != nil {
			return h, fmt.Errorf("snapshot %s: %w", newest.ID, err)
		}
		note(newest.Configuration, newest.ConfigurationIndex)
		applyAfter = newest.Index
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return h, fmt.Errorf("read the log: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return h, fmt.Errorf("read the log: %w", err)
	}
	for i := max(first, 1); i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return h, fmt.Errorf("read log entry %d: %w", i, err)
		}
		switch l.Type {
		case raft.LogConfiguration:
			c := raft.DecodeConfiguration(l.Data)
			note(c, l.Index)
			if l.Index > applyAfter {
				f.StoreConfiguration(l.Index, c)
			}
		case raft.LogCommand:
			if l.Index > applyAfter {
				f.Apply(&l)
			}
		}
	}
	if !found {
		return h, errors.New("no raft configuration in the log or a snapshot: nothing to recover")
	}
	h.st = f.applied()
	return h, nil
}

// recoveryFSM hands RecoverCluster the state readHeld rebuilt, with the new
// configuration applied, as the snapshot to write; what RecoverCluster
// restores and replays itself it ignores.
type recoveryFSM struct{ st State }

func (f *recoveryFSM) Apply(*raft.Log) any { return nil }

func (f *recoveryFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

func (f *recoveryFSM) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{st: f.st.Clone()}, nil
}
