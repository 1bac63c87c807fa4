package divergent

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fork is the point where a promoted replica's history left its old
// primary's: the old replication id and the offset of the last byte of the
// old stream the promoted replica had applied. Every byte of the old
// primary's stream after Offset is divergent.
type Fork struct {
	// OldReplID is the replication id of the old primary's history.
	OldReplID string `json:"old_replid"`
	// Offset is the last replication offset both histories share.
	Offset int64 `json:"offset"`
}

// PSYNCOffset is the offset to ask PSYNC for to read the divergent tail:
// PSYNC takes the first offset wanted, one past the last one applied.
func (f Fork) PSYNCOffset() int64 { return f.Offset + 1 }

// IsZero reports whether f is unset.
func (f Fork) IsZero() bool { return f.OldReplID == "" }

// ErrNoFork means the node's INFO replication names no previous history:
// it was never promoted from a replica (or it restarted since).
var ErrNoFork = errors.New("divergent: no previous replication history (master_replid2 is unset)")

// noReplID is what Redis reports in master_replid2 when there is no
// previous history.
const noReplID = "0000000000000000000000000000000000000000"

// ErrNotPromoted means the Redis asked for a fork point is not a primary
// (yet): a replica's master_replid2 is where it switched histories with
// its own primary, not a promotion's fork. Try again once it is promoted.
var ErrNotPromoted = errors.New("divergent: the new primary is not a primary yet")

// ParseFork returns the fork point recorded by a promoted replica, from the
// text of its INFO replication. A Redis that answers as a replica has none
// (ErrNotPromoted): a replica of a replica that was promoted continues on
// the new history and keeps the old one as master_replid2, with the offset
// it was at then. Chaos seed 12269 (N=3): c, the old primary of a
// switchover to a, read the fork from a's Redis in the milliseconds before
// a's REPLICAOF NO ONE, got a's switch to c's history 9600 bytes back, and
// replayed writes a already held over newer ones.
//
// When a replica is promoted (REPLICAOF NO ONE) Redis moves its replication
// id to master_replid2 and sets second_repl_offset to its
// master_repl_offset plus one (shiftReplicationId in replication.c):
// second_repl_offset is the first offset the new primary does NOT share
// with the old history, which is also the offset a replica of the old
// primary sends in PSYNC to continue. The last shared offset is therefore
// second_repl_offset - 1.
func ParseFork(info string) (Fork, error) {
	m := parseInfo(info)
	if role, ok := m["role"]; ok && role != "master" {
		return Fork{}, fmt.Errorf("%w: role %s", ErrNotPromoted, role)
	}
	id, ok := m["master_replid2"]
	if !ok {
		return Fork{}, errors.New("divergent: INFO replication has no master_replid2")
	}
	if id == noReplID || id == "" {
		return Fork{}, ErrNoFork
	}
	s := m["second_repl_offset"]
	second, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Fork{}, fmt.Errorf("divergent: second_repl_offset %q: %w", s, err)
	}
	if second < 1 {
		return Fork{}, fmt.Errorf("divergent: second_repl_offset %d with master_replid2 %s: %w", second, id, ErrNoFork)
	}
	return Fork{OldReplID: id, Offset: second - 1}, nil
}

// parseInfo splits INFO text into field/value pairs.
func parseInfo(txt string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// replInfo is what Capture needs of the old primary's INFO replication.
type replInfo struct {
	role          string
	replID        string
	replID2       string
	offset        int64 // master_repl_offset
	secondOffset  int64 // second_repl_offset
	backlogActive bool
	backlogFirst  int64 // repl_backlog_first_byte_offset
	backlogLen    int64 // repl_backlog_histlen
}

func parseReplInfo(txt string) (replInfo, error) {
	m := parseInfo(txt)
	var ri replInfo
	var errs []error
	num := func(k string) int64 {
		v, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", k, m[k], err))
		}
		return v
	}
	ri.role = m["role"]
	ri.replID = m["master_replid"]
	ri.replID2 = m["master_replid2"]
	ri.offset = num("master_repl_offset")
	ri.secondOffset = num("second_repl_offset")
	ri.backlogActive = m["repl_backlog_active"] == "1"
	ri.backlogFirst = num("repl_backlog_first_byte_offset")
	ri.backlogLen = num("repl_backlog_histlen")
	if ri.role == "" || ri.replID == "" {
		errs = append(errs, errors.New("no role or master_replid"))
	}
	if err := errors.Join(errs...); err != nil {
		return replInfo{}, fmt.Errorf("divergent: INFO replication: %w", err)
	}
	return ri, nil
}

// holds reports whether the node's history contains the old history up to
// and including offset off+1 (the first byte PSYNC would ask for), which
// is what PSYNC needs to continue there (masterTryPartialResynchronization).
func (ri replInfo) holds(f Fork) bool {
	if f.OldReplID == ri.replID {
		return true
	}
	return f.OldReplID == ri.replID2 && f.PSYNCOffset() <= ri.secondOffset
}

// branchFrom is where the node's own history leaves the group's at fork f:
// f itself, or, when the node left f's history before f (it was promoted
// on it earlier, then deposed, and the group went on along another branch
// of that history), the point it left it. The new primary holds the old
// history up to f; the node's divergent writes begin where it left it
// (chaos seed 108, N=5: captured from f, the deposed primary "did not hold
// the old history", and its writes were lost).
//
// A node on no history of f's whose own began at offset 0 (promoted with
// nothing replicated: master_replid2 valid up to offset 1 only, as a Redis
// that restarted without its data and was made a primary again) shares no
// byte of its stream with the new primary, which never followed it (a
// primary promoted from its history would have left a recorded fork on
// it): every write it took is divergent, from the first byte of that
// history. Not when f is at offset 0 itself: a primary promoted with
// nothing replicated holds what it loaded from disk, which may be this
// node's writes (a replica of it restarted from its AOF), and replaying
// them would apply them twice. Chaos seed 617 (N=5): b's Redis, the
// primary, came back empty; its sidecar found no replica that could prove
// it held more, made it a primary again (47fe… up to 1, then 513c24…) and
// it took retry-queue INCRs that a and c acknowledged; the group then
// promoted e, still on the history b had before (eb4446… at 52462), and
// the capture from b, "not holding the old history", lost 64 of them.
func (ri replInfo) branchFrom(f Fork) Fork {
	switch {
	case ri.holds(f):
		return f
	case f.OldReplID == ri.replID2 && ri.secondOffset-1 < f.Offset:
		return Fork{OldReplID: ri.replID2, Offset: ri.secondOffset - 1}
	case f.Offset > 0 && ri.replID2 != "" && ri.replID2 != noReplID && ri.secondOffset == 1:
		return Fork{OldReplID: ri.replID2, Offset: 0}
	}
	return f
}

// inBacklog reports whether the backlog still holds byte off.
func (ri replInfo) inBacklog(off int64) bool {
	return ri.backlogActive && off >= ri.backlogFirst && off <= ri.backlogFirst+ri.backlogLen
}
