package monitor

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestUntilNext(t *testing.T) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		at       time.Duration // after base, a multiple of every interval used
		interval time.Duration
		want     time.Duration
	}{
		{"mid interval", 30 * time.Millisecond, 100 * time.Millisecond, 70 * time.Millisecond},
		{"just after an instant", 100*time.Millisecond + time.Microsecond, 100 * time.Millisecond, 100*time.Millisecond - time.Microsecond},
		// A timer that fired a moment early on the wall clock must not
		// fire again at once: the instant just ahead counts as passed.
		{"just before an instant", 100*time.Millisecond - time.Microsecond, 100 * time.Millisecond, 100*time.Millisecond + time.Microsecond},
		{"on an instant", 200 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		{"one second grid", 250 * time.Millisecond, time.Second, 750 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := untilNext(base.Add(tc.at), tc.interval); got != tc.want {
				t.Errorf("untilNext(+%s, %s) = %s, want %s", tc.at, tc.interval, got, tc.want)
			}
		})
	}
}

func TestGridDeadline(t *testing.T) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name              string
		at                time.Duration
		timeout, interval time.Duration
		want              time.Duration // after base
	}{
		{"rounded up to the next probe", 3 * time.Millisecond, 250 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond},
		{"already on the grid", 50 * time.Millisecond, 250 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond},
		{"interval equal to the timeout", 10 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
		// Rounding would more than double a short timeout: it stays.
		{"interval longer than the timeout", 3 * time.Millisecond, 250 * time.Millisecond, time.Second, 253 * time.Millisecond},
		{"no grid", 3 * time.Millisecond, 250 * time.Millisecond, 0, 253 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := GridDeadline(base.Add(tc.at), tc.timeout, tc.interval)
			if want := base.Add(tc.want); !got.Equal(want) {
				t.Errorf("GridDeadline(+%s, %s, %s) = +%s, want +%s", tc.at, tc.timeout, tc.interval, got.Sub(base), tc.want)
			}
			if min := base.Add(tc.at + tc.timeout); got.Before(min) {
				t.Errorf("deadline +%s is shorter than the timeout", got.Sub(base))
			}
		})
	}
	if got := gridCeil(time.Time{}, time.Second, 100*time.Millisecond); !got.IsZero() {
		t.Errorf("no deadline became %s", got)
	}
}

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	read, write, both time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error      { c.both = t; return nil }
func (c *deadlineConn) SetReadDeadline(t time.Time) error  { c.read = t; return nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { c.write = t; return nil }

func TestOnGridRoundsEveryDeadline(t *testing.T) {
	inner := &deadlineConn{}
	c := onGrid(inner, 250*time.Millisecond, 100*time.Millisecond)
	if _, ok := c.(syscall.Conn); ok {
		t.Fatal("a connection without a socket (such as TLS) must not claim one: go-redis's health check would fail on it")
	}
	d := time.Date(2026, 12, 3, 10, 0, 0, 253_000_000, time.UTC)
	want := time.Date(2026, 12, 3, 10, 0, 0, 300_000_000, time.UTC)
	_ = c.SetReadDeadline(d)
	_ = c.SetWriteDeadline(d)
	_ = c.SetDeadline(d)
	if !inner.read.Equal(want) || !inner.write.Equal(want) || !inner.both.Equal(want) {
		t.Errorf("deadlines read %s write %s both %s, want all %s", inner.read, inner.write, inner.both, want)
	}
	_ = c.SetDeadline(time.Time{})
	if !inner.both.IsZero() {
		t.Errorf("clearing the deadline set %s", inner.both)
	}
}

func TestOnGridKeepsTheSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := onGrid(raw, 250*time.Millisecond, 100*time.Millisecond)
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatal("a TCP connection lost its socket: go-redis would skip its health check")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil || fd == 0 {
		t.Fatalf("socket: fd %d, err %v", fd, err)
	}
}

// TestTickerFiresOncePerInstant checks the Ticker fires, re-arms with Next
// (never twice in one interval), and stays quiet after Stop. Which
// instants it fires at is UntilNext's, checked by TestUntilNext.
func TestTickerFiresOncePerInstant(t *testing.T) {
	const interval = 20 * time.Millisecond
	tk := NewTicker(interval)
	var slots []time.Time
	for range 3 {
		select {
		case at := <-tk.C:
			slots = append(slots, at.Truncate(interval))
			tk.Next()
		case <-time.After(5 * time.Second):
			t.Fatal("no tick within 5s")
		}
	}
	for i := 1; i < len(slots); i++ {
		if !slots[i].After(slots[i-1]) {
			t.Errorf("ticks %d and %d fell in one interval (%s)", i-1, i, slots[i])
		}
	}
	tk.Stop()
	select {
	case <-tk.C:
		t.Error("a stopped Ticker fired")
	case <-time.After(3 * interval):
	}
}

// TestProbeClientDialsOnTheGrid checks which clients round their
// connections' deadlines: those that probe every interval do, the others
// (failover commands) keep exact deadlines.
func TestProbeClientDialsOnTheGrid(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := Config{Interval: 100 * time.Millisecond, Timeout: 250 * time.Millisecond}
	for _, tc := range []struct {
		name string
		new  func() *redis.Client
		grid bool
	}{
		{"probe client", func() *redis.Client { return NewProbeClient(l.Addr().String(), RedisConfig{}, cfg) }, true},
		{"command client", func() *redis.Client { return NewClient(l.Addr().String(), RedisConfig{}, cfg.Timeout) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.new()
			defer c.Close()
			conn, err := c.Options().Dialer(context.Background(), "tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, ok := conn.(gridSysConn); ok != tc.grid {
				t.Errorf("connection %T: on the grid %v, want %v", conn, ok, tc.grid)
			}
		})
	}
}
