package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

const (
	// maxPacketSize is the largest UDP datagram; the receive buffer must
	// hold one whole, or the kernel truncates it.
	maxPacketSize = 65536

	// udpRecvBufSize is the socket receive buffer asked of the kernel (as
	// memberlist's NetTransport does), halved until the kernel accepts it,
	// so bursts of packets wait in the kernel instead of being dropped.
	udpRecvBufSize = 2 << 20

	// bindAttempts bounds retries when port 0 picked a TCP port whose UDP
	// twin is taken.
	bindAttempts = 10

	// maxAcceptBackoff caps the pause after a failed accept (for example
	// out of file descriptors), which also bounds how long Shutdown waits.
	maxAcceptBackoff = time.Second

	// readErrorLogEvery limits UDP read errors logged at Warn; the others
	// go to Debug, so a failing socket cannot flood the log.
	readErrorLogEvery = time.Minute
)

// transport is memberlist's NetTransport for one bind address, except that
// UDP packets are read into one reused buffer and handed on as right-sized
// copies. NetTransport allocates (and the runtime zeroes) 64 KiB per packet,
// which for a sidecar's few small packets a second was most of its garbage
// and so most of its idle CPU.
type transport struct {
	logger  *slog.Logger
	tcp     *net.TCPListener
	udp     *net.UDPConn
	packets chan *memberlist.Packet
	streams chan net.Conn

	done     chan struct{} // closed by Shutdown
	shutdown sync.Once
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// newTransport listens on ip:port for TCP and UDP and starts both receive
// loops. Port 0 picks a port free for both.
func newTransport(ip net.IP, port int, logger *slog.Logger) (*transport, error) {
	attempts := 1
	if port == 0 {
		attempts = bindAttempts
	}
	var err error
	for range attempts {
		var t *transport
		if t, err = listen(ip, port, logger); err == nil {
			t.wg.Go(t.acceptLoop)
			t.wg.Go(t.readLoop)
			return t, nil
		}
	}
	return nil, err
}

// listen binds both sockets without starting the loops.
func listen(ip net.IP, port int, logger *slog.Logger) (*transport, error) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, fmt.Errorf("listen tcp: %w", err)
	}
	port = tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		_ = tcp.Close()
		return nil, fmt.Errorf("listen udp: %w", err)
	}
	if err := setReadBuffer(udp); err != nil {
		_ = tcp.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("set udp read buffer: %w", err)
	}
	return &transport{
		logger: logger,
		tcp:    tcp,
		udp:    udp,
		// Unbuffered, like NetTransport: memberlist's packet loop is the
		// buffer, and the kernel's socket buffer is behind it.
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		done:    make(chan struct{}),
	}, nil
}

// setReadBuffer asks for udpRecvBufSize, settling for what the kernel allows.
func setReadBuffer(c *net.UDPConn) error {
	var err error
	for size := udpRecvBufSize; size > 0; size /= 2 {
		if err = c.SetReadBuffer(size); err == nil {
			return nil
		}
	}
	return err
}

// port returns the port both sockets are bound to.
func (t *transport) port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr returns ip:port if ip is set; otherwise the bound
// address, or a private IP of this host when bound to all interfaces.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, 0, fmt.Errorf("parse advertise address %q: not an IP", ip)
		}
		if v4 := addr.To4(); v4 != nil {
			addr = v4
		}
		return addr, port, nil
	}
	addr := t.tcp.Addr().(*net.TCPAddr).IP
	if addr.IsUnspecified() {
		private, err := sockaddr.GetPrivateIP()
		if err != nil {
			return nil, 0, fmt.Errorf("get interface addresses: %w", err)
		}
		if private == "" {
			return nil, 0, errors.New("no private IP address found: set gossip.advertise_addr")
		}
		if addr = net.ParseIP(private); addr == nil {
			return nil, 0, fmt.Errorf("parse private address %q: not an IP", private)
		}
	}
	if v4 := addr.To4(); v4 != nil {
		addr = v4
	}
	return addr, t.port(), nil
}

// WriteTo sends b to addr over UDP.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends b to a over UDP and returns when the write returned,
// which memberlist uses for round trip times.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	addr, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, addr)
	return time.Now(), err
}

// PacketCh returns the received UDP packets.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// DialTimeout opens a TCP connection to addr.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a TCP connection to a.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", a.Addr)
}

// StreamCh returns the accepted TCP connections.
func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown closes both sockets and waits for the loops to end. It may be
// called more than once (memberlist calls it when Create fails half-way).
func (t *transport) Shutdown() error {
	t.shutdown.Do(func() {
		close(t.done)
		_ = t.tcp.Close()
		_ = t.udp.Close()
	})
	t.wg.Wait()
	return nil
}

// closing reports whether Shutdown has started, so the loops end quietly.
func (t *transport) closing() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// acceptLoop hands accepted connections to memberlist until Shutdown.
func (t *transport) acceptLoop() {
	var backoff time.Duration
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			t.logger.Warn("accept gossip connection", "err", err)
			select {
			case <-t.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case t.streams <- conn:
		case <-t.done:
			_ = conn.Close()
			return
		}
	}
}

// readLoop hands received packets to memberlist until Shutdown. It reads
// into one buffer for the loop's life; memberlist keeps Packet.Buf, so each
// packet gets its own copy, as long as the packet and no longer.
func (t *transport) readLoop() {
	buf := make([]byte, maxPacketSize)
	var lastWarn time.Time
	for {
		n, from, err := t.udp.ReadFrom(buf)
		now := time.Now() // as close to the read as possible: it times probes
		if err != nil {
			if t.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			if now.Sub(lastWarn) < readErrorLogEvery {
				t.logger.Debug("read gossip packet", "err", err)
				continue
			}
			t.logger.Warn("read gossip packet (repeats logged at debug for a minute)", "err", err)
			lastWarn = now
			continue
		}
		if n < 1 {
			t.logger.Debug("empty gossip packet dropped", "peer", from.String())
			continue
		}
		p := &memberlist.Packet{Buf: bytes.Clone(buf[:n]), From: from, Timestamp: now}
		select {
		case t.packets <- p:
		case <-t.done:
			return
		}
	}
}
