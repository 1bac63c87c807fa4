package authority_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/failover/authority"
)

// formGroup starts n nodes (a, b, c, ...) with bootstrap_expect n and
// waits until they form one group in which every node is a registered
// voter and Ready.
func formGroup(t *testing.T, n int) *cluster {
	t.Helper()
	c := newCluster(t, authConfig(n))
	for i := range n {
		c.start(string(rune('a'+i)), startOpts{})
	}
	c.leader(waitFor)
	waitMembers(t, c, n, n)
	return c
}

// waitMembers waits until every running node has applied a state with
// the given number of members and voters, all registered, and is Ready.
func waitMembers(t testing.TB, c *cluster, members, voters int) {
	t.Helper()
	eventually(t, waitFor, func() error {
		for name, n := range c.nodes {
			if !n.auth.Ready() {
				return fmt.Errorf("%s not ready", name)
			}
			st := n.auth.State()
			if len(st.Members) != members || len(st.Voters()) != voters {
				return fmt.Errorf("%s: %d members, voters %v; want %d and %d", name, len(st.Members), st.Voters(), members, voters)
			}
			for _, m := range st.Members {
				if want := c.nodes[m.Name]; want != nil && m.RedisAddr != want.redisAddr {
					return fmt.Errorf("%s: %s registered redis %q, want %q", name, m.Name, m.RedisAddr, want.redisAddr)
				}
			}
		}
		return nil
	})
}

func setPrimary(t *testing.T, n *node, ifEpoch, epoch uint64, primary string) authority.State {
	t.Helper()
	st, err := n.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpSetPrimary, IfEpoch: ifEpoch, Epoch: epoch,
		Primary: primary, Reason: authority.ReasonAuto, Start: time.Now()})
	if err != nil {
		t.Fatalf("set-primary %s at %d via %s: %v", primary, epoch, n.name, err)
	}
	if st.Primary != primary || st.Epoch != epoch {
		t.Fatalf("set-primary returned primary %q epoch %d", st.Primary, st.Epoch)
	}
	return st
}

// waitApplied waits until every running node has applied at least index.
func waitApplied(t *testing.T, c *cluster, index uint64) {
	t.Helper()
	eventually(t, waitFor, func() error {
		for name, n := range c.nodes {
			if got := n.auth.State().Index; got < index {
				return fmt.Errorf("%s applied %d, want %d", name, got, index)
			}
		}
		return nil
	})
}

func testGroup(t *testing.T, size int) {
	c := formGroup(t, size)
	leader := c.leader(waitFor)
	f := c.follower(leader)

	// A follower's Apply is forwarded to the leader and returns the state
	// right after its entry.
	st := setPrimary(t, f, 0, 1, "b")
	waitApplied(t, c, st.Index)
	for name, n := range c.nodes {
		if got := n.auth.State(); got.Primary != "b" || got.Epoch != 1 {
			t.Errorf("%s: primary %q epoch %d", name, got.Primary, got.Epoch)
		}
	}
	// A second proposal from the same view is stale, through forwarding too.
	_, err := f.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpSetPrimary, IfEpoch: 0, Epoch: 2, Primary: "a", Reason: authority.ReasonAuto})
	if !errors.Is(err, authority.ErrStale) {
		t.Fatalf("stale set-primary via follower: err = %v, want ErrStale", err)
	}
	_, err = leader.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpSetPrimary, IfEpoch: 1, Epoch: 2, Primary: "nobody", Reason: authority.ReasonAuto})
	if !errors.Is(err, authority.ErrNotMember) {
		t.Fatalf("set-primary of a stranger: err = %v, want ErrNotMember", err)
	}
	// Verify from a follower is served by the leader and sees the entry.
	vs, err := f.auth.Verify(ctxFor(t, waitFor))
	if err != nil || vs.Epoch != 1 || vs.Index < st.Index {
		t.Fatalf("verify via follower: epoch %d index %d (want >= %d), err %v", vs.Epoch, vs.Index, st.Index, err)
	}

	// A member announces a new Redis address at run time: every node's
	// state holds it, and the raft address is kept.
	moved := authority.Member{Name: f.name, RedisAddr: "moved-" + f.redisAddr, SentinelAddr: "s:1", HTTPAddr: "h:1", Priority: 7}
	if err := f.auth.Register(ctxFor(t, waitFor), moved); err != nil {
		t.Fatalf("register new addresses: %v", err)
	}
	f.redisAddr = moved.RedisAddr
	eventually(t, waitFor, func() error {
		for name, n := range c.nodes {
			m := n.auth.State().Members[f.name]
			if m.RedisAddr != moved.RedisAddr || m.SentinelAddr != "s:1" || m.HTTPAddr != "h:1" || m.Priority != 7 || m.RaftAddr != f.addr() || !m.Voter {
				return fmt.Errorf("%s sees %s as %+v", name, f.name, m)
			}
		}
		return nil
	})

	// Exactly one group: every node agrees on the configuration.
	want := leader.auth.State().Voters()
	for name, n := range c.nodes {
		if got := n.auth.State().Voters(); !slices.Equal(got, want) {
			t.Errorf("%s: voters %v, leader's %v", name, got, want)
		}
	}
	// Every member's contact with a majority keeps moving: the leader's
	// from its followers' heartbeat acknowledgements, a follower's from
	// the heartbeats it accepts.
	for name, n := range c.nodes {
		before := n.auth.LastContact()
		eventually(t, waitFor, func() error {
			if lc := n.auth.LastContact(); !lc.After(before) || time.Since(lc) > time.Second {
				return fmt.Errorf("%s: last contact %s ago, not after %s ago", name, time.Since(lc), time.Since(before))
			}
			return nil
		})
	}
	lintMetrics(t, c)
}

func TestThreeNodeGroup(t *testing.T) { testGroup(t, 3) }
func TestFiveNodeGroup(t *testing.T)  { testGroup(t, 5) }

// lintMetrics checks every node's metrics and that exactly one reports leading.
func lintMetrics(t *testing.T, c *cluster) {
	t.Helper()
	leaders := 0.0
	for name, n := range c.nodes {
		problems, err := testutil.GatherAndLint(n.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			if len(p.Metric) > 11 && p.Metric[:11] == "vigil_raft_" {
				t.Errorf("%s: lint %s: %s", name, p.Metric, p.Text)
			}
		}
		mfs, err := n.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "vigil_raft_leader" {
				leaders += mf.GetMetric()[0].GetGauge().GetValue()
			}
			if mf.GetName() == "vigil_raft_applied_index" && mf.GetMetric()[0].GetGauge().GetValue() < 1 {
				t.Errorf("%s: applied index gauge %v", name, mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
	}
	if leaders != 1 {
		// Leadership may move under load between scrapes; say so rather than guess.
		t.Logf("vigil_raft_leader sums to %v across nodes (leadership moved during the scrape?)", leaders)
	}
}
