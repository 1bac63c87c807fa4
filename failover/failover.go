// Package failover decides who is primary. Each sidecar judges the primary
// it probes (SDOWN) and shares its opinion over gossip at once; the Raft
// leader's sidecar decides ODOWN from fresh opinions, ranks the replicas
// and commits "X becomes primary at epoch N" through the authority (the
// Raft state machine); X's sidecar promotes its Redis with writes paused
// and releases them only once it has proven its entry is still the newest.
// Every sidecar converges its Redis on the committed state, fences a
// primary that is cut off from the majority, and demotes any Redis acting
// as a primary the committed state does not name.
//
// The decisions are pure functions (decide.go). One goroutine, Run's loop,
// owns the mutable state and starts the effects (Redis commands, Raft
// applies, gossip messages); effects that block run in goroutines that Run
// waits for, and report back to the loop. Nothing does I/O under a lock.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/divergent"
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
// pre-promotion hook). A veto makes the leader try the next candidate.
type PromoteGate interface {
	AllowPromote(ctx context.Context, candidate Node, epoch uint64) error
}

// Deps are what a Failover needs from the rest of the sidecar.
type Deps struct {
	// Self describes this node: Name, Addr (the Redis announce address),
	// SentinelAddr, HTTPAddr and Priority.
	Self Node
	// Redis is the local Redis's connection settings; its credentials are
	// used for every Redis of the group.
	Redis monitor.RedisConfig
	// Monitor gives the probe interval and timeout.
	Monitor monitor.Config
	// Local probes the local Redis.
	Local Local
	// Cluster carries reports to and from the other sidecars.
	Cluster Cluster
	// Authority is the group's replicated configuration.
	Authority Authority
	// Gate, when not nil, may veto a promotion.
	Gate PromoteGate
	// Keeper, when not nil, keeps a former primary's divergent writes
	// before any sidecar demotes it (issue 13).
	Keeper Keeper
}

// Keeper keeps the writes a former primary acknowledged after the fork
// before it is demoted; *divergent.Keeper implements it.
type Keeper interface {
	Keep(ctx context.Context, req divergent.Request) (divergent.Result, error)
	Config() divergent.Config
}

// Errors returned to operators.
var (
	ErrNotReady    = errors.New("failover: not ready")
	ErrNoPrimary   = errors.New("failover: no primary configured")
	ErrBusy        = errors.New("failover: a failover is already under way")
	ErrNoCandidate = errors.New("failover: no eligible replica")
	ErrBadRequest  = errors.New("failover: bad request")
	ErrUnknownNode = errors.New("failover: unknown node")
)

// Failover reasons, as in history entries and configurations.
const (
	ReasonAuto       = authority.ReasonAuto
	ReasonSwitchover = authority.ReasonSwitchover
	ReasonInitial    = authority.ReasonInitial
	ReasonHandover   = authority.ReasonHandover

	// reasonAntiFlap marks the history entry of an anti-flap pause.
	reasonAntiFlap = "anti-flap"
)

// HistoryEntry is one failover the group went through, as the replicated
// state records it.
type HistoryEntry = authority.HistoryEntry

