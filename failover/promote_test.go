package failover

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// Chaos seed 1503 (N=3): c's Redis, a replica until epoch 3 (so with
// min-replicas-to-write 0), was made a primary with its writes paused for
// the promotion; its sidecar was killed during the hold for the old
// primary, before the release that set min-replicas-to-write, and once the
// pause lapsed the Redis took writes with no replica beside a, promoted at
// epoch 4. With min_replicas the promotion transaction sets
// min-replicas-to-write before REPLICAOF NO ONE: the Redis is never a
// primary without it.
func TestPromoteTxSetsMinReplicasFirst(t *testing.T) {
	for _, tt := range []struct {
		name        string
		minReplicas int // min_replicas in the config
		members     int
		want        int // min-replicas-to-write set in the transaction, 0 for none
	}{
		{"durable mode, three members", 1, 3, 1},
		{"durable mode, min_replicas above the other members", 3, 3, 2},
		{"durable mode, a group of one", 1, 1, 0},
		{"without min_replicas: Redis's own settings", 0, 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmds := promoteTxCmds(minReplicasFor(tt.minReplicas, tt.members), maxLagSeconds(1e9), 10*time.Second)
			str := make([]string, len(cmds))
			for i, c := range cmds {
				str[i] = strings.TrimSpace(fmt.Sprintln(c...))
			}
			noOne := slices.Index(str, "REPLICAOF NO ONE")
			if noOne < 0 {
				t.Fatalf("no REPLICAOF NO ONE in %q", str)
			}
			set := slices.IndexFunc(cmds, func(c []any) bool {
				return len(c) > 3 && c[0] == "CONFIG" && c[1] == "SET" && c[2] == "min-replicas-to-write"
			})
			if tt.want == 0 {
				if set >= 0 {
					t.Fatalf("min-replicas-to-write set: %q", str)
				}
				return
			}
			if set < 0 || set > noOne {
				t.Fatalf("min-replicas-to-write not set before REPLICAOF NO ONE: %q", str)
			}
			if got := cmds[set][3]; got != tt.want {
				t.Fatalf("min-replicas-to-write %v, want %d", got, tt.want)
			}
			if got := cmds[set][5]; got != 1 {
				t.Fatalf("min-replicas-max-lag %v, want 1", got)
			}
		})
	}
}

// Chaos seed 6205 (N=5): c's Redis, the primary, was cut off with its
// sidecar; d was promoted and its own Redis, still linked to c's in Redis's
// eyes until its REPLICAOF NO ONE, held d's writes for ackLagBound (3 s).
// The fence on c's Redis failed at the promotion (out of reach); c's Redis
// was back in reach 0.7 s into the hold, and the hold ran out anyway:
// writes came back 6.8 s after the faults hit c alone. A fence that lands
// during the hold ends it as the first one would.
func TestWaitHoldRefencesSeed6205(t *testing.T) {
	const every = 5 * time.Millisecond
	for _, tc := range []struct {
		name      string
		landed    bool // the first fence, at the promotion
		refence   bool // a later try is allowed (the hold fences)
		landsAt   int  // the try that lands (0: none)
		wantTries bool // later tries were made
		wantFull  bool // the hold runs to its end
	}{
		{name: "first fence landed", landed: true, refence: true},
		{name: "first fence failed, no fence for this hold", wantFull: true},
		{name: "first fence failed, old redis never back", refence: true, wantTries: true, wantFull: true},
		{name: "seed 6205: old redis back during the hold", refence: true, landsAt: 3, wantTries: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			fenced := tc.landed
			close(done)
			tries := 0
			var refence func(context.Context) bool
			if tc.refence {
				refence = func(ctx context.Context) bool {
					tries++
					if _, ok := ctx.Deadline(); !ok {
						t.Error("a retried fence has no deadline: it could outlast the hold")
					}
					return tc.landsAt > 0 && tries >= tc.landsAt
				}
			}
			hold := 2 * time.Second
			if tc.wantFull {
				hold = 150 * time.Millisecond // keep the full waits short
			}
			start := time.Now()
			if err := waitHold(context.Background(), start.Add(hold), done, &fenced, every, refence); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if full := took >= hold; full != tc.wantFull {
				t.Errorf("waited %v of a %v hold; want the full hold %v", took, hold, tc.wantFull)
			}
			if (tries > 0) != tc.wantTries {
				t.Errorf("%d later tries; want some %v", tries, tc.wantTries)
			}
			if tc.landsAt > 0 && tries != tc.landsAt {
				t.Errorf("%d tries; want %d (stop once one lands)", tries, tc.landsAt)
			}
		})
	}
	// A cancelled context ends the wait with its error, retries or not.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	fenced := false
	if err := waitHold(ctx, time.Now().Add(time.Second), done, &fenced, every, func(context.Context) bool { return false }); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}

