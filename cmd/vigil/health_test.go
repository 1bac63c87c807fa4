package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false},
		{"1048576", 1 << 20, false},
		{"16MB", 16 << 20, false},
		{"16 MB", 16 << 20, false},
		{"1GiB", 1 << 30, false},
		{"512kB", 512 << 10, false},
		{"2KiB", 2048, false},
		{"3TB", 3 << 40, false},
		{"10B", 10, false},
		{"x", 0, true},
		{"-1", 0, true},
		{"1.5MB", 0, true},
		{"16XB", 0, true},
		{"99999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestReadiness(t *testing.T) {
	now := time.Now()
	primary := monitor.Observation{Time: now, Role: monitor.RolePrimary}
	replica := monitor.Observation{Time: now, Role: monitor.RoleReplica, LinkUp: true}
	down := monitor.Observation{Time: now, Reason: monitor.ReasonRefused}
	self := failover.Snapshot{Self: "a", Primary: failover.Node{Name: "a"}}
	other := failover.Snapshot{Self: "a", Primary: failover.Node{Name: "b"}}
	moving := other
	moving.InFailover = true
	noLink := replica
	noLink.LinkUp = false
	tests := []struct {
		name  string
		obs   monitor.Observation
		ready bool
		snap  failover.Snapshot
		want  int
	}{
		{"primary", primary, true, self, http.StatusOK},
		{"replica", replica, true, other, http.StatusOK},
		{"not probed", monitor.Observation{}, true, self, http.StatusServiceUnavailable},
		{"redis down", down, true, self, http.StatusServiceUnavailable},
		{"not settled", primary, false, self, http.StatusServiceUnavailable},
		{"failover under way", replica, true, moving, http.StatusServiceUnavailable},
		{"no primary", replica, true, failover.Snapshot{Self: "a"}, http.StatusServiceUnavailable},
		{"role disagrees", replica, true, self, http.StatusServiceUnavailable},
		{"primary where a replica belongs", primary, true, other, http.StatusServiceUnavailable},
		{"link down", noLink, true, other, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		if got, msg := readiness(tt.obs, tt.ready, tt.snap); got != tt.want {
			t.Errorf("%s: readiness = %d %q, want %d", tt.name, got, msg, tt.want)
		}
	}
}

// TestPatroniHealthEndpoints checks the Patroni-style endpoints and
// /-/healthy, /-/ready and /health against a real primary and replica,
// every method HAProxy and Kubernetes use, and that /-/ready, /readiness
// and /health turn 503 when Redis goes down.
func TestPatroniHealthEndpoints(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	r.WaitSynced(t)
	ports := []int{redistest.FreePort(t, "127.0.0.1"), redistest.FreePort(t, "127.0.0.1")}
	join := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	slow := []string{"--failover.down_after", "1m", "--failover.fence_after", "30s"}
	sp := startSidecar(t, "p", p, join, ports[0], slow...)
	sr := startSidecar(t, "r", r, join, ports[1], slow...)

	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		sp.wantStatus(t, m, "/read-write", http.StatusOK)
		sr.wantStatus(t, m, "/read-write", http.StatusServiceUnavailable)
		sp.wantStatus(t, m, "/read-only", http.StatusOK)
		sr.wantStatus(t, m, "/read-only", http.StatusOK)
		sr.wantStatus(t, m, "/read-only?lag=16MB", http.StatusOK)
		sr.wantStatus(t, m, "/replica?lag=1GiB", http.StatusOK)
		sp.wantStatus(t, m, "/liveness", http.StatusOK)
		sp.wantStatus(t, m, "/readiness", http.StatusOK)
		sr.wantStatus(t, m, "/readiness", http.StatusOK)
		// The Prometheus-style and legacy paths too.
		sp.wantStatus(t, m, "/-/healthy", http.StatusOK)
		sp.wantStatus(t, m, "/-/ready", http.StatusOK)
		sr.wantStatus(t, m, "/-/ready", http.StatusOK)
		sp.wantStatus(t, m, "/health", http.StatusOK)
	}
	sp.wantStatus(t, http.MethodPost, "/-/ready", http.StatusMethodNotAllowed)
	sr.wantStatus(t, http.MethodGet, "/replica?lag=16XB", http.StatusBadRequest)
	sp.wantStatus(t, http.MethodPost, "/read-write", http.StatusMethodNotAllowed)
	sp.wantStatus(t, http.MethodGet, "/-/ready", http.StatusOK)

	// Redis down: the sidecar lives on, but it is not ready.
	r.Kill(t)
	sr.wantStatus(t, http.MethodGet, "/-/ready", http.StatusServiceUnavailable)
	sr.wantStatus(t, http.MethodGet, "/readiness", http.StatusServiceUnavailable)
	sr.wantStatus(t, http.MethodGet, "/read-only", http.StatusServiceUnavailable)
	sr.wantStatus(t, http.MethodGet, "/liveness", http.StatusOK)
	for _, m := range []string{http.MethodHead, http.MethodOptions} {
		sr.wantStatus(t, m, "/-/ready", http.StatusServiceUnavailable)
		sr.wantStatus(t, m, "/health", http.StatusServiceUnavailable)
		sr.wantStatus(t, m, "/-/healthy", http.StatusOK)
	}
}