// Configuration is the committed group configuration as operators see it.
type Configuration struct {
	Epoch       uint64    `json:"epoch"`
	Primary     string    `json:"primary,omitempty"`
	PrimaryAddr string    `json:"primary_addr,omitempty"`
	Promoted    bool      `json:"promoted,omitempty"`
	Paused      bool      `json:"paused,omitempty"`
	FlapPaused  string    `json:"flap_paused,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Previous    string    `json:"previous,omitempty"`
	Started     time.Time `json:"started,omitzero"`
}

// Failover is the decision maker of one sidecar. Create it with New and
// start it with Run.
type Failover struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	self    Node
	rc      monitor.RedisConfig
	mc      monitor.Config
	local   Local
	cluster Cluster
	auth    Authority
	gate    PromoteGate
	keeper  Keeper

	fresh   time.Duration // how long a peer's report counts
	cmdWait time.Duration // timeout of one command to Redis

	reports chan peerMsg           // recvLoop -> loop
	results chan func(*core)       // effects -> loop
	probes  chan probeResult       // probeLoop -> loop
	target  atomic.Pointer[string] // the address probeLoop probes
	// writeProbe asks probeLoop to check that the target takes writes too
	// (its sidecar is silent: it may be fenced, see primaryLastGood).
	writeProbe atomic.Bool

	wg      sync.WaitGroup // every goroutine Run started
	running atomic.Bool

	subMu sync.Mutex
	subs  map[chan Event]struct{}

	pubMu sync.Mutex
	pub   *view
	pubCh chan struct{} // closed when pub's topology changes
}

// view is what the loop publishes for readers: a copy, never shared with
// the loop afterwards.
type view struct {
	snap      Snapshot
	key       string // what Watch compares
	conf      Configuration
	ready     bool
	isPrimary bool
	state     authority.State
	peers     map[string]peerView
	obs       monitor.Observation
	// at is when it was published (the process's clock, not the step's),
	// life how long it may stand for: the loop publishes on every step,
	// and a probe result makes one every interval (expired).
	at   time.Time
	life time.Duration
}

// expired reports whether v was published more than its life before now:
// the loop that publishes it was stopped or stalled (SIGSTOP, a frozen
// VM), and nothing it says of the group or its own Redis was checked
// since. Chaos seed 12617 (N=5): d's sidecar, stopped right after it won
// epoch 8, resumed 8.4 s later, cut off, after epoch 9 had named e; its
// Sentinel endpoint answered a go-redis client's query, held since before
// the stop, from the last view published before it, naming d, whose
// Redis (parked, its data 10 s old) then served stale reads for 1 s.
func (v *view) expired(now time.Time) bool {
	return v.life > 0 && now.Sub(v.at) > v.life
}

type peerMsg struct {
	from string
	rep  report
	at   time.Time
}

type probeResult struct {
	addr  string
	alive bool
	// wrote: a write probe ran and the target took it.
	wrote bool
	at    time.Time
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
	if deps.Local == nil {
		errs = append(errs, errors.New("failover: no local prober"))
	}
	if deps.Cluster == nil {
		errs = append(errs, errors.New("failover: no cluster"))
	}
	if deps.Authority == nil {
		errs = append(errs, errors.New("failover: no authority"))
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
		cfg:     cfg,
		log:     logger.With("component", "failover"),
		m:       m,
		self:    self,
		rc:      deps.Redis,
		mc:      deps.Monitor,
		local:   deps.Local,
		cluster: deps.Cluster,
		auth:    deps.Authority,
		gate:    deps.Gate,
		keeper:  deps.Keeper,
		fresh:   max(3*deps.Monitor.Interval, 500*time.Millisecond),
		cmdWait: max(deps.Monitor.Timeout, time.Second),
		reports: make(chan peerMsg, 256),
		results: make(chan func(*core), 64),
		probes:  make(chan probeResult, 16),
		subs:    make(map[chan Event]struct{}),
		pubCh:   make(chan struct{}),
	}
	f.pub = &view{snap: Snapshot{MasterName: cfg.MasterName, Self: self.Name, Replicas: []Node{}, Sentinels: []Node{}},
		peers: map[string]peerView{}}
	return f, nil
}

// Run runs the sidecar's failover duties until ctx ends, then waits for
// every goroutine it started. It returns nil when ctx ends.
func (f *Failover) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("failover: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		f.wg.Wait()
	}()
	f.log.Info("failover starting")
	f.goRun(ctx, f.recvLoop)
	f.goRun(ctx, f.probeLoop)
	f.loop(ctx)
	return nil
}

// goRun starts fn in a goroutine Run waits for.
func (f *Failover) goRun(ctx context.Context, fn func(context.Context)) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn(ctx)
	}()
}

// spawn runs an effect in a goroutine Run waits for; the function it
// returns, if any, runs on the loop with its state.
func (f *Failover) spawn(ctx context.Context, fn func(context.Context) func(*core)) {
	f.goRun(ctx, func(ctx context.Context) {
		res := fn(ctx)
		if res == nil {
			return
		}
		select {
		case f.results <- res:
		case <-ctx.Done():
		}
	})
}

// recvLoop hands every report to the loop. Reports never block it: a full
// queue drops them (counted), the next report follows within an interval.
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
		if kind != kindReport {
			f.m.dropped.WithLabelValues(dropUnknown).Inc()
			continue
		}
		r, err := decodeReport(payload)
		if err != nil {
			reason := dropMalformed
			if errors.Is(err, errVersion) {
				reason = dropVersion
			}
			f.m.dropped.WithLabelValues(reason).Inc()
			f.log.Debug("dropped message", "peer", from, "err", err)
			continue
		}
		if r.Name != from || from == f.self.Name {
			f.m.dropped.WithLabelValues(dropMalformed).Inc()
			continue
		}
		f.m.received.WithLabelValues("report").Inc()
		select {
		case f.reports <- peerMsg{from: from, rep: r, at: time.Now()}:
		default:
			f.m.dropped.WithLabelValues(dropQueue).Inc()
		}
	}
}

// probeLoop probes the committed primary's Redis every interval with a
// client of its own, so a hanging primary never blocks the loop. PING
// decides liveness, as in Sentinel; while the primary's sidecar is silent
// it also checks that the primary takes writes (primaryLastGood).
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
	t := monitor.NewTicker(f.mc.Interval)
	defer t.Stop()
	for {
		want := ""
		if p := f.target.Load(); p != nil {
			want = *p
		}
		if want != addr {
			if client != nil {
				client.Close()
				client = nil
			}
			addr = want
			if addr != "" {
				client = monitor.NewProbeClient(addr, f.rc, f.mc)
			}
		}
		if client != nil {
			pctx, cancel := monitor.ProbeContext(ctx, f.mc)
			reason := monitor.Ping(pctx, client)
			cancel()
			wrote := false
			if reason.Alive() && f.writeProbe.Load() {
				pctx, cancel := monitor.ProbeContext(ctx, f.mc)
				wrote = monitor.TakesWrites(pctx, client)
				cancel()
			}
			if ctx.Err() != nil {
				return
			}
			select {
			case f.probes <- probeResult{addr: addr, alive: reason.Alive(), wrote: wrote, at: time.Now()}:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Next()
		}
	}
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

// emit hands e to every subscriber without waiting.
func (f *Failover) emit(e Event) {
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
