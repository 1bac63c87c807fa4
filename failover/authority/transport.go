package authority

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Layer is one channel of the gossip port: a listener for the streams
// peers open to this node, and a dialer for streams to a peer's gossip
// address. A *gossip.StreamLayer satisfies it (0xF1 for raft, 0xF2 for
// the authority's forwarding RPC).
type Layer interface {
	net.Listener
	Dial(addr string, timeout time.Duration) (net.Conn, error)
}

// trackedLayer adapts a Layer to raft.StreamLayer and keeps every
// connection it hands out, so that shutdown can close them all: raft's
// NetworkTransport neither closes the connections it accepted nor waits for
// the goroutines serving them, and Run must not return while they live.
type trackedLayer struct {
	Layer
	// alive, when set, reports whether the peer at a gossip address is
	// alive in gossip, and returns a channel closed when that may have
	// changed; stopping ends a dial's retries (see dial).
	alive    func(addr string) (bool, <-chan struct{})
	stopping <-chan struct{}
	mu       sync.Mutex
	closed   bool
	conns    map[*trackedConn]struct{}
	wg       sync.WaitGroup // one per open connection and per Accept in progress
}

func newTrackedLayer(l Layer) *trackedLayer {
	return &trackedLayer{Layer: l, conns: map[*trackedConn]struct{}{}}
}

// Accept waits for the next stream from a peer.
func (t *trackedLayer) Accept() (net.Conn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, net.ErrClosed
	}
	t.wg.Add(1)
	t.mu.Unlock()
	defer t.wg.Done()
	c, err := t.Layer.Accept()
	if err != nil {
		return nil, err
	}
	return t.track(c)
}

// Dial opens a stream to the peer at address.
func (t *trackedLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return t.dial(string(address), timeout)
}

// deadRetry is how often dial tries again a peer gossip does not count
// alive.
const deadRetry = 100 * time.Millisecond

// dial dials address. A dial that fails to a peer gossip does not count
// alive is tried again, every deadRetry and as soon as gossip counts it
// alive, until it succeeds or its timeout passes; a change in gossip's
// view that leaves it dead ends the retries, since the member may be back
// at another address. Why: raft backs off from a follower exponentially
// with each failed RPC, up to 10.24 s between attempts, and a successful
// heartbeat does not reset it, so a follower back from a long outage
// waited up to that long for the log;
// one whose data dir was wiped meanwhile refused its vote all that time
// (amnesiacVoteRefusal). Retried within each of raft's attempts, the
// failures add up a few times slower, and the attempt under way when the
// peer comes back reaches it. Chaos seed 17516 (N=3): c's sidecar,
// restarted wiped after 11 s down, had no entry from the leader b in the
// 0.8 s before b was cut off, and a and c elected nobody for 25 s. A
// dial to a peer gossip counts alive fails at once, as before.
func (t *trackedLayer) dial(address string, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := t.Layer.Dial(address, max(time.Until(deadline), time.Millisecond))
		if err == nil {
			return t.track(c)
		}
		if t.alive == nil {
			return nil, err
		}
		alive, changed := t.alive(address)
		left := time.Until(deadline)
		if alive || left <= 0 {
			return nil, err
		}
		retry := true
		wait := time.NewTimer(min(left, deadRetry))
		select {
		case <-changed:
			// A view that changed without it: the member may be back
			// at another address (a restart that moved it), which raft
			// resolves again only on its next attempt.
			retry, _ = t.alive(address)
		case <-wait.C:
		case <-t.stopping:
			retry = false
		}
		wait.Stop()
		if !retry {
			return nil, err
		}
	}
}

func (t *trackedLayer) track(c net.Conn) (net.Conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, owner: t}
	t.conns[tc] = struct{}{}
	t.wg.Add(1)
	return tc, nil
}

// Close closes the listener and every connection handed out.
func (t *trackedLayer) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	err := t.Layer.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	return err
}

// wait blocks until no Accept is in progress and every connection has been closed.
func (t *trackedLayer) wait() { t.wg.Wait() }

type trackedConn struct {
	net.Conn
	owner *trackedLayer
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
		c.owner.wg.Done()
	})
	return err
}
