package gossip

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/internal/faultnet"
)

func TestThreePeersJoinInAnyOrder(t *testing.T) {
	addrs := map[string]string{"a": freeAddr(t), "b": freeAddr(t), "c": freeAddr(t)}
	join := []string{addrs["a"], addrs["b"], addrs["c"]}
	nodes := map[string]*node{}
	// c first, with nobody else up: it must keep retrying until a and b
	// arrive.
	for _, name := range []string{"c", "a", "b"} {
		cfg := testConfig()
		cfg.BindAddr = addrs[name]
		cfg.Join = join
		nodes[name] = startNode(t, name, nodeOpts{cfg: cfg})
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	all := []string{"a", "b", "c"}
	waitAlive(t, all, a, b, c)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range []*node{a, b, c} {
		if err := n.Settle(ctx); err != nil {
			t.Fatalf("%s: settle: %v", n.Name(), err)
		}
		if diff := cmp.Diff(n.Known(), all); diff != "" {
			t.Errorf("%s: known (-got +want):\n%s", n.Name(), diff)
		}
	}

	b.SetMeta([]byte("b-meta"))
	eventually(t, 5*time.Second, func() error {
		for _, n := range []*node{a, b, c} {
			for _, m := range n.Members() {
				if m.Name == "b" && string(m.Meta) != "b-meta" {
					return fmt.Errorf("%s sees b meta %q", n.Name(), m.Meta)
				}
			}
		}
		return nil
	})
	// Every node has the same view, addresses included.
	want := a.Members()
	for _, n := range []*node{b, c} {
		if diff := cmp.Diff(n.Members(), want); diff != "" {
			t.Errorf("%s members differ from a's (-got +want):\n%s", n.Name(), diff)
		}
	}
	for _, m := range want {
		if m.Addr != addrs[m.Name] {
			t.Errorf("member %s addr = %s, want %s", m.Name, m.Addr, addrs[m.Name])
		}
	}
	if got := a.MajorityReachable(); !got {
		t.Errorf("a.MajorityReachable() = false, want true")
	}

	// Oversized metadata is refused and the old value stays.
	b.SetMeta(make([]byte, MaxMetaSize+1))
	if got, _ := splitMeta(b.currentMeta(MaxMetaSize)); string(got) != "b-meta" {
		t.Errorf("meta after oversized SetMeta = %q, want b-meta", got)
	}
}

func TestSettleTimesOutWithoutError(t *testing.T) {
	cfg := testConfig()
	cfg.SettleTimeout = 50 * time.Millisecond
	// A join target that accepts but never answers keeps the first join
	// attempt busy for TCPTimeout, much longer than SettleTimeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = l.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	cfg.Join = []string{l.Addr().String()}
	n := startNode(t, "a", nodeOpts{cfg: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Settle(ctx); err != nil {
		t.Fatalf("settle: %v", err)
	}
	// A cancelled context is an error.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	n2, err := New(testConfig(), "x", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Settle(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("settle with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestMessages(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig()})
	cfg := testConfig()
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg})
	c := startNode(t, "c", nodeOpts{cfg: cfg})
	waitAlive(t, []string{"a", "b", "c"}, a, b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("send", func(t *testing.T) {
		if err := a.Send(ctx, "b", 1, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		got := recvMessage(t, b.Peer)
		if diff := cmp.Diff(got, Message{From: "a", Kind: 1, Payload: []byte("hello")}, ignoreReceived); diff != "" {
			t.Errorf("message (-got +want):\n%s", diff)
		}
	})
	t.Run("recv", func(t *testing.T) {
		if err := c.Send(ctx, "a", 4, []byte("via recv")); err != nil {
			t.Fatal(err)
		}
		from, kind, payload, err := a.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if from != "c" || kind != 4 || string(payload) != "via recv" {
			t.Errorf("Recv = (%q, %d, %q), want (c, 4, via recv)", from, kind, payload)
		}
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if _, _, _, err := a.Recv(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Recv with cancelled ctx = %v, want context.Canceled", err)
		}
		if diff := cmp.Diff(a.Alive(), []string{"a", "b", "c"}); diff != "" {
			t.Errorf("Alive (-got +want):\n%s", diff)
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		a.Broadcast(2, []byte("udp"))
		for _, n := range []*node{b, c} {
			got := recvMessage(t, n.Peer)
			if diff := cmp.Diff(got, Message{From: "a", Kind: 2, Payload: []byte("udp")}, ignoreReceived); diff != "" {
				t.Errorf("%s: message (-got +want):\n%s", n.Name(), diff)
			}
		}
	})
	t.Run("broadcast reliable", func(t *testing.T) {
		if err := b.BroadcastReliable(ctx, 3, []byte("tcp")); err != nil {
			t.Fatal(err)
		}
		for _, n := range []*node{a, c} {
			got := recvMessage(t, n.Peer)
			if diff := cmp.Diff(got, Message{From: "b", Kind: 3, Payload: []byte("tcp")}, ignoreReceived); diff != "" {
				t.Errorf("%s: message (-got +want):\n%s", n.Name(), diff)
			}
		}
	})
	t.Run("refused sends", func(t *testing.T) {
		tests := []struct {
			name string
			to   string
			kind byte
			want error
		}{
			{"unknown node", "nobody", 1, ErrUnknownMember},
			{"self", "a", 1, ErrSelf},
			{"reserved kind", "b", KindReserved, ErrReservedKind},
		}
		for _, tt := range tests {
			if err := a.Send(ctx, tt.to, tt.kind, nil); !errors.Is(err, tt.want) {
				t.Errorf("%s: Send = %v, want %v", tt.name, err, tt.want)
			}
		}
		if err := a.BroadcastReliable(ctx, 0xFF, nil); !errors.Is(err, ErrReservedKind) {
			t.Errorf("BroadcastReliable(reserved) = %v, want %v", err, ErrReservedKind)
		}
	})

	t.Run("bad messages are dropped and counted", func(t *testing.T) {
		ml := a.ml.Load()
		to := a.aliveNode("b")
		valid := a.encode(7, []byte("once"))
		ghost := appendEnvelope(nil, envelope{Kind: 7, From: "ghost", Incarnation: 1, Seq: 1, Payload: []byte("boo")})
		badVersion := slices.Clone(valid)
		badVersion[0] = 9
		raw := []struct {
			name string
			msg  []byte
		}{
			{"valid", valid},
			{"replay", valid},
			{"truncated header", valid[:5]},
			{"truncated name", valid[:3+1]},
			{"garbage", []byte{0xde, 0xad, 0xbe, 0xef}},
			{"empty name", appendEnvelope(nil, envelope{Kind: 1, From: "x"})[:2:2]},
			{"bad version", badVersion},
			{"unknown sender", ghost},
			{"impersonating the receiver", appendEnvelope(nil, envelope{Kind: 1, From: "b", Incarnation: 1, Seq: 1})},
		}
		for _, r := range raw {
			if err := ml.SendReliable(to, r.msg); err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
		}
		// After all the junk, b still works and delivered "once" exactly once.
		if err := a.Send(ctx, "b", 8, []byte("after")); err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < 2 {
			m := recvMessage(t, b.Peer)
			got = append(got, string(m.Payload))
		}
		// Each reliable send is a stream of its own, handled by a
		// goroutine of its own: the two may arrive in either order (CI
		// once saw "after" first).
		slices.Sort(got)
		if diff := cmp.Diff(got, []string{"after", "once"}); diff != "" {
			t.Errorf("delivered payloads (-got +want):\n%s", diff)
		}
		wantDrops := map[string]float64{
			dropReplay:        1,
			dropMalformed:     4,
			dropVersion:       1,
			dropUnknownSender: 2,
			dropQueueFull:     0,
		}
		eventually(t, 5*time.Second, func() error {
			got := map[string]float64{}
			for reason := range wantDrops {
				got[reason] = testutil.ToFloat64(b.metrics.dropped.WithLabelValues(reason))
			}
			if diff := cmp.Diff(got, wantDrops); diff != "" {
				return fmt.Errorf("drops (-got +want):\n%s", diff)
			}
			return nil
		})
	})
}

var ignoreReceived = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Received" }, cmp.Ignore())

func TestReceiveQueueFullDrops(t *testing.T) {
	p, err := New(testConfig(), "b", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.observe("a", "127.0.0.1:1", nil, StateAlive)
	d := delegate{p}
	for i := range messageQueueLen + 3 {
		d.NotifyMsg(appendEnvelope(nil, envelope{Kind: 1, From: "a", Incarnation: 1, Seq: uint64(i + 1)}))
	}
	if got, want := testutil.ToFloat64(p.metrics.dropped.WithLabelValues(dropQueueFull)), 3.0; got != want {
		t.Errorf("queue_full drops = %v, want %v", got, want)
	}
	if got, want := testutil.ToFloat64(p.metrics.received), float64(messageQueueLen+3); got != want {
		t.Errorf("received = %v, want %v", got, want)
	}
}

func TestBadPeersCannotJoin(t *testing.T) {
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	base := testConfig()
	base.EncryptionKey = key(1)
	base.Label = "mymaster"
	tests := []struct {
		name     string
		key      string
		label    string
		wantJoin bool
	}{
		{"same key and label", key(1), "mymaster", true},
		{"wrong key", key(2), "mymaster", false},
		{"no key", "", "mymaster", false},
		{"wrong label", key(1), "othermaster", false},
		{"no label", key(1), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startNode(t, "a", nodeOpts{cfg: base})
			cfg := testConfig()
			cfg.EncryptionKey = tt.key
			cfg.Label = tt.label
			x := startNode(t, "x", nodeOpts{cfg: cfg})
			// Join synchronously, so the answer is deterministic and bounded
			// by TCPTimeout.
			n, err := x.ml.Load().Join([]string{a.Addr()})
			if gotJoin := err == nil && n == 1; gotJoin != tt.wantJoin {
				t.Fatalf("join = (%d, %v), want success %v", n, err, tt.wantJoin)
			}
			if tt.wantJoin {
				waitAlive(t, []string{"a", "x"}, a, x)
				return
			}
			if got := a.Known(); !slices.Equal(got, []string{"a"}) {
				t.Errorf("a.Known() = %v, want [a]", got)
			}
			if got := aliveNames(x.Peer); !slices.Equal(got, []string{"x"}) {
				t.Errorf("x sees alive %v, want [x]", got)
			}
		})
	}
}

func TestKnownSetSurvivesRestartAndDeath(t *testing.T) {
	fn := faultnet.NewNetwork()
	dirA := t.TempDir()
	a := startNode(t, "a", nodeOpts{cfg: testConfig(), dir: dirA, net: fn})
	cfg := testConfig()
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg, net: fn})
	c := startNode(t, "c", nodeOpts{cfg: cfg, net: fn})
	all := []string{"a", "b", "c"}
	waitAlive(t, all, a, b, c)

	forgetErrs := []struct {
		name string
		want error
	}{
		{"a", ErrSelf},
		{"b", ErrAlive},
		{"zed", ErrNotKnown},
	}
	for _, f := range forgetErrs {
		if err := a.Forget(f.name); !errors.Is(err, f.want) {
			t.Errorf("Forget(%s) = %v, want %v", f.name, err, f.want)
		}
	}

	// Kill c: cut it off so its goodbye never arrives, then stop it. To the
	// others it simply stops answering, like a crashed process.
	fn.Isolate(c.tr.Addr(), a.tr.Addr(), b.tr.Addr())
	c.stop()
	fn.Heal()
	eventually(t, 10*time.Second, func() error {
		for _, m := range a.Members() {
			if m.Name == "c" && m.State != StateDead {
				return fmt.Errorf("a sees c %s, want dead", m.State)
			}
		}
		return nil
	})
	if diff := cmp.Diff(a.Known(), all); diff != "" {
		t.Errorf("known after c died (-got +want):\n%s", diff)
	}
	if got, want := a.AliveCount(), 2; got != want {
		t.Errorf("AliveCount = %d, want %d", got, want)
	}
	if !a.MajorityReachable() {
		t.Errorf("MajorityReachable = false with 2 of 3 alive, want true")
	}
	if got := membersGauge(t, a, StateDead); got != 1 {
		t.Errorf("vigil_gossip_members{state=dead} = %v, want 1", got)
	}

	// Restart a on the same data dir, with no join list: it remembers all
	// three and finds b again through the remembered address.
	a.stop()
	if err := a.Send(context.Background(), "b", 1, nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Send after stop = %v, want ErrNotRunning", err)
	}
	if err := a.Run(context.Background()); err == nil {
		t.Errorf("second Run = nil, want an error")
	}
	a2 := startNode(t, "a", nodeOpts{cfg: testConfig(), dir: dirA, net: fn})
	if diff := cmp.Diff(a2.Known(), all); diff != "" {
		t.Errorf("known after restart (-got +want):\n%s", diff)
	}
	waitAlive(t, []string{"a", "b"}, a2, b)
	if !a2.MajorityReachable() {
		t.Errorf("restarted a: MajorityReachable = false, want true")
	}

	if err := a2.Forget("c"); err != nil {
		t.Fatalf("Forget(c): %v", err)
	}
	if diff := cmp.Diff(a2.Known(), []string{"a", "b"}); diff != "" {
		t.Errorf("known after forget (-got +want):\n%s", diff)
	}
	kf, err := readKnown(dirA)
	if err != nil {
		t.Fatal(err)
	}
	var persisted []string
	for name := range kf.Peers {
		persisted = append(persisted, name)
	}
	slices.Sort(persisted)
	if diff := cmp.Diff(persisted, []string{"a", "b"}); diff != "" {
		t.Errorf("persisted known set (-got +want):\n%s", diff)
	}
}

// membersGauge reads vigil_gossip_members{state} from n's registry.
func membersGauge(t *testing.T, n *node, state string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_gossip_members" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == state {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no vigil_gossip_members{state=%q}", state)
	return 0
}

func TestIsolatedPeerLosesMajority(t *testing.T) {
	fn := faultnet.NewNetwork()
	a := startNode(t, "a", nodeOpts{cfg: testConfig(), net: fn})
	cfg := testConfig()
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg, net: fn})
	c := startNode(t, "c", nodeOpts{cfg: cfg, net: fn})
	waitAlive(t, []string{"a", "b", "c"}, a, b, c)

	fn.Isolate(c.tr.Addr(), a.tr.Addr(), b.tr.Addr())
	eventually(t, 10*time.Second, func() error {
		if c.MajorityReachable() {
			return fmt.Errorf("isolated c still sees a majority: alive %v", aliveNames(c.Peer))
		}
		if !a.MajorityReachable() || !b.MajorityReachable() {
			return fmt.Errorf("majority side lost the majority: a %v b %v", aliveNames(a.Peer), aliveNames(b.Peer))
		}
		return nil
	})
	if got := c.Known(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("isolated c known = %v, want all three", got)
	}

	// Healing brings c back through the rejoin loop.
	fn.Heal()
	waitAlive(t, []string{"a", "b", "c"}, a, b, c)
	if !c.MajorityReachable() {
		t.Errorf("healed c: MajorityReachable = false, want true")
	}
}

