package authority_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/authority/gossippeers"
	"github.com/vigil-redis/vigil/gossip"
	"github.com/vigil-redis/vigil/internal/faultnet"
)

// testKey is the group's gossip key: raft and the forwarding RPC are
// authenticated and encrypted with it, as in production.
const testKey = "dGhpcnR5LXR3by1ieXRlLXRlc3Qta2V5LXZpZ2lsISE=" // 32 bytes

// gossipConfig starts from gossip's defaults and shortens what tests wait for.
func gossipConfig() gossip.Config {
	cfg := gossip.DefaultConfig()
	cfg.EncryptionKey = testKey
	cfg.ProbeInterval = 100 * time.Millisecond // notice a dead peer in well under a second
	cfg.ProbeTimeout = 50 * time.Millisecond   // loopback round trips are tiny, even under -race
	cfg.GossipInterval = 20 * time.Millisecond // spread metadata (raft state) faster
	cfg.PushPullInterval = time.Second         // repair missed gossip within a test's patience
	cfg.TCPTimeout = time.Second               // fail dials to dead peers quickly
	cfg.RejoinInterval = 200 * time.Millisecond
	cfg.SettleTimeout = 5 * time.Second
	return cfg
}

// authConfig is the default authority config with a short stabilization.
func authConfig(expect int) authority.Config {
	cfg := authority.DefaultConfig()
	cfg.BootstrapExpect = expect
	cfg.Stabilization = time.Second // promote joiners within a test's patience
	return cfg
}

// testLogger logs to the test log when AUTH_TEST_LOG is set, else discards.
func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("AUTH_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// cutLayer is a gossip stream layer that a test can cut: while cut, dials
// fail, accepted streams are closed at once, and cutting closes every
// stream already open. faultnet blocks new dials and gossip packets; this
// adds the open streams it leaves alone, so a cut node is truly alone.
type cutLayer struct {
	*gossip.StreamLayer
	holes *holes
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newCutLayer(l *gossip.StreamLayer, h *holes) *cutLayer {
	return &cutLayer{StreamLayer: l, holes: h, conns: map[net.Conn]struct{}{}}
}

// holes are the addresses whose dials hang until their timeout, as across
// a partition that drops packets: faultnet refuses a blocked dial at once.
type holes struct {
	mu    sync.Mutex
	addrs map[string]bool
}

func (h *holes) set(addr string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.addrs == nil {
		h.addrs = map[string]bool{}
	}
	h.addrs[addr] = on
}

func (h *holes) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.addrs)
}

func (h *holes) has(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addrs[addr]
}

func (l *cutLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		if c, ok := l.keep(c); ok {
			return c, nil
		}
	}
}

func (l *cutLayer) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if cut {
		return nil, errors.New("test: layer cut")
	}
	if l.holes.has(addr) {
		time.Sleep(timeout)
		return nil, fmt.Errorf("test: dial %s: %w", addr, os.ErrDeadlineExceeded)
	}
	c, err := l.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	if c, ok := l.keep(c); ok {
		return c, nil
	}
	return nil, errors.New("test: layer cut")
}

func (l *cutLayer) keep(c net.Conn) (net.Conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		_ = c.Close()
		return nil, false
	}
	l.conns[c] = struct{}{}
	return &cutConn{Conn: c, l: l}, true
}

