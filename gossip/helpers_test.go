package gossip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/internal/faultnet"
)

// testConfig starts from the defaults and shortens what tests wait for.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.BindAddr = "127.0.0.1:0"               // loopback only, any free port
	cfg.ProbeInterval = 100 * time.Millisecond // notice a dead peer in well under a second
	cfg.ProbeTimeout = 50 * time.Millisecond   // loopback round trips are tiny, even under -race
	cfg.GossipInterval = 20 * time.Millisecond // spread updates and settle faster
	cfg.PushPullInterval = time.Second         // repair missed gossip within a test's patience
	cfg.TCPTimeout = time.Second               // fail dials to dead peers quickly
	cfg.RejoinInterval = 200 * time.Millisecond
	cfg.SettleTimeout = 5 * time.Second
	return cfg
}

// testLogger logs at debug level to the test log when -v is set and
// GOSSIP_TEST_LOG=1, otherwise discards.
func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("GOSSIP_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// node is a running peer in a test.
type node struct {
	*Peer
	reg    *prometheus.Registry
	dir    string
	tr     *faultnet.Transport // nil unless started on a faultnet.Network
	layers map[byte]*StreamLayer
	stop   func()
}

type nodeOpts struct {
	cfg Config
	dir string            // data dir; default a new temp dir
	net *faultnet.Network // if set, use a fault-injecting transport
	// transport, if set, is used instead of one bound by the peer.
	transport memberlist.NodeAwareTransport
	streams   []byte // stream channels to register before Run
}

// startNode runs a peer until the test ends (or stop is called) and waits
// until it is Ready.
func startNode(t *testing.T, name string, o nodeOpts) *node {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	var opts []Option
	var tr *faultnet.Transport
	if o.net != nil {
		var err error
		tr, err = o.net.NewTransport("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown() })
		o.cfg.BindAddr = tr.Addr()
		opts = append(opts, WithTransport(tr))
	}
	if o.transport != nil {
		opts = append(opts, WithTransport(o.transport))
	}
	reg := prometheus.NewRegistry()
	p, err := New(o.cfg, name, o.dir, testLogger(t, name), reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	layers := map[byte]*StreamLayer{}
	for _, k := range o.streams {
		l, err := p.Stream(k)
		if err != nil {
			t.Fatal(err)
		}
		layers[k] = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("%s: run: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: run did not return after cancel", name)
		}
	}
	t.Cleanup(stop)
	select {
	case <-p.Ready():
	case err := <-errc:
		t.Fatalf("%s: run: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not ready", name)
	}
	return &node{Peer: p, reg: reg, dir: o.dir, tr: tr, layers: layers, stop: stop}
}

// eventually polls cond every 10ms until it returns nil, failing the test
// with the last error after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// aliveNames returns the names p sees alive.
func aliveNames(p *Peer) []string {
	var out []string
	for _, m := range p.Members() {
		if m.State == StateAlive {
			out = append(out, m.Name)
		}
	}
	return out
}

// waitAlive waits until every node sees exactly want alive.
func waitAlive(t *testing.T, want []string, nodes ...*node) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		for _, n := range nodes {
			if got := aliveNames(n.Peer); !slices.Equal(got, want) {
				return errors.New(n.Name() + " sees alive " + joinNames(got) + ", want " + joinNames(want))
			}
		}
		return nil
	})
}

func joinNames(names []string) string {
	return "[" + strings.Join(names, " ") + "]"
}

// freeAddr returns a loopback host:port free for both TCP and UDP right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = u.Close()
		return addr
	}
	t.Fatal("no free port for TCP and UDP")
	return ""
}

// recvMessage waits for the next message on p.
func recvMessage(t *testing.T, p *Peer) Message {
	t.Helper()
	select {
	case m := <-p.Messages():
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no message", p.Name())
		return Message{}
	}
}
