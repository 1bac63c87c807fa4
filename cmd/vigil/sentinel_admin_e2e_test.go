package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// `redis-cli -p <sentinel port> SENTINEL FAILOVER mymaster`, as Bitnami's
// preStop hook sends it, performs a switchover: it answers OK once another
// node is the primary, and a go-redis failover client writing throughout
// loses no acknowledged write.
func TestE2ESentinelFailoverCommand(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (make deps)")
	}
	g := newE2EGroup(t, func(string) []string { return []string{"--sentinel.password", "sentpw"} })
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       "mymaster",
		SentinelAddrs:    g.sentinelAddrs(),
		SentinelPassword: "sentpw",
		DialTimeout:      500 * time.Millisecond,
		ReadTimeout:      500 * time.Millisecond,
		WriteTimeout:     500 * time.Millisecond,
	})
	t.Cleanup(func() { fc.Close() })
	w := startWriter(t, fc, "sf")
	w.waitAcked(t, 10*time.Second, time.Time{}, 100)

	host, port, _ := net.SplitHostPort(g.node("b").sc.sentinel)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Without the password the command is refused.
	out, _ := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "SENTINEL", "FAILOVER", "mymaster").CombinedOutput()
	if !strings.Contains(string(out), "NOAUTH") {
		t.Errorf("SENTINEL FAILOVER without AUTH answered %q, want NOAUTH", out)
	}
	start := time.Now()
	out, err = exec.CommandContext(ctx, cli, "-h", host, "-p", port, "--no-auth-warning", "-a", "sentpw", "SENTINEL", "FAILOVER", "mymaster").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("redis-cli SENTINEL FAILOVER mymaster: %v %q", err, out)
	}
	t.Logf("SENTINEL FAILOVER answered OK after %v", time.Since(start).Round(time.Millisecond))
	switched := time.Now()
	w.waitAcked(t, 20*time.Second, switched, 100)
	w.stop()
	acked, errs, gap := w.report()

	st := g.waitConverged(15*time.Second, "")
	newp := st.Topology.Primary.Name
	if newp == "a" || newp == "" {
		t.Fatalf("primary after SENTINEL FAILOVER is %q, want b or c", newp)
	}
	t.Logf("%d writes acknowledged, %d client errors, longest gap %v; new primary %s", len(acked), errs, gap.Round(time.Millisecond), newp)
	if lost := missing(t, g.node(newp).redis, acked); len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes missing on %s, e.g. %v", len(lost), len(acked), newp, lost[:min(5, len(lost))])
	}
}
