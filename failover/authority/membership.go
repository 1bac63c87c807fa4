package authority

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// changeKind is one raft configuration change the leader makes.
type changeKind int

const (
	addNonvoter changeKind = iota + 1
	promote
	removeNonvoter
)

func (k changeKind) String() string {
	switch k {
	case addNonvoter:
		return "add non-voter"
	case promote:
		return "promote to voter"
	case removeNonvoter:
		return "remove non-voter"
	default:
		return "unknown"
	}
}

// change is one configuration change: kind, server and address.
type change struct {
	kind changeKind
	id   string
	addr string
}

// membershipInput is what the leader knows when it reconciles the raft
// configuration with gossip.
type membershipInput struct {
	now           time.Time
	stabilization time.Duration
	servers       []raft.Server   // the current raft configuration
	alive         []PeerInfo      // alive gossip members
	registered    map[string]bool // members that registered their addresses in State
	canVote       map[string]bool // nil: no extra condition; else the caller's verdict
	healthySince  map[string]time.Time
}

// reconcileMembership decides the leader's configuration changes and
// returns the updated healthySince map (when each non-voter became
// continuously healthy). The rules: an alive member outside the
// configuration is added as a non-voter; a non-voter that has been
// registered, alive (and, if asked, able to vote) for stabilization
// becomes a voter; a non-voter that is no longer alive is removed, and its
// clock restarts; voters are never removed here (only forget does), and a
// dead voter still counts toward the majority.
//
// Addresses in the configuration are never updated: raft dials the
// address gossip announces now (addressProvider), and changing a
// server's address in raft v1.8.0 races with its replication goroutine
// (followerReplication.peer is written under peerLock but read without it
// in updateLastAppended), which the race detector reports.
func reconcileMembership(in membershipInput) ([]change, map[string]time.Time) {
	alive := make(map[string]string, len(in.alive))
	for _, p := range in.alive {
		alive[p.Name] = p.Addr
	}
	inConfig := make(map[string]bool, len(in.servers))
	since := make(map[string]time.Time)
	var out []change
	for _, s := range in.servers {
		id := string(s.ID)
		inConfig[id] = true
		addr, isAlive := alive[id]
		if s.Suffrage == raft.Voter {
			continue
		}
		if !isAlive {
			out = append(out, change{kind: removeNonvoter, id: id})
			continue
		}
		healthy := in.registered[id] && (in.canVote == nil || in.canVote[id])
		if !healthy {
			continue
		}
		t, ok := in.healthySince[id]
		if !ok {
			t = in.now
		}
		since[id] = t
		if in.now.Sub(t) >= in.stabilization {
			if addr == "" {
				addr = string(s.Address)
			}
			out = append(out, change{kind: promote, id: id, addr: addr})
		}
	}
	names := make([]string, 0, len(alive))
	for name := range alive {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !inConfig[name] && alive[name] != "" {
			out = append(out, change{kind: addNonvoter, id: name, addr: alive[name]})
		}
	}
	slices.SortStableFunc(out, func(a, b change) int { return strings.Compare(a.id, b.id) })
	return out, since
}
