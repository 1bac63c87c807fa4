package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testGossipKey is a valid 32-byte key, base64.
const testGossipKey = "Y29uZmlnLXRlc3QtZ29zc2lwLWtleS0zMi1ieXRlcyE="

func TestGossipKeyRequired(t *testing.T) {
	fs := func(args ...string) (Config, error) {
		t.Helper()
		return loadRaw(t, nil, append([]string{"--node.name", "a"}, args...)...)
	}
	_, err := fs()
	if err == nil || !strings.Contains(err.Error(), "gossip.encryption_key") || !strings.Contains(err.Error(), "gossip.insecure") {
		t.Fatalf("no key: %v, want an error naming gossip.encryption_key and gossip.insecure", err)
	}
	cfg, err := fs("--gossip.insecure")
	if err != nil {
		t.Fatalf("gossip.insecure: %v", err)
	}
	if w := strings.Join(Warnings(cfg), "\n"); !strings.Contains(w, "gossip.insecure") {
		t.Errorf("warnings %q do not name gossip.insecure", w)
	}
	if _, err := fs("--gossip.encryption_key", testGossipKey); err != nil {
		t.Errorf("with a key: %v", err)
	}
}

// loadRaw loads without the helper's default gossip key.
func loadRaw(t *testing.T, environ []string, args ...string) (Config, error) {
	t.Helper()
	cfg, err := load(t, "", append(environ, "VIGIL_GOSSIP__ENCRYPTION_KEY="), args...)
	return cfg, err
}

func TestHTTPSecurityKeys(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--http.admin_token", "x", "--http.admin_token_file", "/f"}, "http.admin_token and http.admin_token_file"},
		{[]string{"--http.enqueue_token", "x", "--http.enqueue_token_file", "/f"}, "http.enqueue_token and http.enqueue_token_file"},
		{[]string{"--http.admin_token", "same", "--http.enqueue_token", "same"}, "http.enqueue_token equals http.admin_token"},
		{[]string{"--http.read_timeout", "0s"}, "http.read_timeout (0s)"},
		{[]string{"--http.max_body_bytes_in_flight", "10"}, "http.max_body_bytes_in_flight (10)"},
		{[]string{"--http.max_header_bytes", "10"}, "http.max_header_bytes (10)"},
		{[]string{"--http.tls.key_file", "k"}, "http.tls.cert_file"},
		{[]string{"--sentinel.tls.client_ca_file", "ca"}, "sentinel.tls.client_ca_file"},
		{[]string{"--redis.tls.ca_file", "ca"}, "redis.tls.enabled is false"},
		{[]string{"--retryq.allowed_commands", "set,flushall"}, "retryq.allowed_commands: FLUSHALL"},
		{[]string{"--sentinel.handshake_timeout", "0s"}, "sentinel.handshake_timeout"},
		{[]string{"--proxy.idle_timeout", "-1s"}, "proxy.idle_timeout"},
	} {
		_, err := load(t, "", nil, append([]string{"--node.name", "a"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h := DefaultHTTPConfig()
	h.AdminTokenFile = write("admin", "adm\n")
	h.EnqueueToken = "enq"
	got, err := h.ReadTokens()
	if err != nil || got != (Tokens{Admin: "adm", Enqueue: "enq"}) {
		t.Errorf("ReadTokens = %+v, %v", got, err)
	}
	h.EnqueueToken, h.EnqueueTokenFile = "", write("empty", "\n")
	if _, err := h.ReadTokens(); err == nil || !strings.Contains(err.Error(), "http.enqueue_token_file") {
		t.Errorf("empty token file: %v, want an error naming http.enqueue_token_file", err)
	}
	h.EnqueueTokenFile = write("same", "adm")
	if _, err := h.ReadTokens(); err == nil || !strings.Contains(err.Error(), "equals") {
		t.Errorf("equal tokens from files: %v, want refused", err)
	}
	h.AdminTokenFile = filepath.Join(dir, "missing")
	if _, err := h.ReadTokens(); err == nil || !strings.Contains(err.Error(), "http.admin_token_file") {
		t.Errorf("missing file: %v, want an error naming http.admin_token_file", err)
	}
}

func TestWarnings(t *testing.T) {
	secure := Default()
	secure.Node.Name = "a"
	secure.Gossip.EncryptionKey = testGossipKey
	secure.Redis.PasswordFile = "/run/secrets/redis"
	secure.HTTP.ListenAddr = "127.0.0.1:9380"
	secure.Sentinel.ListenAddr = "127.0.0.1:26379"
	if w := Warnings(secure); len(w) != 0 {
		t.Errorf("secure configuration warned: %q", w)
	}
	open := secure
	open.HTTP.ListenAddr = ":9380"
	open.HTTP.EnqueueToken = "t"
	open.Redis.TLS.Enabled, open.Redis.TLS.InsecureSkipVerify = true, true
	open.Sentinel.ListenAddr = ":26379"
	w := strings.Join(Warnings(open), "\n")
	for _, key := range []string{"http.admin_token", "http.tls.cert_file", "redis.tls.insecure_skip_verify", "sentinel.password"} {
		if !strings.Contains(w, key) {
			t.Errorf("warnings do not name %s:\n%s", key, w)
		}
	}
}
