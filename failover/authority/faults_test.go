package authority_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/gossip"
)

func TestLeaderKilled(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) { testLeaderKilled(t, size) })
	}
}

func testLeaderKilled(t *testing.T, size int) {
	c := formGroup(t, size)
	leader := c.leader(waitFor)
	st := setPrimary(t, leader, 0, 1, leader.name)
	waitApplied(t, c, st.Index)

	old := c.kill(leader.name)
	next := c.leader(waitFor)
	if next.name == old.name {
		t.Fatalf("killed leader %s still leads", old.name)
	}
	// The state survives and the new leader applies.
	vs, err := c.follower(next).auth.Verify(ctxFor(t, waitFor))
	if err != nil || vs.Primary != old.name || vs.Epoch != 1 {
		t.Fatalf("after leader loss: primary %q epoch %d err %v", vs.Primary, vs.Epoch, err)
	}
	st = setPrimary(t, c.follower(next), 1, 2, next.name)
	if size == 5 {
		// Two of five voters down: the other three still decide.
		c.kill(next.name)
		next = c.leader(waitFor)
		st = setPrimary(t, c.follower(next), 2, 3, next.name)
		c.start(old.name, startOpts{dir: old.dir, redisAddr: old.redisAddr})
		waitApplied(t, c, st.Index)
		return
	}

	// The killed node restarts with its data dir, catches up and is still a voter.
	back := c.start(old.name, startOpts{dir: old.dir, redisAddr: old.redisAddr})
	waitApplied(t, c, st.Index)
	if got := back.auth.State(); got.Primary != next.name || got.Epoch != 2 || !got.Members[old.name].Voter {
		t.Fatalf("restarted node: primary %q epoch %d, member %+v", got.Primary, got.Epoch, got.Members[old.name])
	}
}

func TestVerifyFailsOnCutOffLeader(t *testing.T) {
	c := formGroup(t, 3)
	old := c.leader(waitFor)
	st := setPrimary(t, old, 0, 1, old.name)
	waitApplied(t, c, st.Index)
	if _, err := old.auth.Verify(ctxFor(t, waitFor)); err != nil {
		t.Fatalf("verify on the leader before the cut: %v", err)
	}

	cut := time.Now()
	c.isolate(old)
	// The cut-off leader cannot confirm its leadership: Verify fails, and
	// so does an Apply (nothing it proposes can commit).
	if vs, err := old.auth.Verify(ctxFor(t, 3*time.Second)); err == nil {
		t.Fatalf("verify on a cut-off leader succeeded: %+v", vs)
	} else if !errors.Is(err, authority.ErrNoLeader) {
		t.Logf("verify on the cut-off leader: %v", err)
	}
	// Stepping down is no contact: raft's own last contact moves to that
	// moment, and the primary's fence would wait out the lease on top.
	if lc := old.auth.LastContact(); lc.After(cut.Add(50 * time.Millisecond)) {
		t.Errorf("cut-off leader's last contact %s after the cut, want none", lc.Sub(cut))
	}
	if _, err := old.auth.Apply(ctxFor(t, 2*time.Second), authority.Command{Op: authority.OpPause}); err == nil {
		t.Fatal("apply on a cut-off leader succeeded")
	}
	others := []string{}
	for name := range c.nodes {
		if name != old.name {
			others = append(others, name)
		}
	}
	next := c.leader(waitFor, others...)
	st = setPrimary(t, next, 1, 2, next.name)
	// LastContact on the cut-off node stops moving.
	lc := old.auth.LastContact()
	if time.Since(lc) < 200*time.Millisecond {
		eventually(t, waitFor, func() error {
			if d := time.Since(old.auth.LastContact()); d < time.Second {
				return fmt.Errorf("cut-off node's last contact only %s ago", d)
			}
			return nil
		})
	}

	c.heal()
	waitApplied(t, c, st.Index)
	if got := old.auth.State(); got.Primary != next.name || got.Epoch != 2 || got.Paused {
		t.Fatalf("old leader after heal: primary %q epoch %d paused %v", got.Primary, got.Epoch, got.Paused)
	}
	// Like a paused sidecar that resumes: acting on what it saw before the
	// cut (epoch 1) is rejected by the group.
	if _, err := old.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpPromoted, IfEpoch: 1, Epoch: 1, Node: old.name}); !errors.Is(err, authority.ErrStale) {
		t.Fatalf("promoted at the old epoch after the cut: err = %v, want ErrStale", err)
	}
	// Its contact is a heartbeat from the new leader, which may come a
	// moment after the entries (raft sends both as soon as it reaches
	// the node again).
	eventually(t, waitFor, func() error {
		if lc := old.auth.LastContact(); !lc.After(cut.Add(100 * time.Millisecond)) {
			return fmt.Errorf("last contact %v, not refreshed after heal", lc)
		}
		return nil
	})
}

