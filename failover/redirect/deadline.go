package redirect

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// idleConn closes quiet connections: its Read fails once nothing moved
// for idle (0: never), or before the first byte arrived within first
// (the handshake timeout: TLS handshake and first command; 0: idle
// applies). Connections that must idle on purpose (Sentinel pub/sub
// subscribers) are exempted with exemptIdle. The activity clock may be
// shared by the two sides of a proxied connection, so traffic in either
// direction keeps both open.
type idleConn struct {
	net.Conn
	idle, first time.Duration
	last        *atomic.Int64 // unix nanos of the last byte read on either side
	seen        atomic.Bool   // a byte was read on this side
	exempt      atomic.Bool
}

func newIdleConn(c net.Conn, idle, first time.Duration, last *atomic.Int64) *idleConn {
	if last == nil {
		last = new(atomic.Int64)
		last.Store(time.Now().UnixNano())
	}
	return &idleConn{Conn: c, idle: idle, first: first, last: last}
}

// Read reads with the deadline the connection's state calls for. A
// deadline that passes while the other side was active is extended, never
// surfaced.
func (c *idleConn) Read(p []byte) (int, error) {
	for {
		limit := c.idle
		if !c.seen.Load() && c.first > 0 {
			limit = c.first
		}
		var deadline time.Time
		if limit > 0 && !c.exempt.Load() {
			deadline = time.Unix(0, c.last.Load()).Add(limit)
		}
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.seen.Store(true)
			c.last.Store(time.Now().UnixNano())
		}
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			if c.exempt.Load() {
				continue
			}
			limit := c.idle
			if !c.seen.Load() && c.first > 0 {
				limit = c.first
			}
			if time.Since(time.Unix(0, c.last.Load())) < limit {
				continue // the other direction moved meanwhile
			}
		}
		return n, err
	}
}

// exemptIdle lifts the idle and handshake timeouts from c, whatever
// wrappers (TLS) sit above the idleConn.
func exemptIdle(c net.Conn) {
	for c != nil {
		switch v := c.(type) {
		case *idleConn:
			v.exempt.Store(true)
			// Wake a Read blocked on the old deadline; it re-arms
			// without one.
			_ = v.Conn.SetReadDeadline(time.Time{})
			return
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return
		}
	}
}
