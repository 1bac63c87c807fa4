package redirect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/config/tlsconfig"
	"github.com/vigil-redis/vigil/monitor"
)

// Proxy forwards TCP connections to the current writable primary, for
// clients without Sentinel support. When the primary changes it closes the
// connections to the old one, so clients reconnect and land on the new
// one; while no primary is writable it closes new connections at once
// rather than let clients hang.
type Proxy struct {
	cfg     ProxyConfig
	src     Source
	logger  *slog.Logger
	metrics *proxyMetrics

	listener // the proxy's socket: Listen, Addr

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool // set at shutdown; no connection may be added after it

	wg sync.WaitGroup // connection goroutines

	redisTLS *tlsconfig.Client // redis.tls for the upstream; nil is plain TCP
}

// proxyConn is one forwarded client connection.
type proxyConn struct {
	client, server net.Conn
	target         string        // the primary it was sent to
	last           *atomic.Int64 // activity clock with proxy.idle_timeout or handshake_timeout, else nil
}

func (c *proxyConn) close() {
	_ = c.client.Close()
	if c.server != nil {
		_ = c.server.Close()
	}
}

// NewProxy builds the proxy. It does no I/O; Listen or Run opens the socket.
func NewProxy(cfg ProxyConfig, src Source, logger *slog.Logger, reg prometheus.Registerer) (*Proxy, error) {
	errs := checkDeps(cfg.Validate(), src, logger)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newProxyMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("redirect: register proxy metrics: %w", err)
	}
	logger = logger.With("component", "proxy")
	return &Proxy{
		cfg:      cfg,
		src:      src,
		logger:   logger,
		metrics:  m,
		listener: listener{what: "proxy", addr: cfg.ListenAddr, logger: logger},
		conns:    make(map[*proxyConn]struct{}),
	}, nil
}

// Run forwards connections until ctx ends, then closes them all. A
// disabled proxy just waits for ctx.
func (p *Proxy) Run(ctx context.Context) error {
	if p.cfg.ListenAddr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := p.open()
	if err != nil {
		return err
	}
	p.logger.Info("proxy listening", "addr", ln.Addr().String())

	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	watchers.Go(func() {
		// A topology change (a switch of primary among them) wakes this at
		// once; the check interval is a safety net only, on the wall-clock cadence the sidecar's other
		// loops share (monitor.UntilNext): one wake-up for all of them.
		check := time.NewTimer(monitor.UntilNext(p.cfg.CheckInterval))
		defer check.Stop()
		for {
			snap, changed := p.src.Watch()
			p.closeOthers(snap.Primary.Addr)
			select {
			case <-watchCtx.Done():
				return
			case <-changed:
			case <-check.C:
				check.Reset(monitor.UntilNext(p.cfg.CheckInterval))
			}
		}
	})
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()

	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("redirect: proxy accept: %w", aerr)
			}
			break
		}
		p.handle(ctx, c)
	}
	_ = ln.Close()
	stopWatch()
	watchers.Wait()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// handle refuses c at once when no writable primary is known, and
// otherwise forwards it in its own goroutines.
func (p *Proxy) handle(ctx context.Context, c net.Conn) {
	snap := p.src.Snapshot()
	target := snap.Primary.Addr
	if !snap.Writable || target == "" {
		p.refuse(c, refuseNoPrimary)
		return
	}
	pc := &proxyConn{client: c, target: target}
	if p.cfg.IdleTimeout > 0 || p.cfg.HandshakeTimeout > 0 {
		// One activity clock for both sides: traffic either way keeps
		// the pair open. The handshake timeout bounds only the wait for
		// the client's first byte.
		pc.last = new(atomic.Int64)
		pc.last.Store(time.Now().UnixNano())
		pc.client = newIdleConn(c, p.cfg.IdleTimeout, p.cfg.HandshakeTimeout, pc.last)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.conns[pc] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	p.metrics.connections.Inc()
	go p.forward(ctx, pc)
}

// refuse closes c with a reset, so the client fails at once with a clear
// "connection reset" instead of waiting on a silent socket.
func (p *Proxy) refuse(c net.Conn, reason string) {
	if ic, ok := c.(*idleConn); ok {
		c = ic.Conn
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	// Counted first: a client that sees the reset finds it counted
	// (TestProxyRefusesWithoutWritablePrimary read 0 in CI).
	p.metrics.refused.WithLabelValues(reason).Inc()
	_ = c.Close()
}

// forward dials the primary and copies both ways until either side ends
// or the connection is closed because the primary changed.
func (p *Proxy) forward(ctx context.Context, pc *proxyConn) {
	defer p.wg.Done()
	defer p.metrics.connections.Dec()
	defer func() {
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
		pc.close()
	}()

	// The dial timeout covers the TLS handshake too.
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	server, err := p.redisTLS.DialContext(ctx, &d, "tcp", pc.target)
	if err != nil {
		p.logger.Warn("proxy dial failed", "redis_addr", pc.target, "err", err)
		p.refuse(pc.client, refuseDialFailed)
		return
	}
	if p.cfg.IdleTimeout > 0 {
		server = newIdleConn(server, p.cfg.IdleTimeout, 0, pc.last)
	}
	p.mu.Lock()
	_, live := p.conns[pc]
	if live {
		pc.server = server
	}
	p.mu.Unlock()
	if !live {
		// Closed (primary changed or shutdown) while dialing.
		_ = server.Close()
		return
	}

	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(server, pc.client)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(pc.client, server)
		done <- struct{}{}
	}()
	<-done
	// One direction ended: end the other too and wait for it, so no
	// goroutine outlives the connection.
	pc.close()
	<-done
}

// closeOthers closes every connection not forwarded to primary (all of
// them when no primary is known).
func (p *Proxy) closeOthers(primary string) {
	p.mu.Lock()
	var stale []*proxyConn
	for c := range p.conns {
		if c.target != primary {
			stale = append(stale, c)
			delete(p.conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	if len(stale) > 0 {
		p.metrics.switched.Add(float64(len(stale)))
		p.logger.Info("proxy closed connections to the old primary", "redis_addr", primary, "connections", len(stale))
	}
}