// captureKeeper records the requests it is asked to keep.
type captureKeeper struct{ reqs []divergent.Request }

func (k *captureKeeper) Keep(_ context.Context, req divergent.Request) (divergent.Result, error) {
	k.reqs = append(k.reqs, req)
	return divergent.Result{}, nil
}
func (*captureKeeper) Config() divergent.Config { return divergent.Config{} }

// TestKeepDivergentBoundsTheReplay: a demotion waits for the replay of
// the divergent writes into the new primary at most down_after (chaos
// seed 2103: a sidecar waited 40 s on a replay into a paused primary; in
// seed 11907 a demotion stalled 7 s on one). The bound was written for
// 2103 but never passed to the keeper.
func TestKeepDivergentBoundsTheReplay(t *testing.T) {
	start := time.Now()
	k := &captureKeeper{}
	g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
	g.f.keeper = k
	req := keepReq{epoch: 2, node: "n0", addr: benchAddrs["n0"], replID: "1111111111111111111111111111111111111111",
		history: []HistoryEntry{{Epoch: 2, New: "n1", ForkReplID: "1111111111111111111111111111111111111111", ForkOffset: 100}}}
	demote, err := g.f.keepDivergent(context.Background(), req, benchAddrs["n1"])
	if err != nil || !demote {
		t.Fatalf("keepDivergent = %v, %v; want true, nil", demote, err)
	}
	if len(k.reqs) != 1 {
		t.Fatalf("%d keep requests, want 1", len(k.reqs))
	}
	if got, want := k.reqs[0].ReplayWait, DefaultConfig().DownAfter; got != want {
		t.Errorf("ReplayWait = %s, want down_after %s", got, want)
	}
}

// TestUndetachVerifiesSeed11535: the promoted primary's Redis, pointing at
// itself, is made a primary again only while a Verify still names this
// node at the epoch the plan saw. Chaos seed 11535 (N=5): a's sidecar,
// two elections behind after a partition healed, made a's Redis a primary
// again on its stale state, and the leader later promoted it for the keys
// of its tail past the group's fork.
func TestUndetachVerifiesSeed11535(t *testing.T) {
	start := time.Now()
	stale := authority.State{Index: 40, Epoch: 6, Primary: "n0", Promoted: true, Started: start, Members: map[string]authority.Member{}}
	for name, addr := range benchAddrs {
		stale.Members[name] = authority.Member{Name: name, RaftAddr: addr, RedisAddr: addr, Priority: 100, Voter: true, Since: start}
	}
	moved := stale
	moved.Index, moved.Epoch, moved.Primary = 52, 8, "n2"
	for _, tt := range []struct {
		name     string
		verified authority.State // what the leader answers
		primary  bool            // the Redis ends a primary
	}{
		{"the verified state still names it", stale, true},
		{"seed 11535: the group moved on to another primary", moved, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			r := redistest.Start(t, redistest.Options{})
			rc := r.Client()
			if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			// Detached: a replica of itself, as startDetach leaves it.
			if err := rc.Do(ctx, "REPLICAOF", r.Host(), r.Port()).Err(); err != nil {
				t.Fatal(err)
			}
			f, _ := newLocalFailover(t, r, benchAuth{st: tt.verified, self: "n0"})
			c := f.newCore(start)
			c.st, c.verified = stale, true
			f.startUndetach(ctx, c)
			awaitEffect(t, f, c, "the undetach")
			if c.localBusy {
				t.Error("the local Redis is still marked busy after the undetach ended")
			}
			role := r.Info(t, "replication")["role"]
			if primary := role == "master"; primary != tt.primary {
				t.Fatalf("role %q after the undetach; want a primary %v", role, tt.primary)
			}
			if tt.primary {
				return
			}
			// Refused, it is left as it was: pointing at itself, with its
			// data, and not paused (a read answers at once).
			info := r.Info(t, "replication")
			if info["master_port"] != strconv.Itoa(r.Port()) {
				t.Errorf("master_port %q after the refusal, want its own %d", info["master_port"], r.Port())
			}
			rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			if v, err := rc.Get(rctx, "k").Result(); err != nil || v != "v" {
				t.Errorf("GET k after the refusal: %q, %v; want v at once", v, err)
			}
		})
	}
}

