package redirect

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// closedWithin waits until the server closes c (a read returns EOF or a
// reset), failing after limit: without the timeouts under test the
// connection would stay open for good.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
}

func TestSentinelHandshakeAndIdleTimeouts(t *testing.T) {
	cfg := testSentinelConfig()
	// Long enough that a loaded machine sends its first command in time.
	cfg.HandshakeTimeout = time.Second
	cfg.IdleTimeout = 1500 * time.Millisecond
	src := shapeSource()
	_, addr, _ := startSentinel(t, cfg, "mymaster", src)

	silent := dialRESP(t, addr)
	idle := dialRESP(t, addr)
	if got := idle.do("PING"); got != "PONG" {
		t.Fatalf("PING = %v", got)
	}
	sub := dialRESP(t, addr)
	sub.send("SUBSCRIBE", "+switch-master")
	sub.read()

	closedWithin(t, silent.c, 10*time.Second)
	closedWithin(t, idle.c, 10*time.Second)
	// The subscriber outlived the idle connection by several idle
	// timeouts and still receives events, as in Redis.
	time.Sleep(2 * cfg.IdleTimeout)
	src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, OldPrimary: node("a", "127.0.0.1:6379", ""),
		NewPrimary: node("b", "127.0.0.1:6380", "")})
	if msg, ok := sub.read().([]any); !ok || len(msg) != 3 || msg[1] != "+switch-master" {
		t.Fatalf("subscriber got %v, want a +switch-master message", msg)
	}
}

// A TLS client that starts a handshake and stalls is dropped after the
// handshake timeout; a complete one is served.
func TestSentinelTLSHandshakeTimeout(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Issue(t, "sentinel")
	cfg := testSentinelConfig()
	cfg.HandshakeTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = 0
	cfg.TLS.CertFile, cfg.TLS.KeyFile = pair.CertFile, pair.KeyFile
	_, addr, _ := startSentinel(t, cfg, "mymaster", shapeSource())

	stall, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	// The first bytes of a ClientHello record, then nothing.
	if _, err := stall.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x80}); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, stall, 10*time.Second)

	c := redis.NewSentinelClient(&redis.Options{Addr: addr, TLSConfig: ca.ClientTLS(t, nil), MaxRetries: -1})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
	if err != nil || len(hp) != 2 || hp[1] != "6379" {
		t.Fatalf("get-master-addr-by-name over TLS: %v, %v", hp, err)
	}
	var certErr *tls.CertificateVerificationError
	other := redis.NewSentinelClient(&redis.Options{Addr: addr, TLSConfig: testcerts.NewCA(t, "other").ClientTLS(t, nil), MaxRetries: -1})
	defer other.Close()
	if err := other.Ping(context.Background()).Err(); !errors.As(err, &certErr) {
		t.Errorf("client with another CA: %v, want a certificate verification error", err)
	}
}

// proxy.idle_timeout closes pairs quiet both ways and keeps busy ones.
func TestProxyIdleTimeout(t *testing.T) {
	_, _, src := group(t)
	cfg := DefaultProxyConfig()
	cfg.IdleTimeout = time.Second // long enough for a loaded machine
	addr, _ := startProxyWith(t, cfg, src)

	// A busy connection, one command every tenth of the idle timeout,
	// outlives several idle timeouts.
	busy := dialRESP(t, addr)
	deadline := time.Now().Add(5 * cfg.IdleTimeout / 2)
	for time.Now().Before(deadline) {
		if got := busy.do("PING"); got != "PONG" {
			t.Fatalf("busy connection: PING = %v", got)
		}
		time.Sleep(cfg.IdleTimeout / 10)
	}
	// A quiet one is closed once nothing moved either way.
	quiet := dialRESP(t, addr)
	if got := quiet.do("PING"); got != "PONG" {
		t.Fatalf("PING through the proxy = %v", got)
	}
	closedWithin(t, quiet.c, 10*time.Second)
}

// proxy.handshake_timeout, on by default, drops a client that connects and
// sends nothing; a client that sent its first command may then idle for
// much longer (proxy.idle_timeout stays 0: pools idle for hours).
func TestProxyHandshakeTimeout(t *testing.T) {
	_, _, src := group(t)
	cfg := DefaultProxyConfig()
	if cfg.HandshakeTimeout <= 0 || cfg.IdleTimeout != 0 {
		t.Fatalf("defaults: handshake_timeout %s, idle_timeout %s; want a handshake timeout and no idle timeout",
			cfg.HandshakeTimeout, cfg.IdleTimeout)
	}
	cfg.HandshakeTimeout = 500 * time.Millisecond // long enough for a loaded machine's first PING
	addr, _ := startProxyWith(t, cfg, src)

	silent := dialRESP(t, addr)
	pooled := dialRESP(t, addr)
	if got := pooled.do("PING"); got != "PONG" {
		t.Fatalf("PING through the proxy = %v", got)
	}
	start := time.Now()
	closedWithin(t, silent.c, 10*time.Second)
	t.Logf("silent client closed %s after the check began", time.Since(start).Round(time.Millisecond))
	// The pooled connection, quiet since its PING, outlives several
	// handshake timeouts and still works.
	time.Sleep(4 * cfg.HandshakeTimeout)
	if got := pooled.do("PING"); got != "PONG" {
		t.Fatalf("pooled connection after %s quiet: PING = %v", 4*cfg.HandshakeTimeout, got)
	}
}
