package failover_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/authority/gossippeers"
	"github.com/vigil-redis/vigil/gossip"
	"github.com/vigil-redis/vigil/internal/faultnet"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/tcprelay"
	"github.com/vigil-redis/vigil/monitor"
)

// *gossip.Peer is the Cluster and *authority.Authority the Authority
// failover runs on in production.
var (
	_ failover.Cluster   = (*gossip.Peer)(nil)
	_ failover.Authority = (*authority.Authority)(nil)
)

// Timings every end-to-end test starts from: short, with room for two busy
// cores under -race.
func testMonitorConfig() monitor.Config {
	return monitor.Config{
		Interval: 50 * time.Millisecond,  // probe and report 20 times a second
		Timeout:  200 * time.Millisecond, // generous for a loaded machine
	}
}

func testFailoverConfig() failover.Config {
	cfg := failover.DefaultConfig()
	cfg.DownAfter = 2 * time.Second // detect a dead primary within two seconds
	// Fence well before down_after, yet beyond a Raft contact gap a loaded
	// machine under -race produces (heartbeats every ~130 ms).
	cfg.FenceAfter = time.Second
	cfg.MaxFailovers = 0 // tests fail over back to back
	cfg.SwitchoverTimeout = 5 * time.Second
	cfg.Authority.Stabilization = time.Second // joiners vote soon
	// Raft timings with room for two busy cores under -race; the lease
	// stays below fence_after so a cut-off leader steps down first.
	cfg.Authority.RaftHeartbeatTimeout = 400 * time.Millisecond
	cfg.Authority.RaftElectionTimeout = 400 * time.Millisecond
	cfg.Authority.RaftLeaderLeaseTimeout = 300 * time.Millisecond
	return cfg
}

func testGossipConfig() gossip.Config {
	cfg := gossip.DefaultConfig()
	cfg.ProbeInterval = 100 * time.Millisecond
	cfg.ProbeTimeout = 50 * time.Millisecond
	cfg.GossipInterval = 20 * time.Millisecond
	cfg.PushPullInterval = time.Second
	cfg.TCPTimeout = time.Second
	cfg.RejoinInterval = 200 * time.Millisecond
	cfg.SettleTimeout = 2 * time.Second
	return cfg
}

// node is one Redis with its sidecar.
type node struct {
	name     string
	priority int
	redis    *redistest.Server
	relay    *tcprelay.Relay // what every other party uses to reach this Redis
	// own, when not nil (nodeSpec.ownRelay), is what its own sidecar
	// reaches it through: cut, it cuts the sidecar from its Redis only.
	own *tcprelay.Relay
	dir string

	mu      sync.Mutex
	fo      *failover.Failover
	auth    *authority.Authority
	peer    *gossip.Peer
	tr      *faultnet.Transport
	reg     *prometheus.Registry
	events  []failover.Event
	stop    func()
	running bool

	// wrap, when set before start, stands between failover and the
	// authority (to freeze a sidecar at a chosen moment).
	wrap func(*authority.Authority) failover.Authority
	// key is the gossip encryption key (base64); "" uses the group's.
	key string
}

// group is a test's set of nodes.
type group struct {
	t     *testing.T
	net   *faultnet.Network
	nodes []*node
	cfg   failover.Config
	trs   map[string]*faultnet.Transport
	addrs []string
	key   string // gossip encryption key of the group, "" for none
}

type nodeSpec struct {
	name     string
	priority int // 0 = never promote; default 100 via groupSpec
	args     []string
	// unsynced: the sidecars start without waiting for this replica's
	// initial sync.
	unsynced bool
	// ownRelay: its sidecar reaches its Redis through a relay of its own
	// (node.own).
	ownRelay bool
}

// newGroup starts redis-servers (the first a primary, the others its
// replicas through the primary's relay) and their sidecars, and waits until
// every sidecar follows the same configuration.
func newGroup(t *testing.T, cfg failover.Config, specs ...nodeSpec) *group {
	t.Helper()
	g := startGroup(t, cfg, false, specs...)
	g.waitConverged(15*time.Second, g.nodes[0].name)
	return g
}

