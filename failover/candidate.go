package failover

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-redis/vigil/monitor"
)

// Why a replica is not promotable; the values of the reason label of
// vigil_failover_no_candidate.
const (
	whyNoReplica   = "no_replica"    // no other node reports at all
	whyUnreachable = "unreachable"   // its sidecar's report is stale or its Redis did not answer
	whyPriority    = "priority_zero" // redis.priority 0: never promote
	whyNotReplica  = "not_replica"   // its Redis is not a replica
	whyNotSynced   = "not_synced"    // link never came up or initial sync never finished
	whyLagging     = "lagging"       // more than max_lag_bytes behind the primary's last known offset or the most advanced replica
	whyVetoed      = "vetoed"        // the pre-promotion gate refused it
	// With min_replicas: behind the last offset a replica now out of reach
	// was seen at (durableFloor).
	whyBehind = "behind_unreachable"
	// With min_replicas: below the offset the primary was promoted at
	// (forkFloor), or still on a history a recent promotion left
	// (pastForkHeld).
	whyBeforeFork = "before_fork"
	// On another replication history than the primary's while some
	// replica follows the primary's (splitHistory).
	whyOtherHistory = "other_history"
	// Its Redis holds fewer keys than a holder's (holders): a position on
	// a history proves nothing of data it does not hold.
	whyFewerKeys = "fewer_keys"
)

var whyReasons = []string{whyNoReplica, whyUnreachable, whyPriority, whyNotReplica, whyNotSynced, whyLagging, whyVetoed, whyBehind, whyBeforeFork, whyOtherHistory, whyFewerKeys}

// candidate is what candidate choice knows of one node.
type candidate struct {
	Name      string
	Addr      string
	Priority  int
	Fresh     bool // its sidecar's report is recent
	Reachable bool // its Redis answered its sidecar
	Role      monitor.Role
	Synced    bool
	Offset    int64
	ReplID    string // the history it follows (master_replid)
	ReplID2   string // holders: master_replid2, the history before it last became a primary
	Keys      int64  // DBSIZE, for holders
}

// splitHistory keeps, when at least one usable replica follows history
// (the primary's last known replication id), only the candidates on it,
// and names the replicas on other histories. Offsets of different
// histories do not compare: a replica restarted from an old RDB kept an
// offset far beyond one that had resynced from the primary's restarted
// history, and was promoted with data 20 s old (chaos seed 1).
func splitHistory(nodes []candidate, primary, history string) (kept []candidate, other []string) {
	if history == "" || !slices.ContainsFunc(nodes, func(n candidate) bool {
		return n.Name != primary && n.ReplID == history && n.usable()
	}) {
		return nodes, nil
	}
	for _, n := range nodes {
		if n.Name != primary && n.usable() && n.ReplID != history {
			other = append(other, n.Name)
			continue
		}
		kept = append(kept, n)
	}
	return kept, other
}

// usable reports whether n could be ranked at all.
func (n candidate) usable() bool {
	return n.Fresh && n.Reachable && n.Role == monitor.RoleReplica && n.Synced
}

// rankCandidates orders the nodes that may replace primary, best first:
// priority (lower first; 0 never), then offset (higher first), then name.
// It excludes unreachable nodes, non-replicas, replicas whose link never
// came up or whose initial sync never finished, and replicas more than
// maxLag bytes behind the reference: the primary's last known offset
// (primaryOffset, 0 if unknown) or the most advanced replica, whichever is
// further. excluded maps every excluded node to why.
func rankCandidates(nodes []candidate, primary string, maxLag, primaryOffset int64) (ranked []candidate, excluded map[string]string) {
	excluded = make(map[string]string)
	best := max(primaryOffset, -1)
	var pool []candidate
	for _, n := range nodes {
		if n.Name == primary {
			continue
		}
		switch {
		case !n.Fresh || !n.Reachable:
			excluded[n.Name] = whyUnreachable
			continue
		case n.Role != monitor.RoleReplica:
			excluded[n.Name] = whyNotReplica
			continue
		case !n.Synced:
			excluded[n.Name] = whyNotSynced
			continue
		}
		// The most advanced replica counts even when it may not be
		// promoted itself: the data it has is what a promotion must keep.
		best = max(best, n.Offset)
		if n.Priority <= 0 {
			excluded[n.Name] = whyPriority
			continue
		}
		pool = append(pool, n)
	}
	for _, n := range pool {
		if best-n.Offset > maxLag {
			excluded[n.Name] = whyLagging
			continue
		}
		ranked = append(ranked, n)
	}
	slices.SortFunc(ranked, func(a, b candidate) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Offset, a.Offset); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return ranked, excluded
}

// whyNot explains, for humans, why no candidate qualifies.
func whyNot(excluded map[string]string) string {
	if len(excluded) == 0 {
		return "no replica reports to this sidecar"
	}
	names := make([]string, 0, len(excluded))
	for n := range excluded {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s: %s", n, strings.ReplaceAll(excluded[n], "_", " ")))
	}
	return "no eligible replica (" + strings.Join(parts, "; ") + ")"
}
