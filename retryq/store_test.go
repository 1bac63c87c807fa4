package retryq

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/retryq/client"
)

// Acceptance d (start-up): a truncated or corrupt database gives an error
// naming the file, never a panic.
func TestOpenDamagedFile(t *testing.T) {
	good := t.TempDir()
	func() {
		q := startQueue(t, testConfig(), good, nil)
		var items []NewItem
		for i := range 2000 {
			items = append(items, NewItem{Command: cmd("SET", "key:"+strconv.Itoa(i), strings.Repeat("v", 100))})
		}
		mustEnqueue(t, q, items...)
	}()
	// The queue still runs; what it acknowledged is on disk, so a copy is a
	// consistent file.
	orig := filepath.Join(good, "retryq.db")
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 64<<10 {
		t.Fatalf("database only %d bytes; test needs several pages", len(data))
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	scribble := func(b []byte, from int) []byte {
		b = append([]byte(nil), b...)
		copy(b[from:], garbage(len(b)-from))
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated to half", data[:len(data)/2]},
		{"truncated to 3 pages", data[:3*4096]},
		{"truncated inside the first page", data[:100]},
		{"random bytes", garbage(64 << 10)},
		{"data pages overwritten", scribble(data, 4*4096)},
		{"meta pages overwritten", append(garbage(2*4096), data[2*4096:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "retryq.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			q, err := New(testConfig(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), NewPrimaryAddr("", "", ""))
			if err != nil {
				t.Fatal(err)
			}
			err = q.Open()
			if err == nil {
				t.Fatal("Open succeeded on a damaged file")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			t.Logf("%v", err)
		})
	}
}

// A queue's content survives a clean restart, dead letters included.
func TestReopenKeepsItems(t *testing.T) {
	dir := t.TempDir()
	var want []string
	func() {
		cfg := testConfig()
		reg := prometheus.NewRegistry()
		q, err := New(cfg, dir, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, NewPrimaryAddr("", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- q.Run(ctx) }()
		tq := &testQueue{Queue: q}
		var ids []string
		for {
			var err error
			ids, err = q.Enqueue(context.Background(), []NewItem{{ID: "x", Command: cmd("SET", "a", "b")}, {Command: cmd("DEL", "a")}})
			if !errors.Is(err, ErrNotRunning) {
				if err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		want = ids
		_ = tq
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	q := startQueue(t, testConfig(), dir, nil)
	items, err := q.List(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if it.State != client.StateReady {
			t.Fatalf("item %s state %s", it.ID, it.State)
		}
		got = append(got, it.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
}
