package failover_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
)

func three(prioB, prioC int) []nodeSpec {
	return []nodeSpec{{name: "a", priority: 100}, {name: "b", priority: prioB}, {name: "c", priority: prioC}}
}

// A SIGKILLed primary is replaced by exactly one replica, the other replica
// follows it, every sidecar agrees, and the old primary comes back as a
// replica that refuses writes.
func TestKillPrimary(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	before := g.waitConverged(10*time.Second, "a")
	// The initial primary's confirmation records the history its Redis
	// writes (chaos seed 9522: an AOF restart of it is judged by it).
	replID := g.node("a").redis.Info(t, "replication")["master_replid"]
	redistest.Eventually(t, 10*time.Second, func() error {
		h := g.node("b").failover().History()
		if len(h) == 0 || h[0].Reason != failover.ReasonInitial || h[0].NewReplID != replID {
			return fmt.Errorf("history %+v, want the initial primary's entry on %s", h, replID)
		}
		return nil
	})

	_, changed := g.node("b").failover().Watch()
	g.node("a").redis.Kill(t)
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Fatal("the topology watch did not signal the failure")
	}
	var after failover.Configuration
	redistest.Eventually(t, 20*time.Second, func() error {
		c, err := g.converged("")
		if err == nil && c.Primary == "a" {
			err = fmt.Errorf("still a")
		}
		after = c
		return err
	})
	if after.Epoch <= before.Epoch {
		t.Fatalf("epoch %d after failover, was %d", after.Epoch, before.Epoch)
	}
	for epoch, who := range g.promotions() {
		if len(who) != 1 {
			t.Errorf("epoch %d promoted %v, want exactly one", epoch, who)
		}
	}
	h := g.node(after.Primary).failover().History()
	if len(h) == 0 || h[len(h)-1].Reason != failover.ReasonAuto || h[len(h)-1].New != after.Primary {
		t.Errorf("history of %s = %+v, want an auto failover to it last", after.Primary, h)
	}
	// Events: every sidecar announces the switch once, with the new epoch;
	// the new primary's sidecar reports the promotion's steps.
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, n := range g.running() {
			var sw []failover.Event
			for _, e := range n.eventsOf(failover.EventSwitchPrimary) {
				if e.Epoch == after.Epoch {
					sw = append(sw, e)
				}
			}
			if len(sw) != 1 || sw[0].OldPrimary.Name != "a" || sw[0].NewPrimary.Name != after.Primary {
				return fmt.Errorf("%s: +switch-master events at epoch %d: %+v", n.name, after.Epoch, sw)
			}
			if len(n.eventsOf(failover.EventNewEpoch)) == 0 {
				return fmt.Errorf("%s: no +new-epoch", n.name)
			}
		}
		p := g.node(after.Primary)
		for _, k := range []failover.EventKind{failover.EventStateSendNoOne, failover.EventStateWaitPromotion,
			failover.EventPromotedReplica, failover.EventStateReconfReplicas, failover.EventFailoverEnd} {
			if len(p.eventsOf(k)) != 1 {
				return fmt.Errorf("%s: %d %s events, want 1", p.name, len(p.eventsOf(k)), k)
			}
		}
		return nil
	})

	// The old primary restarts empty, as a primary: its sidecar converts it.
	a := g.node("a")
	a.redis.Restart(t)
	g.waitConverged(20*time.Second, after.Primary)
	holdFor(t, time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := writeKey(ctx, a.redis.Client(), "after-rejoin"); err == nil {
			return fmt.Errorf("old primary accepted a write after rejoining")
		}
		return nil
	})
}

