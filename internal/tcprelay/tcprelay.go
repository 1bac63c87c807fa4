// Package tcprelay is a test helper: a TCP relay on a free loopback port
// that forwards every connection to a target and can be cut and healed, to
// partition a Redis from some of its clients while others still reach it
// directly.
package tcprelay

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards connections from its listening address to a target.
type Relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  chan struct{}
}

// Start listens on a free 127.0.0.1 port and forwards to target until the
// test ends.
func Start(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tcprelay: listen: %v", err)
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// Addr is the relay's "127.0.0.1:port".
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Port is the relay's port.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Cut closes every relayed connection and refuses new ones (accepted and
// closed at once) until Heal.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		c.Close()
	}
}

// Heal lets connections through again.
func (r *Relay) Heal() {
	r.mu.Lock()
	r.cut = false
	r.mu.Unlock()
}

// Close stops the relay and closes every connection.
func (r *Relay) Close() {
	select {
	case <-r.done:
		return
	default:
		close(r.done)
	}
	r.ln.Close()
	r.Cut()
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.mu.Lock()
		if r.cut {
			r.mu.Unlock()
			c.Close()
			continue
		}
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

func (r *Relay) serve(c net.Conn) {
	defer r.wg.Done()
	defer r.forget(c)
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	r.mu.Lock()
	if r.cut {
		r.mu.Unlock()
		up.Close()
		return
	}
	r.conns[up] = struct{}{}
	r.mu.Unlock()
	defer r.forget(up)
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		// Either side ending ends both.
		dst.Close()
		src.Close()
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}

func (r *Relay) forget(c net.Conn) {
	c.Close()
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}
