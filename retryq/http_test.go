package retryq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/retryq/client"
)

func serve(t *testing.T, q *testQueue, token string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := q.Handler(token)
	mux.Handle("/v1/retryq", h)
	mux.Handle("/v1/retryq/", h)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(b)
}

// Acceptance d (request validation): bad requests answer 400 naming the
// problem and queue nothing.
func TestEnqueueRejectsBadRequests(t *testing.T) {
	q := startQueue(t, testConfig(), t.TempDir(), nil)
	ts := serve(t, q, "")
	tests := []struct {
		name, body, want string
	}{
		{"malformed", `{"items":[{"command":["SET"`, "malformed JSON"},
		{"not an object", `[1,2]`, "malformed JSON"},
		{"trailing data", `{"items":[{"command":["SET","k","v"]}]} {}`, "data after the request object"},
		{"unknown field", `{"items":[{"comand":["SET","k","v"]}]}`, `unknown field "comand"`},
		{"no items", `{"items":[]}`, `"items" is missing or empty`},
		{"empty command", `{"items":[{"command":[]}]}`, "items[0]: command is empty"},
		{"empty name", `{"items":[{"command":[""]}]}`, "items[0]: command[0]: command name is empty"},
		{"number argument", `{"items":[{"command":["SET","k","v"]},{"command":["SET","k",1]}]}`, "items[1]: command[2]: argument is not a string (got a number)"},
		{"null argument", `{"items":[{"command":["SET",null]}]}`, "items[0]: command[1]: argument is not a string (got null)"},
		{"object argument", `{"items":[{"command":["SET",{}]}]}`, "command[1]: argument is not a string (got an object)"},
		{"bad base64", `{"items":[{"command_b64":["U0VU","***"]}]}`, "items[0]: command_b64[1]: not valid base64"},
		{"both forms", `{"items":[{"command":["SET"],"command_b64":["U0VU"]}]}`, `not both`},
		{"negative attempts", `{"items":[{"command":["SET","k","v"],"max_attempts":-1}]}`, "max_attempts (-1) must not be negative"},
		{"bad id", `{"items":[{"id":"a/b","command":["SET","k","v"]}]}`, `id "a/b"`},
		{"reserved id", `{"items":[{"id":"stats","command":["SET","k","v"]}]}`, `reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, ts.URL+"/v1/retryq", "", tt.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d %s, want 400 containing %q", code, body, tt.want)
			}
		})
	}
	s, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Items != 0 {
		t.Fatalf("%d items queued by bad requests, want 0", s.Items)
	}
}

// Acceptance d (bounds): a full queue answers 507 and keeps what it has;
// an idempotency ID already queued is answered without a second item.
func TestEnqueueFullAndIdempotent(t *testing.T) {
	cfg := testConfig()
	cfg.MaxItems = 3
	q := startQueue(t, cfg, t.TempDir(), nil)
	ts := serve(t, q, "")
	c := client.New(ts.URL, "", nil)
	ctx := context.Background()

	ids, err := c.Enqueue(ctx, []client.EnqueueItem{
		{ID: "one", Command: cmd("SET", "k1", "v")},
		{Command: [][]byte{[]byte("SET"), {0xff, 0x00}, {0x80}}}, // binary: travels as command_b64
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "one" || ids[1] == "" {
		t.Fatalf("ids %q", ids)
	}
	again, err := c.Enqueue(ctx, []client.EnqueueItem{{ID: "one", Command: cmd("SET", "k1", "other")}, {ID: "one", Command: cmd("SET", "x", "y")}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"one", "one"}, again); diff != "" {
		t.Fatalf("re-enqueue ids (-want +got):\n%s", diff)
	}
	if _, err := c.Enqueue(ctx, []client.EnqueueItem{{ID: "three", Command: cmd("SET", "k3", "v")}}); err != nil {
		t.Fatal(err)
	}
	before, err := c.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = c.Enqueue(ctx, []client.EnqueueItem{{ID: "four", Command: cmd("SET", "k4", "v")}})
	if !errors.Is(err, client.ErrQueueFull) {
		t.Fatalf("enqueue into a full queue: %v, want ErrQueueFull", err)
	}
	var herr *client.Error
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusInsufficientStorage || !strings.Contains(herr.Message, "retryq.max_items (3)") {
		t.Fatalf("full queue error %v, want 507 naming retryq.max_items", err)
	}
	after, err := c.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("queue changed by a refused enqueue (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff([][]byte{[]byte("SET"), {0xff, 0x00}, {0x80}}, after[1].Command); diff != "" {
		t.Fatalf("binary command (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(q.m.rejected.WithLabelValues(reasonFull)); got != 1 {
		t.Fatalf("rejected_total{reason=full} %v, want 1", got)
	}
}

// The admin endpoints through the client, with a bearer token.
func TestAdminEndpoints(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	if err := srv.Client().Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	q := startQueue(t, testConfig(), t.TempDir(), NewPrimaryAddr(srv.Addr(), "", ""))
	ts := serve(t, q, "s3cret")

	if code, _ := post(t, ts.URL+"/v1/retryq", "", `{"items":[{"command":["SET","k","v"]}]}`); code != http.StatusUnauthorized {
		t.Fatalf("enqueue without token: %d, want 401", code)
	}
	if _, err := client.New(ts.URL, "wrong", nil).Stats(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("stats with a wrong token: %v, want ErrUnauthorized", err)
	}
	c := client.New(ts.URL, "s3cret", nil)
	if code, body := post(t, ts.URL+"/v1/retryq", "s3cret", `{"items":[{"command":["LPUSH","str","1"],"id":"a"},{"command":["LPUSH","str","2"],"id":"b","priority":3,"key":"kb"}]}`); code != http.StatusAccepted || !strings.Contains(body, `"ids":["a","b"]`) {
		t.Fatalf("enqueue: %d %s", code, body)
	}
	// Both are WRONGTYPE: dead letters. Then no primary, so c stays ready.
	redistest.Eventually(t, 10*time.Second, func() error {
		if st, _ := q.Stats(); st.Dead != 2 {
			return fmt.Errorf("dead %d, want 2", st.Dead)
		}
		return nil
	})
	q.src.Clear()
	if _, err := c.Enqueue(ctx, []client.EnqueueItem{{ID: "c", Command: cmd("SET", "c", "3")}}); err != nil {
		t.Fatal(err)
	}

	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready != 1 || st.Dead != 2 || st.Items != 3 || st.OldestEnqueuedAt == nil {
		t.Fatalf("stats %+v", st)
	}
	it, err := c.Get(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if it.Priority != 3 || string(it.Key) != "kb" || it.State != client.StateDead {
		t.Fatalf("get b: %+v", it)
	}
	if _, err := c.Get(ctx, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	dead, err := c.List(ctx, client.ListOptions{State: client.StateDead, Limit: 1})
	if err != nil || len(dead) != 1 || dead[0].ID != "a" {
		t.Fatalf("list dead limit 1: %v %v", dead, err)
	}
	next, err := c.List(ctx, client.ListOptions{State: client.StateDead, After: "a"})
	if err != nil || len(next) != 1 || next[0].ID != "b" {
		t.Fatalf("list dead after a: %v %v", next, err)
	}
	var buf bytes.Buffer
	if err := c.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var it client.Item
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		exported = append(exported, it.ID)
	}
	if diff := cmp.Diff([]string{"a", "b"}, exported); diff != "" {
		t.Fatalf("export (-want +got):\n%s", diff)
	}
	if it, err := c.Requeue(ctx, "a"); err != nil || it.State != client.StateReady {
		t.Fatalf("requeue a: %+v %v", it, err)
	}
	if err := c.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "c"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
	n, err := c.Purge(ctx, client.StateDead)
	if err != nil || n != 1 {
		t.Fatalf("purge dead: %d %v, want 1", n, err)
	}
	all, err := c.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range all {
		ids = append(ids, it.ID+":"+string(it.State))
	}
	if diff := cmp.Diff([]string{"a:ready"}, ids); diff != "" {
		t.Fatalf("left after admin (-want +got):\n%s", diff)
	}
}

func TestMetricsLint(t *testing.T) {
	q := startQueue(t, testConfig(), t.TempDir(), nil)
	problems, err := testutil.GatherAndLint(q.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}