// /v1/config serves the group-wide settings from the replicated state: the
// file's values until the group overrides them, and a refusal for a value
// the group does not accept. (TestSentinelSetChangesEverySidecar changes
// them across a group.)
func TestConfigEndpointWired(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1")
	code, body, err := s.do(http.MethodGet, "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || !strings.Contains(body, "down-after-milliseconds") || !strings.Contains(body, "quorum") {
		t.Errorf("GET /v1/config = %d %s, want 200 with the settings", code, body)
	}
}

// memSettings holds settings in memory: it stands in for the replicated
// store (sentinelAdmin, which needs a running group) to test the HTTP
// layer only.
type memSettings struct{ kv map[string]string }

func (m *memSettings) Settings() map[string]string { return maps.Clone(m.kv) }
func (m *memSettings) SetSettings(_ context.Context, kv map[string]string) error {
	maps.Copy(m.kv, kv)
	return nil
}

func TestConfigHandler(t *testing.T) {
	store := &memSettings{kv: map[string]string{"quorum": "2", "auth-pass": "secret"}}
	mux := http.NewServeMux()
	configRoutes(mux, newAccessGuard(config.Tokens{Admin: "tok"}), store)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, body, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/v1/config", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do(http.MethodGet, "", ""); code != 200 || strings.Contains(body, "secret") || !strings.Contains(body, `"quorum": "2"`) {
		t.Errorf("GET = %d %s", code, body)
	}
	if code, _ := do(http.MethodPost, `{"quorum":"3"}`, ""); code != http.StatusUnauthorized {
		t.Errorf("POST without token = %d", code)
	}
	if code, body := do(http.MethodPost, `{"quorom":"3"}`, "tok"); code != http.StatusBadRequest || !strings.Contains(body, `did you mean \"quorum\"?`) {
		t.Errorf("POST unknown key = %d %s", code, body)
	}
	if code, body := do(http.MethodPost, `{"down-after-milliseconds":"-1"}`, "tok"); code != http.StatusBadRequest {
		t.Errorf("POST bad value = %d %s", code, body)
	}
	if code, body := do(http.MethodPost, `{"quorum":"3"}`, "tok"); code != 200 || !strings.Contains(body, `"quorum": "3"`) || store.kv["quorum"] != "3" {
		t.Errorf("POST = %d %s, store %v", code, body, store.kv)
	}
	// The Redis password never reaches the replicated store.
	if code, body := do(http.MethodPost, `{"auth-pass":"new"}`, "tok"); code != http.StatusBadRequest ||
		!strings.Contains(body, "redis.password_file") || store.kv["auth-pass"] != "secret" {
		t.Errorf("POST auth-pass = %d %s, store %v; want 400 naming redis.password_file", code, body, store.kv)
	}
}
