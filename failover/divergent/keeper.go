package divergent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Deps are what a Keeper needs besides its configuration.
type Deps struct {
	// Redis says how to reach the group's Redis nodes (credentials, TLS).
	Redis RedisOptions
	// Primary returns the current writable primary's address, for replays
	// that name no target; ok false when there is none.
	Primary func() (addr string, ok bool)
}

// Keeper keeps former primaries' divergent writes: the seam the failover
// shell calls before it demotes a former primary.
type Keeper struct {
	cfg     Config
	store   store
	logger  *slog.Logger
	m       *metrics
	deps    Deps
	pending atomic.Int64

	// mu serialises changes to the archive directory (read-modify-write
	// of manifests). It is held across their file I/O on purpose: that is
	// what it orders, and nothing on a failover's path waits on it except
	// Keep itself.
	mu sync.Mutex
}

// New validates cfg and wires a Keeper whose archives live in
// filepath.Join(dataDir, "divergent"). It does no I/O.
func New(cfg Config, dataDir string, logger *slog.Logger, reg prometheus.Registerer, deps Deps) (*Keeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dataDir == "" {
		return nil, errors.New("divergent: data dir is empty")
	}
	if logger == nil || reg == nil {
		return nil, errors.New("divergent: logger and registerer are required")
	}
	if deps.Primary == nil {
		deps.Primary = func() (string, bool) { return "", false }
	}
	k := &Keeper{cfg: cfg, store: store{dir: filepath.Join(dataDir, "divergent")},
		logger: logger.With("component", "divergent"), deps: deps}
	k.m = newMetrics(reg, &k.pending)
	return k, nil
}

// Dir is the archive directory.
func (k *Keeper) Dir() string { return k.store.dir }

// Config returns the configuration.
func (k *Keeper) Config() Config { return k.cfg }

// Run counts the pending archives already on disk (for the metric and the
// alert) and logs them; in replay mode it then replays again, every
// failover.divergent_replay_retry, each pending archive whose replay
// failed, against the current primary. It blocks until ctx ends.
func (k *Keeper) Run(ctx context.Context) error {
	ms, err := k.refresh()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.State == StatePending {
			k.logger.Warn("divergent writes archived and not dealt with", "archive", m.Name,
				"commands", m.Commands, "missing_bytes", m.Missing, "epoch", m.Epoch, "node", m.Node)
		}
	}
	if k.cfg.DivergentWrites != ModeReplay {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(k.cfg.ReplayRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			k.retryReplays(ctx)
		}
	}
}

func (k *Keeper) refresh() ([]Manifest, error) {
	ms, err := k.store.list()
	if err != nil {
		return nil, err
	}
	var n int64
	for _, m := range ms {
		if m.State == StatePending {
			n++
		}
	}
	k.pending.Store(n)
	return ms, nil
}

// Request names the former primary to keep the writes of.
type Request struct {
	// Epoch is the epoch of the configuration that replaced Node.
	Epoch uint64
	// Node is the former primary's node name; Addr its Redis address.
	Node string
	Addr string
	// Fork is the fork point recorded with the epoch (ParseFork of the new
	// primary's INFO replication right after its promotion).
	Fork Fork
	// NewPrimary is the address replay mode applies the writes to; empty
	// means Deps.Primary.
	NewPrimary string
	// ReplayWait bounds the replay that follows the capture in replay
	// mode; past it the replay is interrupted and Run replays the archive
	// again to the current primary (units applied are skipped by their
	// markers). Zero: only the connection's own timeouts bound it.
	ReplayWait time.Duration
}

// Result says what Keep did.
type Result struct {
	Mode Mode `json:"mode"`
	// Bytes is the length of the divergent stream; Missing how many of
	// those bytes could not be recovered.
	Bytes   int64 `json:"bytes"`
	Missing int64 `json:"missing_bytes"`
	// Commands is the number of writes archived.
	Commands int `json:"commands"`
	// Archive names the archive written, empty if none.
	Archive string `json:"archive,omitempty"`
	// Replay is set in replay mode; ReplayError says why it is incomplete.
	Replay      *ReplayResult `json:"replay,omitempty"`
	ReplayError string        `json:"replay_error,omitempty"`
}