// A replica whose Redis was left paused (another sidecar checked it as a
// stale primary and paused it just after its own sidecar made it a
// replica: chaos seed 12804) has the pause lifted when its sidecar
// re-points it at the new primary, and applies the new primary's stream:
// a paused replica acknowledges what it does not apply.
func TestRepointLiftsAPause(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 0)...)
	c := g.node("c")
	ctx := t.Context()
	if err := c.redis.Client().Do(ctx, "CLIENT", "PAUSE", time.Minute.Milliseconds(), "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	g.node("a").redis.Kill(t)
	g.waitConverged(20*time.Second, "b")
	if err := writeKey(ctx, g.node("b").redis.Client(), "after-failover"); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if n, err := c.redis.Client().Exists(ctx, "after-failover").Result(); err != nil || n != 1 {
			return fmt.Errorf("c's redis: EXISTS after-failover = %d, %v; want the new primary's write applied", n, err)
		}
		return nil
	})
}

// A stall shorter than down_after is not a failure.
func TestShortStallNoFailover(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(10*time.Second, "a")
	a := g.node("a")
	a.redis.Stop(t)
	time.Sleep(cfg.DownAfter / 2) // the fault: a stall of half down_after
	a.redis.Cont(t)
	holdFor(t, 3*cfg.DownAfter, g.epochUnchanged(conf.Epoch))
	g.waitConverged(5*time.Second, "a")
}

// The primary's sidecar dying says nothing about the primary.
func TestPrimarySidecarDiesNoFailover(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(10*time.Second, "a")
	g.node("a").kill()
	holdFor(t, 3*cfg.DownAfter, g.epochUnchanged(conf.Epoch))
	for _, n := range g.running() {
		if s := n.failover().Snapshot(); s.Primary.SDown {
			t.Errorf("%s sees the primary down", n.name)
		}
	}

	// An operator removes the dead sidecar from the known set through
	// any other sidecar's API; every peer forgets it.
	srv := httptest.NewServer(g.node("b").failover().Handler(""))
	defer srv.Close()
	redistest.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Post(srv.URL+"/v1/forget", "application/json", strings.NewReader(`{"node":"a"}`))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("forget: %d", resp.StatusCode)
		}
		return nil
	})
	// Every running sidecar applies the committed forget.
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, n := range g.running() {
			if k := n.peer.Known(); slices.Contains(k, "a") {
				return fmt.Errorf("%s still knows a: %v", n.name, k)
			}
			if m, ok := n.auth.State().Members["a"]; ok && m.Voter {
				return fmt.Errorf("%s: a is still a voter", n.name)
			}
		}
		return nil
	})
	resp, err := http.Get(srv.URL + "/v1/history")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h []failover.HistoryEntry
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Reason != failover.ReasonInitial || h[0].New != "a" {
		t.Errorf("history %+v, want the initial configuration only", h)
	}
}

// An isolated primary that nobody replaces (failover is paused) is fenced
// while isolated and released when the partition heals.
func TestFenceReleasedAfterHeal(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(10*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")
	if _, err := a.failover().Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		for _, n := range g.nodes {
			if !n.failover().Snapshot().Paused {
				return fmt.Errorf("%s not paused", n.name)
			}
		}
		return nil
	})
	g.net.Isolate(a.tr.Addr(), b.tr.Addr(), c.tr.Addr())
	a.relay.Cut()
	redistest.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if !a.failover().Snapshot().Fenced {
			return fmt.Errorf("a not fenced")
		}
		if err := writeKey(ctx, a.redis.Client(), "while-fenced"); err == nil {
			return fmt.Errorf("fenced a accepted a write")
		}
		return nil
	})
	// The pause is renewed about once a probe interval, not in a loop:
	// an isolated sidecar sent its Redis 1.6 million CLIENT PAUSE in under
	// two minutes (chaos seed 13005).
	before := pauseCalls(t, a.redis)
	time.Sleep(time.Second) // the window the renewals are counted over
	n, most := pauseCalls(t, a.redis)-before, 2*int(time.Second/testMonitorConfig().Interval)+5
	if n > most {
		t.Errorf("%d CLIENT PAUSE in a second while fenced, want at most %d", n, most)
	}
	t.Logf("%d CLIENT PAUSE in a second while fenced", n)
	g.net.Heal()
	a.relay.Heal()
	redistest.Eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if a.failover().Snapshot().Fenced || !a.failover().IsPrimary() {
			return fmt.Errorf("a still fenced")
		}
		return writeKey(ctx, a.redis.Client(), "after-heal")
	})
	holdFor(t, 200*time.Millisecond, g.epochUnchanged(conf.Epoch))
}

