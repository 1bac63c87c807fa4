// Package failover decides who is primary: it forms this sidecar's opinion
// of the primary (SDOWN), agrees with its peers (ODOWN), elects and promotes
// a replacement with votes from a majority of the known sidecars, converges
// every Redis on the newest configuration, fences an isolated primary, and
// runs operator switchovers. It is the one source of truth for "who is
// primary, at which epoch"; everything else subscribes to it.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/monitor"
)

// Local is the prober of this sidecar's own Redis; *monitor.Prober
// satisfies it.
type Local interface {
	// Last is the latest observation of the local Redis.
	Last() monitor.Observation
	// Updates signals that an observation differs from the previous one.
	Updates() <-chan struct{}
	// ProbeNow probes at once and returns the result.
	ProbeNow(ctx context.Context) monitor.Observation
	// Client is a client of the local Redis for commands.
	Client() *redis.Client
}

// PromoteGate may veto the promotion of a candidate (the hooks package's
// pre-promotion hook). A veto makes the group try the next candidate.
type PromoteGate interface {
	AllowPromote(ctx context.Context, candidate Node, epoch uint64) error
}

// Deps are what a Failover needs from the rest of the sidecar.
type Deps struct {
	// Self describes this node: Name, Addr (the Redis announce address),
	// SentinelAddr, HTTPAddr and Priority.
	Self Node
	// DataDir holds the persisted configuration, votes and history.
	DataDir string
	// Redis is the local Redis's connection settings; its credentials are
	// used to probe the primary.
	Redis monitor.RedisConfig
	// Monitor gives the probe interval and timeout.
	Monitor monitor.Config
	// Local probes the local Redis.
	Local Local
	// Cluster talks to the other sidecars.
	Cluster Cluster
	// Gate, when not nil, may veto a promotion.
	Gate PromoteGate
}

// Errors returned to operators.
var (
	ErrNotReady     = errors.New("failover: not ready")
	ErrNoPrimary    = errors.New("failover: no primary configured")
	ErrBusy         = errors.New("failover: a failover is already under way")
	ErrNoCandidate  = errors.New("failover: no eligible replica")
	ErrBadRequest   = errors.New("failover: bad request")
	ErrUnknownNode  = errors.New("failover: unknown node")
	errElectionLost = errors.New("failover: no majority of votes")
)

// peerState is what this sidecar knows of another.
type peerState struct {
	rep      report
	received time.Time
	// first is when this sidecar first heard the peer; it stands in for
	// upAt while the peer's Redis has never answered.
	first time.Time
	// upAt is when the last report saying the peer's Redis answered
	// arrived: a replica silent or unreachable for down_after is SDOWN.
	upAt time.Time
	// primarySince is when the peer's reports started saying its Redis is
	// a primary; zero while they say it is not.
	primarySince time.Time
}

// downSince is the last moment p's Redis was known to answer.
func (p peerState) downSince() time.Time {
	switch {
	case !p.upAt.IsZero():
		return p.upAt
	case !p.first.IsZero():
		return p.first
	}
	return p.received
}

// Failover is the decision maker of one sidecar. Create it with New and
// start it with Run.
type Failover struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	self    Node
	dataDir string
	rc      monitor.RedisConfig
	mc      monitor.Config
	local   Local
	cluster Cluster
	gate    PromoteGate

	fresh   time.Duration // how long a peer's report counts
	cmdWait time.Duration // timeout of one command to Redis

	kick chan struct{} // asks the loop for an immediate tick

	store *store   // set by Run
	hist  *history // set by Run

	subMu sync.Mutex
	subs  map[chan Event]struct{}

	mu        sync.Mutex
	started   time.Time
	conf      Configuration
	peers     map[string]peerState
	lastHeard map[string]time.Time
	settled   bool
	ready     bool
	obs       monitor.Observation // latest local observation seen by the loop
	localUpAt time.Time           // time of the latest local observation that got a reply

	// The primary as this sidecar probes it.
	probeAddr  string
	probeSince time.Time // probing of probeAddr started
	lastAlive  time.Time // last reply proving the primary alive
	sdown      bool
	odown      bool
	odownSince time.Time
	odownVotes int

	fenced       bool
	inFailover   bool
	switchTarget string // this sidecar's primary is handing over to it
	lastFailover time.Time
	retryAt      time.Time
	maxEpochSeen uint64
	whyNot       string
	conflict     string
	noCandidate  map[string]bool
	replicasSeen map[string]bool
	lastRole     monitor.Role
	// expectRole is the role vigil itself is giving the local Redis, with
	// an event of its own (+promoted-slave, +convert-to-slave); the
	// observation of that change is not reported again as +role-change.
	// The expectation lapses at expectUntil if the change never shows.
	expectRole  monitor.Role
	expectUntil time.Time

	hold      voteHold // this sidecar's latest vote, until its outcome is heard
	elections map[uint64]chan ballot
	calls     map[uint64]chan callReply
	callSeq   uint64
}