// Keep captures the divergent writes of the former primary req.Addr, then
// archives, replays or discards them (failover.divergent_writes), and
// returns. It is the step between "a new primary is committed and
// promoted" and "demote the former primary" in the failover shell.
//
// Before calling, the caller must have paused the former primary's writes
// (CLIENT PAUSE <ms> WRITE, long enough to cover Keep: at least
// failover.divergent_capture_timeout), so its offset stands still while
// Keep reads up to it, and must not have demoted it yet (REPLICAOF
// discards the writes). Keep issues no command that changes the node.
// After Keep returns — with or without an error — the caller demotes the
// node as before (REPLICAOF new primary) while writes are still paused.
//
// A nil error means the divergent writes are durably archived (or there
// were none, or the mode is discard): demoting loses nothing more. A
// replay failure is not an error of Keep: the archive stays pending and
// `vigil divergent replay` retries it. An error means nothing was kept:
// the node is unreachable, no longer a primary, no longer holds the old
// history, or its backlog no longer reaches the fork (errors.Is
// ErrBacklogShort; the archive directory then records the loss, with
// Result.Missing, so the alert fires). Keep is safe to call again for the
// same request: the archive is kept (or rewritten when the new capture
// reaches further), and replays apply nothing twice.
func (k *Keeper) Keep(ctx context.Context, req Request) (Result, error) {
	res := Result{Mode: k.cfg.DivergentWrites}
	log := k.logger.With("node", req.Node, "redis_addr", req.Addr, "epoch", req.Epoch, "offset", req.Fork.Offset)
	cctx, cancel := context.WithTimeout(ctx, k.cfg.CaptureTimeout)
	defer cancel()
	if k.cfg.DivergentWrites == ModeDiscard {
		// Say what is dropped; one INFO, nothing else.
		if ri, err := infoOnce(cctx, req.Addr, k.deps.Redis); err == nil && ri.holds(req.Fork) && ri.offset > req.Fork.Offset {
			res.Bytes = ri.offset - req.Fork.Offset
			log.Warn("divergent writes discarded (failover.divergent_writes is discard)", "lag_bytes", res.Bytes)
		}
		k.m.captures.WithLabelValues(resultDiscarded).Inc()
		return res, nil
	}
	start := time.Now()
	cr, err := Capture(cctx, req.Addr, k.deps.Redis, req.Fork)
	res.Bytes, res.Missing = cr.Bytes(), cr.Missing
	if errors.Is(err, ErrBacklogShort) {
		k.m.captures.WithLabelValues(resultLost).Inc()
		k.m.missing.Add(float64(cr.Missing))
		// The error names the missing bytes and the backlog's start; the
		// caller logs it. The loss record makes the alert fire.
		m := Manifest{Name: archiveName(req.Epoch, req.Node), Epoch: req.Epoch, Node: req.Node, Addr: req.Addr,
			OldReplID: req.Fork.OldReplID, ForkOffset: req.Fork.Offset, EndOffset: cr.EndOffset, Bytes: cr.Bytes(),
			Missing: cr.Missing, BacklogFirst: cr.BacklogFirst, OffsetAfter: cr.OffsetAfter, Error: err.Error()}
		if werr := k.save(m, nil); werr != nil {
			return res, errors.Join(err, werr)
		}
		res.Archive = m.Name
		return res, err
	}
	if err != nil {
		k.m.captures.WithLabelValues(resultFailed).Inc()
		return res, err
	}
	if cr.Bytes() == 0 {
		k.m.captures.WithLabelValues(resultNone).Inc()
		log.Info("no divergent writes")
		return res, nil
	}
	file, m, err := buildArchive(cr)
	if err != nil {
		k.m.captures.WithLabelValues(resultFailed).Inc()
		return res, fmt.Errorf("divergent: capture from %s: %w", req.Addr, err)
	}
	m.Name, m.Epoch, m.Node = archiveName(req.Epoch, req.Node), req.Epoch, req.Node
	m.File = m.Name + ".resp"
	if err := k.save(m, file); err != nil {
		k.m.captures.WithLabelValues(resultFailed).Inc()
		return res, err
	}
	res.Archive, res.Commands = m.Name, m.Commands
	k.m.commands.Add(float64(m.Commands))
	if cr.OffsetAfter > cr.EndOffset {
		log.Warn("former primary's offset moved during the capture: writes not paused, or pings to its replicas",
			"offset", cr.EndOffset, "lag_bytes", cr.OffsetAfter-cr.EndOffset)
	}
	if !m.StartDBKnown {
		log.Warn("database at the fork unknown, assumed 0", "archive", m.Name)
	}
	log.Info("divergent writes archived", "archive", m.Name, "commands", m.Commands, "lag_bytes", m.Bytes,
		"duration", time.Since(start))
	if k.cfg.DivergentWrites != ModeReplay {
		k.m.captures.WithLabelValues(resultArchived).Inc()
		return res, nil
	}
	to := req.NewPrimary
	if to == "" {
		to, _ = k.deps.Primary()
	}
	if to == req.Addr {
		to = "" // never replay into the node the writes came from
	}
	rctx := ctx
	if req.ReplayWait > 0 {
		// The caller waits for this replay while it holds the demotion:
		// a new primary that holds the script (paused writes) or whose
		// answer is lost must not hold it for the 30 s of the read
		// timeout (chaos seed 2103, N=3: a sidecar waited 29.6 s, named
		// the primary meanwhile, and its Redis full-synced an empty one).
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, req.ReplayWait)
		defer cancel()
	}
	m, rr, err := k.replay(rctx, m, file, to)
	res.Replay = &rr
	if err != nil || !rr.Complete() {
		k.m.captures.WithLabelValues(resultPartial).Inc()
		if err == nil {
			err = fmt.Errorf("%d of %d units failed", rr.Failed, rr.Units)
			if len(rr.Errors) > 0 {
				err = fmt.Errorf("%w (first: %s)", err, rr.Errors[0])
			}
		}
		res.ReplayError = err.Error()
		log.Error("divergent writes archived, replay incomplete", "archive", m.Name, "err", err)
		return res, nil
	}
	k.m.captures.WithLabelValues(resultReplayed).Inc()
	log.Info("divergent writes replayed", "archive", m.Name, "redis_addr", to, "applied", rr.Applied,
		"duplicates", rr.Duplicates, "duration", rr.Duration)
	return res, nil
}

