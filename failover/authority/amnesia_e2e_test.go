package authority_test

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// End-to-end companions of amnesia_test.go's pure tests (which are in
// package authority, for the unexported filter): real authorities, raft,
// raft.db on disk and gossip on loopback.

// Chaos seed 1505 (N=3): b's sidecar is down while a and c commit
// entries; a's data dir is wiped and a restarts; b comes back with its
// older log. c is alive in gossip, advertising raft state, but cannot be
// elected for a while (its raft and RPC streams are cut: in the chaos run
// b simply campaigned first). a's empty log must not vote b leader — b
// would truncate the entries c committed. Once c's streams are back, c is
// elected and every node applies the committed entries.
func TestAmnesiacVoterRefusesStaleCandidate(t *testing.T) {
	c := formGroup(t, 3)
	stale := c.kill("b")

	// a and c commit entries that b's log lacks.
	st := commitEpochs(t, c, 3, "c")
	waitApplied(t, c, st.Index)

	wiped := c.kill("a")
	if err := os.RemoveAll(wiped.dir); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.nodes["c"].layers {
		l.setCut(true)
	}
	b := c.start("b", startOpts{dir: stale.dir, redisAddr: stale.redisAddr})
	a := c.start("a", startOpts{redisAddr: wiped.redisAddr})

	// For 3 s (15 election timeouts), and at least until b has campaigned
	// with a running, nobody leads: b lacks the entries, a refuses it.
	start := time.Now()
	campaigned := false
	for time.Since(start) < 3*time.Second || !campaigned {
		if time.Since(start) > waitFor {
			t.Fatalf("b never campaigned in %s", waitFor)
		}
		if l, self := b.auth.Leader(); self || l != "" {
			t.Fatalf("after %s: b, lacking the committed entries, knows leader %q (itself: %v)", time.Since(start).Round(time.Millisecond), l, self)
		}
		if l, _ := a.auth.Leader(); l != "" {
			t.Fatalf("after %s: the wiped a follows %q", time.Since(start).Round(time.Millisecond), l)
		}
		campaigned = campaigned || raftState(t, b) == "candidate"
		time.Sleep(20 * time.Millisecond)
	}

	// c's streams come back: c, holding every committed entry, is elected
	// (b's vote is Raft's rule, a refuses while b holds state), and a and b
	// apply what a and c committed.
	c.heal()
	if l := c.leader(waitFor); l.name != "c" {
		t.Fatalf("leader %s, want c (the only log with every committed entry)", l.name)
	}
	waitApplied(t, c, st.Index)
	wantEveryState(t, c, 3, "c")
}

// Chaos seed 1703 (N=3): a's and b's data dirs are both wiped; c is the
// only member with the log. The two wiped members vote for it: c is
// elected and gives them the committed entries.
func TestAmnesiacVotersElectTheLastLog(t *testing.T) {
	c := formGroup(t, 3)
	st := commitEpochs(t, c, 3, "b")
	waitApplied(t, c, st.Index)

	var wiped []*node
	for _, name := range []string{"a", "b"} {
		n := c.kill(name)
		if err := os.RemoveAll(n.dir); err != nil {
			t.Fatal(err)
		}
		wiped = append(wiped, n)
	}
	for _, n := range wiped {
		c.start(n.name, startOpts{redisAddr: n.redisAddr})
	}

	if l := c.leader(waitFor); l.name != "c" {
		t.Fatalf("leader %s, want c (the only member with raft state)", l.name)
	}
	waitApplied(t, c, st.Index)
	wantEveryState(t, c, 3, "b")
}

// wantEveryState checks that every node of c applied epoch with primary.
func wantEveryState(t *testing.T, c *cluster, epoch uint64, primary string) {
	t.Helper()
	for name, n := range c.nodes {
		if got := n.auth.State(); got.Epoch != epoch || got.Primary != primary {
			t.Errorf("%s: epoch %d primary %q, want %d and %s", name, got.Epoch, got.Primary, epoch, primary)
		}
	}
}

// commitEpochs makes primary the primary at epochs 1 to last through c's
// node c (forwarded to the leader) and returns the state after the last.
// An apply whose outcome a lost leadership left unknown is retried: its
// IfEpoch makes the retry of one that did commit stale.
func commitEpochs(t *testing.T, c *cluster, last uint64, primary string) authority.State {
	t.Helper()
	n := c.nodes["c"]
	var st authority.State
	for epoch := uint64(1); epoch <= last; epoch++ {
		eventually(t, waitFor, func() error {
			got, err := n.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpSetPrimary, IfEpoch: epoch - 1,
				Epoch: epoch, Primary: primary, Reason: authority.ReasonAuto, Start: time.Now()})
			if errors.Is(err, authority.ErrStale) {
				got, err = n.auth.Verify(ctxFor(t, waitFor))
			}
			if err != nil {
				return fmt.Errorf("set-primary %s at %d: %w", primary, epoch, err)
			}
			if got.Epoch != epoch || got.Primary != primary {
				return fmt.Errorf("set-primary %s at %d: state at epoch %d primary %q", primary, epoch, got.Epoch, got.Primary)
			}
			st = got
			return nil
		})
	}
	return st
}

// raftState is n's raft state as its vigil_raft_state gauge reports it.
func raftState(t *testing.T, n *node) string {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_raft_state" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "state" {
						return lp.GetValue()
					}
				}
			}
		}
	}
	return ""
}