// startGroup starts the nodes without waiting for a configuration; with
// standalone every Redis starts as a primary of its own.
func startGroup(t *testing.T, cfg failover.Config, standalone bool, specs ...nodeSpec) *group {
	t.Helper()
	return startGroupKey(t, cfg, standalone, "", specs...)
}

// startGroupKey is startGroup with a gossip encryption key for every node.
func startGroupKey(t *testing.T, cfg failover.Config, standalone bool, key string, specs ...nodeSpec) *group {
	t.Helper()
	cfg.Authority.BootstrapExpect = len(specs)
	g := &group{t: t, net: faultnet.NewNetwork(), cfg: cfg, trs: map[string]*faultnet.Transport{}, key: key}
	for i, s := range specs {
		n := &node{name: s.name, priority: s.priority, dir: t.TempDir()}
		opts := redistest.Options{Args: s.args}
		if i > 0 && !standalone {
			opts.ReplicaOf = g.nodes[0].relay.Addr()
		}
		n.redis = redistest.Start(t, opts)
		n.relay = tcprelay.Start(t, n.redis.Addr())
		if s.ownRelay {
			n.own = tcprelay.Start(t, n.redis.Addr())
		}
		g.nodes = append(g.nodes, n)
	}
	if !standalone {
		for i, n := range g.nodes[1:] {
			if !specs[i+1].unsynced {
				n.redis.WaitSynced(t)
			}
		}
	}
	for _, n := range g.nodes {
		tr, err := g.net.NewTransport("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		g.trs[n.name] = tr
		g.addrs = append(g.addrs, tr.Addr())
	}
	for _, n := range g.nodes {
		g.start(n)
	}
	return g
}

// testLogger logs a sidecar's lines to the test with VIGIL_TEST_LOG set;
// otherwise it keeps its last lines and prints them only if the test
// fails, so a failure in CI says what the sidecars did.
func testLogger(t *testing.T, name string) *slog.Logger {
	w := &tWriter{t: t, live: os.Getenv("VIGIL_TEST_LOG") != ""}
	// Registered before the sidecar's stop, so it runs after it: lines
	// logged by leftovers after the test are dropped, not a panic.
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
		if t.Failed() && !w.live && len(w.tail) > 0 {
			t.Logf("sidecar %s, last %d log lines:\n%s", name, len(w.tail), strings.Join(w.tail, "\n"))
		}
	})
	level := slog.LevelInfo
	if w.live {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("sidecar", name)
}

// tailLines is how many lines a quiet test logger keeps per sidecar.
const tailLines = 300

type tWriter struct {
	t    *testing.T
	live bool

	mu   sync.Mutex
	done bool
	tail []string
}

func (w *tWriter) Write(b []byte) (int, error) {
	line := strings.TrimRight(string(b), "\n")
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.done:
	case w.live:
		w.t.Log(line)
	default:
		if len(w.tail) == tailLines {
			w.tail = append(w.tail[:0], w.tail[1:]...)
		}
		w.tail = append(w.tail, line)
	}
	return len(b), nil
}

