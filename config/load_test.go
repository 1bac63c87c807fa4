package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, yaml string, environ []string, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	if yaml != "" {
		path := filepath.Join(t.TempDir(), "vigil.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", path}, args...)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	// vigil run requires a gossip key; tests about other keys get one.
	environ = append([]string{"VIGIL_GOSSIP__ENCRYPTION_KEY=" + testGossipKey}, environ...)
	return Load(fs, environ)
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := load(t, "", nil, "--node.name", "a")
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if got, want := cfg.Gossip.Label, cfg.Failover.MasterName; got != want {
		t.Errorf("gossip.label = %q, want the master name %q", got, want)
	}
}

func TestBadFileNamesEveryKey(t *testing.T) {
	_, err := load(t, `
node: {name: a}
redis:
  addr: "not-an-address"
monitor:
  interval: 10xs
failover:
  down_after: 1s
  fence_after: 2s
  quorom: 2
`, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`"failover.quorom"`,
		`monitor.interval ("10xs")`,
		"failover.fence_after (2s) must be shorter than failover.down_after (1s)",
		`redis.addr ("not-an-address")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := "node: {name: a}\nredis: {addr: '127.0.0.1:1001'}\nmonitor: {interval: 1s}\nfailover: {quorum: 3}\n"
	env := []string{"VIGIL_REDIS__ADDR=127.0.0.1:1002", "VIGIL_MONITOR__INTERVAL=2s", "VIGIL_EVENT=ignored", "PATH=/bin"}
	cfg, err := load(t, file, env, "--redis.addr", "127.0.0.1:1003")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Redis.Addr, "127.0.0.1:1003"; got != want {
		t.Errorf("redis.addr = %q, want the flag's %q", got, want)
	}
	if got, want := cfg.Monitor.Interval, 2*time.Second; got != want {
		t.Errorf("monitor.interval = %v, want the environment's %v", got, want)
	}
	if got, want := cfg.Failover.Quorum, 3; got != want {
		t.Errorf("failover.quorum = %v, want the file's %v", got, want)
	}
}

func TestEnvUnknownKeyAndList(t *testing.T) {
	_, err := load(t, "", []string{"VIGIL_REDIS__ADRR=x"}, "--node.name", "a")
	if err == nil || !strings.Contains(err.Error(), `"redis.adrr"`) {
		t.Errorf("err = %v, want the unknown key named", err)
	}
	cfg, err := load(t, "", []string{"VIGIL_GOSSIP__JOIN=127.0.0.1:1, 127.0.0.1:2"}, "--node.name", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Gossip.Join, ";"); got != "127.0.0.1:1;127.0.0.1:2" {
		t.Errorf("gossip.join = %q", got)
	}
}

func TestRedactedMasksSecrets(t *testing.T) {
	cfg := Default()
	cfg.Redis.Password = "hunter2"
	for _, kv := range Redacted(cfg) {
		if strings.Contains(kv[1], "hunter2") {
			t.Fatalf("%s shows the secret", kv[0])
		}
	}
}

func TestListenersValidated(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--http.listen_addr", ":99999"}, []string{`http.listen_addr (":99999"): port must be in 0-65535`}},
		{[]string{"--sentinel.listen_addr", ":70000"}, []string{"sentinel.listen_addr", "0-65535"}},
		{[]string{"--http.listen_addr", ":7000", "--sentinel.listen_addr", "127.0.0.1:7000", "--proxy.listen_addr", ":7000", "--gossip.bind_addr", "0.0.0.0:7000"},
			[]string{
				`sentinel.listen_addr ("127.0.0.1:7000") clashes with http.listen_addr`,
				`proxy.listen_addr (":7000") clashes with http.listen_addr`,
				`proxy.listen_addr (":7000") clashes with sentinel.listen_addr`,
				`gossip.bind_addr ("0.0.0.0:7000") clashes with proxy.listen_addr`,
			}},
	}
	for _, tt := range tests {
		_, err := load(t, "", nil, append([]string{"--node.name", "a"}, tt.args...)...)
		if err == nil {
			t.Errorf("%v: accepted", tt.args)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error lacks %q:\n%v", tt.args, w, err)
			}
		}
	}
	// Different hosts on one port do not clash.
	if _, err := load(t, "", nil, "--node.name", "a", "--http.listen_addr", "127.0.0.1:7000", "--sentinel.listen_addr", "127.0.0.2:7000"); err != nil {
		t.Errorf("distinct hosts on one port: %v", err)
	}
}

func TestUnknownKeyDidYouMean(t *testing.T) {
	_, err := load(t, "failover:\n  quorom: 2\n", []string{"VIGIL_REDIS__ADR=x"}, "--node.name", "a")
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, w := range []string{`unknown key "failover.quorom" (did you mean "failover.quorum"?)`, `unknown key "redis.adr" (did you mean "redis.addr"?)`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestRedactedMasksURLCredentials(t *testing.T) {
	cfg, err := load(t, "", nil, "--node.name", "a", "--hooks.webhook_url", "https://bot:t0ken@hooks.example/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range Redacted(cfg) {
		if kv[0] == "hooks.webhook_url" {
			if strings.Contains(kv[1], "t0ken") || !strings.Contains(kv[1], "hooks.example/x") {
				t.Errorf("hooks.webhook_url printed as %q", kv[1])
			}
			return
		}
	}
	t.Error("hooks.webhook_url not printed")
}

// Credentials in a URL's query are masked too, each parameter in its place;
// other parameters are printed as they are.
func TestMaskURLQueryCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.example/x?token=t0ken", "https://hooks.example/x?token=********"},
		{"https://hooks.example/x?a=1&key=k3y&b=2", "https://hooks.example/x?a=1&key=********&b=2"},
		{"https://hooks.example/x?password=pw&secret=s3cret", "https://hooks.example/x?password=********&secret=********"},
		{"https://hooks.example/x?access_token=t&api_key=k&X-Amz-Signature=s", "https://hooks.example/x?access_token=********&api_key=********&X-Amz-Signature=********"},
		{"https://bot:pw@hooks.example/x?channel=ops&token=t", "https://bot:%2A%2A%2A%2A%2A%2A%2A%2A@hooks.example/x?channel=ops&token=********"},
		{"https://hooks.example/x?channel=ops", "https://hooks.example/x?channel=ops"},
		{"", ""},
	} {
		if got := maskURL(tc.in); got != tc.want {
			t.Errorf("maskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	cfg, err := load(t, "", nil, "--node.name", "a", "--hooks.webhook_url", "https://hooks.example/x?channel=ops&token=t0ken&secret=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range Redacted(cfg) {
		if kv[0] == "hooks.webhook_url" {
			if strings.Contains(kv[1], "t0ken") || strings.Contains(kv[1], "s3cret") || !strings.Contains(kv[1], "channel=ops") {
				t.Errorf("hooks.webhook_url printed as %q", kv[1])
			}
			return
		}
	}
	t.Error("hooks.webhook_url not printed")
}

// The divergent keeper's keys live under failover beside the failover
// core's, from every source, and are validated with their names.
func TestDivergentKeysUnderFailover(t *testing.T) {
	cfg, err := load(t, `
node: {name: a}
failover:
  quorum: 3
  divergent_writes: replay
  divergent_marker_ttl: 1h
`, []string{"VIGIL_FAILOVER__BACKLOG_BYTES=1048576"}, "--failover.divergent_capture_timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Divergent
	if cfg.Failover.Quorum != 3 || d.DivergentWrites != "replay" || d.MarkerTTL != time.Hour ||
		d.BacklogBytes != 1<<20 || d.CaptureTimeout != 5*time.Second || d.ReplayRetry != 30*time.Second {
		t.Fatalf("failover %+v, divergent %+v", cfg.Failover, d)
	}
	_, err = load(t, "node: {name: a}\nfailover: {divergent_writes: keep, backlog_bytes: 10}\n", nil)
	for _, want := range []string{`failover.divergent_writes ("keep")`, "failover.backlog_bytes (10)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}
