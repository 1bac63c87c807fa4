package tlsconfig

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/testcerts"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string // "" means valid
	}{
		{"client off", ClientConfig{}.Validate("redis.tls"), ""},
		{"client on", ClientConfig{Enabled: true, CAFile: "ca"}.Validate("redis.tls"), ""},
		{"client cert without key", ClientConfig{Enabled: true, CertFile: "c"}.Validate("redis.tls"), "redis.tls.cert_file"},
		{"client keys while off", ClientConfig{CAFile: "ca"}.Validate("redis.tls"), "redis.tls.enabled is false"},
		{"server off", ServerConfig{}.Validate("sentinel.tls"), ""},
		{"server key without cert", ServerConfig{KeyFile: "k"}.Validate("http.tls"), "http.tls.cert_file"},
		{"client CA without cert", ServerConfig{ClientCAFile: "ca"}.Validate("http.tls"), "http.tls.client_ca_file"},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("%s: %v, want valid", c.name, c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("%s: %v, want an error naming %s", c.name, c.err, c.want)
		}
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	if _, err := NewClient("redis.tls", ClientConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}); err == nil || !strings.Contains(err.Error(), "redis.tls.ca_file") {
		t.Errorf("missing CA: %v, want an error naming redis.tls.ca_file", err)
	}
	if _, err := NewServer("sentinel.tls", ServerConfig{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}); err == nil || !strings.Contains(err.Error(), "sentinel.tls.cert_file") {
		t.Errorf("missing cert: %v, want an error naming sentinel.tls.cert_file", err)
	}
	if c, err := NewClient("redis.tls", ClientConfig{}); c != nil || err != nil {
		t.Errorf("disabled client: %v, %v; want nil, nil", c, err)
	}
}

// serve accepts TLS connections with srv until the test ends, completing
// each handshake.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String()
}

// Reload swaps the served certificate and the client CA: new handshakes
// see the new ones, and a failed reload keeps the old.
func TestServerReload(t *testing.T) {
	ca1, ca2 := testcerts.NewCA(t, "one"), testcerts.NewCA(t, "two")
	p1, p2 := ca1.Issue(t, "srv1"), ca2.Issue(t, "srv2")
	dir := t.TempDir()
	certFile, keyFile := dir+"/cert.pem", dir+"/key.pem"
	install := func(p testcerts.Pair) {
		for src, dst := range map[string]string{p.CertFile: certFile, p.KeyFile: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(p1)
	srv, err := NewServer("sentinel.tls", ServerConfig{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	dial := func(ca *testcerts.CA) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, ca.ClientTLS(t, nil))
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := dial(ca1); err != nil {
		t.Fatalf("before reload, trusting CA one: %v", err)
	}
	install(p2)
	if err := dial(ca1); err != nil {
		t.Fatalf("files changed but not reloaded: %v", err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	var certErr *tls.CertificateVerificationError
	if err := dial(ca1); !errors.As(err, &certErr) {
		t.Errorf("after reload, trusting CA one: %v, want a verification error", err)
	}
	if err := dial(ca2); err != nil {
		t.Errorf("after reload, trusting CA two: %v", err)
	}
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Error("reload of a garbage certificate succeeded")
	}
	if err := dial(ca2); err != nil {
		t.Errorf("a failed reload dropped the loaded certificate: %v", err)
	}
}

// Mutual TLS: with a client CA, clients without a certificate from it are
// refused; the client side presents its certificate and checks the
// server's name.
func TestMutualTLSAndClientDial(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srvPair, cliPair := ca.Issue(t, "server"), ca.Issue(t, "client")
	srv, err := NewServer("http.tls", ServerConfig{CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile, ClientCAFile: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	ctx := context.Background()
	read := func(c *Client) error {
		conn, err := c.DialContext(ctx, &net.Dialer{Timeout: 5 * time.Second}, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 2)
		if _, err := conn.Read(b); err != nil {
			return err
		}
		return nil
	}
	good, err := NewClient("redis.tls", ClientConfig{Enabled: true, CAFile: ca.CertFile, CertFile: cliPair.CertFile, KeyFile: cliPair.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := read(good); err != nil {
		t.Errorf("client with a certificate: %v", err)
	}
	noCert, _ := NewClient("redis.tls", ClientConfig{Enabled: true, CAFile: ca.CertFile})
	if err := read(noCert); err == nil {
		t.Error("client without a certificate was served")
	}
	wrongName, _ := NewClient("redis.tls", ClientConfig{Enabled: true, CAFile: ca.CertFile, CertFile: cliPair.CertFile, KeyFile: cliPair.KeyFile, ServerName: "elsewhere"})
	if err := read(wrongName); err == nil {
		t.Error("server name elsewhere accepted a certificate for 127.0.0.1")
	}
	// A server that accepts and never answers cannot hold a TLS dial past
	// the dialer's timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := good.DialContext(ctx, &net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", ln.Addr().String()); err == nil {
		t.Error("handshake with a silent server succeeded")
	}
	// A nil client dials plain TCP.
	var plain *Client
	c, err := plain.DialContext(ctx, &net.Dialer{Timeout: time.Second}, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("plain dial: %v", err)
	}
	if _, ok := c.(*tls.Conn); ok {
		t.Error("nil client dialled TLS")
	}
	c.Close()
}

// Client.Reload re-reads the CA: a rotated Redis CA is trusted after
// SIGHUP without a restart.
func TestClientReload(t *testing.T) {
	ca1, ca2 := testcerts.NewCA(t, "one"), testcerts.NewCA(t, "two")
	p2 := ca2.Issue(t, "redis")
	srv, err := NewServer("test.tls", ServerConfig{CertFile: p2.CertFile, KeyFile: p2.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	caFile := t.TempDir() + "/ca.pem"
	copyCA := func(ca *testcerts.CA) {
		b, err := os.ReadFile(ca.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(caFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyCA(ca1)
	c, err := NewClient("redis.tls", ClientConfig{Enabled: true, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	dial := func() error {
		conn, err := c.DialContext(context.Background(), &net.Dialer{Timeout: 5 * time.Second}, "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(); err == nil {
		t.Fatal("a server signed by CA two was trusted with CA one")
	}
	copyCA(ca2)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil {
		t.Errorf("after reload with CA two: %v", err)
	}
}
