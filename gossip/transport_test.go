package gossip

import (
	"bytes"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/memberlist"
)

// startTransport runs a transport on a free loopback port until the test
// ends.
func startTransport(tb testing.TB) *transport {
	tb.Helper()
	tr, err := newTransport(net.IPv4(127, 0, 0, 1), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = tr.Shutdown() })
	return tr
}

func (t *transport) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.port()))
}

func TestTransportPortZeroBindsTCPAndUDPOnOnePort(t *testing.T) {
	tr := startTransport(t)
	tcpPort := tr.tcp.Addr().(*net.TCPAddr).Port
	udpPort := tr.udp.LocalAddr().(*net.UDPAddr).Port
	if tcpPort == 0 || tcpPort != udpPort {
		t.Fatalf("tcp port %d, udp port %d: want one non-zero port", tcpPort, udpPort)
	}
}

func TestTransportPacketRoundTrip(t *testing.T) {
	a, b := startTransport(t), startTransport(t)
	for _, size := range []int{1, 100, 1400} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		before := time.Now()
		if _, err := a.WriteTo(msg, b.addr()); err != nil {
			t.Fatal(err)
		}
		var p *memberlist.Packet
		select {
		case p = <-b.PacketCh():
		case <-time.After(5 * time.Second):
			t.Fatalf("%d bytes: no packet", size)
		}
		if !bytes.Equal(p.Buf, msg) {
			t.Errorf("%d bytes: got %d bytes %x..., want the sent bytes", size, len(p.Buf), p.Buf[:min(len(p.Buf), 8)])
		}
		// The point of the transport: a right-sized copy, not the 64 KiB
		// read buffer.
		if cap(p.Buf) > size+64 {
			t.Errorf("%d bytes: cap(Buf) = %d, want about %d", size, cap(p.Buf), size)
		}
		if got, want := p.From.String(), a.addr(); got != want {
			t.Errorf("%d bytes: From = %s, want %s", size, got, want)
		}
		if p.Timestamp.Before(before) || p.Timestamp.After(time.Now()) {
			t.Errorf("%d bytes: Timestamp %v not between send and receive", size, p.Timestamp)
		}
	}
}

func TestTransportPacketsDoNotShareBuffers(t *testing.T) {
	a, b := startTransport(t), startTransport(t)
	var got [][]byte
	for _, msg := range []string{"first", "second"} {
		if _, err := a.WriteToAddress([]byte(msg), memberlist.Address{Addr: b.addr(), Name: "b"}); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-b.PacketCh():
			got = append(got, p.Buf)
		case <-time.After(5 * time.Second):
			t.Fatalf("no packet %q", msg)
		}
	}
	if diff := cmp.Diff(got, [][]byte{[]byte("first"), []byte("second")}); diff != "" {
		t.Errorf("packets (-got +want):\n%s", diff)
	}
}

func TestTransportStream(t *testing.T) {
	a, b := startTransport(t), startTransport(t)
	out, err := a.DialAddressTimeout(memberlist.Address{Addr: b.addr(), Name: "b"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var in net.Conn
	select {
	case in = <-b.StreamCh():
	case <-time.After(5 * time.Second):
		t.Fatal("no stream accepted")
	}
	defer in.Close()
	if _, err := out.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = in.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(in, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "ping" {
		t.Errorf("read %q, want ping", got)
	}
}

func TestTransportFinalAdvertiseAddr(t *testing.T) {
	tr := startTransport(t)
	tests := []struct {
		name     string
		ip       string
		port     int
		wantIP   string
		wantPort int
		wantErr  bool
	}{
		{"bound address", "", 0, "127.0.0.1", tr.port(), false},
		{"configured", "10.0.0.7", 9000, "10.0.0.7", 9000, false},
		{"not an IP", "redis-0", 9000, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, port, err := tr.FinalAdvertiseAddr(tt.ip, tt.port)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if ip.String() != tt.wantIP || port != tt.wantPort {
				t.Errorf("got %s:%d, want %s:%d", ip, port, tt.wantIP, tt.wantPort)
			}
			if len(ip) != net.IPv4len {
				t.Errorf("ip has %d bytes, want the 4-byte form memberlist encodes", len(ip))
			}
		})
	}
}

func TestTransportShutdownEndsLoops(t *testing.T) {
	a, b := startTransport(t), startTransport(t)
	// Nobody reads PacketCh or StreamCh: wherever the loops are (reading,
	// or blocked handing a packet or connection over), Shutdown must end
	// them.
	if _, err := a.WriteTo([]byte("unread"), b.addr()); err != nil {
		t.Fatal(err)
	}
	out, err := a.DialTimeout(b.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	addr := b.addr()
	done := make(chan struct{})
	go func() {
		_ = b.Shutdown()
		_ = b.Shutdown() // memberlist may call it twice
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not return")
	}
	// Both sockets are closed: the port can be bound again.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tcp port still bound: %v", err)
	}
	_ = l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("udp port still bound: %v", err)
	}
	_ = u.Close()
}

// TestPeersUseOwnTransport checks that a peer without WithTransport runs on
// transport and that labels and keys still apply (memberlist wraps any
// transport for the label).
func TestPeersUseOwnTransport(t *testing.T) {
	cfg := testConfig()
	cfg.Label = "mymaster"
	cfg.EncryptionKey = "AAAAAAAAAAAAAAAAAAAAAA=="
	a := startNode(t, "a", nodeOpts{cfg: cfg})
	conf := a.memberlistConfig()
	if conf.Transport != nil {
		t.Fatalf("memberlistConfig().Transport = %T, want nil so Run builds its own", conf.Transport)
	}
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg})
	waitAlive(t, []string{"a", "b"}, a, b)
	b.Broadcast(1, []byte("over udp"))
	if m := recvMessage(t, a.Peer); string(m.Payload) != "over udp" {
		t.Errorf("a received %q, want %q", m.Payload, "over udp")
	}
}

// BenchmarkReceivePacket measures the receive side for one small packet,
// the shape of vigil's failover reports: read, copy, hand to memberlist.
func BenchmarkReceivePacket(b *testing.B) {
	netTransport := func(b *testing.B) memberlist.Transport {
		tr, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{"127.0.0.1"},
			Logger:    log.New(io.Discard, "", 0),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Shutdown() })
		return tr
	}
	ours := func(b *testing.B) memberlist.Transport { return startTransport(b) }
	for _, bm := range []struct {
		name  string
		start func(*testing.B) memberlist.Transport
	}{
		{"transport=vigil", ours},
		{"transport=memberlist", netTransport},
	} {
		b.Run(bm.name, func(b *testing.B) {
			tr := bm.start(b)
			ip, port, err := tr.FinalAdvertiseAddr("", 0)
			if err != nil {
				b.Fatal(err)
			}
			// A connected socket sends without allocating, so the figures
			// are the receiver's.
			conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: ip, Port: port})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			msg := bytes.Repeat([]byte{'x'}, 512)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				// One packet in flight at a time, so loopback never drops.
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				<-tr.PacketCh()
			}
		})
	}
}
