package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// A TLS-only Redis is probed over TLS with redis.tls; a wrong CA, no
// client certificate or plain TCP leave it unreachable, never a panic.
func TestProbeTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srvPair, cliPair := ca.Issue(t, "redis"), ca.Issue(t, "vigil")
	primary := redistest.Start(t, redistest.Options{TLS: &redistest.TLSFiles{CAFile: ca.CertFile, CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile}})
	replica := redistest.Start(t, redistest.Options{ReplicaOf: primary.Addr(),
		TLS: &redistest.TLSFiles{CAFile: ca.CertFile, CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile}})
	replica.WaitSynced(t)
	cfg := Config{Interval: 50 * time.Millisecond, Timeout: 2 * time.Second}
	good := tlsconfig.ClientConfig{Enabled: true, CAFile: ca.CertFile, CertFile: cliPair.CertFile, KeyFile: cliPair.KeyFile}

	// Loaded once (as cmd/vigil does) and loaded per dial: both work.
	loaded, err := tlsconfig.NewClient("redis.tls", good)
	if err != nil {
		t.Fatal(err)
	}
	for name, rc := range map[string]RedisConfig{
		"loaded":   {TLS: good, TLSClient: loaded},
		"per dial": {TLS: good},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := newTestProber(t, replica.Addr(), rc, cfg)
			o := probeUntil(t, p, 10*time.Second, func(o Observation) error {
				if err := reachable(o); err != nil {
					return err
				}
				if o.Role != RoleReplica || !o.LinkUp {
					return fmt.Errorf("role %s link %v, want a replica with its TLS link up", o.Role, o.LinkUp)
				}
				return nil
			})
			if o.MasterAddr() != primary.Addr() {
				t.Errorf("master %s, want %s", o.MasterAddr(), primary.Addr())
			}
		})
	}

	other := testcerts.NewCA(t, "other")
	for name, rc := range map[string]RedisConfig{
		"wrong CA":       {TLS: tlsconfig.ClientConfig{Enabled: true, CAFile: other.CertFile, CertFile: cliPair.CertFile, KeyFile: cliPair.KeyFile}},
		"no client cert": {TLS: tlsconfig.ClientConfig{Enabled: true, CAFile: ca.CertFile}},
		"plain TCP":      {},
		"missing CA":     {TLS: tlsconfig.ClientConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := newTestProber(t, primary.Addr(), rc, Config{Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond})
			if o := p.ProbeNow(t.Context()); o.Reachable() {
				t.Errorf("probe reachable (%+v), want unreachable", o)
			}
		})
	}
}
