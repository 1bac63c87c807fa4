package authority

import (
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// PeerInfo is one alive gossip member as the authority needs it.
type PeerInfo struct {
	// Name is the member's node.name (its raft ServerID).
	Name string
	// Addr is its gossip address (host:port), where its raft and RPC
	// channels listen.
	Addr string
	// HasState reports that the member advertises raft state in its
	// gossip metadata (it bootstrapped or joined a group once).
	HasState bool
	// Alive: gossip considers the member alive (KnownPeers lists the
	// others too).
	Alive bool
}

// Peers is what the authority needs of the gossip layer
// (gossippeers.New adapts a *gossip.Peer).
type Peers interface {
	// Ready is closed once gossip is up and its advertise address final;
	// Run waits for it before starting raft.
	Ready() <-chan struct{}
	// AlivePeers returns the members gossip considers alive, this node
	// included. Only members holding the group's gossip key can be alive.
	AlivePeers() []PeerInfo
	// KnownPeers returns every member gossip knows of, alive or not, this
	// node included.
	KnownPeers() []PeerInfo
	// AdvertiseState publishes in this node's gossip metadata whether it
	// has raft state.
	AdvertiseState(has bool) error
}

// bootstrapServers decides whether this node (self, with or without raft
// state) bootstraps a new group from the alive members it sees, and with
// which servers. Every node that sees the same members computes the same
// list: the expect members with the smallest names, all voters. It
// refuses when this node has raft state, when any member advertises raft
// state (a group exists: wait to be added), when fewer than expect members
// are alive, and when self is not among the chosen ones.
func bootstrapServers(expect int, self string, hasState bool, alive []PeerInfo) ([]raft.Server, bool) {
	if hasState || expect < 1 || len(alive) < expect {
		return nil, false
	}
	if slices.ContainsFunc(alive, func(p PeerInfo) bool { return p.HasState }) {
		return nil, false
	}
	sorted := slices.Clone(alive)
	slices.SortFunc(sorted, func(a, b PeerInfo) int { return strings.Compare(a.Name, b.Name) })
	sorted = slices.CompactFunc(sorted, func(a, b PeerInfo) bool { return a.Name == b.Name })
	if len(sorted) < expect {
		return nil, false
	}
	chosen := sorted[:expect]
	if !slices.ContainsFunc(chosen, func(p PeerInfo) bool { return p.Name == self }) {
		return nil, false
	}
	servers := make([]raft.Server, 0, expect)
	for _, p := range chosen {
		if p.Addr == "" {
			return nil, false
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.Name), Address: raft.ServerAddress(p.Addr)})
	}
	return servers, true
}