// New validates cfg and wires a Failover. It does no I/O and starts no
// goroutine.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, deps Deps) (*Failover, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := deps.Monitor.Validate(); err != nil {
		errs = append(errs, err)
	}
	if deps.Self.Name == "" {
		errs = append(errs, errors.New("failover: node name is empty"))
	}
	if deps.Self.Addr == "" {
		errs = append(errs, errors.New("failover: redis announce address is empty"))
	}
	if deps.DataDir == "" {
		errs = append(errs, errors.New("node.data_dir (\"\") must be set"))
	}
	if deps.Local == nil {
		errs = append(errs, errors.New("failover: no local prober"))
	}
	if deps.Cluster == nil {
		errs = append(errs, errors.New("failover: no cluster"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("failover: metrics: %w", err)
	}
	self := deps.Self
	self.SDown, self.ODown = false, false
	f := &Failover{
		cfg:          cfg,
		log:          logger.With("component", "failover"),
		m:            m,
		self:         self,
		dataDir:      deps.DataDir,
		rc:           deps.Redis,
		mc:           deps.Monitor,
		local:        deps.Local,
		cluster:      deps.Cluster,
		gate:         deps.Gate,
		fresh:        max(3*deps.Monitor.Interval, 500*time.Millisecond),
		cmdWait:      max(deps.Monitor.Timeout, time.Second),
		kick:         make(chan struct{}, 1),
		subs:         make(map[chan Event]struct{}),
		peers:        make(map[string]peerState),
		lastHeard:    make(map[string]time.Time),
		noCandidate:  make(map[string]bool),
		replicasSeen: make(map[string]bool),
		elections:    make(map[uint64]chan ballot),
		calls:        make(map[uint64]chan callReply),
	}
	return f, nil
}

// Run loads the persisted state and runs the sidecar's failover duties
// until ctx ends. It returns nil when ctx ends, or an error if the state in
// node.data_dir cannot be read.
func (f *Failover) Run(ctx context.Context) error {
	st, err := openStore(f.dataDir)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	hist, err := openHistory(f.dataDir, f.cfg.HistorySize)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	f.mu.Lock()
	f.loadLocked(st, hist)
	f.mu.Unlock()
	f.log.Info("failover starting", "epoch", f.conf.Epoch, "primary", f.conf.Primary, "paused", f.conf.Paused)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	spawn := func(fn func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	spawn(func(ctx context.Context) {
		if err := f.cluster.Settle(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("gossip did not settle; acting anyway", "err", err)
		}
		f.mu.Lock()
		f.settled = true
		f.mu.Unlock()
		f.poke()
	})
	spawn(f.recvLoop)
	spawn(f.probeLoop)
	spawn(f.localLoop)
	f.tickLoop(ctx)
	cancel()
	wg.Wait()
	return nil
}

// loadLocked installs the persisted state.
func (f *Failover) loadLocked(st *store, hist *history) {
	f.store, f.hist = st, hist
	ps := st.state()
	f.conf = ps.Config
	f.maxEpochSeen = max(f.conf.Epoch, ps.VotedEpoch)
	f.started = time.Now()
	if ps.VotedEpoch > f.conf.Epoch && ps.VotedFor != "" {
		// A vote from before the restart in an election whose outcome is
		// unknown: its winner may be promoting right now.
		f.holdLocked(ps.VotedEpoch, ps.VotedFor, f.conf.Primary, f.conf.Epoch)
	}
	f.m.epoch.Set(float64(f.conf.Epoch))
	f.m.paused.Set(boolFloat(f.conf.Paused))
}

// poke asks for an immediate tick.
func (f *Failover) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *Failover) tickLoop(ctx context.Context) {
	f.tick(ctx)
	// On the shared cadence, so this loop wakes with the probes.
	t, err := monitor.NewTicker(ctx, f.mc.Interval)
	if err != nil {
		return
	}
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
		f.tick(ctx)
	}
}

