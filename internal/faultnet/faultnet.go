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
}

// NewNetwork returns a network where every pair may talk.
func NewNetwork() *Network {
	return &Network{blocked: map[[2]string]bool{}}
}

// Block stops all traffic between addresses a and b, both directions.
func (n *Network) Block(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked[[2]string{a, b}] = true
	n.blocked[[2]string{b, a}] = true
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
	if t.net.Blocked(t.addr, a.Addr) {
		t.dropped.Add(1)
		return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrBlocked)
	}
	return t.NetTransport.DialAddressTimeout(a, timeout)
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
