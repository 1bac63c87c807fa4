package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// dumpEnv is a hook command that appends its VIGIL_ variables to file.
func dumpEnv(file string) string {
	return fmt.Sprintf("env | grep '^VIGIL_' | sort >> %s; echo --- >> %s", file, file)
}

// readEnvDumps parses the dumps dumpEnv appended, one map per run.
func readEnvDumps(file string) []map[string]string {
	b, _ := os.ReadFile(file)
	var out []map[string]string
	for _, block := range strings.Split(string(b), "---\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
			k, v, _ := strings.Cut(l, "=")
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

func newTestHooks(t *testing.T, cfg HooksConfig, src Source) (*Hooks, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewHooks(cfg, "mymaster", "a", src, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func TestHooksPrePromote(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	envFile := filepath.Join(dir, "env")
	src := newTestSource(snapshotOf(node("a", "127.0.0.1:6379", monitor.RolePrimary)))
	candidate := node("b", "127.0.0.1:6380", monitor.RoleReplica)

	tests := []struct {
		name    string
		command string
		veto    bool
		result  string
	}{
		{"not configured", "", false, ""},
		{"exit 0 allows", dumpEnv(envFile), false, resultSuccess},
		{"exit 1 vetoes", "echo no >&2; exit 1", true, resultFailure},
		{"timeout vetoes and kills the group", "sleep 30 & echo $! > " + pidFile + "; wait", true, resultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultHooksConfig()
			cfg.PrePromote = tt.command
			cfg.Timeout = 500 * time.Millisecond
			h, reg := newTestHooks(t, cfg, src)
			start := time.Now()
			err := h.AllowPromote(context.Background(), candidate, 9)
			t.Logf("AllowPromote took %s: %v", time.Since(start).Round(time.Millisecond), err)
			if got := errors.Is(err, ErrVetoed); got != tt.veto {
				t.Fatalf("vetoed = %v (%v), want %v", got, err, tt.veto)
			}
			if tt.result != "" {
				if got := metricValue(t, reg, "vigil_hook_runs_total", "hook", hookPrePromote, "result", tt.result); got != 1 {
					t.Errorf("runs{%s} = %v, want 1", tt.result, got)
				}
			}
		})
	}

	// The successful run saw the candidate.
	got := readEnvDumps(envFile)
	want := []map[string]string{{
		"VIGIL_EVENT": "pre-promote", "VIGIL_MASTER_NAME": "mymaster", "VIGIL_NODE": "b", "VIGIL_ROLE": "slave",
		"VIGIL_OLD_PRIMARY": "127.0.0.1:6379", "VIGIL_NEW_PRIMARY": "127.0.0.1:6380", "VIGIL_EPOCH": "9",
	}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("pre_promote env (-got +want):\n%s", diff)
	}

	// The timed-out script's background child died with its group.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	redistest.Eventually(t, 5*time.Second, func() error {
		if processAlive(pid) {
			return fmt.Errorf("child %d of the timed-out hook is still running", pid)
		}
		return nil
	})
}

// processAlive reports whether pid runs (a zombie awaiting its reaper
// does not count).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestHooksAsync(t *testing.T) {
	dir := t.TempDir()
	roleFile := filepath.Join(dir, "role")
	postFile := filepath.Join(dir, "post")
	a := node("a", "127.0.0.1:6379", monitor.RoleReplica)
	b := node("b", "127.0.0.1:6380", monitor.RolePrimary)
	src := newTestSource(snapshotOf(b, a))

	var (
		mu    sync.Mutex
		posts []WebhookPayload
		tries int
	)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		if tries <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		var p WebhookPayload
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		posts = append(posts, p)
	}))
	defer web.Close()

	cfg := DefaultHooksConfig()
	cfg.OnRoleChange = dumpEnv(roleFile)
	cfg.PostFailover = dumpEnv(postFile)
	cfg.WebhookURL = web.URL + "/hook"
	cfg.Timeout = 5 * time.Second
	h, reg := newTestHooks(t, cfg, src)
	lintMetrics(t, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hooks run: %v", err)
		}
	}()
	src.waitSubscribers(t, 1)

	// This node ("a") is demoted in a failover at epoch 7; the switch and
	// the end of the failover run post_failover once.
	src.Publish(failover.Event{Kind: failover.EventConvertToReplica, Epoch: 7, Node: a, NewPrimary: b})
	src.Publish(failover.Event{Kind: failover.EventRoleChange, Epoch: 7, Node: node("c", "127.0.0.1:6381", monitor.RolePrimary)}) // not this node
	src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, Epoch: 7, OldPrimary: node("a", a.Addr, monitor.RolePrimary), NewPrimary: b})
	src.Publish(failover.Event{Kind: failover.EventFailoverEnd, Epoch: 7, OldPrimary: node("a", a.Addr, monitor.RolePrimary), NewPrimary: b})

	redistest.Eventually(t, 10*time.Second, func() error {
		if n, m := len(readEnvDumps(roleFile)), len(readEnvDumps(postFile)); n < 1 || m < 1 {
			return fmt.Errorf("%d on_role_change and %d post_failover runs so far", n, m)
		}
		return nil
	})
	wantRole := []map[string]string{{
		"VIGIL_EVENT": "+convert-to-slave", "VIGIL_MASTER_NAME": "mymaster", "VIGIL_NODE": "a", "VIGIL_ROLE": "slave",
		"VIGIL_OLD_PRIMARY": "", "VIGIL_NEW_PRIMARY": "127.0.0.1:6380", "VIGIL_EPOCH": "7",
	}}
	if diff := cmp.Diff(readEnvDumps(roleFile), wantRole); diff != "" {
		t.Errorf("on_role_change env (-got +want):\n%s", diff)
	}
	wantPost := []map[string]string{{
		"VIGIL_EVENT": "+switch-master", "VIGIL_MASTER_NAME": "mymaster", "VIGIL_NODE": "a", "VIGIL_ROLE": "slave",
		"VIGIL_OLD_PRIMARY": "127.0.0.1:6379", "VIGIL_NEW_PRIMARY": "127.0.0.1:6380", "VIGIL_EPOCH": "7",
	}}
	if diff := cmp.Diff(readEnvDumps(postFile), wantPost); diff != "" {
		t.Errorf("post_failover env (-got +want):\n%s", diff)
	}

	// Every event reaches the webhook; the first one after two retries.
	redistest.Eventually(t, 15*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(posts) < 4 {
			return fmt.Errorf("%d webhook deliveries after %d tries, want 4", len(posts), tries)
		}
		return nil
	})
	mu.Lock()
	var events []string
	for _, p := range posts {
		events = append(events, p.Event)
	}
	first := posts[0]
	mu.Unlock()
	if diff := cmp.Diff(events, []string{"+convert-to-slave", "+role-change", "+switch-master", "+failover-end"}); diff != "" {
		t.Errorf("webhook events (-got +want):\n%s", diff)
	}
	if first.MasterName != "mymaster" || first.Reporter != "a" || first.Epoch != 7 || first.NewPrimary == nil || first.NewPrimary.Addr != b.Addr {
		t.Errorf("first webhook payload = %+v", first)
	}
	// The server saw the last post before the client counted its answer:
	// poll the counters.
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, r := range []struct {
			hook, result string
			want         float64
		}{
			{hookOnRoleChange, resultSuccess, 1},
			{hookPostFailover, resultSuccess, 1},
			{hookWebhook, resultSuccess, 4},
			{hookWebhook, resultFailure, 0},
		} {
			if got := metricValue(t, reg, "vigil_hook_runs_total", "hook", r.hook, "result", r.result); got != r.want {
				return fmt.Errorf("runs{%s,%s} = %v, want %v", r.hook, r.result, got, r.want)
			}
		}
		return nil
	})
}