// A bridge partition: the primary's sidecar is cut from the Raft leader's
// only, the third sidecar reaching both. Cut off from the majority, the
// primary's sidecar fences its Redis, and its reports still reach the
// third, whose probes of that Redis get every PING answered. Before chaos
// seed 16102 (N=3) only the leader judged it down and the group stayed
// without a writable primary for as long as the bridge lasted; the reports
// now say the sidecar is cut off, the third judges the primary down too,
// and the group fails over.
func TestBridgedPrimaryIsReplaced(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	conf := g.waitConverged(10*time.Second, "a")
	// Cut from a primary that leads Raft, the leader keeps its majority
	// through the bridge: the primary must not be the leader.
	primary, leader := "a", ""
	redistest.Eventually(t, 60*time.Second, func() error {
		if leader = g.leader(); leader == "" {
			return fmt.Errorf("no raft leader")
		}
		if leader != primary {
			return nil
		}
		to := "b"
		if leader == to {
			to = "c"
		}
		if _, err := g.node(leader).failover().Switchover(context.Background(), to); err != nil {
			return fmt.Errorf("switchover to %s: %w", to, err)
		}
		conf, primary = g.waitConverged(30*time.Second, to), to
		return fmt.Errorf("%s leads raft and was the primary; switched over to %s", leader, to)
	})
	var bridge string
	for _, n := range g.nodes {
		if n.name != primary && n.name != leader {
			bridge = n.name
		}
	}
	p, l := g.node(primary), g.node(leader)
	t.Logf("primary %s, raft leader %s, bridge %s", primary, leader, bridge)
	g.net.Block(p.tr.Addr(), l.tr.Addr())
	defer g.net.Heal()
	var next string
	redistest.Eventually(t, 20*time.Second, func() error {
		s := g.node(bridge).failover().Snapshot()
		if s.Epoch <= conf.Epoch || s.Primary.Name == "" || s.Primary.Name == primary {
			return fmt.Errorf("%s: epoch %d, primary %q", bridge, s.Epoch, s.Primary.Name)
		}
		next = s.Primary.Name
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return writeKey(ctx, g.node(next).redis.Client(), "after-bridge")
	})
	t.Logf("%s promoted", next)
	g.net.Heal()
	g.waitConverged(30*time.Second, next)
}

// A bridge partition cuts the Raft leader, whose own Redis is the primary,
// from b, the one replica that may be promoted (c has priority 0); c hears
// both. Then the primary's Redis dies. Raft's pre-vote keeps b from
// deposing a leader c still hears, and the leader can neither judge b (its
// reports no longer arrive) nor tell it that it was named. Before the
// leader handed its leadership to c, which hears b (handTo), the group
// stayed without a primary for as long as the bridge lasted (chaos seed
// 16964, N=3: 5 s).
func TestLeaderHandsOverToReachTheReplica(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 0)...)
	conf := g.waitConverged(10*time.Second, "a")
	redistest.Eventually(t, 30*time.Second, func() error {
		l := g.leader()
		if l == "a" {
			return nil
		}
		if l == "" {
			return fmt.Errorf("no raft leader")
		}
		if err := g.node(l).authority().TransferLeadership("a"); err != nil {
			return fmt.Errorf("%s hands leadership to a: %w", l, err)
		}
		return fmt.Errorf("%s led", l)
	})
	a, b := g.node("a"), g.node("b")
	g.net.Block(a.tr.Addr(), b.tr.Addr())
	defer g.net.Heal()
	a.redis.Kill(t)
	redistest.Eventually(t, 20*time.Second, func() error {
		s := g.node("c").failover().Snapshot()
		if s.Epoch <= conf.Epoch || s.Primary.Name != "b" {
			return fmt.Errorf("c: epoch %d, primary %q; raft leader %q", s.Epoch, s.Primary.Name, g.leader())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return writeKey(ctx, b.redis.Client(), "after-handover")
	})
	if l := g.leader(); l == "a" {
		t.Errorf("a still leads raft")
	}
	g.net.Heal()
	redistest.Eventually(t, 20*time.Second, func() error {
		s := a.failover().Snapshot()
		if s.Primary.Name != "b" {
			return fmt.Errorf("a: primary %q", s.Primary.Name)
		}
		return nil
	})
}