// newLocalFailover is a Failover of node n0 whose local Redis is r, probed
// for real, with auth as its authority; nothing runs until a test starts
// an effect (awaitEffect).
func newLocalFailover(t *testing.T, r *redistest.Server, auth Authority) (*Failover, *monitor.Prober) {
	t.Helper()
	mc := monitor.Config{Interval: 50 * time.Millisecond, Timeout: time.Second}
	prober, err := monitor.New(monitor.RedisConfig{Addr: r.Addr()}, mc, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prober.Close() })
	f, err := New(DefaultConfig(), nil, prometheus.NewRegistry(), Deps{
		Self:  Node{Name: "n0", Addr: r.Addr(), Priority: 100},
		Redis: monitor.RedisConfig{Addr: r.Addr()}, Monitor: mc,
		Local: prober, Cluster: benchCluster{}, Authority: auth,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, prober
}

// awaitEffect runs the result of the one effect started on f, as the loop
// would, and waits for every goroutine it started.
func awaitEffect(t *testing.T, f *Failover, c *core, what string) {
	t.Helper()
	select {
	case res := <-f.results:
		res(c)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never ended", what)
	}
	f.wg.Wait()
}

// recordAuth is benchAuth that records the commands applied.
type recordAuth struct {
	benchAuth
	mu   sync.Mutex
	cmds []authority.Command
}

func (a *recordAuth) Apply(_ context.Context, cmd authority.Command) (authority.State, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds = append(a.cmds, cmd)
	return a.st, nil
}

func TestRestartFork(t *testing.T) {
	const chosen = "9262198f"
	replica := monitor.Observation{Role: monitor.RoleReplica, ReplID2: strings.Repeat("0", 40)}
	primary := monitor.Observation{Role: monitor.RolePrimary, ReplID2: strings.Repeat("0", 40)}
	for _, tt := range []struct {
		name string
		o    monitor.Observation
		pos  replPosition
		want bool
	}{
		{"seed 11584: back from its AOF, pointing at itself", replica, replPosition{ReplID: "e602e00e", Offset: 0}, true},
		{"back from its AOF as a primary", primary, replPosition{ReplID: "e602e00e", Offset: 120}, true},
		{"still on the chosen history", replica, replPosition{ReplID: chosen, Offset: 28794}, false},
		{"promoted from the chosen history by an earlier attempt", monitor.Observation{Role: monitor.RolePrimary, ReplID2: chosen},
			replPosition{ReplID: "df75d9f0", ReplID2: chosen, Offset: 28900, Second: 28795}, false},
		{"a replica that synced since", monitor.Observation{Role: monitor.RoleReplica, Synced: true}, replPosition{ReplID: "e602e00e", Offset: 0}, false},
		{"a replica past 0 on another history", replica, replPosition{ReplID: "e602e00e", Offset: 44}, false},
		{"a primary with a past history", monitor.Observation{Role: monitor.RolePrimary, ReplID2: "77aa"}, replPosition{ReplID: "e602e00e", ReplID2: "77aa", Offset: 0}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fork, ok := restartFork(tt.o, tt.pos, chosen, 28794)
			if ok != tt.want {
				t.Fatalf("restartFork = %+v, %v; want %v", fork, ok, tt.want)
			}
			if ok && (fork.OldReplID != chosen || fork.Offset != 28794) {
				t.Fatalf("fork %+v, want the chosen position %s:28794", fork, chosen)
			}
		})
	}
	if _, ok := restartFork(replica, replPosition{ReplID: "e602e00e"}, "", 0); ok {
		t.Error("a fork without a chosen position (a holder)")
	}
}

