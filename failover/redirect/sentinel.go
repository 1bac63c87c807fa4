package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

	nextID atomic.Int64 // CLIENT ID
	nconns atomic.Int64 // open connections, subscribers included

	mu sync.Mutex
	ln net.Listener // set by Listen

	subsMu  sync.RWMutex
	subs    map[*subscriber]struct{}
	closing bool // set at shutdown; no subscriber may be added after it

	wg sync.WaitGroup // subscriber goroutines and the event loop
}

// NewSentinel builds the endpoint for the group masterName as seen by the
// sidecar named self. It does no I/O; Listen or Run opens the socket.
func NewSentinel(cfg SentinelConfig, masterName, self string, src Source, logger *slog.Logger, reg prometheus.Registerer) (*Sentinel, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if masterName == "" {
		errs = append(errs, errors.New("redirect: master name is empty"))
	}
	if src == nil {
		errs = append(errs, errors.New("redirect: source is nil"))
	}
	if logger == nil {
		errs = append(errs, errors.New("redirect: logger is nil"))
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
	}
	for _, c := range commandLabels {
		s.counters[c] = [2]prometheus.Counter{
			m.commands.WithLabelValues(c, resultOK),
			m.commands.WithLabelValues(c, resultError),
		}
	}
	return s, nil
}

// Listen opens the endpoint's socket so that Addr reports the bound
// address (port 0 picks a free one) before Run serves it. Calling it is
// optional; Run listens when it was not called. It does nothing when the
// endpoint is disabled.
func (s *Sentinel) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.cfg.ListenAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("redirect: sentinel listen %s: %w", s.cfg.ListenAddr, err)
	}
	s.ln = &retryListener{Listener: ln, logger: s.logger}
	return nil
}

// Addr is the bound address after Listen (or once Run is serving), nil
// before and when the endpoint is disabled.
func (s *Sentinel) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves clients and publishes events until ctx ends, then closes every
// connection. A disabled endpoint (empty listen address) just waits for
// ctx, so it never ends a run group early.
func (s *Sentinel) Run(ctx context.Context) error {
	if s.cfg.ListenAddr == "" {
		<-ctx.Done()
		return nil
	}
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	s.started = time.Now()
	s.logger.Info("sentinel endpoint listening", "addr", ln.Addr().String())

	evctx, stopEvents := context.WithCancel(ctx)
	s.wg.Go(func() { follow(evctx, s.src, s.publishEvent) })

	srv := redcon.NewServer("", s.serveCommand, s.accept, s.closed)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var err error
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
	sub    *subscriber // set by the first (P)SUBSCRIBE
	buf    []byte      // scratch for replies before the connection is detached
}

// accept admits a connection unless sentinel.max_clients are open.
func (s *Sentinel) accept(conn redcon.Conn) bool {
	n := s.nconns.Add(1)
	if s.cfg.MaxClients > 0 && n > int64(s.cfg.MaxClients) {
		s.nconns.Add(-1)
		s.metrics.rejected.Inc()
		conn.WriteError("ERR max number of clients reached")
		return false
	}
	s.metrics.connections.Inc()
	conn.SetContext(&connState{id: s.nextID.Add(1), authed: s.cfg.Password == ""})
	return true
}

// closed runs when redcon is done with a connection. A detached
// (subscribed) connection lives on in its subscriber, which accounts for
// it when it closes.
func (s *Sentinel) closed(conn redcon.Conn, err error) {
	if st, ok := conn.Context().(*connState); ok && st.sub != nil && st.sub.started {
		return
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

// retryListener keeps accepting through temporary errors such as EMFILE
// with a growing pause, because redcon retries them at once in a busy loop.
type retryListener struct {
	net.Listener
	logger *slog.Logger
}

// Accept returns the next connection, or the error that closed the listener.
func (l *retryListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		l.logger.Warn("accept failed", "err", err, "duration", delay)
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}
