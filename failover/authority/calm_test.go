package authority_test

import (
	"fmt"
	"testing"
	"time"
)

// TestCalmTimings runs a group at its calm timings (heartbeat timeout
// 400 ms, lease 300 ms: calm heartbeat timeout 1 s) for four calm
// timeouts: no follower calls an election and the leader's lease holds,
// since calm heartbeats leave a third of the lease to spare. Then the
// leader is cut off; the others go back to the failover timings, as the
// failover core does at the first missed probe, and elect a new leader.
func TestCalmTimings(t *testing.T) {
	cfg := authConfig(3)
	cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout, cfg.RaftLeaderLeaseTimeout = 400*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	cfg = cfg.Timed(5 * time.Second)
	if cfg.RaftCalmHeartbeatTimeout != time.Second {
		t.Fatalf("calm heartbeat timeout %s, want 1s", cfg.RaftCalmHeartbeatTimeout)
	}
	c := newCluster(t, cfg)
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	leader := c.leader(waitFor)
	for _, n := range c.nodes {
		n.auth.Calm(true)
	}
	calmIs := func(want float64, nodes ...*node) func() error {
		return func() error {
			for _, n := range nodes {
				if got := gaugeOf(t, n, "vigil_raft_calm"); got != want {
					return fmt.Errorf("%s: vigil_raft_calm %v, want %v", n.name, got, want)
				}
			}
			return nil
		}
	}
	all := []*node{c.nodes["a"], c.nodes["b"], c.nodes["c"]}
	eventually(t, waitFor, calmIs(1, all...))

	term := gaugeOf(t, leader, "vigil_raft_term")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(4 * cfg.RaftCalmHeartbeatTimeout); time.Now().Before(end); <-tick.C {
		for _, n := range all {
			if l, _ := n.auth.Leader(); l != leader.name {
				t.Fatalf("%s follows %q at calm timings, want %s throughout", n.name, l, leader.name)
			}
			if got := gaugeOf(t, n, "vigil_raft_term"); got != term {
				t.Fatalf("%s at term %v at calm timings, want %v throughout", n.name, got, term)
			}
		}
	}

	c.isolate(leader)
	var others []*node
	var names []string
	for _, n := range all {
		if n != leader {
			n.auth.Calm(false)
			others, names = append(others, n), append(names, n.name)
		}
	}
	eventually(t, waitFor, calmIs(0, others...))
	if got := c.leader(waitFor, names...); got == leader {
		t.Fatalf("the cut-off leader %s still leads", leader.name)
	}
}

// gaugeOf reads the single-series gauge name from n's registry.
func gaugeOf(t *testing.T, n *node, name string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s: no single series %s", n.name, name)
	return 0
}