// TestPromotionOfAnAOFRestartRecordsTheChosenFork: a named replica whose
// Redis came back from its AOF (offset 0 on a history of its own) and was
// pointed at itself is promoted, and the "promoted" entry records the
// fork where the leader chose it, not the restart's own history at 0.
// Chaos seed 11584 (N=5): the entry said e602e00e:0, and two deposed
// Redis holding retry-queue INCRs past the chosen offset were re-pointed
// with a full sync instead of keeping their tail.
func TestPromotionOfAnAOFRestartRecordsTheChosenFork(t *testing.T) {
	ctx := t.Context()
	r := redistest.Start(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	rc := r.Client()
	for i := range 20 {
		if err := rc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r.Restart(t) // back from its AOF: offset 0 on a new history
	redistest.Eventually(t, 10*time.Second, func() error {
		if n, err := rc.DBSize(ctx).Result(); err != nil || n != 20 {
			return fmt.Errorf("DBSIZE after the restart: %d, %v", n, err)
		}
		return nil
	})
	if err := rc.Do(ctx, "REPLICAOF", r.Host(), r.Port()).Err(); err != nil { // detached before its promotion
		t.Fatal(err)
	}
	const chosenID, chosenOff = "9262198fcbfef4b2cb5c8056fe8aa4fad0b37cad", 28794
	start := time.Now()
	st := authority.State{Index: 30, Epoch: 2, Primary: "n0", Reason: ReasonAuto, Started: start,
		ChosenReplID: chosenID, ChosenOffset: chosenOff, Members: map[string]authority.Member{}}
	st.Members["n0"] = authority.Member{Name: "n0", RaftAddr: r.Addr(), RedisAddr: r.Addr(), Priority: 100, Voter: true, Since: start}
	auth := &recordAuth{benchAuth: benchAuth{st: st, self: "n0"}}
	f, prober := newLocalFailover(t, r, auth)
	c := f.newCore(start)
	c.st, c.verified = st, true
	c.obs = prober.ProbeNow(ctx)
	if c.obs.Role != monitor.RoleReplica || c.obs.Offset != 0 {
		t.Fatalf("before the promotion: role %s offset %d, want a replica at 0", c.obs.Role, c.obs.Offset)
	}
	f.startPromote(ctx, c, false)
	awaitEffect(t, f, c, "the promotion")
	auth.mu.Lock()
	cmds := slices.Clone(auth.cmds)
	auth.mu.Unlock()
	i := slices.IndexFunc(cmds, func(c authority.Command) bool { return c.Op == authority.OpPromoted })
	if i < 0 {
		t.Fatalf("no promoted entry committed: %+v", cmds)
	}
	e := cmds[i].Entry
	info := r.Info(t, "replication")
	if info["role"] != "master" {
		t.Fatalf("role %s after the promotion", info["role"])
	}
	if e.ForkReplID != chosenID || e.ForkOffset != chosenOff || e.NewReplID != info["master_replid"] || !e.Resumed {
		t.Fatalf("promoted entry fork %s:%d new %s resumed %v; want the chosen %s:%d, new %s, resumed",
			e.ForkReplID, e.ForkOffset, e.NewReplID, e.Resumed, chosenID, chosenOff, info["master_replid"])
	}
}

// The promotion transaction pauses writes itself: a Redis made a primary
// is paused whatever became of the pause taken before it. Chaos seed
// 14905 (N=3, shipped defaults): c, promoted at epoch 3, fenced b's Redis
// and, finding it a replica, lifted every pause on it (CLIENT UNPAUSE is
// global), b's own promotion pause with them; b's sidecar, stopped as
// epoch 2's winner, resumed and ran REPLICAOF NO ONE, and b's Redis took
// writes beside c's for 0.25 s. Here a real replica, its pause lifted the
// same way, is promoted with the transaction, and a write waits.
func TestPromotionTxPausesWritesSeed14905(t *testing.T) {
	ctx := context.Background()
	primary := redistest.Start(t, redistest.Options{})
	replica := redistest.Start(t, redistest.Options{ReplicaOf: primary.Addr()})
	replica.WaitSynced(t)
	cl := replica.Client()
	for _, args := range [][]any{{"CLIENT", "PAUSE", 10000, "WRITE"}, {"CLIENT", "UNPAUSE"}} {
		if err := cl.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, args := range promoteTxCmds(0, 1, 3*time.Second) {
			p.Do(ctx, args...)
		}
		return nil
	}); err != nil && !strings.Contains(err.Error(), "CONFIG REWRITE") && !strings.Contains(err.Error(), "config file") {
		t.Fatalf("promotion transaction: %v", err)
	}
	if role, err := cl.Do(ctx, "ROLE").Slice(); err != nil || role[0] != "master" {
		t.Fatalf("role %v, %v: want master", role, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := cl.Set(wctx, "k", "v", 0).Err(); err == nil {
		t.Fatalf("a write right after the promotion succeeded in %v: the new primary was not paused", time.Since(start))
	}
}

// An empty replica that never synced is promoted when every member's
// Redis is empty as its own sidecar sees it (nothingToLose; chaos seed
// 17205, N=3), and refused, as before, when another member's Redis holds
// a key: then it is not the replica the leader chose.
func TestPromotionOfAnEmptyUnsyncedReplicaSeed17205(t *testing.T) {
	for _, tt := range []struct {
		name     string
		keysN1   int64
		promoted bool
	}{
		{"every Redis empty", 0, true},
		{"n1's Redis holds a key", 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			r := redistest.Start(t, redistest.Options{})
			// A replica of a primary that never answered: not synced, no key.
			if err := r.Client().Do(ctx, "REPLICAOF", "127.0.0.1", redistest.FreePort(t, "127.0.0.1")).Err(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			st := authority.State{Index: 30, Epoch: 3, Primary: "n0", Previous: "n2", Reason: ReasonAuto, Started: start,
				Members: map[string]authority.Member{}}
			for _, n := range []string{"n0", "n1", "n2"} {
				st.Members[n] = authority.Member{Name: n, RaftAddr: n + ":7946", RedisAddr: n + ":6379", Priority: 100, Voter: true, Since: start}
			}
			st.Members["n0"] = authority.Member{Name: "n0", RaftAddr: r.Addr(), RedisAddr: r.Addr(), Priority: 100, Voter: true, Since: start}
			auth := &recordAuth{benchAuth: benchAuth{st: st, self: "n0"}}
			f, prober := newLocalFailover(t, r, auth)
			c := f.newCore(start)
			c.st, c.verified = st, true
			f.onState(c, authority.State{}, start)
			c.obs = prober.ProbeNow(ctx)
			if c.obs.Role != monitor.RoleReplica || c.obs.Synced || c.obs.Keys != 0 {
				t.Fatalf("before the promotion: role %s synced %v keys %d, want an empty replica never synced", c.obs.Role, c.obs.Synced, c.obs.Keys)
			}
			now := time.Now()
			replica := func(name string, keys int64) peerView {
				return peerView{Received: now, UpAt: now, UpKeys: keys, Rep: report{Name: name, Addr: name + ":6379", Priority: 100,
					Obs: obsSummary{Reachable: true, Role: monitor.RoleReplica, MasterAddr: "n2:6379", Keys: keys}}}
			}
			c.peers["n0"], c.peers["n1"] = replica("n0", 0), replica("n1", tt.keysN1)
			// n2, the primary replaced: its sidecar silent, its Redis last
			// seen pointing at itself with no key.
			gone := replica("n2", 0)
			gone.Received, gone.UpAt = now.Add(-time.Minute), now.Add(-time.Minute)
			c.peers["n2"] = gone
			f.startPromote(ctx, c, false)
			awaitEffect(t, f, c, "the promotion")
			if role := r.Info(t, "replication")["role"]; (role == "master") != tt.promoted {
				t.Fatalf("role %s after the promotion, want promoted %v", role, tt.promoted)
			}
		})
	}
}