// A partition of {a + its sidecar} from the rest: the majority promotes, the
// minority fences a within fence_after, at no moment do two nodes accept
// writes, and after healing a is a replica of the new primary. In the
// staggered case the Redis links go first and gossip only just before the
// majority can promote: a must fence on its peers' opinions, not on
// isolation alone.
func TestPartitionFencesMinority(t *testing.T) {
	cfg := testFailoverConfig()
	for _, tt := range []struct {
		name        string
		gossipAfter time.Duration
	}{
		{"simultaneous", 0},
		{"redis links first", cfg.DownAfter - cfg.FenceAfter/2},
	} {
		t.Run(tt.name, func(t *testing.T) { testPartition(t, cfg, tt.gossipAfter) })
	}
}

func testPartition(t *testing.T, cfg failover.Config, gossipAfter time.Duration) {
	g := newGroup(t, cfg, three(100, 100)...)
	g.waitConverged(10*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")

	// The poller writes to every Redis directly, round after round.
	type round struct {
		at       time.Time
		accepted []string
	}
	var (
		mu     sync.Mutex
		rounds []round
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	clients := map[string]*redis.Client{}
	for _, n := range g.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.redis.Addr(), DialTimeout: 250 * time.Millisecond,
			ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond, MaxRetries: -1})
		t.Cleanup(func() { cl.Close() })
		clients[n.name] = cl
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			r := round{at: time.Now()}
			var rmu sync.Mutex
			var rwg sync.WaitGroup
			for name, cl := range clients {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
					defer cancel()
					if cl.Set(ctx, fmt.Sprintf("poll:%s:%d", name, i), "x", 0).Err() == nil {
						rmu.Lock()
						r.accepted = append(r.accepted, name)
						rmu.Unlock()
					}
				}()
			}
			rwg.Wait()
			mu.Lock()
			rounds = append(rounds, r)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	cut := time.Now()
	a.relay.Cut()
	time.Sleep(gossipAfter) // the fault's shape: Redis links first
	g.net.Isolate(a.tr.Addr(), b.tr.Addr(), c.tr.Addr())

	redistest.Eventually(t, 10*time.Second, func() error {
		if !a.failover().Snapshot().Fenced {
			return fmt.Errorf("a not fenced")
		}
		return nil
	})
	fencedAfter := time.Since(cut)
	var newPrimary string
	// b's and c's Redis synced at offset 0 and hold no key (the poller's
	// writes reach a's alone), so the majority waits the durable wait (ten
	// down_after) from when a was last heard with keys before it promotes
	// one (richerUnheard, chaos seed 17143); a bound of exactly that wait
	// failed once in CI.
	redistest.Eventually(t, 10*cfg.DownAfter+10*time.Second, func() error {
		cb, cc := b.failover().Configuration(), c.failover().Configuration()
		if cb.Primary == "a" || cb.Primary != cc.Primary || cb.Epoch != cc.Epoch {
			return fmt.Errorf("b follows %s@%d, c follows %s@%d", cb.Primary, cb.Epoch, cc.Primary, cc.Epoch)
		}
		newPrimary = cb.Primary
		return nil
	})
	if a.failover().IsPrimary() {
		t.Errorf("fenced a claims to be a writable primary")
	}
	promotedAfter := time.Since(cut)
	t.Logf("fenced after %s, new primary %s after %s", fencedAfter, newPrimary, promotedAfter)
	redistest.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rounds {
			if slices.Contains(r.accepted, newPrimary) {
				return nil
			}
		}
		return fmt.Errorf("the poller has not seen %s accept a write yet", newPrimary)
	})

	g.net.Heal()
	a.relay.Heal()
	g.waitConverged(20*time.Second, newPrimary)
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	sawA, sawNew := false, false
	for _, r := range rounds {
		if len(r.accepted) > 1 {
			t.Errorf("at %s (%s after the cut) %v all accepted writes", r.at.Format(time.StampMilli), r.at.Sub(cut), r.accepted)
		}
		for _, n := range r.accepted {
			sawA = sawA || n == "a"
			sawNew = sawNew || n == newPrimary
		}
	}
	if !sawA || !sawNew {
		t.Errorf("poller saw a accept: %v, %s accept: %v; the test proves nothing", sawA, newPrimary, sawNew)
	}
}

