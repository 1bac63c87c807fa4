package authority_test

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/gossip"
)

// BenchmarkLeaderFailover measures how long a three-node group takes from
// the moment its leader is cut off (gossip packets, new dials and open raft
// streams all dropped, as when its host dies) until both other nodes agree
// on a new leader, with the raft timings a sidecar derives from down_after
// 1 s (heartbeat timeout 200 ms), 2 s (400 ms) and the default 5 s (1 s).
// Each iteration heals the cut and waits for the group to settle outside
// the timer.
//
//	go test -run '^$' -bench LeaderFailover -benchtime 20x ./failover/authority/
func BenchmarkLeaderFailover(b *testing.B) {
	for _, downAfter := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second} {
		cfg := authConfig(3)
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout, cfg.RaftLeaderLeaseTimeout, cfg.RaftCommitTimeout = 0, 0, 0, 0
		cfg = cfg.Timed(downAfter)
		b.Run(fmt.Sprintf("down_after=%s/heartbeat=%s", downAfter, cfg.RaftHeartbeatTimeout), func(b *testing.B) {
			benchFailover(b, cfg)
		})
	}
}

func benchFailover(b *testing.B, cfg authority.Config) {
	c := newCluster(b, cfg)
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	settle := func() {
		c.leader(waitFor)
		eventually(b, waitFor, func() error {
			for name, n := range c.nodes {
				if !n.auth.Ready() {
					return fmt.Errorf("%s not ready", name)
				}
			}
			return nil
		})
	}
	settle()
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		old := c.leader(waitFor)
		var others []*node
		for _, n := range c.nodes {
			if n != old {
				others = append(others, n)
			}
		}
		b.StartTimer()
		start := time.Now()
		c.isolate(old)
		deadline := start.Add(waitFor)
		for {
			l0, _ := others[0].auth.Leader()
			l1, _ := others[1].auth.Leader()
			if l0 != "" && l0 != old.name && l0 == l1 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no new leader %s after cutting %s", waitFor, old.name)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		c.heal()
		settle()
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(took)), "ms/failover")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(took[0].Microseconds())/1000, "min-ms")
}

// BenchmarkApply measures one committed command (a settings change)
// on the leader and forwarded from a follower, and a linearizable Verify
// from each, in a three-node group on loopback with encrypted streams.
func BenchmarkApply(b *testing.B) {
	c := newCluster(b, authConfig(3))
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	leader := c.leader(waitFor)
	eventually(b, waitFor, func() error {
		for name, n := range c.nodes {
			if !n.auth.Ready() {
				return fmt.Errorf("%s not ready", name)
			}
		}
		return nil
	})
	follower := c.follower(leader)
	for _, tc := range []struct {
		name string
		n    *node
	}{{"leader", leader}, {"follower", follower}} {
		b.Run("apply/"+tc.name, func(b *testing.B) {
			for i := range b.N {
				_, err := tc.n.auth.Apply(ctxFor(b, waitFor), authority.Command{Op: authority.OpSettings,
					Settings: &authority.Settings{Quorum: i%3 + 1}})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("verify/"+tc.name, func(b *testing.B) {
			for range b.N {
				if _, err := tc.n.auth.Verify(ctxFor(b, waitFor)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdle measures the CPU an idle three-node group uses (raft
// heartbeats, the leader's leadership checks, the housekeeping loop and
// gossip, all three nodes in this process), per node, as a percentage of
// one core. Each iteration is 5 s of idling.
func BenchmarkIdle(b *testing.B) {
	def := gossip.DefaultConfig()
	def.EncryptionKey = testKey
	for _, tc := range []struct {
		name string
		cfg  *gossip.Config
	}{{"gossip=defaults", &def}, {"gossip=test-intervals", nil}} {
		b.Run(tc.name, func(b *testing.B) { benchIdle(b, tc.cfg) })
	}
}

func benchIdle(b *testing.B, gcfg *gossip.Config) {
	c := newCluster(b, authConfig(3))
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{gossip: gcfg})
	}
	c.leader(waitFor)
	waitMembers(b, c, 3, 3)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	var used, wall time.Duration
	for range b.N {
		c0, w0 := cpu(), time.Now()
		time.Sleep(5 * time.Second)
		used += cpu() - c0
		wall += time.Since(w0)
	}
	b.ReportMetric(100*used.Seconds()/wall.Seconds()/3, "cpu-%/node")
}

// BenchmarkCommitPropagation measures how long after the leader's Apply
// returns every follower has applied the entry too (followers learn the
// commit index with the leader's next append, at most two commit timeouts
// later when nothing else is being written).
func BenchmarkCommitPropagation(b *testing.B) {
	c := newCluster(b, authConfig(3))
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	leader := c.leader(waitFor)
	waitMembers(b, c, 3, 3)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		st, err := leader.auth.Apply(ctxFor(b, waitFor), authority.Command{Op: authority.OpSettings,
			Settings: &authority.Settings{Quorum: i%3 + 1}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for _, n := range c.nodes {
			for n.auth.State().Index < st.Index {
				if time.Since(start) > waitFor {
					b.Fatalf("%s did not apply %d", n.name, st.Index)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		time.Sleep(5 * time.Millisecond) // apart from the previous round
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}
