package failover

import (
	"bufio"
	"strconv"
	"strings"
)

// replPosition is what INFO replication tells of a primary's ability to
// continue a replica's stream: its histories and its backlog.
type replPosition struct {
	ReplID, ReplID2 string
	Offset          int64 // master_repl_offset
	Second          int64 // second_repl_offset: replid2 is valid up to it
	Backlog         bool  // repl_backlog_active
	First, Histlen  int64 // repl_backlog_first_byte_offset, repl_backlog_histlen
}

// parseReplPosition reads the fields of replPosition from INFO replication.
func parseReplPosition(info string) replPosition {
	var p replPosition
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "master_replid":
			p.ReplID = v
		case "master_replid2":
			p.ReplID2 = v
		case "master_repl_offset":
			p.Offset = n
		case "second_repl_offset":
			p.Second = n
		case "repl_backlog_active":
			p.Backlog = n == 1
		case "repl_backlog_first_byte_offset":
			p.First = n
		case "repl_backlog_histlen":
			p.Histlen = n
		}
	}
	return p
}

// continues reports whether primary p accepts a partial resync from a
// replica at offset on history replID, by Redis's own rule: the history is
// p's current one, or its previous one up to where it forked, and the
// backlog still holds the next byte. Only then does a re-point keep the
// replica's data; anything else is a full sync that replaces it.
func (p replPosition) continues(replID string, offset int64) bool {
	next := offset + 1
	switch {
	case replID == "" || offset <= 0:
		return false
	case replID != p.ReplID && (replID != p.ReplID2 || next > p.Second):
		return false
	}
	return p.Backlog && next >= p.First && next <= p.First+p.Histlen
}

// follows reports whether a Redis at local may be made a replica of the
// primary at p: where p continues its stream (continues), or, a full sync,
// where p still is the process its own sidecar vouched for, on the
// history that sidecar reported (vouched; "" when it vouches for none). A
// restart begins a new history, so a Redis restarted since the vouching
// report is not followed, however sure the report was. Chaos seed 2505
// (N=3): a's deposed primary, holding every write, was to be demoted into
// b, vouched for when the demotion began; the replay of its divergent
// writes onto b blocked for 4.4 s, b's Redis was killed and came back
// empty meanwhile, and the REPLICAOF that followed full-synced nothing.
func (p replPosition) follows(local replPosition, vouched string) bool {
	return p.continues(local.ReplID, local.Offset) || vouched != "" && p.ReplID == vouched
}
