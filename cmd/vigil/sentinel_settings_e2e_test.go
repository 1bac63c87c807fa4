package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// SENTINEL SET on one sidecar's Sentinel endpoint changes the group-wide
// down_after on every sidecar without a restart: the change is committed
// through the Raft leader and each sidecar applies it (its /v1/status
// shows it). A value the group refuses changes nothing, and auth-pass is
// refused (it would put the Redis password in every raft.db).
func TestSentinelSetChangesEverySidecar(t *testing.T) {
	const pass = "sentinel-admin-secret"
	g := newE2EGroup(t, func(string) []string { return []string{"--sentinel.password", pass} })
	client := func(name string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: g.node(name).sc.sentinel, Password: pass, Protocol: 2})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	downAfterEverywhere := func(want time.Duration) {
		t.Helper()
		redistest.Eventually(t, 15*time.Second, func() error {
			for _, n := range g.nodes {
				st, err := n.sc.status()
				if err != nil {
					return err
				}
				if st.Topology.DownAfter != want {
					return fmt.Errorf("%s: down_after %s, want %s", n.name, st.Topology.DownAfter, want)
				}
			}
			return nil
		})
	}
	downAfterEverywhere(time.Second) // e2eFlags

	if err := client("b").Do(ctx, "SENTINEL", "SET", "mymaster", "down-after-milliseconds", "2000").Err(); err != nil {
		t.Fatalf("SENTINEL SET on b: %v", err)
	}
	downAfterEverywhere(2 * time.Second)
	// vigil status (the table) shows it too.
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"status", "--addr", g.node("c").sc.http}, nil, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "down_after 2s") {
		t.Fatalf("vigil status on c after SENTINEL SET: %v\n%s%s", err, out.String(), errb.String())
	}
	got, err := client("c").Do(ctx, "SENTINEL", "CONFIG", "GET", "down-after-milliseconds").Slice()
	if err != nil || len(got) != 2 || fmt.Sprint(got[1]) != "2000" {
		t.Fatalf("SENTINEL CONFIG GET on c: %v, %v", got, err)
	}

	// GET /v1/config (vigil config show) serves the same settings.
	code, body, err := g.node("a").sc.do(http.MethodGet, "/v1/config")
	var shown map[string]string
	if err == nil {
		err = json.Unmarshal([]byte(body), &shown)
	}
	if err != nil || code != http.StatusOK || shown["down-after-milliseconds"] != "2000" || shown["quorum"] == "" {
		t.Fatalf("GET /v1/config on a: %d %s %v", code, body, err)
	}

	// down_after must stay above fence_after (500ms in e2eFlags).
	err = client("a").Do(ctx, "SENTINEL", "SET", "mymaster", "down-after-milliseconds", "100").Err()
	if err == nil || !strings.Contains(err.Error(), "fence_after") {
		t.Fatalf("SENTINEL SET down-after-milliseconds 100: err = %v, want a refusal naming fence_after", err)
	}
	err = client("a").Do(ctx, "SENTINEL", "SET", "mymaster", "auth-pass", "x").Err()
	if err == nil || !strings.Contains(err.Error(), "redis.password") || !strings.Contains(err.Error(), "redis.password_file") {
		t.Fatalf("SENTINEL SET auth-pass: err = %v, want a refusal naming redis.password and redis.password_file", err)
	}
	downAfterEverywhere(2 * time.Second)

	// SENTINEL RESET answers one master matched and leaves the voters alone.
	if n, err := client("a").Do(ctx, "SENTINEL", "RESET", "*").Int(); err != nil || n != 1 {
		t.Fatalf("SENTINEL RESET: %d, %v", n, err)
	}
}
