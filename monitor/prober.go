package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// priorityRefresh is how often the Prober re-reads replica-priority with
// CONFIG GET on a primary. Replicas report it in every INFO; on a primary
// it matters only for display until a demotion, which changes the role and
// triggers a fresh read anyway.
const priorityRefresh = 30 * time.Second

// lagRefresh is how often a replica's lag is re-read from its primary.
const lagRefresh = time.Second

// Prober probes the local Redis every monitor.interval, keeps the latest
// Observation and exports it as metrics. Across probes it remembers what
// one INFO cannot show: that a replica whose link is down had completed a
// sync on the same replication history, and since when its link is down
// with sub-second precision. On a replica with its link up Run also reads
// the primary's offset, off the probe's path, to compute LagBytes.
type Prober struct {
	rc      RedisConfig
	cfg     Config
	logger  *slog.Logger
	client  *redis.Client
	metrics *metrics
	updates chan struct{}

	// probeMu serialises probes (Run's and ProbeNow's) and guards the
	// cross-probe memory below.
	probeMu       sync.Mutex
	probed        bool
	syncedReplID  string    // master_replid on which a completed sync was seen
	linkDownSince time.Time // when a probe first saw the link down
	linkDownTo    string    // the primary that link led to
	lagAskedAt    time.Time // when a lag read was last asked of Run's reader
	lagAskedOf    string    // the primary it was asked of
	priority      int       // replica-priority from CONFIG GET, -1 unknown
	priorityAt    time.Time
	fields        info // the probe's INFO fields, reused (see probe)

	// lagAsk carries lag reads from probes to the reader Run starts.
	lagAsk chan lagQuery

	mu      sync.RWMutex
	last    Observation
	offset  int64  // the last replication offset seen, for the metric
	lag     int64  // the last lag read, -1 when it failed
	lagFrom string // the primary lag was read from
}

// lagQuery asks for a replica's lag behind its primary at one probe.
type lagQuery struct {
	master, replID string
	offset         int64
}

// New returns the Prober of the local Redis described by rc, registering
// its metrics with reg. It validates and wires; it does no I/O and starts
// no goroutine. A nil logger discards logs; a nil reg registers nowhere.
func New(rc RedisConfig, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Prober, error) {
	if err := errors.Join(rc.Validate(), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	p := &Prober{
		rc:       rc,
		cfg:      cfg,
		logger:   logger.With("component", "monitor", "redis_addr", rc.Addr),
		client:   NewProbeClient(rc.Addr, rc, cfg),
		updates:  make(chan struct{}, 1),
		priority: -1,
		fields:   make(info),
		lagAsk:   make(chan lagQuery, 1),
	}
	m, err := newMetrics(reg, p)
	if err != nil {
		p.client.Close()
		return nil, err
	}
	p.metrics = m
	return p, nil
}

// Run probes every monitor.interval until ctx ends, then returns nil. A
// probe slower than the interval delays the next one instead of piling up.
// A second goroutine, which Run waits for, reads a local replica's lag from
// its primary: a primary that is stopped or cut off delays only that read,
// never a probe of the local Redis (seed 12450 of the chaos suite: a
// sidecar whose probes waited out a cut-off primary's timeout reported its
// own Redis unreachable, and the leader passed over the replica holding
// the most data).
func (p *Prober) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { p.readLags(ctx) })
	p.ProbeNow(ctx)
	t := NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.ProbeNow(ctx)
		t.Next()
	}
}

// Close closes the Prober's Redis client, the one Client returned. Call it
// after Run returned and nothing uses Client any more.
func (p *Prober) Close() error {
	return p.client.Close()
}

// Client is the client for the local Redis, for commands other than
// probes (REPLICAOF, CLIENT PAUSE...). Its timeouts are monitor.timeout
// and it never retries.
func (p *Prober) Client() *redis.Client { return p.client }

// Updates delivers a notification after every probe whose result differs
// from the previous one in reachability or reason, role, link, primary,
// sync state, run id or replication id, and after the first probe. The
// channel holds one pending notification: a slow reader sees one, then
// reads Last.
func (p *Prober) Updates() <-chan struct{} { return p.updates }

