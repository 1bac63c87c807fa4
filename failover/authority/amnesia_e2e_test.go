package authority_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
// elected and every node applies the committed entries. So too when only
// c's raft stream is cut and c, asked where its log ends (seed 3901's
// rule), answers: past b's.
func TestAmnesiacVoterRefusesStaleCandidate(t *testing.T) { testRefusesStaleCandidate(t, false) }

func TestAmnesiacVoterRefusesStaleCandidateAnswered(t *testing.T) { testRefusesStaleCandidate(t, true) }

// testRefusesStaleCandidate runs the seed 1505 case; answers: c's RPC
// stream stays up.
func testRefusesStaleCandidate(t *testing.T, answers bool) {
	c := formGroup(t, 3)
	stale := c.kill("b")

	// a and c commit entries that b's log lacks.
	st := commitEpochs(t, c, 3, "c")
	waitApplied(t, c, st.Index)

	wiped := c.kill("a")
	if err := os.RemoveAll(wiped.dir); err != nil {
		t.Fatal(err)
	}
	for i, l := range c.nodes["c"].layers {
		l.setCut(i == 0 || !answers) // layers[0] is raft's, [1] the RPC's
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

// Chaos seed 3901 (N=3): c, epoch 3's primary, was forgotten while its
// sidecar was stopped, leaving the voters a and b; it came back with its
// log and was made a non-voter, not yet a voter again when b's node was
// killed and b's data dir wiped. a could only be elected with b's vote,
// and b, without raft state, refused it for the rest of the run because
// c advertised state, though c, which cannot vote, held nothing a lacked.
// Here the voter that is not the leader is wiped, so that the other holds
// every entry c holds (in the run, the leader b was).
func TestAmnesiacVoterElectsWhenTheStateHoldersVouch(t *testing.T) {
	cfg := authConfig(3)
	cfg.Stabilization = time.Hour // c stays a non-voter (in the run its Redis never synced)
	c := newCluster(t, cfg)
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	c.leader(waitFor)
	waitMembers(t, c, 3, 3)
	st := commitEpochs(t, c, 2, "c")
	waitApplied(t, c, st.Index)

	stopped := c.kill("c")
	eventually(t, waitFor, func() error {
		_, err := c.leader(waitFor).auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpForget, Node: "c"})
		return err
	})
	back := c.start("c", startOpts{dir: stopped.dir, redisAddr: stopped.redisAddr})
	st = setPrimary(t, back, 2, 3, "a") // forwarded by c, a non-voter with the log
	waitApplied(t, c, st.Index)
	for name, n := range c.nodes {
		if got := n.auth.State().Voters(); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("%s: voters %v, want a and b (c a non-voter)", name, got)
		}
	}

	kept := c.leader(waitFor)
	if kept.name == "c" {
		t.Fatal("c, a non-voter, leads")
	}
	victim := map[string]string{"a": "b", "b": "a"}[kept.name]
	wiped := c.kill(victim)
	if err := os.RemoveAll(wiped.dir); err != nil {
		t.Fatal(err)
	}
	// The leader steps down without its one fellow voter: a new leader
	// needs the wiped one's vote.
	eventually(t, waitFor, func() error {
		if _, self := kept.auth.Leader(); self {
			return fmt.Errorf("%s still leads", kept.name)
		}
		return nil
	})
	c.start(victim, startOpts{redisAddr: wiped.redisAddr})
	if l := c.leader(waitFor); l.name != kept.name {
		t.Fatalf("leader %s, want %s (the one voter with the log)", l.name, kept.name)
	}
	waitApplied(t, c, st.Index)
	wantEveryState(t, c, 3, "a")
}

// Chaos seed 14912 (N=3, shipped defaults): the member that bootstrapped
// the group and led it from the start was never sent the log by a leader.
// Once it had lost its leadership and the next leader was gone too, it
// refused the last member its vote as one that lost its raft state, and
// the two never elected a leader. It holds the log: the last member,
// whose log is ahead of it, is elected with its vote.
func TestFirstLeaderVotesOnceLedByAnother(t *testing.T) {
	c := formGroup(t, 3)
	first := c.leader(waitFor)
	var others []string
	for name := range c.nodes {
		if name != first.name {
			others = append(others, name)
		}
	}
	slices.Sort(others)

	// Cut off, the first leader steps down; the other two elect one of
	// themselves and commit an entry it lacks.
	c.isolate(first)
	second := c.leader(waitFor, others...)
	setPrimary(t, second, 0, 1, second.name)
	last := others[0]
	if last == second.name {
		last = others[1]
	}

	// The second leader dies and the first is back: only the last member,
	// its log ahead, can be elected, and only with the first one's vote.
	c.kill(second.name)
	c.heal()
	if l := c.leader(waitFor); l.name != last {
		t.Fatalf("leader %s, want %s (the log with the committed entry)", l.name, last)
	}
	waitApplied(t, c, second.auth.State().Index)
	wantEveryState(t, c, 1, second.name)
}
