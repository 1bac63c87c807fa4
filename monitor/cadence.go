package monitor

import (
	"context"
	"net"
	"syscall"
	"time"
)

// Ticker fires at every multiple of its interval on the wall clock, so
// every loop of a sidecar that runs at monitor.interval wakes at the same
// instants. On an idle sidecar waking up is most of the cost: loops that
// share one wake-up instead of each having their own cut it by as many
// loops as there are. A time.Ticker cannot do this: its phase is the
// instant it was made, which is a wake-up latency after the grid instant
// and different for every loop, so each loop would wake on its own.
//
// Unlike a time.Ticker it does not re-arm itself: after each receive from
// C the owner calls Next.
type Ticker struct {
	C        <-chan time.Time
	timer    *time.Timer
	interval time.Duration
}

// NewTicker returns a Ticker that first fires at the next multiple of
// interval on the wall clock.
func NewTicker(interval time.Duration) *Ticker {
	t := time.NewTimer(UntilNext(interval))
	return &Ticker{C: t.C, timer: t, interval: interval}
}

// Next arms the Ticker for the next multiple of its interval. A loop that
// overran an instant skips it, as a time.Ticker drops ticks.
func (t *Ticker) Next() { t.timer.Reset(UntilNext(t.interval)) }

// Stop stops the Ticker; C receives nothing more.
func (t *Ticker) Stop() { t.timer.Stop() }

// UntilNext is how long until the next multiple of interval on the wall
// clock: the instant the Tickers fire at. A timer that fired a moment
// early on the wall clock (the runtime times timers on the monotonic one)
// must not fire again at once, so an instant closer than a tenth of the
// interval counts as the one just passed.
func UntilNext(interval time.Duration) time.Duration {
	return untilNext(time.Now(), interval)
}

func untilNext(now time.Time, interval time.Duration) time.Duration {
	d := now.Truncate(interval).Add(interval).Sub(now)
	if d < interval/10 {
		d += interval
	}
	return d
}

// GridDeadline is now+timeout rounded up to the next multiple of interval
// on the wall clock, when interval is no longer than timeout (so the
// deadline grows by less than its own length); otherwise now+timeout.
//
// Why: a deadline that a command sets and the next command moves later
// leaves the runtime's timer heap holding the old instant, and the
// process wakes at that instant to find nothing due. A probe every
// interval with a timeout longer than the interval therefore woke an idle
// sidecar once more per interval and connection, off the grid. On the grid
// the stale instant coincides with a tick the process wakes for anyway.
func GridDeadline(now time.Time, timeout, interval time.Duration) time.Time {
	return gridCeil(now.Add(timeout), timeout, interval)
}

// ProbeContext is the context of one probe every cfg.Interval: it ends
// at GridDeadline of now, cfg.Timeout and cfg.Interval, or with ctx.
func ProbeContext(ctx context.Context, cfg Config) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, GridDeadline(time.Now(), cfg.Timeout, cfg.Interval))
}

// gridCeil rounds the deadline d, set timeout ahead, as GridDeadline does.
// The zero time (no deadline) stays.
func gridCeil(d time.Time, timeout, interval time.Duration) time.Time {
	if d.IsZero() || interval <= 0 || interval > timeout {
		return d
	}
	if r := d.Truncate(interval); r.Before(d) {
		return r.Add(interval)
	}
	return d
}

// gridConn rounds every deadline set on it up to the grid (GridDeadline).
type gridConn struct {
	net.Conn
	timeout, interval time.Duration
}

func (c gridConn) SetDeadline(t time.Time) error {
	return c.Conn.SetDeadline(gridCeil(t, c.timeout, c.interval))
}

func (c gridConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(gridCeil(t, c.timeout, c.interval))
}

func (c gridConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(gridCeil(t, c.timeout, c.interval))
}

// gridSysConn is a gridConn over a socket. It keeps the socket visible
// (syscall.Conn) for go-redis's pooled-connection health check, which
// skips connections that hide it, such as TLS ones.
type gridSysConn struct{ gridConn }

func (c gridSysConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// onGrid wraps c so its deadlines land on the grid of interval.
func onGrid(c net.Conn, timeout, interval time.Duration) net.Conn {
	g := gridConn{Conn: c, timeout: timeout, interval: interval}
	if _, ok := c.(syscall.Conn); ok {
		return gridSysConn{g}
	}
	return g
}
