package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"

	"github.com/vigil-redis/vigil/failover"
)

// Sentinel is the Sentinel-protocol endpoint: it answers the commands that
// client libraries send to Redis Sentinel from the Source's topology, and
// publishes the Source's events on Sentinel's pub/sub channels.
type Sentinel struct {
	cfg        SentinelConfig
	masterName string
	self       string
	myid       string
	src        Source
	logger     *slog.Logger
	metrics    *sentinelMetrics
	counters   map[string][2]prometheus.Counter // command label -> {ok, error}
	started    time.Time

	admin Admin // nil: the admin commands answer an error

	runCtx context.Context // Run's context, for admin commands' calls

	nextID   atomic.Int64 // CLIENT ID
	nconns   atomic.Int64 // open connections, subscribers included
	accepted atomic.Int64 // INFO total_connections_received
	ncmds    atomic.Int64 // INFO total_commands_processed
	refused  atomic.Int64 // INFO rejected_connections

	connsMu sync.Mutex
	conns   map[*connState]struct{} // open connections, for CLIENT LIST

	listener // the endpoint's socket: Listen, Addr

	subsMu  sync.RWMutex
	subs    map[*subscriber]struct{}
	closing bool // set at shutdown; no subscriber may be added after it

	wg sync.WaitGroup // subscriber goroutines and the event loop
}

// SentinelOption adds an optional dependency to the endpoint.
type SentinelOption func(*Sentinel)

// WithAdmin lets the endpoint's admin commands (SENTINEL FAILOVER, SET,
// CONFIG SET, RESET) act on the group through a. They are refused unless
// sentinel.password is set, whatever a is.
func WithAdmin(a Admin) SentinelOption {
	return func(s *Sentinel) { s.admin = a }
}

