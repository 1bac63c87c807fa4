package failover

import "context"

// Cluster is what failover needs of the gossip layer. It uses only basic
// types so that failover does not depend on the gossip package; *gossip.Peer
// satisfies it.
type Cluster interface {
	// Name is this sidecar's node name.
	Name() string
	// Known is the persisted set of sidecars, including dead ones and self.
	// A majority is counted against it.
	Known() []string
	// Alive names the members gossip currently considers alive, self included.
	Alive() []string
	// Broadcast sends to every alive member at once, best effort, without blocking.
	Broadcast(kind byte, payload []byte)
	// BroadcastReliable sends to every alive member in parallel over TCP.
	BroadcastReliable(ctx context.Context, kind byte, payload []byte) error
	// Send sends to one member over TCP.
	Send(ctx context.Context, node string, kind byte, payload []byte) error
	// Recv blocks for the next message from a peer, or until ctx ends.
	Recv(ctx context.Context) (from string, kind byte, payload []byte, err error)
	// Settle waits until membership has stopped changing.
	Settle(ctx context.Context) error
	// Forget removes a node from the known set.
	Forget(name string) error
}
