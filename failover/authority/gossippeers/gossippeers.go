// Package gossippeers adapts a *gossip.Peer to authority.Peers, so that
// the authority package itself does not depend on gossip.
package gossippeers

import (
	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/gossip"
)

// MetaKey is the gossip metadata key under which a sidecar advertises
// that it has raft state: value {1} when it has, {0} when not.
const MetaKey = "raft"

// Peers is a *gossip.Peer seen as authority.Peers.
type Peers struct{ p *gossip.Peer }

var _ authority.Peers = Peers{}

// New adapts p.
func New(p *gossip.Peer) Peers { return Peers{p: p} }

// Ready is closed once gossip is up.
func (g Peers) Ready() <-chan struct{} { return g.p.Ready() }

// AlivePeers returns the alive members, this node included.
func (g Peers) AlivePeers() []authority.PeerInfo {
	var out []authority.PeerInfo
	for _, p := range g.KnownPeers() {
		if p.Alive {
			out = append(out, p)
		}
	}
	return out
}

// KnownPeers returns every member gossip knows of, this node included.
func (g Peers) KnownPeers() []authority.PeerInfo {
	var out []authority.PeerInfo
	for _, m := range g.p.Members() {
		v := m.MetaKey(MetaKey)
		out = append(out, authority.PeerInfo{Name: m.Name, Addr: m.Addr, HasState: len(v) == 1 && v[0] == 1,
			Alive: m.State == gossip.StateAlive})
	}
	return out
}

// AdvertiseState publishes whether this node has raft state.
func (g Peers) AdvertiseState(has bool) error {
	v := []byte{0}
	if has {
		v[0] = 1
	}
	return g.p.SetMetaKey(MetaKey, v)
}
