package authority_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// BenchmarkLeaderFailover measures how long a three-node group takes from
// the moment its leader is cut off (gossip packets, new dials and open raft
// streams all dropped, as when its host dies) until both other nodes agree
// on a new leader, with the default raft timings and with faster ones.
// Each iteration heals the cut and waits for the group to settle outside
// the timer.
//
//	go test -run '^$' -bench LeaderFailover -benchtime 20x ./failover/authority/
func BenchmarkLeaderFailover(b *testing.B) {
	for _, hb := range []time.Duration{300 * time.Millisecond, 200 * time.Millisecond} {
		b.Run("heartbeat="+hb.String(), func(b *testing.B) {
			cfg := authConfig(3)
			if hb != cfg.RaftHeartbeatTimeout {
				cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout, cfg.RaftLeaderLeaseTimeout = hb, hb, hb/2
			}
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
