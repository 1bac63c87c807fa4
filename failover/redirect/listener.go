package redirect

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// listener is the TCP socket of the Sentinel endpoint or the proxy. It is
// opened on first use, so a caller may Listen early to learn the bound
// address (port 0 picks a free one) before Run serves it.
type listener struct {
	what   string // "sentinel" or "proxy", for errors
	addr   string // configured listen address; "" disables
	logger *slog.Logger

	// Set before Listen: see connOptions.
	conn connOptions

	mu sync.Mutex
	ln net.Listener
}

// Listen opens the socket. Calling it is optional; Run listens when it was
// not called. It does nothing when the listener is disabled.
func (l *listener) Listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("redirect: %s listen %s: %w", l.what, l.addr, err)
	}
	tlsCfg, err := l.conn.tlsConfig(l.what)
	if err != nil {
		_ = ln.Close()
		return err
	}
	l.ln = &retryListener{Listener: ln, logger: l.logger, conn: l.conn, tls: tlsCfg}
	return nil
}

// Addr is the bound address after Listen, nil before and when disabled.
func (l *listener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// open listens if needed and returns the socket.
func (l *listener) open() (net.Listener, error) {
	if err := l.Listen(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ln, nil
}

// retryListener keeps accepting through temporary errors such as EMFILE
// with a growing pause, because redcon retries them at once in a busy loop.
type retryListener struct {
	net.Listener
	logger *slog.Logger
	conn   connOptions
	tls    *tls.Config // nil: plain TCP
}

// Accept returns the next connection, or the error that closed the listener.
func (l *retryListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return l.conn.wrap(c, l.tls), nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		l.logger.Warn("accept failed", "err", err, "duration", delay)
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}
