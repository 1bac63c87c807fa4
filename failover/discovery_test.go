package failover_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// Three standalone primaries: vigil does not guess. It reports the conflict
// and installs no configuration.
func TestDiscoveryConflict(t *testing.T) {
	g := startGroup(t, testFailoverConfig(), true, three(100, 100)...)
	redistest.Eventually(t, 15*time.Second, func() error {
		for _, n := range g.nodes {
			s := n.failover().Snapshot()
			if !strings.Contains(s.Conflict, "several nodes are primaries") {
				return fmt.Errorf("%s: conflict %q", n.name, s.Conflict)
			}
			if got := gaugeValue(t, n.reg, "vigil_failover_discovery_conflict", "", ""); got != 1 {
				return fmt.Errorf("%s: conflict metric %v", n.name, got)
			}
		}
		return nil
	})
	holdFor(t, time.Second, g.epochUnchanged(0))
}

// With failover.initial_primary the named node becomes primary and the
// others are pointed at it.
func TestDiscoveryInitialPrimary(t *testing.T) {
	cfg := testFailoverConfig()
	cfg.InitialPrimary = "b"
	g := startGroup(t, cfg, true, three(100, 100)...)
	conf := g.waitConverged(15*time.Second, "b")
	if conf.Reason != "initial" {
		t.Errorf("configuration %+v, want reason initial", conf)
	}
	for _, n := range g.nodes {
		if s := n.failover().Snapshot(); s.Conflict != "" {
			t.Errorf("%s still reports a conflict: %s", n.name, s.Conflict)
		}
	}
}

// A new group whose replicas still wait for their initial sync (Redis's
// default repl-diskless-sync-delay is 5 s) keeps its primary. Before their
// first sync, replicas report slave_repl_offset 1, a placeholder; read as
// their position, it made the new, empty primary at offset 0 look
// restarted empty, and the group failed over at its start.
func TestNewGroupKeepsItsPrimaryBeforeTheReplicasSync(t *testing.T) {
	specs := []nodeSpec{
		{name: "a", priority: 100, args: []string{"--repl-diskless-sync-delay", "3"}},
		{name: "b", priority: 100, unsynced: true},
		{name: "c", priority: 100, unsynced: true},
	}
	g := startGroup(t, testFailoverConfig(), false, specs...)
	conf := g.waitConverged(15*time.Second, "a")
	if conf.Epoch != 1 || conf.Reason != "initial" {
		t.Fatalf("configuration %+v, want the initial one", conf)
	}
	redistest.Eventually(t, 15*time.Second, func() error {
		for _, n := range g.nodes[1:] {
			if st := n.redis.Info(t, "replication")["master_link_status"]; st != "up" {
				return fmt.Errorf("%s: link %s", n.name, st)
			}
		}
		return nil
	})
	// A failover while they synced would have moved the epoch.
	holdFor(t, 3*g.cfg.DownAfter, g.epochUnchanged(1))
}