func TestWipedNodeIsolatedNeverFormsAGroup(t *testing.T) {
	c := formGroup(t, 3)
	leader := c.leader(waitFor)
	st := setPrimary(t, leader, 0, 1, leader.name)
	waitApplied(t, c, st.Index)

	// c loses its data dir and comes back alone, with bootstrap_expect 1 even:
	// gossip shows it nobody, so it can only wait.
	victim := c.kill("c")
	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	one := authConfig(1)
	_ = one
	back := c.start("c", startOpts{isolated: true, redisAddr: victim.redisAddr})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if l, _ := back.auth.Leader(); l != "" || back.auth.State().Index != 0 || back.auth.Ready() || back.auth.CaughtUp() {
			t.Fatalf("wiped isolated node has leader %q, index %d, ready %v, caught up %v", l, back.auth.State().Index, back.auth.Ready(), back.auth.CaughtUp())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The group kept its majority meanwhile.
	st = setPrimary(t, c.leader(waitFor, "a", "b"), 1, 2, "b")

	c.heal()
	waitApplied(t, c, st.Index)
	if got := back.auth.State(); got.Primary != "b" || got.Epoch != 2 || len(got.Voters()) != 3 {
		t.Fatalf("rejoined node: primary %q epoch %d voters %v", got.Primary, got.Epoch, got.Voters())
	}
	eventually(t, waitFor, func() error {
		if !back.auth.CaughtUp() {
			return fmt.Errorf("rejoined node not caught up")
		}
		return nil
	})
	for name, n := range c.nodes {
		if !n.auth.CaughtUp() {
			t.Errorf("%s, which kept its state, not caught up", name)
		}
	}
	c.leader(waitFor)
}

func TestBootstrapExpectOneWipedIsolated(t *testing.T) {
	// bootstrap_expect 1 is a single-node group by design: a wiped member
	// of a bigger group that runs with it would form its own group if it
	// were isolated. Seeing the group it rejoins instead of splitting off
	// (the members advertise raft state, and the leader adds it back): it
	// ends with the group's three voters, not a configuration of its own.
	c := formGroup(t, 3)
	victim := c.kill("c")
	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	one := authConfig(1)
	back := c.start("c", startOpts{redisAddr: victim.redisAddr, cfg: &one})
	waitMembers(t, c, 3, 3)
	if l, _ := back.auth.Leader(); l == "" {
		t.Fatal("no leader")
	}
	if got := back.auth.State().Voters(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("voters %v", got)
	}
}

func TestTransientJoinersNeverVote(t *testing.T) {
	cfg := authConfig(3)
	cfg.Stabilization = authority.DefaultConfig().Stabilization // 10s
	c := newCluster(t, cfg)
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	c.leader(waitFor)
	waitMembers(t, c, 3, 3)

	// Record every state a member of the group applies from now on.
	var (
		mu        sync.Mutex
		sawVoters []string
	)
	watchDone := make(chan struct{})
	stopWatch := make(chan struct{})
	watched := c.nodes["a"].auth
	go func() {
		defer close(watchDone)
		for {
			st, ch := watched.Watch()
			mu.Lock()
			for _, v := range st.Voters() {
				if !slices.Contains(sawVoters, v) {
					sawVoters = append(sawVoters, v)
				}
			}
			mu.Unlock()
			select {
			case <-ch:
			case <-stopWatch:
				return
			}
		}
	}()

	joiners := []string{"x1", "x2", "x3"}
	for _, name := range joiners {
		c.start(name, startOpts{})
	}
	// They join as non-voters and register, which starts their clocks...
	eventually(t, waitFor, func() error {
		st := c.nodes["a"].auth.State()
		for _, name := range joiners {
			if m, ok := st.Members[name]; !ok || m.Since.IsZero() {
				return fmt.Errorf("%s not a registered member yet: %+v", name, m)
			}
		}
		return nil
	})
	registered := time.Now()
	// ...and vanish before stabilization.
	for _, name := range joiners {
		c.kill(name)
	}
	if took := time.Since(registered); took >= cfg.Stabilization {
		t.Fatalf("stopping the joiners took %s, longer than stabilization: the test proves nothing", took)
	}
	waitMembers(t, c, 3, 3)
	close(stopWatch)
	<-watchDone
	mu.Lock()
	slices.Sort(sawVoters)
	if !slices.Equal(sawVoters, []string{"a", "b", "c"}) {
		t.Fatalf("voters seen: %v, want only a, b, c", sawVoters)
	}
	mu.Unlock()

	// The group keeps its majority: with one of three voters gone it
	// still elects and commits.
	leader := c.leader(waitFor)
	c.kill(c.follower(leader).name)
	st := setPrimary(t, c.leader(waitFor), 0, 1, leader.name)
	if st.Epoch != 1 {
		t.Fatalf("epoch %d", st.Epoch)
	}
}

func TestJoinerPromotedThenForgotten(t *testing.T) {
	c := formGroup(t, 3)
	d := c.start("d", startOpts{})
	_ = d
	waitMembers(t, c, 4, 4) // promoted after stabilization (1s here)

	leader := c.leader(waitFor)
	f := c.follower(leader)
	// An alive member cannot be forgotten.
	if _, err := f.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpForget, Node: "d"}); !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("forget of an alive member: err = %v, want ErrInvalid", err)
	}
	c.kill("d")
	// A dead voter stays a voter and counts toward the majority.
	time.Sleep(2 * time.Second) // several membership rounds on the leader
	if got := c.leader(waitFor).auth.State().Voters(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("voters after d died: %v", got)
	}
	eventually(t, waitFor, func() error {
		leader = c.leader(waitFor)
		_, err := c.follower(leader).auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpForget, Node: "d"})
		if err != nil {
			return err
		}
		return nil
	})
	waitMembers(t, c, 3, 3)
	if _, err := leader.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpForget, Node: "d"}); !errors.Is(err, authority.ErrNotMember) {
		t.Fatalf("second forget: err = %v, want ErrNotMember", err)
	}
}

