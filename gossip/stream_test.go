package gossip

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/internal/redistest"
)

const (
	testKey      = "AAAAAAAAAAAAAAAAAAAAAA=="                     // 16 bytes
	testOtherKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 bytes
)

func TestStreamKindsAvoidMemberlist(t *testing.T) {
	p, err := New(testConfig(), "a", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 256 {
		kind := byte(k)
		_, err := p.Stream(kind)
		wantOK := kind >= 0x80 && kind != 0xF4
		if gotOK := err == nil; gotOK != wantOK {
			t.Errorf("Stream(%#02x) err = %v, want ok %t", kind, err, wantOK)
		}
		if !wantOK && !errors.Is(err, ErrStreamKind) {
			t.Errorf("Stream(%#02x) err = %v, want ErrStreamKind", kind, err)
		}
	}
	if _, err := p.Stream(StreamRaft); !errors.Is(err, ErrStreamRegistered) {
		t.Errorf("second Stream(StreamRaft) err = %v, want ErrStreamRegistered", err)
	}
}

func TestStreamAfterRunRefused(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig()})
	if _, err := a.Stream(StreamRaft); !errors.Is(err, ErrStreamRegistered) {
		t.Errorf("Stream after Run err = %v, want ErrStreamRegistered", err)
	}
}

// firstBytes records the first byte memberlist writes on each stream it
// dials, under the label wrapper and the encryption memberlist adds.
type firstBytes struct {
	*transport
	mu    sync.Mutex
	bytes map[byte]int
}

func (f *firstBytes) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := f.transport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &firstWrite{Conn: c, f: f}, nil
}

func (f *firstBytes) seen() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []byte
	for b := range f.bytes {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

type firstWrite struct {
	net.Conn
	f    *firstBytes
	once sync.Once
}

func (c *firstWrite) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.once.Do(func() {
			c.f.mu.Lock()
			c.f.bytes[b[0]]++
			c.f.mu.Unlock()
		})
	}
	return c.Conn.Write(b)
}

// TestMemberlistStreamsNeverStartWithAChannelByte watches the streams
// memberlist really dials (join, push/pull, reliable messages, TCP pings)
// with and without its encryption and label, and checks that none starts
// with a byte Stream accepts.
func TestMemberlistStreamsNeverStartWithAChannelByte(t *testing.T) {
	for _, tt := range []struct {
		name, key, label string
		want             []byte // first bytes memberlist v0.7 uses
	}{
		{"plain", "", "", []byte{6, 8}}, // pushPullMsg, userMsg (pingMsg 0 only on UDP loss)
		{"encrypted", testKey, "", []byte{10}},
		{"label", "", "g", []byte{244}},
		{"encrypted label", testKey, "g", []byte{244}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.EncryptionKey, cfg.Label = tt.key, tt.label
			var recs []*firstBytes
			var nodes []*node
			for _, name := range []string{"a", "b"} {
				rec := &firstBytes{transport: startTransport(t), bytes: map[byte]int{}}
				c := cfg
				c.BindAddr = rec.addr()
				if len(nodes) > 0 {
					c.Join = []string{nodes[0].Addr()}
				}
				nodes = append(nodes, startNode(t, name, nodeOpts{cfg: c, transport: rec, streams: []byte{StreamRaft}}))
				recs = append(recs, rec)
			}
			waitAlive(t, []string{"a", "b"}, nodes...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := nodes[0].Send(ctx, "b", 1, []byte("reliable")); err != nil {
				t.Fatal(err)
			}
			recvMessage(t, nodes[1].Peer)
			var seen []byte
			for _, r := range recs {
				seen = append(seen, r.seen()...)
			}
			slices.Sort(seen)
			seen = slices.Compact(seen)
			for _, b := range seen {
				if validStreamKind(b) {
					t.Errorf("memberlist stream starts with %#02x, which Stream accepts", b)
				}
			}
			for _, b := range tt.want {
				if !slices.Contains(seen, b) {
					t.Errorf("first bytes %v do not include %d: is the recorder broken?", seen, b)
				}
			}
		})
	}
}

