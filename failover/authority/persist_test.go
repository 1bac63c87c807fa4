package authority

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// tcpLayer is a plain loopback TCP listener standing in for a gossip
// channel in this package's internal tests.
type tcpLayer struct{ net.Listener }

func (l tcpLayer) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, timeout)
}

// alonePeers is a gossip view with this node alone.
type alonePeers struct {
	self PeerInfo
	has  atomic.Bool
}

func (p *alonePeers) Ready() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}
func (p *alonePeers) AlivePeers() []PeerInfo {
	s := p.self
	s.HasState, s.Alive = p.has.Load(), true
	return []PeerInfo{s}
}
func (p *alonePeers) KnownPeers() []PeerInfo        { return p.AlivePeers() }
func (p *alonePeers) AdvertiseState(has bool) error { p.has.Store(has); return nil }

// failingLogs is the real bolt log store with writes that fail on demand.
type failingLogs struct {
	raft.LogStore
	fail atomic.Bool
}

var errDiskFull = errors.New("test: no space left on device")

func (f *failingLogs) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }
func (f *failingLogs) StoreLogs(ls []*raft.Log) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.LogStore.StoreLogs(ls)
}

// A command whose log entry cannot be written is never applied: raft
// applies only entries that are committed, and an entry is committed only
// once it is on disk on a majority. This shows it with the real bolt store
// whose writes start failing.
func TestUnpersistedCommandIsNotAdopted(t *testing.T) {
	raftL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := &alonePeers{self: PeerInfo{Name: "a", Addr: raftL.Addr().String()}}
	cfg := DefaultConfig()
	cfg.BootstrapExpect = 1
	a, err := New(cfg, nil, nil, Deps{DataDir: t.TempDir(), Self: Member{Name: "a", RedisAddr: "r:1"},
		Raft: tcpLayer{raftL}, RPC: tcpLayer{rpcL}, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	logs := &failingLogs{}
	a.wrapLogs = func(s raft.LogStore) raft.LogStore { logs.LogStore = s; return logs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		// Run has returned: nothing of raft or the authority runs any more.
		// raft's transport goroutine may still be in goexit, its work done:
		// Run waits until its Accept returned, not for the exit itself.
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := goroutinesOf("github.com/hashicorp/raft.", "failover/authority.(*")
			if left == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left after Run returned:\n%s", left)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	apply := func(c Command, d time.Duration) (State, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return a.Apply(ctx, c)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := apply(Command{Op: OpSetPrimary, IfEpoch: 0, Epoch: 1, Primary: "a", Reason: ReasonInitial}, 5*time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("first set-primary: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	logs.fail.Store(true)
	if st, err := apply(Command{Op: OpPause}, 2*time.Second); err == nil {
		t.Fatalf("pause applied although its entry could not be written: %+v", st)
	}
	if st := a.State(); st.Paused {
		t.Fatal("state adopted an entry that is not on disk")
	}

	// Once the disk recovers the group goes on, without the lost entry.
	logs.fail.Store(false)
	var st State
	deadline = time.Now().Add(30 * time.Second)
	for {
		if st, err = apply(Command{Op: OpFlapPause, Reason: "after recovery"}, 5*time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("apply after the disk recovered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Paused || st.FlapPaused != "after recovery" || st.Epoch != 1 {
		t.Fatalf("state after recovery: paused %v flap %q epoch %d", st.Paused, st.FlapPaused, st.Epoch)
	}
}

// goroutinesOf returns the stacks of running goroutines that mention any
// of the given function prefixes (this test's own goroutine aside).
func goroutinesOf(prefixes ...string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") {
			continue
		}
		for _, p := range prefixes {
			if strings.Contains(g, p) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}

// A second authority on a data dir in use fails with the path instead of
// waiting for bbolt's file lock forever.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Authority, context.CancelFunc, chan error) {
		raftL, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rpcL, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.BootstrapExpect = 1
		a, err := New(cfg, nil, nil, Deps{DataDir: dir, Self: Member{Name: "a"}, Raft: tcpLayer{raftL}, RPC: tcpLayer{rpcL},
			Peers: &alonePeers{self: PeerInfo{Name: "a", Addr: raftL.Addr().String()}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		return a, cancel, done
	}
	first, cancel1, done1 := start()
	deadline := time.Now().Add(30 * time.Second)
	for first.raft.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("first authority did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, cancel2, done2 := start()
	defer cancel2()
	select {
	case err := <-done2:
		if err == nil || !strings.Contains(err.Error(), "raft.db") {
			t.Fatalf("second Run on the same data dir: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("second Run on the same data dir did not give up")
	}
	cancel1()
	if err := <-done1; err != nil {
		t.Fatalf("first run: %v", err)
	}
}

// A heartbeat in progress when the authority stops finishes before
// stopHeartbeats returns (raft.db is closed after it), and a later one is
// refused without reaching raft.
func TestHeartbeatsStopBeforeTheStore(t *testing.T) {
	g := &guardedTransport{}
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	h := g.guard(func(rpc raft.RPC) {
		calls++
		close(entered)
		<-release
		rpc.Respond(nil, nil)
	})
	resp := make(chan raft.RPCResponse, 2)
	go h(raft.RPC{RespChan: resp})
	<-entered
	stopped := make(chan struct{})
	go func() {
		g.stopHeartbeats()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stopHeartbeats returned while a heartbeat was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stopHeartbeats did not return after the heartbeat ended")
	}
	if r := <-resp; r.Error != nil {
		t.Fatalf("the heartbeat in progress answered %v", r.Error)
	}
	h(raft.RPC{RespChan: resp})
	if r := <-resp; !errors.Is(r.Error, errStopped) || calls != 1 {
		t.Fatalf("after the stop: answer %v, raft called %d times; want errStopped and 1", r.Error, calls)
	}
}
