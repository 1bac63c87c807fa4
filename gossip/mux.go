package gossip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// maxPendingStreams bounds accepted connections whose first byte or
	// handshake has not arrived yet, so strangers that connect and stay
	// silent cannot pile up; beyond it new connections are closed at once.
	maxPendingStreams = 256

	// acceptBacklog is how many streams that passed the handshake may wait
	// for a channel's Accept.
	acceptBacklog = 16

	// refusedWarnEvery limits refused streams logged at Warn.
	refusedWarnEvery = time.Minute
)

// mux is the memberlist transport with a first-byte multiplexer on its
// stream side: each accepted connection's first byte picks a registered
// StreamLayer, or memberlist for anything else. Everything but streams is
// the inner transport's.
type mux struct {
	memberlist.NodeAwareTransport // the inner transport, for everything not overridden

	inner   memberlist.NodeAwareTransport
	layers  map[byte]*StreamLayer // fixed before Run
	sec     *streamSecurity
	timeout time.Duration // first byte plus handshake
	logger  *slog.Logger
	metrics *metrics

	streams chan net.Conn // to memberlist
	slots   chan struct{} // one per pending connection
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu       sync.Mutex
	pending  map[net.Conn]struct{} // closed by Shutdown to end their reads
	lastWarn time.Time             // of a refusal logged at Warn
}

var _ memberlist.NodeAwareTransport = (*mux)(nil)

// newMux wraps inner and starts dispatching its streams.
func newMux(inner memberlist.NodeAwareTransport, layers map[byte]*StreamLayer, sec *streamSecurity,
	timeout time.Duration, logger *slog.Logger, m *metrics) *mux {
	x := &mux{
		NodeAwareTransport: inner,
		inner:              inner,
		layers:             layers,
		sec:                sec,
		timeout:            timeout,
		logger:             logger,
		metrics:            m,
		streams:            make(chan net.Conn),
		slots:              make(chan struct{}, maxPendingStreams),
		done:               make(chan struct{}),
		pending:            map[net.Conn]struct{}{},
	}
	x.wg.Go(x.dispatchLoop)
	return x
}

// StreamCh returns the streams that belong to memberlist.
func (x *mux) StreamCh() <-chan net.Conn { return x.streams }

// Shutdown stops dispatching, shuts the inner transport down and waits for
// every connection still being classified. It may be called more than once.
func (x *mux) Shutdown() error {
	var err error
	x.once.Do(func() {
		close(x.done)
		// A transport may still hand over a connection it accepted just
		// before, and wait for that handover in its own Shutdown
		// (memberlist's NetTransport does): keep taking them, and closing
		// them, until it is down.
		stopDrain := make(chan struct{})
		var drain sync.WaitGroup
		drain.Go(func() {
			for {
				select {
				case c, ok := <-x.inner.StreamCh():
					if !ok {
						return
					}
					_ = c.Close()
				case <-stopDrain:
					return
				}
			}
		})
		err = x.inner.Shutdown()
		close(stopDrain)
		drain.Wait()
		x.mu.Lock()
		for c := range x.pending {
			_ = c.Close()
		}
		x.mu.Unlock()
	})
	x.wg.Wait()
	return err
}

func (x *mux) dispatchLoop() {
	in := x.inner.StreamCh()
	for {
		select {
		case <-x.done:
			return
		case c, ok := <-in:
			if !ok {
				return
			}
			select {
			case x.slots <- struct{}{}:
			default:
				_ = c.Close()
				x.refused(refusedOverload, 0, c.RemoteAddr().String(), nil)
				continue
			}
			if !x.track(c) {
				<-x.slots
				_ = c.Close()
				return
			}
			x.wg.Go(func() { x.classify(c) })
		}
	}
}

// track records c as pending unless Shutdown already closed the others.
func (x *mux) track(c net.Conn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	select {
	case <-x.done:
		return false
	default:
	}
	x.pending[c] = struct{}{}
	return true
}

func (x *mux) untrack(c net.Conn) {
	x.mu.Lock()
	delete(x.pending, c)
	x.mu.Unlock()
	<-x.slots
}

// classify reads c's first byte and hands c to memberlist or, after the
// handshake, to the channel's Accept.
func (x *mux) classify(c net.Conn) {
	peer := c.RemoteAddr().String()
	sc, l, ok := x.handshake(c, peer)
	x.untrack(c)
	if !ok {
		_ = c.Close()
		return
	}
	if l == nil { // memberlist's
		select {
		case x.streams <- sc:
		case <-x.done:
			_ = sc.Close()
		}
		return
	}
	t := time.NewTimer(x.timeout)
	defer t.Stop()
	select {
	case l.conns <- sc:
		if l.isClosed() {
			// Close may have drained the queue just before this send.
			l.drain()
		}
	case <-l.closed:
		_ = sc.Close()
		x.refused(refusedNotAccepted, l.kind, peer, errors.New("channel closed"))
	case <-x.done:
		_ = sc.Close()
	case <-t.C:
		_ = sc.Close()
		x.refused(refusedNotAccepted, l.kind, peer, errors.New("accept backlog full"))
	}
}

// handshake runs the pending part of classify under the deadline: the first
// byte, and for a channel its handshake. A nil layer means memberlist's.
func (x *mux) handshake(c net.Conn, peer string) (net.Conn, *StreamLayer, bool) {
	if err := c.SetDeadline(time.Now().Add(x.timeout)); err != nil {
		return nil, nil, false
	}
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			x.refused(refusedTimeout, 0, peer, err)
		} else {
			x.logger.Debug("gossip connection closed before its first byte", "peer", peer, "err", err)
		}
		return nil, nil, false
	}
	kind := first[0]
	if !validStreamKind(kind) {
		// memberlist sets its own deadline on every stream it handles.
		if err := c.SetDeadline(time.Time{}); err != nil {
			return nil, nil, false
		}
		return &prefixConn{Conn: c, prefix: first[:]}, nil, true
	}
	l := x.layers[kind]
	open := l != nil && !l.isClosed()
	sc, reason, err := x.sec.server(c, kind, open)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			reason = refusedTimeout
		}
		x.refused(reason, kind, peer, err)
		return nil, nil, false
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, nil, false
	}
	return sc, l, true
}

// refused counts and logs a stream refused before reaching its user: at
// Warn once a minute, since a misconfigured key must show, and at Debug
// otherwise, since strangers must not flood the log.
func (x *mux) refused(reason string, kind byte, peer string, err error) {
	x.metrics.streamsRefused.WithLabelValues(reason).Inc()
	now := time.Now()
	x.mu.Lock()
	warn := now.Sub(x.lastWarn) >= refusedWarnEvery
	if warn {
		x.lastWarn = now
	}
	x.mu.Unlock()
	level := slog.LevelDebug
	msg := "gossip stream refused"
	if warn {
		level = slog.LevelWarn
		msg = "gossip stream refused (more refusals logged at debug for a minute; see vigil_gossip_streams_refused_total)"
	}
	x.logger.Log(context.Background(), level, msg, "reason", reason, "channel", kind, "peer", peer, "err", err)
}

// prefixConn gives back the bytes read to classify a connection before the
// rest of it.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
