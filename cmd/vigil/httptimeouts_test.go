package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// closedBy reads c until the server closes it and returns how long that
// took; it fails the test when c is still open after limit (without the
// timeout under test it would stay open for good).
func closedBy(t *testing.T, what string, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open after %s", what, limit)
	}
	return time.Since(start)
}

// The HTTPS API of the real binary closes, each within its timeout, a
// client that stalls in its TLS ClientHello (Go bounds the handshake by the
// shortest of the read-header, read and write timeouts), one that
// sends half its headers (http.read_header_timeout) and an idle keep-alive
// connection (http.idle_timeout); a normal request is served meanwhile.
func TestHTTPTimeoutsCloseStalledConnections(t *testing.T) {
	ca := testcerts.NewCA(t, "http")
	pair := ca.Issue(t, "vigil")
	p := redistest.Start(t, redistest.Options{})
	web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	// The timeouts under test are short; the read and write timeouts,
	// which Go's server falls back on for each of them, are longer than
	// the test waits, so a missing one fails.
	const timeout, fallback = time.Second, time.Minute
	startCaptured(t, exec.Command(vigilBinary(t), "run", "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--redis.addr", p.Addr(), "--gossip.encryption_key", testGossipKey,
		"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
		"--sentinel.listen_addr", "", "--http.listen_addr", web,
		"--http.tls.cert_file", pair.CertFile, "--http.tls.key_file", pair.KeyFile,
		"--http.read_header_timeout", timeout.String(), "--http.read_timeout", fallback.String(),
		"--http.write_timeout", fallback.String(), "--http.idle_timeout", timeout.String(),
		"--log.format", "json"))
	tlsCfg := ca.ClientTLS(t, nil)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 5 * time.Second}
	redistest.Eventually(t, 20*time.Second, func() error {
		resp, err := hc.Get("https://" + web + "/-/healthy")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	const limit = 10 * timeout // generous for two loaded cores; never is the failure

	// A ClientHello record header, then nothing.
	hello, err := net.Dial("tcp", web)
	if err != nil {
		t.Fatal(err)
	}
	defer hello.Close()
	if _, err := hello.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x80}); err != nil {
		t.Fatal(err)
	}
	// Half a request's headers, over a completed handshake.
	slow, err := tls.Dial("tcp", web, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := fmt.Fprint(slow, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// A keep-alive connection that is served once, then idles.
	idle, err := tls.Dial("tcp", web, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := fmt.Fprint(idle, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("keep-alive request: %d, close %t; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}

	took := closedBy(t, "stalled ClientHello", hello, limit)
	t.Logf("stalled ClientHello closed after %s", took.Round(time.Millisecond))
	took = closedBy(t, "half-sent headers", slow, limit)
	t.Logf("half-sent headers closed after %s", took.Round(time.Millisecond))
	start := time.Now()
	_ = idle.SetReadDeadline(start.Add(limit))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("idle keep-alive connection: read %d, %v; want it closed by the server", n, err)
	}
	t.Logf("idle keep-alive connection closed after %s", time.Since(start).Round(time.Millisecond))
	// The server still serves.
	resp, err = hc.Get("https://" + web + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// http.write_timeout bounds a request from its headers to the end of its
// response: a handler slower than it gets its connection closed, and the
// client an error instead of a late answer.
func TestHTTPWriteTimeout(t *testing.T) {
	cfg := config.DefaultHTTPConfig()
	cfg.WriteTimeout = 200 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * cfg.WriteTimeout) // a handler slower than the write timeout
		writeText(w, http.StatusOK, "late")
	})
	srv := newHTTPServer(cfg, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + ln.Addr().String() + "/")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a handler slower than http.write_timeout answered %d; want the connection closed", resp.StatusCode)
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		t.Fatalf("GET: %v; want the server to close the connection, not the client's timeout", err)
	}
}