// The most advanced eligible replica wins: c has the better priority but
// is more than max_lag_bytes behind, so b is promoted.
func TestLaggingReplicaNotPromoted(t *testing.T) {
	cfg := testFailoverConfig()
	cfg.MaxLagBytes = 1024
	g := newGroup(t, cfg, three(100, 10)...)
	g.waitConverged(10*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")

	// c stops reading; far more than the socket buffers between a and c
	// can hold is written, so c stays behind once a is gone.
	c.redis.Stop(t)
	ctx := context.Background()
	big := strings.Repeat("v", 1<<20)
	for i := range 32 {
		if err := a.redis.Client().Set(ctx, fmt.Sprintf("k%d", i), big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		pa := redistest.ParseInfo(a.redis.Client().Info(ctx, "replication").Val())["master_repl_offset"]
		pb := redistest.ParseInfo(b.redis.Client().Info(ctx, "replication").Val())["slave_repl_offset"]
		if pa == "" || pa != pb {
			return fmt.Errorf("b at %s, a at %s", pb, pa)
		}
		return nil
	})
	a.redis.Kill(t)
	c.redis.Cont(t)
	conf := g.waitConverged(20*time.Second, "b")
	for epoch, who := range g.promotions() {
		if len(who) != 1 || who[0] != "b" {
			t.Errorf("epoch %d promoted %v, want [b]", epoch, who)
		}
	}
	if conf.Primary != "b" {
		t.Errorf("primary %s, want b", conf.Primary)
	}
}

// With no eligible replica nothing is promoted and every sidecar says why.
func TestNoEligibleReplica(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(0, 0)...)
	conf := g.waitConverged(10*time.Second, "a")
	g.node("a").redis.Kill(t)
	redistest.Eventually(t, 10*time.Second, func() error {
		for _, n := range []*node{g.node("b"), g.node("c")} {
			s := n.failover().Snapshot()
			if !s.Primary.ODown || !strings.Contains(s.WhyNot, "priority") {
				return fmt.Errorf("%s: odown %v, why not %q", n.name, s.Primary.ODown, s.WhyNot)
			}
			if got := gaugeValue(t, n.reg, "vigil_failover_no_candidate", "reason", "priority_zero"); got != 1 {
				return fmt.Errorf("%s: no_candidate{priority_zero} = %v", n.name, got)
			}
		}
		return nil
	})
	holdFor(t, 2*cfg.DownAfter, g.epochUnchanged(conf.Epoch))
}

// A switchover asked of a replica's sidecar loses no acknowledged write.
func TestSwitchoverLosesNoWrite(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	g.waitConverged(10*time.Second, "a")

	var (
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			conf := g.node("c").failover().Configuration()
			n := g.node(conf.Primary)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			key := fmt.Sprintf("w:%d", i)
			if n.redis.Client().Set(ctx, key, i, 0).Err() == nil {
				acked = append(acked, key)
			}
			cancel()
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the writer get going

	srv := httptest.NewServer(g.node("c").failover().Handler("secret"))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/switchover", strings.NewReader(`{"to":"b"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("switchover without token: %d, want 401", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/v1/switchover", strings.NewReader(`{"to":"b"}`))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("switchover: %d", resp.StatusCode)
	}
	g.waitConverged(10*time.Second, "b")
	time.Sleep(200 * time.Millisecond) // more writes on the new primary
	stop.Store(true)
	wg.Wait()

	ctx := context.Background()
	missing := 0
	for _, k := range acked {
		if n, err := g.node("b").redis.Client().Exists(ctx, k).Result(); err != nil || n != 1 {
			missing++
		}
	}
	if missing != 0 || len(acked) == 0 {
		t.Errorf("%d of %d acknowledged writes missing on the new primary", missing, len(acked))
	}
	t.Logf("%d acknowledged writes, none lost", len(acked))
	for _, n := range g.nodes {
		h := n.failover().History()
		if len(h) == 0 || h[len(h)-1].Reason != failover.ReasonSwitchover {
			t.Errorf("%s history %+v, want a switchover last", n.name, h)
		}
	}
}