// echoServer answers every stream of l with its channel byte, then echoes
// what it reads, until l closes. It counts accepted streams.
type echoServer struct {
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func serveEcho(t *testing.T, l *StreamLayer) *echoServer {
	t.Helper()
	s := &echoServer{}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("accept: %v", err)
				}
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Go(func() {
				defer c.Close()
				if _, err := c.Write([]byte{l.kind}); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// roundTrip dials l's channel to addr, checks the channel byte, sends size
// random bytes and checks they come back.
func roundTrip(l *StreamLayer, addr string, size int) error {
	msg := make([]byte, size)
	_, _ = rand.Read(msg)
	return roundTripMsg(l, addr, msg)
}

func roundTripMsg(l *StreamLayer, addr string, msg []byte) error {
	size := len(msg)
	c, err := l.Dial(addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	var kind [1]byte
	if _, err := io.ReadFull(c, kind[:]); err != nil {
		return fmt.Errorf("read channel byte: %w", err)
	}
	if kind[0] != l.kind {
		return fmt.Errorf("answered by channel %#02x, want %#02x", kind[0], l.kind)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		errc <- err
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs from what was sent")
	}
	return nil
}

func refusedCount(n *node, reason string) float64 {
	return testutil.ToFloat64(n.metrics.streamsRefused.WithLabelValues(reason))
}

// TestStreamsBesideGossip runs two channels at once, many streams each and
// frames of every size, while memberlist keeps gossiping and delivering
// messages on the same port.
func TestStreamsBesideGossip(t *testing.T) {
	for _, key := range []string{"", testKey} {
		t.Run(fmt.Sprintf("key=%t", key != ""), func(t *testing.T) {
			cfg := testConfig()
			cfg.EncryptionKey, cfg.Label = key, "mymaster"
			channels := []byte{StreamRaft, StreamAuthorityRPC}
			a := startNode(t, "a", nodeOpts{cfg: cfg, streams: channels})
			cfg.Join = []string{a.Addr()}
			b := startNode(t, "b", nodeOpts{cfg: cfg, streams: channels})
			waitAlive(t, []string{"a", "b"}, a, b)
			servers := map[byte]*echoServer{}
			for _, k := range channels {
				servers[k] = serveEcho(t, b.layers[k])
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var gossipWG sync.WaitGroup
			var sent atomic.Int64
			gossipWG.Go(func() {
				for ctx.Err() == nil {
					if err := a.Send(ctx, "b", 1, []byte("beside streams")); err == nil {
						sent.Add(1)
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
			gossipWG.Go(func() {
				for ctx.Err() == nil {
					select {
					case <-b.Messages():
					case <-ctx.Done():
					}
				}
			})

			const perChannel = 32
			sizes := []int{0, 1, maxFramePlain - 1, maxFramePlain, maxFramePlain + 1, 3*maxFramePlain + 17}
			var wg sync.WaitGroup
			errs := make(chan error, perChannel*len(channels))
			for _, k := range channels {
				for i := range perChannel {
					wg.Go(func() {
						if err := roundTrip(a.layers[k], b.Addr(), sizes[i%len(sizes)]); err != nil {
							errs <- fmt.Errorf("channel %#02x stream %d: %w", k, i, err)
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// Gossip went on meanwhile, on the same port.
			eventually(t, 10*time.Second, func() error {
				if sent.Load() < 10 {
					return fmt.Errorf("%d gossip messages sent beside the streams", sent.Load())
				}
				return nil
			})
			cancel()
			gossipWG.Wait()
			waitAlive(t, []string{"a", "b"}, a, b)
			for _, k := range channels {
				if got := servers[k].accepted.Load(); got != perChannel {
					t.Errorf("channel %#02x accepted %d streams, want %d", k, got, perChannel)
				}
			}
			for _, r := range refusedReasons {
				if got := refusedCount(a, r) + refusedCount(b, r); got != 0 {
					t.Errorf("%v streams refused for %s", got, r)
				}
			}
		})
	}
}

// TestStreamRefusals dials between peers that must not trust each other:
// the listener refuses before Accept, the dialler gets an error, and both
// count why.
func TestStreamRefusals(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		dialKey, dialLabel     string
		listenKey, listenLabel string
		reason                 string
	}{
		{"wrong key", testOtherKey, "", testKey, "", refusedWrongKey},
		{"no key to key", "", "", testKey, "", refusedNoKey},
		{"key to no key", testKey, "", "", "", refusedUnexpectedKey},
		{"other label", testKey, "g1", testKey, "g2", refusedLabel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dcfg, lcfg := testConfig(), testConfig()
			dcfg.EncryptionKey, dcfg.Label = tt.dialKey, tt.dialLabel
			lcfg.EncryptionKey, lcfg.Label = tt.listenKey, tt.listenLabel
			d := startNode(t, "d", nodeOpts{cfg: dcfg, streams: []byte{StreamRaft}})
			l := startNode(t, "l", nodeOpts{cfg: lcfg, streams: []byte{StreamRaft}})
			srv := serveEcho(t, l.layers[StreamRaft])
			c, err := d.layers[StreamRaft].Dial(l.Addr(), 10*time.Second)
			if err == nil {
				_ = c.Close()
				t.Fatal("dial succeeded, want a refusal")
			}
			if !errors.Is(err, errRefused) {
				t.Errorf("dial err = %v, want a refusal", err)
			}
			t.Logf("dial error: %v", err)
			// The listener answers the refusal before it counts it: the
			// dialler can hold the answer first.
			redistest.Eventually(t, 5*time.Second, func() error {
				if got := refusedCount(l, tt.reason); got != 1 {
					return fmt.Errorf("listener counted %v refusals for %s, want 1", got, tt.reason)
				}
				return nil
			})
			if got := refusedCount(d, tt.reason); got != 1 {
				t.Errorf("dialler counted %v refusals for %s, want 1", got, tt.reason)
			}
			if got := srv.accepted.Load(); got != 0 {
				t.Errorf("accept returned %d streams, want 0", got)
			}
		})
	}
}

// TestStreamImpostorRefusedByDialler answers a keyed dial like a listener
// that does not hold the key: the dialler must refuse it.
func TestStreamImpostorRefusedByDialler(t *testing.T) {
	cfg := testConfig()
	cfg.EncryptionKey = testKey
	d := startNode(t, "d", nodeOpts{cfg: cfg, streams: []byte{StreamRaft}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		hello := make([]byte, 1+3+nonceSize+keyIDSize)
		if _, err := io.ReadFull(c, hello); err != nil {
			return
		}
		reply := make([]byte, 1+nonceSize+proofSize)
		_, _ = rand.Read(reply[1:]) // status OK, a nonce, and a guessed proof
		_, _ = c.Write(reply)
		_, _ = io.Copy(io.Discard, c)
	})
	_, err = d.layers[StreamRaft].Dial(ln.Addr().String(), 10*time.Second)
	if !errors.Is(err, errRefused) {
		t.Fatalf("dial err = %v, want a refusal", err)
	}
	if got := refusedCount(d, refusedWrongKey); got != 1 {
		t.Errorf("dialler counted %v wrong_key refusals, want 1", got)
	}
}

// recordingRelay forwards one connection to target and records what the
// dialler sent.
type recordingRelay struct {
	ln   net.Listener
	mu   sync.Mutex
	sent []byte
	wg   sync.WaitGroup
}

func startRecordingRelay(t *testing.T, target string) *recordingRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingRelay{ln: ln}
	r.wg.Go(func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer out.Close()
		var copies sync.WaitGroup
		copies.Go(func() {
			_, _ = io.Copy(in, out)
			_ = in.Close()
		})
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			r.mu.Lock()
			r.sent = append(r.sent, buf[:n]...)
			r.mu.Unlock()
			if _, werr := out.Write(buf[:n]); werr != nil || err != nil {
				break
			}
		}
		_ = out.Close()
		copies.Wait()
	})
	t.Cleanup(func() {
		_ = ln.Close()
		r.wg.Wait()
	})
	return r
}

func (r *recordingRelay) recorded() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.sent)
}

// TestStreamReplayRefused records a whole keyed stream on the wire, checks
// the payload was not in the clear, and sends it again: the listener's fresh nonce makes the replay fail before
// Accept.
func TestStreamReplayRefused(t *testing.T) {
	cfg := testConfig()
	cfg.EncryptionKey = testKey
	a := startNode(t, "a", nodeOpts{cfg: cfg, streams: []byte{StreamRaft}})
	b := startNode(t, "b", nodeOpts{cfg: cfg, streams: []byte{StreamRaft}})
	srv := serveEcho(t, b.layers[StreamRaft])
	relay := startRecordingRelay(t, b.Addr())
	secret := bytes.Repeat([]byte("vigil secret "), 100)
	if err := roundTripMsg(a.layers[StreamRaft], relay.ln.Addr().String(), secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if got := srv.accepted.Load(); got != 1 {
			return fmt.Errorf("accepted %d streams, want the original", got)
		}
		return nil
	})
	rec := relay.recorded()
	if len(rec) < 1+3+nonceSize+keyIDSize+proofSize+len(secret) {
		t.Fatalf("recorded %d bytes, want the whole stream", len(rec))
	}
	if bytes.Contains(rec, []byte("vigil secret")) {
		t.Fatal("the payload crossed the wire in the clear")
	}

	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(rec); err != nil {
		t.Fatal(err)
	}
	// The listener answers the hello, then closes on the stale proof.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
		t.Fatalf("reading the replay's answer: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		if got := refusedCount(b, refusedWrongKey); got != 1 {
			return fmt.Errorf("%v wrong_key refusals, want 1", got)
		}
		return nil
	})
	if got := srv.accepted.Load(); got != 1 {
		t.Errorf("accepted %d streams, want only the original", got)
	}
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// TestStreamStrangers sends garbage and silence to a channel and to the
// port: nothing reaches Accept, and gossip still works.
func TestStreamStrangers(t *testing.T) {
	for _, key := range []string{"", testKey} {
		t.Run(fmt.Sprintf("key=%t", key != ""), func(t *testing.T) {
			cfg := testConfig()
			cfg.EncryptionKey = key
			b := startNode(t, "b", nodeOpts{cfg: cfg, streams: []byte{StreamRaft}})
			srv := serveEcho(t, b.layers[StreamRaft])
			junk := make([]byte, 300)
			_, _ = rand.Read(junk)
			garbage := append([]byte{StreamRaft, 0xEE}, junk...) // no such handshake version
			keyedHello := append([]byte{StreamRaft, handshakeVersion, modeKeyed, 0}, junk[:nonceSize+keyIDSize]...)
			for _, tt := range []struct {
				name   string
				send   []byte
				reason string
			}{
				{"garbage", garbage, refusedMalformed},
				{"silent", nil, refusedTimeout},
				{"channel byte only", []byte{StreamRaft}, refusedTimeout},
				{"unknown channel", []byte{0xF3, handshakeVersion, modePlain, 0}, refusedUnknownChannel},
				{"keyed hello, unknown key", keyedHello, map[bool]string{true: refusedWrongKey, false: refusedUnexpectedKey}[key != ""]},
			} {
				t.Run(tt.name, func(t *testing.T) {
					before := refusedCount(b, tt.reason)
					c, err := net.Dial("tcp", b.Addr())
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if _, err := c.Write(tt.send); err != nil {
						t.Fatal(err)
					}
					// The listener closes the connection.
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := io.Copy(io.Discard, c); err != nil && !isConnReset(err) {
						t.Fatalf("read: %v", err)
					}
					eventually(t, 10*time.Second, func() error {
						if got := refusedCount(b, tt.reason) - before; got != 1 {
							return fmt.Errorf("%v refusals for %s, want 1", got, tt.reason)
						}
						return nil
					})
				})
			}
			if got := srv.accepted.Load(); got != 0 {
				t.Errorf("accept returned %d streams, want 0", got)
			}
			cfg.Join = []string{b.Addr()}
			a := startNode(t, "a", nodeOpts{cfg: cfg, streams: []byte{StreamRaft}})
			waitAlive(t, []string{"a", "b"}, a, b)
			if err := roundTrip(a.layers[StreamRaft], b.Addr(), 10); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStreamCloseUnblocksAccept(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig(), streams: []byte{StreamRaft, StreamAuthorityRPC}})
	errc := make(chan error, 1)
	go func() {
		_, err := a.layers[StreamRaft].Accept()
		errc <- err
	}()
	_ = a.layers[StreamRaft].Close()
	_ = a.layers[StreamRaft].Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept err = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("accept did not return after close")
	}

	// Stopping the peer closes the channels still open, and Dial stops.
	go func() {
		_, err := a.layers[StreamAuthorityRPC].Accept()
		errc <- err
	}()
	a.stop()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept err = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("accept did not return after the peer stopped")
	}
	if _, err := a.layers[StreamAuthorityRPC].Dial("127.0.0.1:1", time.Second); !errors.Is(err, ErrNotRunning) {
		t.Errorf("dial after stop err = %v, want ErrNotRunning", err)
	}
}

func TestStreamAddrIsGossipAddr(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig(), streams: []byte{StreamRaft}})
	if got, want := a.layers[StreamRaft].Addr().String(), a.Addr(); got != want {
		t.Errorf("Addr() = %s, want the gossip address %s", got, want)
	}
}

// BenchmarkStream measures a stream channel on loopback, plain and with
// gossip.encryption_key: opening a stream (dial, handshake, first byte
// back) and one-way throughput in 64 KiB writes.
func BenchmarkStream(b *testing.B) {
	for _, key := range []string{"", testOtherKey} {
		mode := map[bool]string{false: "plain", true: "keyed"}[key != ""]
		cfg := testConfig()
		cfg.EncryptionKey = key
		a, srv := benchPeer(b, "a", cfg), benchPeer(b, "b", cfg)
		la, ls := a.layers[StreamRaft], srv.layers[StreamRaft]
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				c, err := ls.Accept()
				if err != nil {
					return
				}
				wg.Go(func() {
					defer c.Close()
					if _, err := c.Write([]byte{1}); err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, c)
				})
			}
		})
		b.Run("open/"+mode, func(b *testing.B) {
			for b.Loop() {
				c, err := la.Dial(srv.Addr(), 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				var one [1]byte
				if _, err := io.ReadFull(c, one[:]); err != nil {
					b.Fatal(err)
				}
				_ = c.Close()
			}
		})
		b.Run("throughput/"+mode, func(b *testing.B) {
			c, err := la.Dial(srv.Addr(), 10*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var one [1]byte
			if _, err := io.ReadFull(c, one[:]); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = ls.Close()
		a.stop()
		srv.stop()
		wg.Wait()
	}
}

// benchPeer runs a peer with the raft channel for a benchmark.
func benchPeer(b *testing.B, name string, cfg Config) *benchNode {
	p, err := New(cfg, name, "", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := p.Stream(StreamRaft)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	<-p.Ready()
	n := &benchNode{Peer: p, layers: map[byte]*StreamLayer{StreamRaft: l}}
	n.stop = func() { cancel(); <-done }
	b.Cleanup(n.stop)
	return n
}

type benchNode struct {
	*Peer
	layers map[byte]*StreamLayer
	stop   func()
}

func TestStreamClosedWhenRunFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.BindAddr = busy.Addr().String() // taken: Run fails
	p, err := New(cfg, "a", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.Stream(StreamRaft)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("run on a taken port succeeded")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("accept after a failed run: err = %v, want net.ErrClosed", err)
	}
}

// TestKeyRotation runs the middle of a key rotation: a sends with the old
// key and accepts the new one, b the reverse. Gossip and streams work both
// ways; a node that has only the new key accepts nothing from a yet.
func TestKeyRotation(t *testing.T) {
	cfgA := testConfig()
	cfgA.EncryptionKey, cfgA.AcceptedKeys = testKey, []string{testOtherKey}
	a := startNode(t, "a", nodeOpts{cfg: cfgA, streams: []byte{StreamRaft}})
	cfgB := testConfig()
	cfgB.EncryptionKey, cfgB.AcceptedKeys = testOtherKey, []string{testKey}
	cfgB.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfgB, streams: []byte{StreamRaft}})
	waitAlive(t, []string{"a", "b"}, a, b)
	serveEcho(t, a.layers[StreamRaft])
	serveEcho(t, b.layers[StreamRaft])
	if err := roundTrip(a.layers[StreamRaft], b.Addr(), 100); err != nil {
		t.Errorf("a to b: %v", err)
	}
	if err := roundTrip(b.layers[StreamRaft], a.Addr(), 100); err != nil {
		t.Errorf("b to a: %v", err)
	}

	cfgC := testConfig()
	cfgC.EncryptionKey = testOtherKey
	c := startNode(t, "c", nodeOpts{cfg: cfgC, streams: []byte{StreamRaft}})
	serveEcho(t, c.layers[StreamRaft])
	if err := roundTrip(c.layers[StreamRaft], a.Addr(), 100); err != nil {
		t.Errorf("c (new key) to a (accepts it): %v", err)
	}
	if _, err := a.layers[StreamRaft].Dial(c.Addr(), 10*time.Second); !errors.Is(err, errRefused) {
		t.Errorf("a (old key) to c (new key only): err = %v, want a refusal", err)
	}
}
