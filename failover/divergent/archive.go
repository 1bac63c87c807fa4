package divergent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// State is where an archive is in its life.
type State string

// The states of an archive. Only pending archives count in
// vigil_divergent_archives_pending and fire the alert.
const (
	// StatePending: captured (or known lost), not dealt with yet.
	StatePending State = "pending"
	// StateReplayed: every unit was applied to a primary (or found applied).
	StateReplayed State = "replayed"
	// StateDismissed: an operator decided not to replay it.
	StateDismissed State = "dismissed"
)

// Gap is a piece of the divergent stream left out of the archive file
// (PING, REPLCONF GETACK): it keeps the offsets of the units that follow
// it computable from the file.
type Gap struct {
	Offset int64 `json:"offset"`
	Bytes  int64 `json:"bytes"`
}

// Manifest describes one archive; it is stored as <name>.json beside the
// RESP file <name>.resp.
type Manifest struct {
	// Name is "<epoch>-<node>".
	Name  string `json:"name"`
	Epoch uint64 `json:"epoch"`
	// Node is the former primary's node name; Addr its Redis address.
	Node string `json:"node"`
	Addr string `json:"redis_addr"`
	// OldReplID and ForkOffset are the fork point: the last offset of the
	// old history the new primary had. The divergent stream is offsets
	// ForkOffset+1 through EndOffset.
	OldReplID  string `json:"old_replid"`
	ForkOffset int64  `json:"fork_offset"`
	EndOffset  int64  `json:"end_offset"`
	// Bytes is the length of the divergent stream; Missing how many of
	// those bytes the backlog no longer held (then nothing is archived).
	Bytes        int64 `json:"bytes"`
	Missing      int64 `json:"missing_bytes"`
	BacklogFirst int64 `json:"backlog_first_byte_offset"`
	// Commands counts the archived writes (SELECT, MULTI and EXEC not
	// counted); Units the transactions a replay applies (a command, or a
	// MULTI/EXEC block).
	Commands int `json:"commands"`
	Units    int `json:"units"`
	// StartDB is the database selected at the fork; StartDBKnown false
	// means the stream before the fork did not say and 0 was assumed.
	StartDB      int  `json:"start_db"`
	StartDBKnown bool `json:"start_db_known"`
	// PrefixBytes is the length of the SELECT the file starts with, which
	// is not part of the stream; Dropped are the stream's pings.
	PrefixBytes int   `json:"prefix_bytes"`
	Dropped     []Gap `json:"dropped,omitempty"`
	// File is the RESP file's base name and FileBytes its size; empty when
	// nothing could be captured.
	File      string `json:"file,omitempty"`
	FileBytes int64  `json:"file_bytes"`
	// OffsetAfter is the former primary's offset after the capture; more
	// than EndOffset means writes were not paused (and those are missing)
	// or the node pinged replicas still attached to it.
	OffsetAfter int64 `json:"offset_after"`
	// Error says why nothing was captured, if so.
	Error     string        `json:"error,omitempty"`
	State     State         `json:"state"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Replay    *ReplayResult `json:"replay,omitempty"`
}

// buildArchive turns a capture into the archive file and its manifest
// (without name, epoch, node, state and times). The file is the stream
// with pings and acknowledgement requests left out, after a SELECT of
// the database selected at the fork: `redis-cli --pipe < file` applies it.
func buildArchive(res CaptureResult) ([]byte, Manifest, error) {
	m := Manifest{
		Addr: res.Addr, OldReplID: res.Fork.OldReplID, ForkOffset: res.Fork.Offset, EndOffset: res.EndOffset,
		Bytes: res.Bytes(), Missing: res.Missing, BacklogFirst: res.BacklogFirst, OffsetAfter: res.OffsetAfter,
		StartDB: max(res.StartDB, 0), StartDBKnown: res.StartDB >= 0,
	}
	cmds, err := splitStream(res.Stream, res.Fork.PSYNCOffset())
	if err != nil {
		return nil, m, err
	}
	file := appendCommand(make([]byte, 0, len(res.Stream)+32), []byte("SELECT"), strconv.AppendInt(nil, int64(m.StartDB), 10))
	m.PrefixBytes = len(file)
	inMulti := false
	for _, c := range cmds {
		switch {
		case c.is("PING"), c.is("REPLCONF"):
			// Adjacent ones merge: an application calling WAIT in a loop
			// puts a GETACK after each write batch.
			if n := len(m.Dropped); n > 0 && m.Dropped[n-1].Offset+m.Dropped[n-1].Bytes == c.offset {
				m.Dropped[n-1].Bytes += int64(len(c.raw))
			} else {
				m.Dropped = append(m.Dropped, Gap{Offset: c.offset, Bytes: int64(len(c.raw))})
			}
			continue
		case c.is("SELECT"):
		case c.is("MULTI"):
			inMulti = true
			m.Units++
		case c.is("EXEC"):
			inMulti = false
		default:
			m.Commands++
			if !inMulti {
				m.Units++
			}
		}
		file = append(file, c.raw...)
	}
	m.FileBytes = int64(len(file))
	return file, m, nil
}

// unit is what a replay applies at once, with the at-most-once id of the
// offset of its first byte in the old history, or marker: the marker an
// earlier replay set for it (replayedUnits).
type unit struct {
	offset int64
	db     int
	cmds   [][][]byte
	marker string
}

// markerKey is the key of u's at-most-once marker when the archive's old
// history is replID.
func (u unit) markerKey(replID string) string {
	if u.marker != "" {
		return u.marker
	}
	return MarkerPrefix + replID + ":" + strconv.FormatInt(u.offset, 10)
}

// isMarkerSet reports whether cmd sets a divergent-replay marker: the
// first write of each unit a replay applied.
func isMarkerSet(cmd [][]byte) bool {
	return len(cmd) >= 3 && bytes.EqualFold(cmd[0], []byte("SET")) && bytes.HasPrefix(cmd[1], []byte(MarkerPrefix))
}

// replayedUnits splits a MULTI/EXEC block that is the effect of an earlier
// replay's script call back into the units that call applied, each with
// the marker it set: Redis replicates a script's writes as one
// transaction, and a call packs up to callUnits units, each its marker's
// SET (in database 0) then its writes. Kept whole, the block mixed every
// write of those units under one new marker, and the replay script's
// retry-queue check skipped all of them when one retry-queue item in it
// had been applied on the target again by its queue. Chaos seed 1506
// (N=3): a's writes of a partition, captured at epoch 6 and replayed onto
// b as two calls, were in b's divergent stream at epoch 7 as two blocks;
// a's retry queue, never confirmed on a, applied an item of the first
// block on c, the new primary, and the replay of b's archive skipped the
// block — 64 units, 27 acknowledged writes among them — as a duplicate.
// Under their own markers the units are also applied at most once across
// the two archives: a replay of the first archive to the same primary
// finds them. dbs holds the database of each of u's commands. A block
// whose first command is not a marker's SET, or a unit in it whose writes
// span databases, is kept whole.
func replayedUnits(u unit, dbs []int) []unit {
	var out []unit
	for i, c := range u.cmds {
		if isMarkerSet(c) {
			out = append(out, unit{offset: u.offset, db: -1, marker: string(c[1])})
			continue
		}
		if len(out) == 0 {
			return []unit{u}
		}
		last := &out[len(out)-1]
		switch {
		case last.db < 0:
			last.db = dbs[i]
		case last.db != dbs[i]:
			return []unit{u}
		}
		last.cmds = append(last.cmds, c)
	}
	if len(out) == 0 {
		return []unit{u}
	}
	for i := range out {
		if out[i].db < 0 { // a unit the call found applied: only its marker
			out[i].db = u.db
		}
	}
	return out
}

// unitsOf reads an archive file back into units, recomputing each one's
// offset in the old stream from the manifest.
func unitsOf(file []byte, m Manifest) ([]unit, error) {
	if len(file) < m.PrefixBytes {
		return nil, fmt.Errorf("divergent: archive %s: %d bytes, shorter than its %d-byte prefix", m.Name, len(file), m.PrefixBytes)
	}
	db := m.StartDB
	cmds, err := splitStream(file[m.PrefixBytes:], m.ForkOffset+1)
	if err != nil {
		return nil, fmt.Errorf("divergent: archive %s: %w", m.Name, err)
	}
	var out []unit
	var cur *unit
	var dbs []int // the database of each of cur's commands
	off, gap := m.ForkOffset+1, 0
	skip := func() {
		for gap < len(m.Dropped) && m.Dropped[gap].Offset == off {
			off += m.Dropped[gap].Bytes
			gap++
		}
	}
	for _, c := range cmds {
		skip()
		start := off
		off += int64(len(c.raw))
		switch {
		case c.is("SELECT"):
			if len(c.args) != 2 {
				return nil, fmt.Errorf("divergent: archive %s: SELECT with %d arguments at offset %d", m.Name, len(c.args)-1, start)
			}
			n, err := strconv.Atoi(string(c.args[1]))
			if err != nil {
				return nil, fmt.Errorf("divergent: archive %s: SELECT %q at offset %d", m.Name, c.args[1], start)
			}
			db = n
		case c.is("MULTI"):
			if cur != nil {
				return nil, fmt.Errorf("divergent: archive %s: MULTI inside MULTI at offset %d", m.Name, start)
			}
			cur = &unit{offset: start, db: db}
			dbs = dbs[:0]
		case c.is("EXEC"):
			if cur == nil {
				return nil, fmt.Errorf("divergent: archive %s: EXEC without MULTI at offset %d", m.Name, start)
			}
			out = append(out, replayedUnits(*cur, dbs)...)
			cur = nil
		default:
			if cur != nil {
				cur.cmds = append(cur.cmds, c.args)
				dbs = append(dbs, db)
			} else {
				out = append(out, unit{offset: start, db: db, cmds: [][][]byte{c.args}})
			}
		}
	}
	skip()
	if cur != nil {
		return nil, fmt.Errorf("divergent: archive %s: ends inside the MULTI at offset %d", m.Name, cur.offset)
	}
	if off != m.EndOffset+1 {
		return nil, fmt.Errorf("divergent: archive %s: stream ends at offset %d, manifest says %d: %w", m.Name, off-1, m.EndOffset, errCorrupt)
	}
	return out, nil
}

var errCorrupt = errors.New("archive does not match its manifest")