func (l *cutLayer) setCut(cut bool) {
	l.mu.Lock()
	l.cut = cut
	var open []net.Conn
	if cut {
		for c := range l.conns {
			open = append(open, c)
		}
		clear(l.conns)
	}
	l.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

type cutConn struct {
	net.Conn
	l *cutLayer
}

func (c *cutConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c.Conn)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// node is one sidecar's gossip peer and authority in a test.
type node struct {
	name      string
	dir       string
	redisAddr string
	tr        *faultnet.Transport
	peer      *gossip.Peer
	auth      *authority.Authority
	reg       *prometheus.Registry
	layers    []*cutLayer
	stop      func()
}

func (n *node) addr() string { return n.tr.Addr() }

// cluster is a set of nodes on one faultnet network.
type cluster struct {
	t     testing.TB
	net   *faultnet.Network
	holes *holes
	cfg   authority.Config
	nodes map[string]*node
}

func newCluster(t testing.TB, cfg authority.Config) *cluster {
	return &cluster{t: t, net: faultnet.NewNetwork(), holes: &holes{}, cfg: cfg, nodes: map[string]*node{}}
}

type startOpts struct {
	dir       string   // data dir; "" = a new temp dir
	join      []string // gossip join addresses; nil = every running node's
	redisAddr string   // "" = a made-up address naming the node
	isolated  bool     // cut from every other node before starting
	cfg       *authority.Config
	gossip    *gossip.Config // nil = gossipConfig()
}

// start runs a node until stopped (or the test ends) and waits until its
// gossip is up.
func (c *cluster) start(name string, o startOpts) *node {
	t := c.t
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.redisAddr == "" {
		o.redisAddr = "redis-" + name + ":6379"
	}
	tr, err := c.net.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if o.join == nil {
		for _, n := range c.nodes {
			o.join = append(o.join, n.addr())
		}
	}
	if o.isolated {
		for _, n := range c.nodes {
			c.net.Block(tr.Addr(), n.addr())
		}
	}
	gcfg := gossipConfig()
	if o.gossip != nil {
		gcfg = *o.gossip
	}
	gcfg.BindAddr = tr.Addr()
	gcfg.Join = o.join
	reg := prometheus.NewRegistry()
	logger := testLogger(t, name)
	peer, err := gossip.New(gcfg, name, o.dir, logger, reg, gossip.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	raftL, err := peer.Stream(gossip.StreamRaft)
	if err != nil {
		t.Fatal(err)
	}
	rpcL, err := peer.Stream(gossip.StreamAuthorityRPC)
	if err != nil {
		t.Fatal(err)
	}
	layers := []*cutLayer{newCutLayer(raftL, c.holes), newCutLayer(rpcL, c.holes)}
	if o.isolated {
		for _, l := range layers {
			l.setCut(true)
		}
	}
	cfg := c.cfg
	if o.cfg != nil {
		cfg = *o.cfg
	}
	auth, err := authority.New(cfg, logger, reg, authority.Deps{
		DataDir: o.dir,
		Self:    authority.Member{Name: name, RedisAddr: o.redisAddr},
		Raft:    layers[0],
		RPC:     layers[1],
		Peers:   gossippeers.New(peer),
	})
	if err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithCancel(context.Background())
	actx, acancel := context.WithCancel(context.Background())
	gdone, adone := make(chan error, 1), make(chan error, 1)
	go func() { gdone <- peer.Run(gctx) }()
	go func() { adone <- auth.Run(actx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			acancel()
			select {
			case err := <-adone:
				if err != nil {
					t.Errorf("%s: authority run: %v", name, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("%s: authority Run did not return after cancel", name)
			}
			gcancel()
			select {
			case err := <-gdone:
				if err != nil {
					t.Errorf("%s: gossip run: %v", name, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("%s: gossip Run did not return after cancel", name)
			}
			_ = tr.Shutdown()
		})
	}
	t.Cleanup(stop)
	select {
	case <-peer.Ready():
	case err := <-gdone:
		t.Fatalf("%s: gossip run: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: gossip not ready", name)
	}
	n := &node{name: name, dir: o.dir, redisAddr: o.redisAddr, tr: tr, peer: peer, auth: auth, reg: reg, layers: layers, stop: stop}
	c.nodes[name] = n
	return n
}

// kill stops a node (raft shuts down without handing leadership over)
// and forgets it in the cluster.
func (c *cluster) kill(name string) *node {
	n := c.nodes[name]
	n.stop()
	delete(c.nodes, name)
	return n
}

// isolate cuts n from every other node: gossip packets, new dials and
// the streams already open.
func (c *cluster) isolate(n *node) {
	for _, o := range c.nodes {
		if o != n {
			c.net.Block(n.addr(), o.addr())
		}
	}
	for _, l := range n.layers {
		l.setCut(true)
	}
}

// blackhole isolates n, and every dial to it hangs until its timeout.
func (c *cluster) blackhole(n *node) {
	c.holes.set(n.addr(), true)
	c.isolate(n)
}

// heal removes every cut.
func (c *cluster) heal() {
	c.holes.clear()
	c.net.Heal()
	for _, n := range c.nodes {
		for _, l := range n.layers {
			l.setCut(false)
		}
	}
}

// leader waits until every node in names agrees on one leader among them
// and returns it.
func (c *cluster) leader(timeout time.Duration, names ...string) *node {
	c.t.Helper()
	if names == nil {
		for name := range c.nodes {
			names = append(names, name)
		}
	}
	var leader string
	eventually(c.t, timeout, func() error {
		leader = ""
		for _, name := range names {
			l, _ := c.nodes[name].auth.Leader()
			if l == "" {
				return fmt.Errorf("%s knows no leader", name)
			}
			if leader != "" && l != leader {
				return fmt.Errorf("leaders differ: %s and %s", leader, l)
			}
			leader = l
		}
		if c.nodes[leader] == nil || !slices.Contains(names, leader) {
			return fmt.Errorf("leader %s is not among %v", leader, names)
		}
		if _, self := c.nodes[leader].auth.Leader(); !self {
			return fmt.Errorf("%s does not consider itself the leader", leader)
		}
		return nil
	})
	return c.nodes[leader]
}

// follower returns a node of names other than the leader.
func (c *cluster) follower(leader *node) *node {
	for _, n := range c.nodes {
		if n != leader {
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// eventually polls cond every 20ms until it returns nil, failing the test
// with the last error after timeout.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor is how long tests wait for anything raft or gossip does: generous,
// because the machine running them may be loaded.
const waitFor = 30 * time.Second

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