// NewSentinel builds the endpoint for the group masterName as seen by the
// sidecar named self. It does no I/O; Listen or Run opens the socket.
func NewSentinel(cfg SentinelConfig, masterName, self string, src Source, logger *slog.Logger, reg prometheus.Registerer, opts ...SentinelOption) (*Sentinel, error) {
	errs := checkDeps(cfg.Validate(), src, logger)
	if masterName == "" {
		errs = append(errs, errors.New("redirect: master name is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newSentinelMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("redirect: register sentinel metrics: %w", err)
	}
	s := &Sentinel{
		cfg:        cfg,
		masterName: masterName,
		self:       self,
		myid:       SentinelID(self),
		src:        src,
		logger:     logger.With("component", "sentinel"),
		metrics:    m,
		counters:   make(map[string][2]prometheus.Counter, len(commandLabels)),
		subs:       make(map[*subscriber]struct{}),
		conns:      make(map[*connState]struct{}),
		runCtx:     context.Background(),
	}
	for _, o := range opts {
		o(s)
	}
	s.listener = listener{what: "sentinel", addr: cfg.ListenAddr, logger: s.logger,
		conn: connOptions{idle: cfg.IdleTimeout, handshake: cfg.HandshakeTimeout, tlsCfg: cfg.TLS}}
	for _, c := range commandLabels {
		s.counters[c] = [2]prometheus.Counter{
			m.commands.WithLabelValues(c, resultOK),
			m.commands.WithLabelValues(c, resultError),
		}
	}
	return s, nil
}

// Run serves clients and publishes events until ctx ends, then closes every
// connection. A disabled endpoint (empty listen address) just waits for
// ctx, so it never ends a run group early.
func (s *Sentinel) Run(ctx context.Context) error {
	if s.cfg.ListenAddr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := s.open()
	if err != nil {
		return err
	}
	s.started = time.Now()
	s.runCtx = ctx
	s.logger.Info("sentinel endpoint listening", "addr", ln.Addr().String())

	evctx, stopEvents := context.WithCancel(ctx)
	s.wg.Go(func() { follow(evctx, s.src, s.publishEvent) })

	srv := redcon.NewServer("", s.serveCommand, s.accept, s.closed)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
		_ = ln.Close()
		<-served
	case err = <-served:
		// The listener failed by itself; shut down like on cancellation.
		_ = ln.Close()
		if err != nil {
			err = fmt.Errorf("redirect: sentinel serve: %w", err)
		}
	}
	stopEvents()
	s.closeSubscribers()
	s.wg.Wait()
	return err
}

// connState is one client connection's state.
type connState struct {
	id     int64
	name   string
	authed bool
	// proto is the RESP version the client chose with HELLO (2 or 3). It
	// is atomic because publishers read it to frame pub/sub messages.
	proto atomic.Int32
	// CLIENT INFO and CLIENT LIST fields; fixed at accept, except lastCmd
	// and lastAt, which only the connection's own goroutine writes while
	// CLIENT LIST reads them from another connection's, hence the mutex.
	addr, laddr string
	created     time.Time
	infoMu      sync.Mutex
	lastCmd     string
	lastAt      time.Time
	sub         *subscriber // set by the first (P)SUBSCRIBE
	buf         []byte      // scratch for replies before the connection is detached
}

// accept admits a connection unless sentinel.max_clients are open.
func (s *Sentinel) accept(conn redcon.Conn) bool {
	n := s.nconns.Add(1)
	if s.cfg.MaxClients > 0 && n > int64(s.cfg.MaxClients) {
		s.nconns.Add(-1)
		s.refused.Add(1)
		s.metrics.rejected.Inc()
		conn.WriteError("ERR max number of clients reached")
		return false
	}
	s.accepted.Add(1)
	s.metrics.connections.Inc()
	now := time.Now()
	st := &connState{id: s.nextID.Add(1), authed: s.cfg.Password == "", addr: conn.RemoteAddr(), created: now, lastAt: now}
	st.proto.Store(2)
	if nc := conn.NetConn(); nc != nil && nc.LocalAddr() != nil {
		st.laddr = nc.LocalAddr().String()
	}
	s.connsMu.Lock()
	s.conns[st] = struct{}{}
	s.connsMu.Unlock()
	conn.SetContext(st)
	return true
}

// forget removes a closed connection from CLIENT LIST.
func (s *Sentinel) forget(st *connState) {
	s.connsMu.Lock()
	delete(s.conns, st)
	s.connsMu.Unlock()
}

// closed runs when redcon is done with a connection. A detached
// (subscribed) connection lives on in its subscriber, which accounts for
// it when it closes.
func (s *Sentinel) closed(conn redcon.Conn, err error) {
	st, ok := conn.Context().(*connState)
	if ok && st.sub != nil && st.sub.started {
		return
	}
	if ok {
		s.forget(st)
	}
	s.nconns.Add(-1)
	s.metrics.connections.Dec()
}

// serveCommand is redcon's handler: one command of a connection in normal
// (not yet subscribed) mode.
func (s *Sentinel) serveCommand(conn redcon.Conn, cmd redcon.Command) {
	st := conn.Context().(*connState)
	var act action
	st.buf, act = s.exec(st, cmd.Args, st.buf[:0])
	conn.WriteRaw(st.buf)
	if cap(st.buf) > 64<<10 {
		st.buf = nil // do not pin a large reply's buffer for an idle connection
	}
	switch act {
	case actClose:
		_ = conn.Close()
	case actSubscribe:
		// Replies already written stay in the connection's buffer; the
		// subscriber's writer flushes them before anything else.
		if !st.sub.started {
			exemptIdle(conn.NetConn()) // subscribers idle on purpose, as in Redis
			st.sub.start(conn.Detach())
		}
	}
}

// publishEvent publishes one topology event on its channel.
func (s *Sentinel) publishEvent(ev failover.Event) {
	channel, msg, ok := formatEvent(s.masterName, s.src.Snapshot(), ev)
	if !ok {
		s.logger.Debug("event not publishable", "event", string(ev.Kind), "node", ev.Node.Name)
		return
	}
	s.metrics.published.Inc()
	s.Publish(channel, msg)
}
