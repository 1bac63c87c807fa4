package failover

import (
	"context"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Cluster is what failover needs of the gossip layer: fast, best-effort
// messages between sidecars. It uses only basic types so that failover does
// not depend on the gossip package; *gossip.Peer satisfies it.
type Cluster interface {
	// Alive names the members gossip currently considers alive, self included.
	Alive() []string
	// Broadcast sends to every alive member at once, best effort, without blocking.
	Broadcast(kind byte, payload []byte)
	// Recv blocks for the next message from a peer, or until ctx ends.
	Recv(ctx context.Context) (from string, kind byte, payload []byte, err error)
	// Forget removes a node from the persisted set of known peers.
	Forget(name string) error
}

// Authority is the group's replicated configuration (the Raft state
// machine); *authority.Authority satisfies it. Only committed entries
// change what Watch returns.
type Authority interface {
	// Watch returns the applied state and a channel closed on the next change.
	Watch() (authority.State, <-chan struct{})
	// Ready reports whether a group exists and this node applied its log.
	Ready() bool
	// Leader names the Raft leader and whether it is this node.
	Leader() (name string, isSelf bool)
	// Apply commits cmd through the leader and returns the state right
	// after it applied.
	Apply(ctx context.Context, cmd authority.Command) (authority.State, error)
	// Verify is a linearizable read: the leader confirms its leadership
	// and returns its applied state.
	Verify(ctx context.Context) (authority.State, error)
	// LastContact is the last acknowledged contact with a majority
	// (leader) or with the leader (follower), on the monotonic clock.
	LastContact() time.Time
	// CaughtUp reports whether the applied state is the group's as of
	// that contact: false while a node that lost its Raft state has not
	// been given the log up to a leader's commit index.
	CaughtUp() bool
	// TransferLeadership asks this node, the leader, to hand Raft
	// leadership to the voter named to, and waits for the outcome.
	TransferLeadership(to string) error
	// Calm switches Raft between its calm timings (fewer heartbeats, while
	// no failover is in sight) and its failover timings.
	Calm(on bool)
}