// While paused a dead primary is not replaced; after resume it is.
func TestPausedNoFailover(t *testing.T) {
	cfg := testFailoverConfig()
	g := newGroup(t, cfg, three(100, 100)...)
	conf := g.waitConverged(10*time.Second, "a")
	if _, err := g.node("b").failover().Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		for _, n := range g.nodes {
			if !n.failover().Snapshot().Paused {
				return fmt.Errorf("%s not paused", n.name)
			}
		}
		return nil
	})
	g.node("a").redis.Kill(t)
	redistest.Eventually(t, 10*time.Second, func() error {
		if !g.node("c").failover().Snapshot().Primary.ODown {
			return fmt.Errorf("c does not see odown yet")
		}
		return nil
	})
	holdFor(t, cfg.DownAfter, g.epochUnchanged(conf.Epoch))
	if !g.node("c").failover().Snapshot().Paused {
		t.Error("status does not say paused")
	}

	srv := httptest.NewServer(g.node("c").failover().Handler(""))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/resume", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resume: %d", resp.StatusCode)
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		c, err := g.converged("")
		if err == nil && (c.Primary == "a" || c.Paused) {
			err = fmt.Errorf("primary %s paused %v", c.Primary, c.Paused)
		}
		return err
	})
}

// TestFailedSwitchoverLeavesPrimaryWritable: a switchover whose target
// cannot take over fails at its deadline, and the old primary, which
// paused for the handover, is writable again for every sidecar. Chaos seed
// 9414 (N=5): the old primary's reports kept the handover after the
// switchover failed, and the other sidecars counted it not writable (their
// retry queues never drained) until the epoch changed.
func TestFailedSwitchoverLeavesPrimaryWritable(t *testing.T) {
	g := newGroup(t, testFailoverConfig(), three(100, 100)...)
	g.waitConverged(10*time.Second, "a")
	a, b, c := g.node("a"), g.node("b"), g.node("c")
	writable := func() error {
		for _, n := range g.nodes {
			if s := n.failover().Snapshot(); !s.Writable {
				return fmt.Errorf("%s counts the primary not writable (fenced %v)", n.name, s.Fenced)
			}
		}
		return nil
	}
	redistest.Eventually(t, 10*time.Second, writable)
	// b's Redis stopped while its sidecar's last report still names it
	// synced: b is the target and never catches up.
	b.redis.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := a.failover().Switchover(ctx, "b")
	cancel()
	b.redis.Cont(t)
	if err == nil {
		t.Fatal("a switchover to a stopped Redis succeeded")
	}
	t.Logf("switchover: %v", err)
	if c.failover().Configuration().Primary != "a" {
		t.Fatalf("primary %s, want a", c.failover().Configuration().Primary)
	}
	redistest.Eventually(t, 15*time.Second, writable)
}

// pauseCalls is how many CLIENT PAUSE commands r has run. The fence
// disconnects clients now and then: a read cut short is tried again.
func pauseCalls(t *testing.T, r *redistest.Server) int {
	t.Helper()
	var n int
	redistest.Eventually(t, 5*time.Second, func() error {
		info, err := r.Client().Info(context.Background(), "commandstats").Result()
		if err != nil {
			return err
		}
		n = 0
		for line := range strings.Lines(info) {
			stat, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_client|pause:calls=")
			if !ok {
				continue
			}
			calls, _, _ := strings.Cut(stat, ",")
			if n, err = strconv.Atoi(calls); err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
		}
		return nil
	})
	return n
}