// Last returns the latest observation: the zero Observation before the
// first probe.
func (p *Prober) Last() Observation {
	p.mu.RLock()
	defer p.mu.RUnlock()
	o := p.last
	o.Replicas = slices.Clone(o.Replicas)
	return o
}

func (p *Prober) lastOffset() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.offset
}

// ProbeNow probes the local Redis at once, waiting for a probe already
// running, records the result as Last, and returns it. If ctx ends during
// the probe the result is returned but not recorded: it says nothing
// about Redis.
func (p *Prober) ProbeNow(ctx context.Context) Observation {
	p.probeMu.Lock()
	defer p.probeMu.Unlock()

	start := time.Now()
	prev := p.Last()
	askPriority := prev.Role != RoleReplica && time.Since(p.priorityAt) >= priorityRefresh
	pctx, cancel := ProbeContext(ctx, p.cfg)
	o, priority := probe(pctx, p.client, askPriority, p.fields)
	cancel()
	if ctx.Err() != nil {
		return o
	}
	p.remember(&o, prev, priority, askPriority)
	if o.Reachable() && o.Role == RoleReplica && o.LinkUp {
		p.askLag(&o)
	}
	took := time.Since(start)
	p.metrics.duration.Observe(took.Seconds())
	if !o.Reachable() {
		p.metrics.errors.WithLabelValues(string(o.Reason)).Inc()
	}

	p.mu.Lock()
	p.last = o
	if o.Role != RoleUnknown {
		p.offset = o.Offset
	}
	p.mu.Unlock()

	first := !p.probed
	p.probed = true
	if p.logger.Enabled(ctx, slog.LevelDebug) {
		// Checked first: the arguments alone cost allocations on every
		// probe while debug logging is off.
		p.logger.Debug("probe", "role", o.Role, "offset", o.Offset, "lag_bytes", o.LagBytes,
			"reason", o.Reason, "duration", took)
	}
	if first || changed(prev, o) {
		p.logChange(prev, o, first)
		select {
		case p.updates <- struct{}{}:
		default:
		}
	}
	return o
}

// remember refines o with what earlier probes saw and updates that memory.
func (p *Prober) remember(o *Observation, prev Observation, priority int, asked bool) {
	now := o.Time
	if o.Role != prev.Role {
		// A new role may come with a new replica-priority (CONFIG SET
		// before a switchover); re-read it soon.
		p.priorityAt = time.Time{}
	}
	switch {
	case priority >= 0:
		p.priority, p.priorityAt = priority, now
	case o.Priority >= 0:
		p.priority, p.priorityAt = o.Priority, now
	case asked && o.Reachable():
		// CONFIG GET is renamed or denied: do not ask on every probe.
		p.priorityAt = now
	}
	if o.Role == RolePrimary {
		o.Priority = p.priority
	}

	switch o.Role {
	case RolePrimary:
		// A promotion starts a new history; a later demotion must sync anew.
		p.syncedReplID = ""
		p.linkDownSince = time.Time{}
	case RoleReplica:
		if o.Synced {
			p.syncedReplID = o.ReplID
		} else if o.ReplID != "" && o.ReplID == p.syncedReplID {
			// Redis forgets a completed sync on restart of the link
			// state machine (e.g. REPLICAOF the same primary again); the
			// dataset on this history is still complete.
			o.Synced = true
		}
		if o.LinkUp || o.MasterAddr() != p.linkDownTo {
			p.linkDownSince = time.Time{}
		}
		if !o.LinkUp {
			// INFO counts whole seconds; our own clock refines that
			// while we watch the same link.
			if p.linkDownSince.IsZero() {
				p.linkDownSince, p.linkDownTo = now.Add(-o.LinkDownFor), o.MasterAddr()
			}
			o.LinkDownFor = max(o.LinkDownFor, now.Sub(p.linkDownSince))
		}
	}
	// An unreachable node keeps its last known facts out of the
	// observation; the memory above is untouched until it answers again.
}