func (f *Failover) localLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.local.Updates():
			f.poke()
		}
	}
}

// probeLoop probes the configured primary every interval with a client of
// its own, so a hanging primary never blocks the decision loop.
func (f *Failover) probeLoop(ctx context.Context) {
	var (
		client *redis.Client
		addr   string
	)
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	t, err := monitor.NewTicker(ctx, f.mc.Interval)
	if err != nil {
		return
	}
	defer t.Stop()
	deadline := time.NewTimer(time.Hour)
	deadline.Stop()
	defer deadline.Stop()
	for {
		f.mu.Lock()
		want := f.conf.PrimaryAddr
		if f.conf.Primary == f.self.Name {
			want = ""
		}
		if want != f.probeAddr {
			f.probeAddr, f.probeSince, f.lastAlive = want, time.Now(), time.Time{}
		}
		f.mu.Unlock()
		if want != addr {
			if client != nil {
				client.Close()
				client = nil
			}
			addr = want
			if addr != "" {
				client = monitor.NewClient(addr, f.rc, f.mc.Timeout)
			}
		}
		if client != nil {
			pctx, cancel := context.WithTimeout(ctx, f.mc.Timeout)
			// PING alone decides liveness, as in Sentinel; the full
			// INFO probe would cost a parse per interval for nothing.
			reason := monitor.Ping(pctx, client)
			cancel()
			if ctx.Err() != nil {
				return
			}
			f.mu.Lock()
			now := time.Now()
			if f.probeAddr == addr && reason.Alive() {
				f.lastAlive = now
			}
			changed := f.probeAddr == addr && f.sdownLocked(now) != f.sdown
			// SDOWN falls due down_after after the last valid reply,
			// which rarely lands on a tick: wake exactly then rather
			// than up to one interval late.
			if due := f.sdownDueLocked(); !changed && !due.IsZero() && due.After(now) && due.Sub(now) < f.mc.Interval {
				deadline.Reset(due.Sub(now))
			}
			f.mu.Unlock()
			if changed {
				f.poke()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-deadline.C:
			f.mu.Lock()
			changed := f.probeAddr == addr && f.sdownLocked(time.Now()) != f.sdown
			f.mu.Unlock()
			if changed {
				f.poke()
			}
			// Back to the ticker: no probe between two ticks.
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// sdownDueLocked is when this sidecar's SDOWN of the probed primary will
// hold if no valid reply comes first; zero when it does not probe one.
func (f *Failover) sdownDueLocked() time.Time {
	if f.conf.Primary == "" || f.conf.Primary == f.self.Name || f.probeAddr != f.conf.PrimaryAddr || f.probeSince.IsZero() {
		return time.Time{}
	}
	last := f.probeSince
	if f.lastAlive.After(last) {
		last = f.lastAlive
	}
	return last.Add(f.cfg.DownAfter)
}

// recvLoop hands every message to its handler. Handlers never block for
// long: anything that talks to the network runs in its own goroutine.
func (f *Failover) recvLoop(ctx context.Context) {
	for {
		from, kind, payload, err := f.cluster.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.log.Warn("receive from cluster", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.mc.Interval):
			}
			continue
		}
		f.handle(ctx, from, kind, payload)
	}
}

// handle decodes and dispatches one message; a malformed one is counted and
// dropped.
func (f *Failover) handle(ctx context.Context, from string, kind byte, payload []byte) {
	name, ok := kindNames[kind]
	if !ok {
		f.m.dropped.WithLabelValues(dropUnknown).Inc()
		return
	}
	f.m.received.WithLabelValues(name).Inc()
	var err error
	switch kind {
	case kindReport:
		var r report
		if r, err = decodeReport(payload); err == nil {
			f.onReport(from, r)
		}
	case kindVoteRequest:
		var r voteRequest
		if r, err = decodeVoteRequest(payload); err == nil {
			f.heard(from)
			f.onVoteRequest(ctx, from, r)
		}
	case kindVoteReply:
		var r voteReply
		if r, err = decodeVoteReply(payload); err == nil {
			f.heard(from)
			f.onVoteReply(from, r)
		}
	case kindConfig:
		var c Configuration
		if c, err = decodeConfig(payload); err == nil {
			f.heard(from)
			f.mu.Lock()
			f.adoptLocked(c, from)
			f.mu.Unlock()
		}
	case kindCall:
		var c call
		if c, err = decodeCall(payload); err == nil {
			f.heard(from)
			go f.onCall(ctx, from, c)
		}
	case kindCallReply:
		var c callReply
		if c, err = decodeCallReply(payload); err == nil {
			f.heard(from)
			f.mu.Lock()
			ch := f.calls[c.ID]
			f.mu.Unlock()
			if ch != nil {
				select {
				case ch <- c:
				default:
				}
			}
		}
	}
	if err != nil {
		reason := dropMalformed
		if errors.Is(err, errVersion) {
			reason = dropVersion
		}
		f.m.dropped.WithLabelValues(reason).Inc()
		f.log.Debug("dropped message", "peer", from, "kind", name, "err", err)
	}
}

func (f *Failover) heard(from string) {
	f.mu.Lock()
	f.lastHeard[from] = time.Now()
	f.mu.Unlock()
}

func (f *Failover) onReport(from string, r report) { f.onReportAt(from, r, time.Now()) }

// onReportAt records r as received at now.
func (f *Failover) onReportAt(from string, r report, now time.Time) {
	if r.Name != from || from == f.self.Name {
		f.m.dropped.WithLabelValues(dropMalformed).Inc()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	prev, had := f.peers[from]
	ps := peerState{rep: r, received: now, first: now, upAt: prev.upAt, primarySince: prev.primarySince}
	if had && !prev.first.IsZero() {
		ps.first = prev.first
	}
	if r.Obs.Reachable {
		ps.upAt = now
		if r.Obs.Role != monitor.RolePrimary {
			ps.primarySince = time.Time{}
		} else if ps.primarySince.IsZero() {
			ps.primarySince = now
		}
	}
	f.peers[from] = ps
	f.lastHeard[from] = now
	f.maxEpochSeen = max(f.maxEpochSeen, r.VotedEpoch, r.Config.Epoch)
	if r.Config.Epoch > 0 && r.Config.Primary != "" && r.Config.PrimaryAddr != "" {
		f.adoptLocked(r.Config, from)
	}
	if !had || prev.rep.SDown != r.SDown || prev.rep.Switching != r.Switching || !f.ready {
		// Opinions and hand-overs matter at once, not on the next tick.
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// adoptLocked makes c the current configuration if it is newer, persisting
// it first.
func (f *Failover) adoptLocked(c Configuration, from string) bool {
	if !c.Newer(f.conf) || c.Primary == "" || c.PrimaryAddr == "" || f.store == nil {
		return false
	}
	if err := f.store.saveConfig(c); err != nil {
		// Following the newer configuration in memory is still right;
		// the next adoption or restart retries the write.
		f.log.Error("persist configuration", "epoch", c.Epoch, "err", err)
	}
	old := f.conf
	f.conf = c
	f.maxEpochSeen = max(f.maxEpochSeen, c.Epoch)
	f.m.epoch.Set(float64(c.Epoch))
	f.m.paused.Set(boolFloat(c.Paused))
	if old.Paused != c.Paused {
		f.log.Info("automatic failover "+map[bool]string{true: "paused", false: "resumed"}[c.Paused], "epoch", c.Epoch, "peer", from)
	}
	if old.Epoch != c.Epoch && old.Primary != c.Primary {
		f.log.Info("new primary", "epoch", c.Epoch, "primary", c.Primary, "redis_addr", c.PrimaryAddr, "previous", old.Primary, "peer", from)
		if c.Reason == ReasonAuto || c.Reason == ReasonSwitchover {
			// Cooldown counts from the failover itself, not from when this
			// sidecar heard of it.
			at := time.Now()
			if !c.Started.IsZero() && c.Started.Add(c.Took).Before(at) {
				at = c.Started.Add(c.Took)
			}
			f.lastFailover = at
		}
		f.sdown, f.odown = false, false
		f.m.sdown.Set(0)
		f.m.odown.Set(0)
		if old.Primary != "" {
			f.emitLocked(Event{Kind: EventSwitchPrimary, Epoch: c.Epoch,
				Node:       f.nodeLocked(c.Primary),
				OldPrimary: Node{Name: old.Primary, Addr: old.PrimaryAddr},
				NewPrimary: Node{Name: c.Primary, Addr: c.PrimaryAddr}})
		}
		if f.hist != nil && c.Reason != "" {
			e := HistoryEntry{Epoch: c.Epoch, Old: c.Previous, New: c.Primary, Reason: c.Reason,
				Start: c.Started, Duration: c.Took, Result: resultSuccess}
			if err := f.hist.add(e); err != nil {
				f.log.Warn("record failover history", "err", err)
			}
		}
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
	return true
}

// Subscribe returns a channel of topology events and a function that
// cancels the subscription. A subscriber that does not keep up loses
// events (counted in vigil_failover_events_dropped_total); it never slows
// failover down.
func (f *Failover) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	f.subMu.Lock()
	f.subs[ch] = struct{}{}
	f.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.subMu.Lock()
			delete(f.subs, ch)
			close(ch)
			f.subMu.Unlock()
		})
	}
}

func (f *Failover) emitLocked(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
			f.m.eventsDropped.Inc()
		}
	}
}

