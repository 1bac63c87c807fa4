package divergent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-redis/vigil/config/tlsconfig"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// The keeper reaches TLS-only servers with the reloadable redis.tls client:
// a client certificate rotated on disk and reloaded (what SIGHUP does)
// applies to the next capture and replay of a keeper built before the
// rotation, as it does to every other Redis client of the sidecar.
func TestKeepUsesReloadedTLSClient(t *testing.T) {
	ca, stranger := testcerts.NewCA(t, "redis"), testcerts.NewCA(t, "stranger")
	server := ca.Issue(t, "server")
	files := &redistest.TLSFiles{CAFile: ca.CertFile, CertFile: server.CertFile, KeyFile: server.KeyFile}
	a := redistest.Start(t, redistest.Options{TLS: files})
	b := redistest.Start(t, redistest.Options{TLS: files, ReplicaOf: a.Addr()})
	b.WaitSynced(t)
	p := pair{a, b}
	ctx := ctxT(t)
	fork := p.promote(t)
	if err := a.Client().Set(ctx, "tls:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pauseWrites(t, a)

	// The sidecar's client certificate starts as one Redis does not trust.
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	install := func(p testcerts.Pair) {
		t.Helper()
		for src, dst := range map[string]string{p.CertFile: cert, p.KeyFile: key} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(stranger.Issue(t, "old-client"))
	client, err := tlsconfig.NewClient("redis.tls", tlsconfig.ClientConfig{
		Enabled: true, CAFile: ca.CertFile, CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{Redis: RedisOptions{TLS: client}})
	req := Request{Epoch: 1, Node: "a", Addr: a.Addr(), Fork: fork, NewPrimary: b.Addr()}
	if _, err := k.Keep(ctx, req); err == nil {
		t.Fatal("keep with a client certificate Redis does not trust succeeded")
	}

	install(ca.Issue(t, "new-client"))
	if err := client.Reload(); err != nil {
		t.Fatal(err)
	}
	res, err := k.Keep(ctx, req)
	if err != nil || res.Replay == nil || !res.Replay.Complete() || res.Commands != 1 {
		t.Fatalf("keep after the reload: %+v %+v, err %v", res, res.Replay, err)
	}
	if v := b.Client().Get(ctx, "tls:k").Val(); v != "v" {
		t.Fatalf("tls:k on the new primary = %q, want the replayed write", v)
	}
}
