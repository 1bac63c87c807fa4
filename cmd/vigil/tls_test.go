package main

// Issue 11 acceptance, TLS: TLS-only redis-servers (tls-port only,
// tls-replication yes, client certificates required), sidecars reaching
// them over TLS and serving the Sentinel endpoint over mutual TLS;
// go-redis and redis-py follow a failover of a SIGKILLed primary through
// it, and clients with a wrong CA or no certificate are refused.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// pyTLSDiscover asks each Sentinel endpoint (ports argv[4:]) over TLS for
// the primary and writes argv[1..] through redis-py's master_for, all
// with the CA and client certificate in argv[1:4].
const pyTLSDiscover = `
import json, sys
from redis.sentinel import Sentinel
ca, cert, key = sys.argv[1:4]
tls = dict(ssl=True, ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key, socket_timeout=5)
s = Sentinel([('127.0.0.1', int(p)) for p in sys.argv[4:]], sentinel_kwargs=tls, **tls)
m = s.discover_master('mymaster')
r = s.master_for('mymaster', **tls)
r.set('py:tls', 'ok')
print(json.dumps({'master': '%s:%d' % m, 'wrote': r.get('py:tls').decode()}))
`

func TestTLSFailoverThroughSentinelEndpoint(t *testing.T) {
	ca := testcerts.NewCA(t, "vigil-test")
	redisCert := ca.Issue(t, "redis")
	vigilCert := ca.Issue(t, "vigil")
	appCert := ca.Issue(t, "app")
	appTLS := ca.ClientTLS(t, &appCert)

	g := startSecGroup(t, redistest.Options{TLS: &redistest.TLSFiles{
		CAFile: ca.CertFile, CertFile: redisCert.CertFile, KeyFile: redisCert.KeyFile,
	}}, appTLS, nil, func(name string) []string {
		return []string{
			"--redis.tls.enabled",
			"--redis.tls.ca_file", ca.CertFile,
			"--redis.tls.cert_file", vigilCert.CertFile,
			"--redis.tls.key_file", vigilCert.KeyFile,
			"--sentinel.tls.cert_file", vigilCert.CertFile,
			"--sentinel.tls.key_file", vigilCert.KeyFile,
			"--sentinel.tls.client_ca_file", ca.CertFile,
			"--proxy.listen_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
		}
	})
	a, b := g.node("a"), g.node("b")
	var sentinels []string
	var ports []string
	for _, n := range g.nodes {
		sentinels = append(sentinels, n.sc.sentinel)
		_, p, _ := net.SplitHostPort(n.sc.sentinel)
		ports = append(ports, p)
	}
	ctx := context.Background()

	// Refused: a client that does not trust the sidecars' CA, and one
	// without a client certificate.
	other := testcerts.NewCA(t, "other")
	for name, tc := range map[string]*tls.Config{
		"wrong CA":              other.ClientTLS(t, &appCert),
		"no client certificate": ca.ClientTLS(t, nil),
	} {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a.sc.sentinel, TLSConfig: tc, MaxRetries: -1, DialTimeout: 2 * time.Second})
		_, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		sc.Close()
		if err == nil {
			t.Errorf("%s: the Sentinel endpoint answered", name)
		}
	}
	var certErr *tls.CertificateVerificationError
	sc := redis.NewSentinelClient(&redis.Options{Addr: a.sc.sentinel, TLSConfig: other.ClientTLS(t, &appCert), MaxRetries: -1})
	if err := sc.Ping(ctx).Err(); !errors.As(err, &certErr) {
		t.Errorf("wrong CA: %v, want a certificate verification error", err)
	}
	sc.Close()
	// A plain-text client gets nothing either.
	plain := redis.NewSentinelClient(&redis.Options{Addr: a.sc.sentinel, MaxRetries: -1, ReadTimeout: 2 * time.Second})
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("plain-text PING to the TLS Sentinel endpoint answered")
	}
	plain.Close()

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "mymaster", SentinelAddrs: sentinels, TLSConfig: appTLS,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1,
	})
	defer fc.Close()
	if err := fc.Set(ctx, "go:before", "1", 0).Err(); err != nil {
		t.Fatalf("go-redis through the TLS Sentinel endpoint: %v", err)
	}
	waitKey(t, a, "go:before", "1")

	// The proxy dials the primary over TLS (redis.tls); its clients speak
	// plain RESP to it.
	px := redis.NewClient(&redis.Options{Addr: b.sc.proxy, MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer px.Close()
	if err := px.Set(ctx, "proxy:tls", "1", 0).Err(); err != nil {
		t.Fatalf("SET through the proxy: %v", err)
	}
	waitKey(t, a, "proxy:tls", "1")
	// The retry queue replays over TLS.
	g.enqueue(b, `["SET","retryq:tls","1"]`)
	waitKey(t, a, "retryq:tls", "1")

	// redis-py's checks are subtests: without python3-redis they are
	// skipped, saying so (or fail, in CI as root: systemPython).
	pyView := func(name string, want *secNode) {
		t.Helper()
		t.Run(name, func(t *testing.T) { pyTLSView(t, systemPython(t), want, ca.CertFile, appCert, ports) })
	}
	pyView("redis-py before the failover", a)

	a.redis.Kill(t)
	next := g.waitPrimary(30*time.Second, "a")
	redistest.Eventually(t, 20*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return fc.Set(cctx, "go:after", "1", 0).Err()
	})
	waitKey(t, next, "go:after", "1")
	// The other replica follows the new primary with Redis's own TLS
	// replication.
	for _, n := range g.nodes {
		if n != a && n != next {
			linkUp(t, n, next)
		}
	}
	pyView("redis-py after the failover", next)
	t.Logf("failover over TLS: a killed, %s promoted", next.name)
}

// pyTLSView waits until redis-py, through the Sentinel endpoints on ports
// over mutual TLS, names want's Redis as the primary and writes to it.
func pyTLSView(t *testing.T, py string, want *secNode, caFile string, cert testcerts.Pair, ports []string) {
	t.Helper()
	redistest.Eventually(t, 20*time.Second, func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		args := append([]string{"-c", pyTLSDiscover, caFile, cert.CertFile, cert.KeyFile}, ports...)
		out, err := exec.CommandContext(cctx, py, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("redis-py: %v\n%s", err, out)
		}
		var got struct{ Master, Wrote string }
		if err := json.Unmarshal(out, &got); err != nil {
			return fmt.Errorf("redis-py output %q: %w", out, err)
		}
		if got.Master != want.redis.Addr() || got.Wrote != "ok" {
			return fmt.Errorf("redis-py saw master %s wrote %q, want %s and ok", got.Master, got.Wrote, want.redis.Addr())
		}
		return nil
	})
}