// start runs n's sidecar (gossip peer, prober, failover) until stop or the
// end of the test.
func (g *group) start(n *node) {
	t := g.t
	t.Helper()
	tr := g.trs[n.name]
	if tr == nil {
		var err error
		if tr, err = g.net.NewTransport("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		g.trs[n.name] = tr
	}
	if !slices.Contains(g.addrs, tr.Addr()) {
		// A restarted sidecar listens elsewhere; later starts join it there.
		g.addrs = append(g.addrs, tr.Addr())
	}
	g.trs[n.name] = nil // a transport serves one peer lifetime
	logger := testLogger(t, n.name)
	reg := prometheus.NewRegistry()
	gcfg := testGossipConfig()
	gcfg.BindAddr = tr.Addr()
	gcfg.Join = g.addrs
	gcfg.EncryptionKey = g.key
	if n.key != "" {
		gcfg.EncryptionKey = n.key
	}
	peer, err := gossip.New(gcfg, n.name, n.dir, logger, reg, gossip.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	rl, err := peer.Stream(gossip.StreamRaft)
	if err != nil {
		t.Fatal(err)
	}
	rpcl, err := peer.Stream(gossip.StreamAuthorityRPC)
	if err != nil {
		t.Fatal(err)
	}
	local := n.redis.Addr()
	if n.own != nil {
		local = n.own.Addr()
	}
	rc := monitor.RedisConfig{Addr: local, AnnounceAddr: n.relay.Addr(), Priority: n.priority}
	prober, err := monitor.New(rc, testMonitorConfig(), logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	var fo *failover.Failover
	auth, err := authority.New(g.cfg.AuthorityConfig(), logger, reg, authority.Deps{
		DataDir:  n.dir,
		Self:     authority.Member{Name: n.name, RedisAddr: n.relay.Addr(), Priority: n.priority},
		Raft:     rl,
		RPC:      rpcl,
		Peers:    gossippeers.New(peer),
		CanVote:  func(m authority.Member) bool { return fo.CanVote(m.Name) },
		Interval: testMonitorConfig().Interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	var fa failover.Authority = auth
	if n.wrap != nil {
		fa = n.wrap(auth)
	}
	fo, err = failover.New(g.cfg, logger, reg, failover.Deps{
		Self:      failover.Node{Name: n.name, Addr: n.relay.Addr(), Priority: n.priority},
		Redis:     rc,
		Monitor:   testMonitorConfig(),
		Local:     prober,
		Cluster:   peer,
		Authority: fa,
	})
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := fo.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s %s: %v", n.name, name, err)
			}
		}()
	}
	run("gossip", peer.Run)
	run("monitor", prober.Run)
	run("authority", auth.Run)
	run("failover", fo.Run)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range events {
			n.mu.Lock()
			n.events = append(n.events, e)
			n.mu.Unlock()
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			unsubscribe()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				var b strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%s: sidecar did not stop; goroutines:\n%s", n.name, b.String())
			}
			_ = prober.Close()
			_ = tr.Shutdown()
		})
	}
	t.Cleanup(stop)
	n.mu.Lock()
	n.fo, n.auth, n.peer, n.tr, n.reg, n.stop, n.running = fo, auth, peer, tr, reg, stop, true
	n.mu.Unlock()
}

// kill stops n's sidecar as a crash would (its Redis keeps running).
func (n *node) kill() {
	n.mu.Lock()
	stop := n.stop
	n.running = false
	n.mu.Unlock()
	stop()
}

// authority returns n's current raft node.
func (n *node) authority() *authority.Authority {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.auth
}

// leader names the raft leader as the running sidecars see it.
func (g *group) leader() string {
	for _, n := range g.running() {
		if l, _ := n.authority().Leader(); l != "" {
			return l
		}
	}
	return ""
}

// addNode starts one more Redis (a replica of primaryAddr) and its sidecar.
func (g *group) addNode(s nodeSpec, primaryAddr string) *node {
	g.t.Helper()
	n := &node{name: s.name, priority: s.priority, dir: g.t.TempDir()}
	n.redis = redistest.Start(g.t, redistest.Options{Args: s.args, ReplicaOf: primaryAddr})
	n.relay = tcprelay.Start(g.t, n.redis.Addr())
	g.nodes = append(g.nodes, n)
	tr, err := g.net.NewTransport("127.0.0.1")
	if err != nil {
		g.t.Fatal(err)
	}
	g.trs[n.name] = tr
	g.start(n)
	return n
}

func (n *node) failover() *failover.Failover {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fo
}

func (n *node) eventsOf(kind failover.EventKind) []failover.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []failover.Event
	for _, e := range n.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (g *group) node(name string) *node {
	for _, n := range g.nodes {
		if n.name == name {
			return n
		}
	}
	g.t.Fatalf("no node %s", name)
	return nil
}

func (g *group) running() []*node {
	var out []*node
	for _, n := range g.nodes {
		n.mu.Lock()
		if n.running {
			out = append(out, n)
		}
		n.mu.Unlock()
	}
	return out
}

