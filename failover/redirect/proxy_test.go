package redirect

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// startProxy runs a proxy with the default settings on a free loopback
// port until the test ends.
func startProxy(t *testing.T, src *testSource) (string, *prometheus.Registry) {
	t.Helper()
	return startProxyWith(t, DefaultProxyConfig(), src)
}

// startProxyWith runs a proxy with cfg on a free loopback port until the
// test ends.
func startProxyWith(t *testing.T, cfg ProxyConfig, src *testSource) (string, *prometheus.Registry) {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	reg := prometheus.NewRegistry()
	p, err := NewProxy(cfg, src, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("proxy run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("proxy did not stop within 10s")
		}
	})
	return p.Addr().String(), reg
}

func TestProxyFollowsPrimary(t *testing.T) {
	primary, replica, src := group(t)
	addr, reg := startProxy(t, src)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A plain client that knows nothing of Sentinel, and a raw connection.
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 3, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer c.Close()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if primary.Client().Get(ctx, "before").Val() != "1" {
		t.Fatal("write through the proxy did not reach the primary")
	}
	raw := dialRESP(t, addr)
	if got := raw.do("PING"); got != "PONG" {
		t.Fatalf("raw PING through proxy: %#v", got)
	}
	lintMetrics(t, reg)
	if got := metricValue(t, reg, "vigil_proxy_connections"); got != 2 {
		t.Errorf("vigil_proxy_connections = %v, want 2", got)
	}

	if err := replica.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	oldP, newP := src.Snapshot().Primary, node("b", replica.Addr(), monitor.RolePrimary)
	src.Set(func(s *failover.Snapshot) { s.Primary, s.Replicas, s.Epoch = newP, nil, 4 })
	src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, Epoch: 4, OldPrimary: oldP, NewPrimary: newP})

	// The connection to the old primary is closed...
	_ = raw.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.rd.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("old connection after the switch: %v, want closed", err)
	}
	// ...as is the client's pooled one; a write racing the switch may
	// still land on the old primary, which a real failover has demoted.
	redistest.Eventually(t, 10*time.Second, func() error {
		if got := metricValue(t, reg, "vigil_proxy_connections"); got != 0 {
			return fmt.Errorf("%v connections to the old primary still open", got)
		}
		return nil
	})
	// ...and the client's writes go to the new one.
	redistest.Eventually(t, 10*time.Second, func() error {
		if err := c.Set(ctx, "after", "1", 0).Err(); err != nil {
			return err
		}
		if replica.Client().Get(ctx, "after").Val() != "1" {
			return errors.New("write went to the old primary")
		}
		return nil
	})
	if primary.Client().Exists(ctx, "after").Val() != 0 {
		t.Error("write after the switch reached the old primary")
	}
	if got := metricValue(t, reg, "vigil_proxy_switch_closed_total"); got < 1 {
		t.Errorf("vigil_proxy_switch_closed_total = %v, want >= 1", got)
	}
}

// A change of the topology that comes without an event (none was
// published, or it was missed) closes the connections to the old primary
// at once, not only at the next check interval.
func TestProxyWakesOnTopologyChange(t *testing.T) {
	_, replica, src := group(t)
	cfg := DefaultProxyConfig()
	cfg.CheckInterval = time.Hour // only the topology's change can wake it
	addr, reg := startProxyWith(t, cfg, src)
	raw := dialRESP(t, addr)
	if got := raw.do("PING"); got != "PONG" {
		t.Fatalf("raw PING through proxy: %#v", got)
	}
	start := time.Now()
	src.Set(func(s *failover.Snapshot) {
		s.Primary, s.Replicas, s.Epoch = node("b", replica.Addr(), monitor.RolePrimary), nil, 4
	})
	_ = raw.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.rd.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection to the old primary 5 s after the change: %v, want closed", err)
	}
	t.Logf("closed %s after the change", time.Since(start).Round(time.Millisecond))
	// Counted just after the close the client saw.
	redistest.Eventually(t, 5*time.Second, func() error {
		if got := metricValue(t, reg, "vigil_proxy_switch_closed_total"); got < 1 {
			return fmt.Errorf("vigil_proxy_switch_closed_total = %v, want >= 1", got)
		}
		return nil
	})
}

// refusedWithin dials addr and reports how long until the proxy closed
// the connection, failing the test if it stays open for a second.
func refusedWithin(t *testing.T, addr string) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return time.Since(start) // refused at connect: fine too
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	d := time.Since(start)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("connection still open after %s, want refused", d)
	case err == nil:
		t.Fatalf("read data from a refused connection")
	case !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET):
		t.Logf("refused with %v", err)
	}
	return d
}

func TestProxyRefusesWithoutWritablePrimary(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{})
	src := newTestSource(snapshotOf(node("a", primary.Addr(), monitor.RolePrimary)))
	src.Set(func(s *failover.Snapshot) { s.Writable = false })
	addr, reg := startProxy(t, src)

	d := refusedWithin(t, addr)
	t.Logf("connection refused %s after dialing while no primary was writable", d)
	if got := metricValue(t, reg, "vigil_proxy_refused_total", "reason", refuseNoPrimary); got != 1 {
		t.Errorf("refused{no_primary} = %v, want 1", got)
	}

	// Once writable again, connections go through.
	src.Set(func(s *failover.Snapshot) { s.Writable = true })
	if got := dialRESP(t, addr).do("PING"); got != "PONG" {
		t.Errorf("PING once writable: %#v", got)
	}

	// A primary that does not answer is refused too, after the dial fails.
	dead := redistest.Start(t, redistest.Options{})
	deadAddr := dead.Addr()
	dead.Kill(t)
	src.Set(func(s *failover.Snapshot) { s.Primary = node("x", deadAddr, monitor.RolePrimary) })
	d = refusedWithin(t, addr)
	t.Logf("connection refused %s after dialing while the primary was dead", d)
	redistest.Eventually(t, 5*time.Second, func() error {
		if got := metricValue(t, reg, "vigil_proxy_refused_total", "reason", refuseDialFailed); got != 1 {
			return fmt.Errorf("refused{dial_failed} = %v, want 1", got)
		}
		return nil
	})
}