func TestFullRestartKeepsStateAndTakesNewAddresses(t *testing.T) {
	c := formGroup(t, 3)
	leader := c.leader(waitFor)
	st := setPrimary(t, leader, 0, 1, "b")
	if _, err := leader.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpPromoted, IfEpoch: 1, Epoch: 1, Node: "b"}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, c, st.Index+1)
	type saved struct{ dir, redis string }
	dirs := map[string]saved{}
	for name, n := range c.nodes {
		dirs[name] = saved{n.dir, n.redisAddr}
	}
	for _, name := range []string{"a", "b", "c"} {
		c.kill(name)
	}
	// Every sidecar comes back on a new gossip port (new raft address)
	// and with a new Redis address, as when pods are rescheduled.
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{dir: dirs[name].dir, redisAddr: "moved-" + dirs[name].redis})
	}
	c.leader(waitFor)
	waitMembers(t, c, 3, 3) // checks the new Redis addresses are registered
	for name, n := range c.nodes {
		got := n.auth.State()
		if got.Primary != "b" || got.Epoch != 1 || !got.Promoted {
			t.Errorf("%s after restart: primary %q epoch %d promoted %v", name, got.Primary, got.Epoch, got.Promoted)
		}
		for _, m := range got.Members {
			if m.RaftAddr != c.nodes[m.Name].addr() {
				t.Errorf("%s: %s raft addr %s, announced %s", name, m.Name, m.RaftAddr, c.nodes[m.Name].addr())
			}
		}
	}
}

func TestKeylessJoinerNeverJoins(t *testing.T) {
	c := formGroup(t, 3)
	other := gossipConfig()
	other.EncryptionKey = "b3RoZXItdGhpcnR5LXR3by1ieXRlLWtleS12aWdpbCE=" // another 32-byte key
	x := c.start("x", startOpts{gossip: &other})
	// It sees nobody, so it never bootstraps, and nobody adds it.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if l, _ := x.auth.Leader(); l != "" {
			t.Fatalf("keyless node follows leader %s", l)
		}
		for name, n := range c.nodes {
			if _, ok := n.auth.State().Members["x"]; ok && name != "x" {
				t.Fatalf("%s lists the keyless node as a member", name)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := x.auth.Apply(ctxFor(t, time.Second), authority.Command{Op: authority.OpSetPrimary, IfEpoch: 0, Epoch: 1, Primary: "x", Reason: authority.ReasonSwitchover}); err == nil {
		t.Fatal("keyless node applied a command")
	}
	c.kill("x")
	waitMembers(t, c, 3, 3)
	if st := c.nodes["a"].auth.State(); st.Primary != "" || st.Epoch != 0 {
		t.Fatalf("group state changed: primary %q epoch %d", st.Primary, st.Epoch)
	}
}

func TestSnapshotsRestoreAndCatchUp(t *testing.T) {
	cfg := authConfig(3)
	cfg.RaftSnapshotThreshold = 16
	cfg.RaftSnapshotInterval = time.Second
	c := newCluster(t, cfg)
	for _, name := range []string{"a", "b", "c"} {
		c.start(name, startOpts{})
	}
	c.leader(waitFor)
	waitMembers(t, c, 3, 3)
	leader := c.leader(waitFor)
	var st authority.State
	for i := range 60 {
		var err error
		st, err = leader.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpHistory,
			Entry: &authority.HistoryEntry{Epoch: uint64(i), New: "a", Result: "success"}})
		if err != nil {
			t.Fatalf("history %d: %v", i, err)
		}
	}
	st = setPrimary(t, leader, 0, 7, "c")
	waitApplied(t, c, st.Index)
	// Every node snapshots (and truncates its log).
	eventually(t, waitFor, func() error {
		for name, n := range c.nodes {
			snaps, _ := os.ReadDir(n.dir + "/raft/snapshots")
			if len(snaps) == 0 {
				return fmt.Errorf("%s has no snapshot yet", name)
			}
		}
		return nil
	})

	// A member that lost its data dir is caught up (from a snapshot: the
	// early entries are gone from the others' logs).
	victim := c.kill("b")
	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	c.start("b", startOpts{redisAddr: victim.redisAddr})
	waitApplied(t, c, st.Index)

	// A full restart restores every node from its snapshot and log.
	dirs := map[string]*node{}
	for name, n := range c.nodes {
		dirs[name] = n
	}
	for name := range dirs {
		c.kill(name)
	}
	for name, n := range dirs {
		c.start(name, startOpts{dir: n.dir, redisAddr: n.redisAddr})
	}
	c.leader(waitFor)
	waitApplied(t, c, st.Index)
	for name, n := range c.nodes {
		got := n.auth.State()
		if got.Primary != "c" || got.Epoch != 7 || len(got.History) != 60 || got.History[59].Epoch != 59 {
			t.Errorf("%s: primary %q epoch %d history %d", name, got.Primary, got.Epoch, len(got.History))
		}
	}
}

