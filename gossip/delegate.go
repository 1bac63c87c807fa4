package gossip

import (
	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. memberlist calls them from its
// network loops, some with its node lock held, so each one only counts,
// decodes and hands off to the peer's state under the peer's own lock: no
// I/O, no blocking channel sends, and never a call back into memberlist.
type delegate struct {
	p *Peer
}

var (
	_ memberlist.Delegate      = delegate{}
	_ memberlist.EventDelegate = delegate{}
)

// NodeMeta returns the metadata set with SetMeta.
func (d delegate) NodeMeta(limit int) []byte {
	return d.p.currentMeta(limit)
}

// NotifyMsg validates one direct message and queues it for Messages.
func (d delegate) NotifyMsg(b []byte) {
	d.p.metrics.received.Inc()
	d.p.receive(b)
}

// GetBroadcasts returns nothing: vigil sends its messages directly, not
// piggybacked on gossip.
func (d delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState returns nothing: there is no replicated state beyond membership
// and metadata.
func (d delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores the (empty) remote state.
func (d delegate) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin records a member that became alive.
func (d delegate) NotifyJoin(n *memberlist.Node) {
	d.p.observe(n.Name, n.Address(), n.Meta, StateAlive)
}

// NotifyLeave records a member that died or left.
func (d delegate) NotifyLeave(n *memberlist.Node) {
	d.p.observe(n.Name, n.Address(), n.Meta, StateDead)
}

// NotifyUpdate records new metadata or a new address of a member.
func (d delegate) NotifyUpdate(n *memberlist.Node) {
	d.p.observe(n.Name, n.Address(), n.Meta, StateAlive)
}