// save writes an archive, or keeps the one already there when it holds
// the same history at least as far (Keep called again).
func (k *Keeper) save(m Manifest, file []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now().UTC()
	if old, err := k.store.manifest(m.Name); err == nil && old.OldReplID == m.OldReplID &&
		old.ForkOffset == m.ForkOffset && old.EndOffset >= m.EndOffset && old.Error == "" && m.Error == "" {
		return nil
	}
	m.State, m.CreatedAt, m.UpdatedAt = StatePending, now, now
	if err := k.store.write(m, file); err != nil {
		return err
	}
	_, err := k.refresh()
	return err
}

// replay applies an archive's units to the primary at addr and records
// the outcome in its manifest.
func (k *Keeper) replay(ctx context.Context, m Manifest, file []byte, addr string) (Manifest, ReplayResult, error) {
	rr, rerr := k.replayTo(ctx, m, file, addr)
	if rerr != nil && rr.Failed == 0 {
		rr.Failed = m.Units
		rr.note(rerr.Error())
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	cur, err := k.store.manifest(m.Name)
	if err != nil {
		return m, rr, errors.Join(rerr, err)
	}
	cur.Replay = &rr
	cur.UpdatedAt = time.Now().UTC()
	if rerr == nil && rr.Complete() {
		cur.State = StateReplayed
	}
	if err := k.store.putManifest(cur); err != nil {
		return cur, rr, errors.Join(rerr, err)
	}
	if _, err := k.refresh(); err != nil {
		return cur, rr, errors.Join(rerr, err)
	}
	return cur, rr, rerr
}

// replayOptions are the replay client's: one connection, no retries.
func (k *Keeper) replayOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr: addr, Username: k.deps.Redis.Username, Password: k.deps.Redis.Password, TLSConfig: k.deps.Redis.TLS.Config(addr),
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxRetries: -1, PoolSize: 1, Protocol: 2, DisableIdentity: true,
		// A deadline of ctx (Request.ReplayWait) bounds each read too.
		ContextTimeoutEnabled: true,
		// One dial: go-redis would otherwise try five times, each up to
		// DialTimeout, and Keep runs inside the sidecar's local effect,
		// which decides nothing else meanwhile; Run replays a pending
		// archive again anyway (chaos seed 2201, N=5: a's replay into
		// epoch 4's primary c, cut off, held a's sidecar for 23.5 s, so
		// neither a nor b, waiting its turn behind a under
		// parallel_syncs, followed epoch 5's primary e).
		DialerRetries: 1,
	}
}

func (k *Keeper) replayTo(ctx context.Context, m Manifest, file []byte, addr string) (ReplayResult, error) {
	rr := ReplayResult{Target: addr, At: time.Now().UTC(), Units: m.Units}
	if addr == "" {
		rr.Interrupted = true
		return rr, errors.New("divergent: replay: no writable primary known")
	}
	units, err := unitsOf(file, m)
	if err != nil {
		return rr, err
	}
	c := redis.NewClient(k.replayOptions(addr))
	defer c.Close()
	rr, err = replayUnits(ctx, c, m.OldReplID, units, k.cfg.MarkerTTL)
	rr.Interrupted = err != nil
	return rr, err
}