// A forget that would leave the rest of the voters without a live
// majority is refused: the removal could not commit, and the leader,
// counting on the new configuration at once, stepped down with nobody to
// elect another. Chaos seed 16110 (N=3): c, just resumed from a SIGSTOP,
// still acknowledged raft entries while gossip saw it dead; forgotten
// while a's node was down, it left voters a and b without a leader until
// a came back.
func TestForgetRefusedWhenTheRestLackAMajority(t *testing.T) {
	c := formGroup(t, 3)
	leader := c.leader(waitFor)
	var down, gone *node
	for _, n := range c.nodes {
		switch {
		case n == leader:
		case down == nil:
			down = n
		default:
			gone = n
		}
	}
	// gone's gossip is cut, its raft streams are not.
	for _, n := range c.nodes {
		if n != gone {
			c.net.BlockExcept(gone.addr(), n.addr(), gossip.StreamRaft)
		}
	}
	c.kill(down.name)
	eventually(t, waitFor, func() error {
		if alive := leader.peer.Alive(); slices.Contains(alive, gone.name) {
			return fmt.Errorf("gossip on %s still sees %s alive: %v", leader.name, gone.name, alive)
		}
		return nil
	})
	_, err := leader.auth.Apply(ctxFor(t, waitFor), authority.Command{Op: authority.OpForget, Node: gone.name})
	if !errors.Is(err, authority.ErrInvalid) || !strings.Contains(err.Error(), down.name) {
		t.Fatalf("forget %s with %s down: err = %v, want ErrInvalid naming %s", gone.name, down.name, err, down.name)
	}
	// Nothing was removed, and the two left still commit.
	if got := leader.auth.State().Voters(); len(got) != 3 {
		t.Fatalf("voters after the refused forget: %v", got)
	}
	if st := setPrimary(t, c.leader(waitFor), 0, 1, leader.name); st.Epoch != 1 {
		t.Fatalf("epoch %d after the refused forget", st.Epoch)
	}
}

// A follower's linearizable read forwarded to a leader cut off by dropped
// packets gives that leader a bounded attempt and then asks the leader
// elected meanwhile. Before, the one dial took the caller's whole wait
// (chaos seed 16844, N=5: a re-point's Verify held the new primary's
// promotion back 1.4 s), and this Verify failed at its deadline.
func TestVerifyOnAFollowerOutlastsACutOffLeader(t *testing.T) {
	c := formGroup(t, 3)
	old := c.leader(waitFor)
	st := setPrimary(t, old, 0, 1, old.name)
	waitApplied(t, c, st.Index)
	var follower *node
	for _, n := range c.nodes {
		if n != old {
			follower = n
			break
		}
	}
	c.blackhole(old)
	// At once: the follower still takes old for the leader.
	vs, err := follower.auth.Verify(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatalf("verify on a follower, its leader cut off: %v", err)
	}
	if vs.Primary != old.name || vs.Epoch != 1 {
		t.Errorf("verified state: primary %q epoch %d, want %s at 1", vs.Primary, vs.Epoch, old.name)
	}
	if l, _ := follower.auth.Leader(); l == old.name || l == "" {
		t.Errorf("follower's leader after the verify: %q, want a new one", l)
	}
	c.heal()
}