// nodeLocked describes the node called name as this sidecar knows it.
func (f *Failover) nodeLocked(name string) Node {
	now := time.Now()
	if name == f.self.Name {
		n := f.self
		o := f.obs
		n.Role, n.Offset, n.LinkUp, n.Synced, n.RunID = o.Role, o.Offset, o.LinkUp, o.Synced, o.RunID
		n.Reachable = o.Reachable()
		n.LastSeen = o.Time
		n.Member = "alive"
		// The primary's SDOWN is the group's opinion (Snapshot sets it);
		// any other node is SDOWN once its Redis has not answered for
		// down_after, so Sentinel clients stop reading from it.
		n.SDown = name != f.conf.Primary && now.Sub(later(f.localUpAt, f.started)) >= f.cfg.DownAfter
		return n
	}
	p, ok := f.peers[name]
	if !ok {
		n := Node{Name: name}
		if name == f.conf.Primary {
			n.Addr = f.conf.PrimaryAddr
		}
		return n
	}
	r := p.rep
	fresh := now.Sub(p.received) < f.fresh
	return Node{
		Name: r.Name, Addr: r.Addr, SentinelAddr: r.SentinelAddr, HTTPAddr: r.HTTPAddr,
		Role: r.Obs.Role, Offset: r.Obs.Offset, LinkUp: r.Obs.LinkUp, Synced: r.Obs.Synced,
		Priority: r.Priority, RunID: r.Obs.RunID, Reachable: fresh && r.Obs.Reachable,
		// A replica whose sidecar has said for down_after that its Redis
		// does not answer, or has said nothing for that long, is SDOWN:
		// nobody vouches for it. The primary's SDOWN is the group's
		// opinion, set by Snapshot.
		SDown:    name != f.conf.Primary && now.Sub(p.downSince()) >= f.cfg.DownAfter,
		LastSeen: p.received,
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// jitter returns a random duration in [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// known is the known set, self included; a Cluster that omits this node
// cannot shrink the majority.
func (f *Failover) known() []string {
	k := f.cluster.Known()
	if !slices.Contains(k, f.self.Name) {
		k = append(k, f.self.Name)
	}
	return k
}
