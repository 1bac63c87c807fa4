//go:build linux

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/netns"
)

// quietLogger drops go-redis's own log lines (every refused dial during a
// fault); the history records each failure.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// TestChaos is one chaos run against real processes. Without settings it
// runs the fixed seed 1 for 60 s of faults with 3 nodes (about 2 minutes
// in all); `make chaos` sets CHAOS_SEED, CHAOS_DURATION and CHAOS_NODES,
// and CHAOS_KEEP, a directory that receives the node logs and the history;
// CHAOS_SHIPPED=1 runs vigil's shipped durability defaults (min_replicas 0,
// divergent_writes archive) instead of the durable mode. It needs root and
// ip netns, and skips, saying so, without them or with -short.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the chaos run in -short mode")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping the chaos run: %v", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install the Debian package redis-server (make deps)")
	}
	seed, duration, nodes := uint64(1), 60*time.Second, 3
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 5*time.Second {
			t.Fatalf("CHAOS_DURATION=%q: want a duration of at least 5s (%v)", s, err)
		}
		duration = v
	}
	if s := os.Getenv("CHAOS_NODES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 3 || v > 9 {
			t.Fatalf("CHAOS_NODES=%q: want 3 to 9", s)
		}
		nodes = v
	}

	redis.SetLogger(quietLogger{})
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(base, "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vigil-redis/vigil/cmd/vigil").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	res, err := Run(context.Background(), Options{
		Seed: seed, Duration: duration, Nodes: nodes, Dir: base, Bin: bin,
		Logf:     func(format string, args ...any) { t.Logf(format, args...) },
		KeepDir:  os.Getenv("CHAOS_KEEP"),
		Shipped:  os.Getenv("CHAOS_SHIPPED") == "1",
		LogLevel: os.Getenv("CHAOS_LOG_LEVEL"),
	})
	if err != nil {
		t.Fatalf("seed %d: the harness failed: %v", seed, err)
	}
	// The report goes to stdout so `make chaos` ends with the table.
	fmt.Println(Render(seed, nodes, duration, res.History, res.Report))
	if !res.Report.OK() {
		// The rules broken end the test's own output too: a CI log that
		// keeps only its tail still says what failed.
		var sum strings.Builder
		for _, v := range res.Report.Violations {
			fmt.Fprintf(&sum, "\n  %s at %s: %s", v.Rule, v.At.Round(time.Millisecond), v.Msg)
		}
		t.Errorf("seed %d: %d violation(s) (the report above has the history around each); reproduce with make chaos SEED=%d DURATION=%s NODES=%d%s",
			seed, len(res.Report.Violations), seed, duration, nodes, sum.String())
	}
}