// role asks a Redis for its role ("master", "slave") and, for a replica,
// the address it follows.
func role(ctx context.Context, c *redis.Client) (string, string, error) {
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", "", err
	}
	r, _ := v[0].(string)
	if r == "slave" && len(v) >= 3 {
		return r, fmt.Sprintf("%v:%v", v[1], v[2]), nil
	}
	return r, "", nil
}

// waitConverged waits until every running sidecar is ready and follows one
// configuration naming primary ("" = any), that Redis is a primary and
// every other running node's Redis follows it with its link up.
func (g *group) waitConverged(timeout time.Duration, primary string) failover.Configuration {
	g.t.Helper()
	var conf failover.Configuration
	redistest.Eventually(g.t, timeout, func() error {
		var err error
		conf, err = g.converged(primary)
		return err
	})
	return conf
}

func (g *group) converged(primary string) (failover.Configuration, error) {
	running := g.running()
	var conf failover.Configuration
	for i, n := range running {
		fo := n.failover()
		if !fo.Ready() {
			return conf, fmt.Errorf("%s not ready", n.name)
		}
		c := fo.Configuration()
		if i == 0 {
			conf = c
		} else if c.Epoch != conf.Epoch || c.Primary != conf.Primary {
			return conf, fmt.Errorf("%s follows %s@%d, %s follows %s@%d", running[0].name, conf.Primary, conf.Epoch, n.name, c.Primary, c.Epoch)
		}
	}
	if conf.Primary == "" || (primary != "" && conf.Primary != primary) {
		return conf, fmt.Errorf("primary is %q, want %q", conf.Primary, primary)
	}
	if !conf.Promoted {
		return conf, fmt.Errorf("primary %s not promoted yet at epoch %d", conf.Primary, conf.Epoch)
	}
	for _, n := range running {
		if n.name == conf.Primary && !n.failover().IsPrimary() {
			return conf, fmt.Errorf("primary %s does not take writes yet (fenced %v)", n.name, n.failover().Snapshot().Fenced)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, n := range g.nodes {
		r, master, err := role(ctx, n.redis.Client())
		if err != nil {
			if n.name == conf.Primary {
				return conf, fmt.Errorf("primary %s: %w", n.name, err)
			}
			continue // a dead Redis follows nothing
		}
		switch {
		case n.name == conf.Primary && r != "master":
			return conf, fmt.Errorf("primary %s is %s", n.name, r)
		case n.name != conf.Primary && (r != "slave" || master != conf.PrimaryAddr):
			return conf, fmt.Errorf("%s is %s of %q, want replica of %s", n.name, r, master, conf.PrimaryAddr)
		case n.name != conf.Primary:
			info, err := n.redis.Client().Info(ctx, "replication").Result()
			if err != nil {
				return conf, err
			}
			if m := redistest.ParseInfo(info); m["master_link_status"] != "up" {
				return conf, fmt.Errorf("%s link %s", n.name, m["master_link_status"])
			}
		}
	}
	return conf, nil
}

// holdFor asserts cond for the whole of d: for properties that must keep
// holding (no failover happens), not for waiting.
func holdFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// epochsUnchanged fails if any running sidecar leaves epoch.
func (g *group) epochUnchanged(epoch uint64) func() error {
	return func() error {
		for _, n := range g.running() {
			if c := n.failover().Configuration(); c.Epoch != epoch {
				return fmt.Errorf("%s moved to epoch %d (primary %s), want %d", n.name, c.Epoch, c.Primary, epoch)
			}
		}
		return nil
	}
}

// promotions counts +promoted-slave events per epoch over every sidecar.
func (g *group) promotions() map[uint64][]string {
	out := map[uint64][]string{}
	for _, n := range g.nodes {
		for _, e := range n.eventsOf(failover.EventPromotedReplica) {
			out[e.Epoch] = append(out[e.Epoch], e.Node.Name)
		}
	}
	return out
}

func writeKey(ctx context.Context, c *redis.Client, key string) error {
	return c.Set(ctx, key, "1", 0).Err()
}
