package gossip

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Stream channels reserved by vigil. A channel is picked by the first byte a
// dialler writes on the gossip TCP port.
const (
	// StreamRaft carries hashicorp/raft's transport.
	StreamRaft byte = 0xF1
	// StreamAuthorityRPC carries requests forwarded to the Raft leader.
	StreamAuthorityRPC byte = 0xF2
)

// memberlist's streams start with one of its message types, which count up
// from 0 and only ever grow (0-13 in v0.7: ping, push/pull, user messages,
// compressMsg 9, encryptMsg 10 when gossip is encrypted, ...), or with its
// label header, byte 244, when gossip.label is set. Channel kinds keep clear
// of both: below memberlistTypesEnd is left to memberlist's future message
// types.
const (
	memberlistTypesEnd byte = 0x80
	memberlistLabelMsg byte = 244
)

var (
	// ErrStreamKind is returned by Stream for a kind memberlist's own
	// streams may start with.
	ErrStreamKind = errors.New("gossip: stream kind collides with memberlist")
	// ErrStreamRegistered is returned by Stream for a kind already
	// registered, or when Run has already started.
	ErrStreamRegistered = errors.New("gossip: stream kind already registered or peer already running")
)

// validStreamKind reports whether kind can never be the first byte of one of
// memberlist's own streams.
func validStreamKind(kind byte) bool {
	return kind >= memberlistTypesEnd && kind != memberlistLabelMsg
}

// StreamLayer is one channel of the gossip TCP port, selected by the first
// byte of each stream. It satisfies net.Listener; Dial opens a stream of this
// channel to a peer's gossip address. With gossip.encryption_key set, every
// stream is authenticated and encrypted with it, and a peer without the key
// is refused before Accept returns its stream.
type StreamLayer struct {
	kind byte
	peer *Peer

	conns     chan net.Conn // streams that passed the handshake
	closed    chan struct{}
	closeOnce sync.Once
}

var _ net.Listener = (*StreamLayer)(nil)

// Stream registers channel kind before Run. It refuses kinds memberlist's own
// streams may start with (ErrStreamKind: below 0x80, and 0xF4), a kind
// registered twice, and any call after Run started (ErrStreamRegistered).
func (p *Peer) Stream(kind byte) (*StreamLayer, error) {
	if !validStreamKind(kind) {
		return nil, fmt.Errorf("stream kind %#02x: %w", kind, ErrStreamKind)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started.Load() || p.layers[kind] != nil {
		return nil, fmt.Errorf("stream kind %#02x: %w", kind, ErrStreamRegistered)
	}
	l := &StreamLayer{
		kind:   kind,
		peer:   p,
		conns:  make(chan net.Conn, acceptBacklog),
		closed: make(chan struct{}),
	}
	p.layers[kind] = l
	return l, nil
}

// Accept waits for the next stream of this channel that passed the
// handshake. It returns an error wrapping net.ErrClosed once the layer is
// closed or the peer stopped.
func (l *StreamLayer) Accept() (net.Conn, error) {
	if l.isClosed() {
		return nil, fmt.Errorf("gossip: stream %#02x: %w", l.kind, net.ErrClosed)
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("gossip: stream %#02x: %w", l.kind, net.ErrClosed)
	}
}

// Close stops Accept; streams still queued are closed, streams already
// accepted are left to their owners, and new ones are refused. It may be
// called more than once.
func (l *StreamLayer) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.drain()
	})
	return nil
}

// drain closes the streams waiting for Accept.
func (l *StreamLayer) drain() {
	for {
		select {
		case c := <-l.conns:
			_ = c.Close()
		default:
			return
		}
	}
}

// isClosed reports whether Close was called.
func (l *StreamLayer) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// Addr returns the gossip advertise address (host:port), the address peers
// dial. It is final once the peer is Ready; before that it is the configured
// address.
func (l *StreamLayer) Addr() net.Addr {
	return streamAddr(l.peer.Addr())
}

// streamAddr is a host:port as a net.Addr; a TCPAddr when it parses.
func streamAddr(s string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", s); err == nil {
		return a
	}
	return stringAddr(s)
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// Dial opens a stream of this channel to the gossip address addr and runs
// the handshake; timeout bounds both. It returns ErrNotRunning before the
// peer is Ready and after it stopped.
func (l *StreamLayer) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	m := l.peer.mux.Load()
	if m == nil {
		return nil, ErrNotRunning
	}
	deadline := time.Now().Add(timeout)
	conn, err := m.inner.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
	if err != nil {
		return nil, fmt.Errorf("gossip: dial stream %#02x to %s: %w", l.kind, addr, err)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("gossip: dial stream %#02x to %s: %w", l.kind, addr, err)
	}
	sc, reason, err := m.sec.client(conn, l.kind)
	if err != nil {
		_ = conn.Close()
		if reason != "" {
			m.refused(reason, l.kind, addr, err)
		}
		return nil, fmt.Errorf("gossip: dial stream %#02x to %s: %w", l.kind, addr, err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = sc.Close()
		return nil, fmt.Errorf("gossip: dial stream %#02x to %s: %w", l.kind, addr, err)
	}
	return sc, nil
}
