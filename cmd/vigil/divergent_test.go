package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestDivergentCommands drives `vigil divergent ls|show|replay|rm` against
// a Keeper's handler holding a real capture: a former primary A that kept
// writing after B's promotion.
func TestDivergentCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := redistest.Start(t, redistest.Options{})
	b := redistest.Start(t, redistest.Options{ReplicaOf: a.Addr()})
	b.WaitSynced(t)
	redistest.Eventually(t, 15*time.Second, func() error {
		if x, y := a.Info(t, "replication")["master_repl_offset"], b.Info(t, "replication")["master_repl_offset"]; x != y {
			return io.ErrNoProgress
		}
		return nil
	})
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	fork, err := divergent.ParseFork(b.Client().Info(ctx, "replication").Val())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := a.Client().Incr(ctx, "lost:counter").Err(); err != nil {
			t.Fatal(err)
		}
		if err := a.Client().Set(ctx, "lost:"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Client().Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	k, err := divergent.New(divergent.DefaultConfig(), t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		prometheus.NewRegistry(), divergent.Deps{Primary: func() (string, bool) { return b.Addr(), true }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Keep(ctx, divergent.Request{Epoch: 2, Node: "a", Addr: a.Addr(), Fork: fork})
	if err != nil || res.Commands != 20 {
		t.Fatalf("keep: %+v, err %v", res, err)
	}
	srv := httptest.NewServer(k.Handler("tok"))
	defer srv.Close()

	vigil := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append(args, "--addr", srv.URL, "--token", "tok"), nil, &out, &errb)
		return out.String(), err
	}
	out, err := vigil("divergent", "ls")
	if err != nil || !strings.Contains(out, "2-a") || !strings.Contains(out, "pending") {
		t.Fatalf("ls: %q, err %v", out, err)
	}
	out, err = vigil("divergent", "show", "2-a")
	if err != nil || !strings.HasPrefix(out, "FIELD") || !regexp.MustCompile(`(?m)^commands +20$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^state +pending$`).MatchString(out) {
		t.Fatalf("show (table): %q, err %v", out, err)
	}
	for _, flag := range [][]string{{"-o", "json"}, {"--json"}} {
		out, err = vigil(append([]string{"divergent", "show", "2-a"}, flag...)...)
		var m divergent.Manifest
		if err == nil {
			err = json.Unmarshal([]byte(out), &m)
		}
		if err != nil || m.Commands != 20 || m.Name != "2-a" {
			t.Fatalf("show %v: %q, err %v", flag, out, err)
		}
	}
	resp, err := vigil("divergent", "show", "2-a", "--resp")
	if err != nil {
		t.Fatal(err)
	}
	// The file applies to a fresh server with redis-cli --pipe: 20 writes,
	// the SELECT it starts with, and the SELECT 0 that A wrote before its
	// first write ever, which came after the fork.
	fresh := redistest.Start(t, redistest.Options{})
	cmd := exec.CommandContext(ctx, "redis-cli", "-h", fresh.Host(), "-p", strconv.Itoa(fresh.Port()), "--pipe")
	cmd.Stdin = strings.NewReader(resp)
	if o, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(o), "errors: 0, replies: 22") {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, o)
	}
	if v := fresh.Client().Get(ctx, "lost:counter").Val(); v != "10" {
		t.Fatalf("piped counter %q, want 10", v)
	}

	out, err = vigil("divergent", "replay", "2-a")
	if err != nil || !strings.Contains(out, "20 units, 20 applied, 0 applied before") {
		t.Fatalf("replay: %q, err %v", out, err)
	}
	if _, err := vigil("divergent", "replay", "2-a"); err == nil || !strings.Contains(err.Error(), "replayed already") {
		t.Fatalf("second replay without --force: %v", err)
	}
	out, err = vigil("divergent", "replay", "2-a", "--force", "--to", b.Addr())
	if err != nil || !strings.Contains(out, "0 applied, 20 applied before") {
		t.Fatalf("replay --force: %q, err %v", out, err)
	}
	if v := b.Client().Get(ctx, "lost:counter").Val(); v != "10" {
		t.Fatalf("counter on the new primary %q, want 10", v)
	}
	if out, err = vigil("divergent", "rm", "2-a"); err != nil || !strings.Contains(out, "deleted 2-a") {
		t.Fatalf("rm: %q, err %v", out, err)
	}
	if _, err := vigil("divergent", "show", "2-a"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("show after rm: %v", err)
	}
	var out2 bytes.Buffer
	if err := run(ctx, []string{"divergent", "ls", "--addr", srv.URL}, nil, &out2, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "bearer token") {
		t.Fatalf("ls without the token: %v", err)
	}
}

// `vigil run` wires the divergent keeper: it keeps the local Redis's
// backlog at failover.backlog_bytes with repl-backlog-ttl 0, again after
// that Redis restarts (which resets both), and serves /v1/divergent to the
// admin token only.
func TestSidecarWiresDivergentKeeper(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	const admin = "admin-secret-div"
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1",
		"--failover.backlog_bytes", "2097152", "--http.admin_token", admin)
	backlogKept := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for key, want := range map[string]string{"repl-backlog-size": "2097152", "repl-backlog-ttl": "0"} {
			got, err := p.Client().ConfigGet(ctx, key).Result()
			if err != nil {
				return err
			}
			if got[key] != want {
				return fmt.Errorf("%s = %q, want %q", key, got[key], want)
			}
		}
		return nil
	}
	redistest.Eventually(t, 20*time.Second, backlogKept)
	p.Restart(t)
	redistest.Eventually(t, 20*time.Second, backlogKept)

	if code, body := s.request(t, http.MethodGet, "/v1/divergent", admin, ""); code != http.StatusOK || !strings.Contains(body, `"archives":[]`) {
		t.Errorf("GET /v1/divergent with the admin token: %d %s, want 200 and no archives", code, body)
	}
	for _, ep := range [][2]string{{http.MethodGet, "/v1/divergent"}, {http.MethodDelete, "/v1/divergent/x"}} {
		if code, body := s.request(t, ep[0], ep[1], "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d %s, want 401", ep[0], ep[1], code, body)
		}
	}
}