// askLag sets o.LagBytes from the last lag read from o's primary and asks
// Run's reader for a new one when that is due. Reading the primary costs a
// round trip and an INFO parse; once a second is plenty for a lag health
// check and halves the probe's cost at the default 100ms interval. A read
// that failed is retried on the same schedule. The caller holds probeMu.
func (p *Prober) askLag(o *Observation) {
	master := o.MasterAddr()
	p.mu.RLock()
	if p.lagFrom == master {
		o.LagBytes = p.lag
	}
	p.mu.RUnlock()
	if p.lagAskedOf == master && o.Time.Sub(p.lagAskedAt) < lagRefresh {
		return
	}
	select {
	case p.lagAsk <- lagQuery{master: master, replID: o.ReplID, offset: o.Offset}:
		p.lagAskedAt, p.lagAskedOf = o.Time, master
	default:
		// A read is still queued; ask again at the next probe.
	}
}

// readLags answers askLag's queries until ctx ends.
func (p *Prober) readLags(ctx context.Context) {
	var master *redis.Client
	defer func() {
		if master != nil {
			_ = master.Close()
		}
	}()
	for {
		var q lagQuery
		select {
		case <-ctx.Done():
			return
		case q = <-p.lagAsk:
		}
		if master == nil || master.Options().Addr != q.master {
			if master != nil {
				_ = master.Close()
			}
			master = NewProbeClient(q.master, p.rc, p.cfg)
		}
		lag := p.readLag(ctx, master, q)
		p.mu.Lock()
		p.lag, p.lagFrom = lag, q.master
		p.mu.Unlock()
	}
}

// readLag reads the primary's offset and returns how far the replica of q
// is behind, or -1 when it cannot tell.
func (p *Prober) readLag(ctx context.Context, master *redis.Client, q lagQuery) int64 {
	ctx, cancel := ProbeContext(ctx, p.cfg)
	defer cancel()
	txt, err := master.Info(ctx, "replication").Result()
	if err != nil {
		p.logger.Debug("cannot read primary offset", "peer", q.master, "err", err)
		return -1
	}
	m := parseInfo(txt, nil)
	off := m.int("master_repl_offset", -1)
	if off < 0 || m["master_replid"] != q.replID {
		// Another history: the offsets do not compare.
		return -1
	}
	// The primary is read after the replica, so writes in between count
	// as lag; never report a replica ahead of its primary.
	return max(off-q.offset, 0)
}

// changed reports whether b differs from a in what Updates announces.
func changed(a, b Observation) bool {
	return a.Reason != b.Reason || a.Role != b.Role || a.LinkUp != b.LinkUp ||
		a.MasterAddr() != b.MasterAddr() || a.Synced != b.Synced || a.SyncInProgress != b.SyncInProgress ||
		a.RunID != b.RunID || a.ReplID != b.ReplID
}

// logChange logs, at Info, the state changes an operator wants to see.
func (p *Prober) logChange(prev, o Observation, first bool) {
	l := p.logger.With("role", o.Role, "offset", o.Offset)
	switch {
	case !o.Reachable() && (first || prev.Reason != o.Reason):
		l.Info("redis unreachable", "reason", o.Reason, "err", o.Err)
	case o.Reachable() && (first || !prev.Reachable()):
		l.Info("redis reachable", "master_addr", o.MasterAddr(), "link_up", o.LinkUp, "synced", o.Synced)
	}
	if first || o.Role == RoleUnknown {
		return
	}
	if prev.Role != RoleUnknown && prev.Role != o.Role {
		l.Info("redis role changed", "previous_role", prev.Role)
	}
	if o.Role != RoleReplica {
		return
	}
	if prev.MasterAddr() != o.MasterAddr() && prev.Role == RoleReplica {
		l.Info("redis follows another primary", "master_addr", o.MasterAddr())
	}
	if prev.Role == RoleReplica && prev.LinkUp != o.LinkUp {
		if o.LinkUp {
			l.Info("replication link up", "master_addr", o.MasterAddr())
		} else {
			l.Info("replication link down", "master_addr", o.MasterAddr())
		}
	}
	if !prev.Synced && o.Synced {
		l.Info("initial sync completed", "master_addr", o.MasterAddr())
	}
}
