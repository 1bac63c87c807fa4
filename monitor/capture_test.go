package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestCaptureInfo rewrites testdata/*.info from a real redis-server in the
// four states the parser tests cover. It runs only when asked:
//
//	VIGIL_CAPTURE_INFO=1 go test -run TestCaptureInfo ./monitor/
func TestCaptureInfo(t *testing.T) {
	if os.Getenv("VIGIL_CAPTURE_INFO") == "" {
		t.Skip("set VIGIL_CAPTURE_INFO=1 to recapture testdata/*.info")
	}
	ctx := context.Background()
	capture := func(s *redistest.Server, name string) {
		t.Helper()
		var out string
		for _, section := range []string{"replication", "server"} {
			txt, err := s.Client().Info(ctx, section).Result()
			if err != nil {
				t.Fatalf("INFO %s: %v", section, err)
			}
			out += txt
		}
		if err := os.WriteFile(filepath.Join("testdata", name+".info"), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A primary with two replicas in sync and some writes.
	p := redistest.Start(t, redistest.Options{})
	r1 := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	r2 := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr(), Args: []string{"--replica-priority", "50"}})
	r1.WaitSynced(t)
	r2.WaitSynced(t)
	for i := range 100 {
		if err := p.Client().Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitOffsets(t, p, r1, r2)
	// Replicas acknowledge once a second; wait until the primary lists them
	// at its offset so the capture shows real numbers.
	redistest.Eventually(t, 5*time.Second, func() error {
		m := p.Info(t, "replication")
		want := m["master_repl_offset"]
		for _, k := range []string{"slave0", "slave1"} {
			if !strings.Contains(m[k], "offset="+want+",") {
				return fmt.Errorf("%s is %q, want offset %s", k, m[k], want)
			}
		}
		return nil
	})
	capture(p, "primary_with_replicas")
	capture(r2, "replica_in_sync")

	// A replica still in its initial sync: the primary throttles its RDB
	// (rdb-key-save-delay sleeps that many microseconds per key in the
	// forked child), so the transfer takes seconds.
	slow := redistest.Start(t, redistest.Options{Args: []string{"--repl-diskless-sync", "no"}})
	fill(t, slow, 500)
	if err := slow.Client().ConfigSet(ctx, "rdb-key-save-delay", "20000").Err(); err != nil {
		t.Fatal(err)
	}
	// SHUTDOWN NOSAVE stops the slow BGSAVE child too, which SIGKILL of the
	// parent would leave writing into the test's directory.
	t.Cleanup(func() { _ = slow.Client().Shutdown(context.Background()).Err() })
	r3 := redistest.Start(t, redistest.Options{ReplicaOf: slow.Addr()})
	redistest.Eventually(t, 5*time.Second, func() error {
		if m := r3.Info(t, "replication"); m["master_sync_in_progress"] != "1" {
			return fmt.Errorf("master_sync_in_progress %s", m["master_sync_in_progress"])
		}
		return nil
	})
	capture(r3, "replica_initial_sync")

	// A replica whose primary is gone after a completed sync.
	p.Kill(t)
	redistest.Eventually(t, 5*time.Second, func() error {
		if m := r1.Info(t, "replication"); m["master_link_down_since_seconds"] != "1" {
			return fmt.Errorf("master_link_down_since_seconds %q", m["master_link_down_since_seconds"])
		}
		return nil
	})
	capture(r1, "replica_primary_gone")
}

// fill writes n keys of 1 KiB to s, pipelined.
func fill(t testing.TB, s *redistest.Server, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := s.Client().Pipeline()
	val := make([]byte, 1024)
	for i := range n {
		pipe.Set(ctx, "fill:"+strconv.Itoa(i), val, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("fill %s: %v", s.Addr(), err)
	}
}

// waitOffsets waits until every replica acknowledged the primary's offset.
func waitOffsets(t testing.TB, p *redistest.Server, replicas ...*redistest.Server) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, func() error {
		want := p.Info(t, "replication")["master_repl_offset"]
		for _, r := range replicas {
			if got := r.Info(t, "replication")["slave_repl_offset"]; got != want {
				return fmt.Errorf("replica %s at %s, primary at %s", r.Addr(), got, want)
			}
		}
		return nil
	})
}