func TestMetricsLint(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig()})
	problems, err := testutil.GatherAndLint(a.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if got, want := testutil.CollectAndCount(a.reg, "vigil_gossip_members"), len(memberStates); got != want {
		t.Errorf("vigil_gossip_members series = %d, want %d", got, want)
	}
}

// TestAddrWhileMetadataChanges reads the node's address while SetMetaKey
// makes memberlist rewrite its own node: under -race this caught reading
// memberlist's node without its lock.
func TestAddrWhileMetadataChanges(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig(), streams: []byte{StreamRaft}})
	cfg := testConfig()
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg})
	waitAlive(t, []string{"a", "b"}, a, b)
	want := a.Addr()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := a.SetMetaKey("raft", []byte{byte(i)}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if got := a.Addr(); got != want {
			t.Fatalf("Addr() = %s, then %s", want, got)
		}
		if got := a.layers[StreamRaft].Addr().String(); got != want {
			t.Fatalf("StreamLayer.Addr() = %s, want %s", got, want)
		}
	}
}

// TestGridStart checks WithStartIn: memberlist does not start before the
// delay, a Run stopped while it waits returns nil and frees the gossip
// port, and a short delay starts as usual.
func TestGridStart(t *testing.T) {
	cfg := testConfig()
	cfg.BindAddr = freeAddr(t)
	p, err := New(cfg, "a", t.TempDir(), testLogger(t, "a"), prometheus.NewRegistry(), WithStartIn(func() time.Duration { return 24 * time.Hour }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	select {
	case <-p.Ready():
		t.Fatal("memberlist started before its 24 h delay")
	case err := <-errc:
		t.Fatalf("run ended on its own: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run stopped while waiting: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	l, err := net.ListenPacket("udp", cfg.BindAddr)
	if err != nil {
		t.Fatalf("gossip port still held: %v", err)
	}
	l.Close()

	cfg.BindAddr = freeAddr(t)
	p2, err := New(cfg, "b", t.TempDir(), testLogger(t, "b"), prometheus.NewRegistry(), WithStartIn(func() time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	errc2 := make(chan error, 1)
	go func() { errc2 <- p2.Run(ctx2) }()
	select {
	case <-p2.Ready():
	case err := <-errc2:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10s after a 50ms delay")
	}
	cancel2()
	if err := <-errc2; err != nil {
		t.Fatalf("run: %v", err)
	}
}
