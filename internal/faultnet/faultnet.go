// Package faultnet is a test helper that partitions memberlist peers inside
// one process: a Network decides which address pairs may talk, and each
// peer's Transport (a wrapped memberlist.NetTransport) drops traffic between
// blocked pairs.
//
// Filtering happens where the address pair is known: outgoing packets and
// dials by destination, incoming packets by source. Incoming streams arrive
// from ephemeral ports and are not filtered, so every peer of a test must
// use a Transport of the same Network for a block to be complete.
package faultnet

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrBlocked is returned when dialling across a blocked pair.
var ErrBlocked = errors.New("faultnet: blocked")

// Network holds the set of blocked address pairs shared by Transports.
type Network struct {
	mu      sync.RWMutex
	blocked map[[2]string]bool
	// allowed lists, for a blocked pair, the stream kinds (the first byte
	// the dialer writes) that still pass: a partial partition.
	allowed map[[2]string][]byte
	conns   map[*conn]struct{}
}

// NewNetwork returns a network where every pair may talk.
func NewNetwork() *Network {
	return &Network{blocked: map[[2]string]bool{}, allowed: map[[2]string][]byte{}, conns: map[*conn]struct{}{}}
}

// Block stops all traffic between addresses a and b, both directions, and
// closes the streams already open between them (as a reset would).
func (n *Network) Block(a, b string) { n.BlockExcept(a, b) }

// BlockExcept blocks a and b like Block, except for TCP streams whose first
// byte, written by the dialer, is one of kinds: for example gossip cut
// while the Raft channel of the same port still passes.
func (n *Network) BlockExcept(a, b string, kinds ...byte) {
	n.mu.Lock()
	n.blocked[[2]string{a, b}] = true
	n.blocked[[2]string{b, a}] = true
	n.allowed[[2]string{a, b}] = kinds
	n.allowed[[2]string{b, a}] = kinds
	var cut []*conn
	for c := range n.conns {
		if (c.from == a && c.to == b) || (c.from == b && c.to == a) {
			if k := c.kind.Load(); k < 0 || !slices.Contains(kinds, byte(k)) {
				cut = append(cut, c)
			}
		}
	}
	n.mu.Unlock()
	for _, c := range cut {
		_ = c.Conn.Close()
	}
}

// IsolateExcept blocks addr from each of others, except for streams of kinds.
func (n *Network) IsolateExcept(addr string, others []string, kinds ...byte) {
	for _, o := range others {
		if o != addr {
			n.BlockExcept(addr, o, kinds...)
		}
	}
}

// streamAllowed reports whether a stream of kind may pass from a to b.
func (n *Network) streamAllowed(a, b string, kind byte) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return !n.blocked[[2]string{a, b}] || slices.Contains(n.allowed[[2]string{a, b}], kind)
}

// fullyBlocked reports whether no stream at all may pass from a to b.
func (n *Network) fullyBlocked(a, b string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.blocked[[2]string{a, b}] && len(n.allowed[[2]string{a, b}]) == 0
}

// conn is a dialled stream the Network can cut.
type conn struct {
	net.Conn
	n        *Network
	from, to string
	kind     atomic.Int32 // first byte written; -1 before
}

func (c *conn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.kind.CompareAndSwap(-1, int32(b[0]))
	}
	if k := c.kind.Load(); k >= 0 && !c.n.streamAllowed(c.from, c.to, byte(k)) {
		_ = c.Conn.Close()
		return 0, fmt.Errorf("write to %s: %w", c.to, ErrBlocked)
	}
	return c.Conn.Write(b)
}

func (c *conn) Close() error {
	c.n.mu.Lock()
	delete(c.n.conns, c)
	c.n.mu.Unlock()
	return c.Conn.Close()
}

// Isolate blocks addr from each of others.
func (n *Network) Isolate(addr string, others ...string) {
	for _, o := range others {
		if o != addr {
			n.Block(addr, o)
		}
	}
}

// Heal removes every block.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.blocked)
	clear(n.allowed)
}

// Blocked reports whether traffic from a to b is blocked.
func (n *Network) Blocked(a, b string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.blocked[[2]string{a, b}]
}

// Transport is a memberlist transport whose traffic obeys a Network.
type Transport struct {
	*memberlist.NetTransport
	net     *Network
	addr    string
	packets chan *memberlist.Packet
	done    chan struct{} // Shutdown started: stop forwarding
	stopped chan struct{} // wrapped transport shut down: stop draining
	once    sync.Once
	wg      sync.WaitGroup
	dropped atomic.Int64
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// NewTransport binds a memberlist.NetTransport to a free port on ip (use a
// loopback address) and wraps it. Use Addr as the peer's bind address.
func (n *Network) NewTransport(ip string) (*Transport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{ip},
		BindPort:  0,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen on %s: %w", ip, err)
	}
	t := &Transport{
		NetTransport: nt,
		net:          n,
		addr:         net.JoinHostPort(ip, strconv.Itoa(nt.GetAutoBindPort())),
		packets:      make(chan *memberlist.Packet),
		done:         make(chan struct{}),
		stopped:      make(chan struct{}),
	}
	t.wg.Go(t.filterPackets)
	return t, nil
}

// Addr returns the host:port the transport listens on.
func (t *Transport) Addr() string { return t.addr }

// Dropped returns how many packets and dials were dropped so far.
func (t *Transport) Dropped() int64 { return t.dropped.Load() }

// filterPackets forwards incoming packets whose source is not blocked. After
// Shutdown starts it keeps draining, because NetTransport's UDP reader blocks
// on an unread channel and its Shutdown waits for that reader.
func (t *Transport) filterPackets() {
	in := t.NetTransport.PacketCh()
	for {
		select {
		case <-t.done:
			for {
				select {
				case <-in:
				case <-t.stopped:
					return
				}
			}
		case p := <-in:
			if t.net.Blocked(p.From.String(), t.addr) {
				t.dropped.Add(1)
				continue
			}
			select {
			case t.packets <- p:
			case <-t.done:
			}
		}
	}
}

// PacketCh returns the filtered incoming packets.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// WriteTo sends a packet unless the pair is blocked, in which case it
// vanishes silently, as on a real network.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress is WriteTo for memberlist's node-aware path.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.net.Blocked(t.addr, a.Addr) {
		t.dropped.Add(1)
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

// DialTimeout dials unless the pair is blocked.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout dials unless the pair is blocked, in which case it
// fails at once (a partition that answers faster than a real one, which
// keeps tests short).
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.net.fullyBlocked(t.addr, a.Addr) {
		t.dropped.Add(1)
		return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrBlocked)
	}
	c, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	tc := &conn{Conn: c, n: t.net, from: t.addr, to: a.Addr}
	tc.kind.Store(-1)
	t.net.mu.Lock()
	t.net.conns[tc] = struct{}{}
	t.net.mu.Unlock()
	return tc, nil
}

// Shutdown stops the filter and the wrapped transport.
func (t *Transport) Shutdown() error {
	var err error
	t.once.Do(func() {
		close(t.done)
		err = t.NetTransport.Shutdown()
		close(t.stopped)
		t.wg.Wait()
	})
	return err
}
