// Package retryq is vigil's durable local retry queue: applications hand it
// the writes that failed while no primary was writable, it stores them in
// bbolt (node.data_dir/retryq.db) before acknowledging, and replays them
// against the primary once one is writable — priority first, FIFO within a
// priority, in order per ordering key, at most once per item thanks to a
// done-marker set atomically with the write.
//
// Lifecycle: New validates and wires (no I/O). Open opens, checks and
// indexes the database; it is optional because Run calls it, but calling it
// first lets a damaged file stop the process before anything else starts.
// Run commits enqueues and drains until its context ends, then closes the
// database. The HTTP handler and Enqueue answer ErrNotRunning outside Run.
package retryq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/vigil-redis/vigil/retryq/client"
)

// NewItem is one write to enqueue; see client.EnqueueItem.
type NewItem = client.EnqueueItem

// Item is a queued item as the admin API shows it; see client.Item.
type Item = client.Item

// Stats summarises the queue; see client.Stats.
type Stats = client.Stats

// Sentinel errors.
var (
	// ErrFull means an enqueue was refused because the queue is at
	// retryq.max_items or retryq.max_bytes. Nothing of the request was queued.
	ErrFull = errors.New("retryq: queue full")
	// ErrInvalid means an item was malformed (empty command, bad ID, ...).
	ErrInvalid = errors.New("retryq: invalid item")
	// ErrNotRunning means the queue is not inside Run.
	ErrNotRunning = errors.New("retryq: not running")
	// ErrNotFound means no item has the given ID.
	ErrNotFound = errors.New("retryq: item not found")
	// ErrBusy means the item is being replayed right now; try again.
	ErrBusy = errors.New("retryq: item is being replayed")
)

// maxIDLen bounds caller-supplied IDs; they become part of a Redis key.
const maxIDLen = 200

// Queue is the durable retry queue.
type Queue struct {
	cfg     Config
	policy  Policy // retryq.allowed_commands
	path    string
	logger  *slog.Logger
	m       *metrics
	primary PrimarySource

	// life guards db, pre and running: operations hold it shared for
	// their duration, Run takes it exclusively to close the database.
	life    sync.RWMutex
	db      *bolt.DB
	pre     *prealloc // used only inside the committer's write transactions
	running bool

	cmu        sync.Mutex    // guards pending, pendingDel and cclosed
	pending    []*enqueueReq // handed over, not yet taken by the committer
	pendingDel []uint64      // seqs of replayed items still on disk (see settle)
	cclosed    bool          // the committer has stopped: refuse new requests
	commitReq  chan struct{} // capacity 1: "pending is not empty"
	wake       chan struct{} // capacity 1: "there may be work"

	mu       sync.Mutex // guards x, oldest and oldestAt
	oldest   int64      // cached enqueue time of the oldest ready or in-flight item
	oldestAt time.Time
	adminMu  sync.Mutex // serialises admin changes (see admin.go)
	x        *index

	lim *limiter

	pmu      sync.Mutex // guards conn and pause
	conn     *primaryConn
	pausedAt Primary
	pauseEnd time.Time
	// pauseMsg and pauseLogged: the error last logged for pausedAt, and
	// when (pause logs a repeat at most once a minute).
	pauseMsg    string
	pauseLogged time.Time

	enqueued, replayed, failed, deadLettered, rejected atomic.Uint64
}

// New validates cfg and wires a queue whose database will be
// filepath.Join(dataDir, "retryq.db"). It does no I/O.
func New(cfg Config, dataDir string, logger *slog.Logger, reg prometheus.Registerer, primary PrimarySource) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dataDir == "" {
		return nil, errors.New("retryq: data dir is empty")
	}
	if logger == nil || reg == nil || primary == nil {
		return nil, errors.New("retryq: logger, registerer and primary source are required")
	}
	policy, _ := NewPolicy(cfg.AllowedCommands) // Validate checked it
	q := &Queue{
		cfg:     cfg,
		policy:  policy,
		path:    filepath.Join(dataDir, "retryq.db"),
		logger:  logger.With("component", "retryq"),
		m:       newMetrics(reg),
		primary: primary,
		wake:    make(chan struct{}, 1),
		x:       newIndex(),
		lim:     newLimiter(cfg.DrainRate, cfg.BatchSize),
	}
	reg.MustRegister(newGauges(q))
	return q, nil
}

// Path returns the database file's path.
func (q *Queue) Path() string { return q.path }

// Open opens, checks and indexes the database. A truncated or corrupt file
// gives an error wrapping ErrCorrupt that names the file. Calling Open more
// than once is an error; Run calls it when it has not been called.
func (q *Queue) Open() error {
	q.life.Lock()
	defer q.life.Unlock()
	if q.db != nil {
		return errors.New("retryq: already open")
	}
	if err := os.MkdirAll(filepath.Dir(q.path), 0o700); err != nil {
		return fmt.Errorf("retryq: %w", err)
	}
	start := time.Now()
	db, x, err := openDB(q.path, start.UnixNano())
	if err != nil {
		return err
	}
	pre, err := openPrealloc(q.path)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("retryq: open %s: %w", q.path, err)
	}
	q.mu.Lock()
	q.db, q.x, q.pre = db, x, pre
	q.mu.Unlock()
	q.logger.Info("retry queue opened", "path", q.path, "items", x.count(), "dead", x.nDead,
		"duration", time.Since(start))
	return nil
}

// Run commits enqueues and drains the queue into the writable primary until
// ctx ends, then closes the database. It opens the database first unless
// Open was called.
func (q *Queue) Run(ctx context.Context) error {
	q.life.RLock()
	opened := q.db != nil
	q.life.RUnlock()
	if !opened {
		if err := q.Open(); err != nil {
			return err
		}
	}
	stop := make(chan struct{})
	q.life.Lock()
	q.running = true
	q.cmu.Lock()
	q.pending, q.pendingDel, q.cclosed, q.commitReq = nil, nil, false, make(chan struct{}, 1)
	q.cmu.Unlock()
	q.life.Unlock()

	dctx, cancel := context.WithCancel(ctx)
	var drainers sync.WaitGroup
	committed := make(chan struct{})
	go func() { defer close(committed); q.commitLoop(stop) }()
	drainers.Add(q.cfg.DrainConcurrency)
	for range q.cfg.DrainConcurrency {
		go func() { defer drainers.Done(); q.drainLoop(dctx) }()
	}
	q.kick()
	<-ctx.Done()
	// The drain stops first: the committer writes the deletions of the
	// items it replayed before it stops itself.
	cancel()
	drainers.Wait()
	close(stop)
	<-committed

	q.life.Lock()
	defer q.life.Unlock()
	q.running = false
	q.pmu.Lock()
	if q.conn != nil {
		_ = q.conn.c.Close()
		q.conn = nil
	}
	q.pmu.Unlock()
	err := q.db.Close()
	_ = q.pre.close()
	q.db, q.pre = nil, nil
	q.mu.Lock()
	q.x = newIndex()
	q.mu.Unlock()
	if err != nil {
		return fmt.Errorf("retryq: close %s: %w", q.path, err)
	}
	return nil
}

// begin admits an operation while the queue runs; end must follow.
func (q *Queue) begin() (*bolt.DB, error) {
	q.life.RLock()
	if !q.running {
		q.life.RUnlock()
		return nil, ErrNotRunning
	}
	return q.db, nil
}

func (q *Queue) end() { q.life.RUnlock() }

func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

type pendingItem struct {
	rec *record
	val []byte
}

type enqueueReq struct {
	items []pendingItem
	ids   []string
	err   error
	done  chan struct{}
}

// Enqueue stores items durably and returns their IDs in order. It returns
// only after the items are fsynced; concurrent callers share one
// transaction and one fsync. An item whose ID is already queued is not
// added again; its ID is returned. The request is all or nothing with
// respect to ErrFull.
func (q *Queue) Enqueue(ctx context.Context, items []NewItem) ([]string, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no items", ErrInvalid)
	}
	now := time.Now().UnixNano()
	req := &enqueueReq{items: make([]pendingItem, len(items)), done: make(chan struct{})}
	for i, it := range items {
		if err := q.policy.Check(it.Command); err != nil {
			q.rejected.Add(uint64(len(items)))
			q.m.rejected.WithLabelValues(reasonInvalid).Add(float64(len(items)))
			return nil, fmt.Errorf("%w: items[%d]: %v", ErrInvalid, i, err)
		}
		r, err := q.newRecord(it, now)
		if err != nil {
			q.rejected.Add(uint64(len(items)))
			q.m.rejected.WithLabelValues(reasonInvalid).Add(float64(len(items)))
			return nil, fmt.Errorf("%w: items[%d]: %v", ErrInvalid, i, err)
		}
		req.items[i] = pendingItem{rec: r, val: r.encode(make([]byte, 0, r.encodedSize()))}
	}
	if _, err := q.begin(); err != nil {
		return nil, err
	}
	defer q.end()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.cmu.Lock()
	if q.cclosed {
		q.cmu.Unlock()
		return nil, ErrNotRunning
	}
	q.pending = append(q.pending, req)
	q.cmu.Unlock()
	select {
	case q.commitReq <- struct{}{}:
	default:
	}
	// Once handed over, wait for the outcome: the commit is bounded and the
	// caller must learn whether the items are on disk.
	<-req.done
	return req.ids, req.err
}

func (q *Queue) newRecord(it NewItem, now int64) (*record, error) {
	if len(it.Command) == 0 {
		return nil, errors.New("command is empty")
	}
	if len(it.Command[0]) == 0 {
		return nil, errors.New("command name is empty")
	}
	if it.MaxAttempts < 0 {
		return nil, fmt.Errorf("max_attempts (%d) must not be negative", it.MaxAttempts)
	}
	id := it.ID
	if id == "" {
		id = newID(now)
	} else if err := validID(id); err != nil {
		return nil, err
	}
	key := it.Key
	if key == nil && len(it.Command) > 1 {
		key = it.Command[1]
	}
	ma := it.MaxAttempts
	if ma == 0 {
		ma = q.cfg.DefaultMaxAttempts
	}
	return &record{
		state: client.StateReady, id: id, key: key, priority: it.Priority, enqueued: now,
		maxAttempts: ma, args: it.Command,
	}, nil
}

func validID(id string) error {
	if len(id) > maxIDLen {
		return fmt.Errorf("id is %d bytes, more than %d", len(id), maxIDLen)
	}
	if id == "stats" || id == "export" {
		return fmt.Errorf("id %q is reserved", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%' {
			return fmt.Errorf("id %q: byte %d (%q) is not allowed (printable ASCII without space, / ? # %%)", id, i, c)
		}
	}
	return nil
}

// newID returns a unique ID: time-ordered, with 64 random bits so that
// sidecars sharing a primary never collide on done-markers.
func newID(now int64) string {
	var b [16]byte
	putBE(b[:8], uint64(now))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// commitLoop is the group commit: it takes every request handed over so
// far, and the deletions of replayed items, and writes them in one bbolt
// transaction (whose commit syncs twice: pages, then meta).
//
// Before it takes them it yields the processor for as long as yielding
// brings more requests. The requesters released by the previous commit
// become runnable at that moment, and each needs a few microseconds to
// come back with its next request; taking the batch at once would commit
// only the few that made it and split steady producers into two cohorts
// that alternate, each commit carrying half of them and costing a full
// fsync. A yield costs nothing when nobody else is runnable, so a lone
// producer is not delayed, and it is no timer: the wait ends as soon as a
// yield brings nobody new.
func (q *Queue) commitLoop(stop <-chan struct{}) {
	const maxYields = 16
	var batch, spare []*enqueueReq
	var dels, spareDels []uint64
	for {
		stopping := false
		select {
		case <-q.commitReq:
		case <-stop:
			stopping = true
		}
		if !stopping {
			q.cmu.Lock()
			n := len(q.pending)
			q.cmu.Unlock()
			for range maxYields {
				runtime.Gosched()
				q.cmu.Lock()
				m := len(q.pending)
				q.cmu.Unlock()
				if m == n {
					break
				}
				n = m
			}
		}
		q.cmu.Lock()
		batch, q.pending = q.pending, spare[:0]
		dels, q.pendingDel = q.pendingDel, spareDels[:0]
		q.cclosed = stopping
		q.cmu.Unlock()
		if len(batch) > 0 || len(dels) > 0 {
			q.commit(batch, dels)
		}
		if stopping {
			return
		}
		clear(batch)
		spare, spareDels = batch, dels
	}
}

// commit writes the accepted items of batch and deletes the replayed
// items dels in one transaction.
func (q *Queue) commit(batch []*enqueueReq, dels []uint64) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	// Assign sequence numbers and settle duplicates and bounds under the
	// lock; the committer is the only writer of new items, so what it
	// decides here still holds after the fsync.
	q.mu.Lock()
	x := q.x
	items, bytes := x.count(), x.bytes
	seen := map[string]bool{}
	var accepted []*enqueueReq
	var nItems int
	for _, r := range batch {
		r.ids = make([]string, len(r.items))
		addItems, addBytes := 0, int64(0)
		for i, p := range r.items {
			r.ids[i] = p.rec.id
			if x.byID[p.rec.id] != nil || seen[p.rec.id] {
				p.rec.seq = 0 // duplicate: answered with the existing ID, not stored
				r.items[i] = p
				continue
			}
			addItems++
			addBytes += int64(8 + len(p.val))
		}
		if items+addItems > q.cfg.MaxItems || bytes+addBytes > q.cfg.MaxBytes {
			r.err = fmt.Errorf("%w: adding %d items (%d bytes) to %d items (%d bytes) would exceed retryq.max_items (%d) or retryq.max_bytes (%d); queued items are kept",
				ErrFull, addItems, addBytes, items, bytes, q.cfg.MaxItems, q.cfg.MaxBytes)
			r.ids = nil
			q.rejected.Add(uint64(len(r.items)))
			q.m.rejected.WithLabelValues(reasonFull).Add(float64(len(r.items)))
			continue
		}
		items += addItems
		bytes += addBytes
		for i := range r.items {
			p := &r.items[i]
			if x.byID[p.rec.id] != nil || seen[p.rec.id] {
				p.rec.seq = 0
				continue
			}
			seen[p.rec.id] = true
			p.rec.seq = x.nextSeq
			x.nextSeq++
			nItems++
		}
		accepted = append(accepted, r)
	}
	q.mu.Unlock()
	if nItems == 0 && len(dels) == 0 {
		return
	}

	start := time.Now()
	err := q.db.Update(func(tx *bolt.Tx) error {
		if err := q.pre.reserve(tx); err != nil {
			return err
		}
		b := tx.Bucket(bucketItems)
		var k [8]byte
		slices.Sort(dels) // neighbours share pages: fewer cache misses
		for _, seq := range dels {
			putBE(k[:], seq)
			if err := b.Delete(k[:]); err != nil {
				return err
			}
		}
		b.FillPercent = 1 // keys only grow: pack pages full
		for _, r := range accepted {
			for _, p := range r.items {
				if p.rec.seq == 0 {
					continue
				}
				if err := b.Put(seqKey(p.rec.seq), p.val); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if nItems > 0 {
		q.m.commitDur.Observe(time.Since(start).Seconds())
		q.m.commitBatch.Observe(float64(nItems))
	}
	if err != nil {
		err = fmt.Errorf("retryq: write %s: %w", q.path, err)
		q.logger.Error("enqueue commit failed", "err", err)
		for _, r := range accepted {
			r.err, r.ids = err, nil
		}
		// The replayed items stay queued for deletion: they are gone from
		// the index, and their done-markers make a replay after a restart
		// a no-op.
		q.cmu.Lock()
		q.pendingDel = append(q.pendingDel, dels...)
		q.cmu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	q.mu.Lock()
	for _, r := range accepted {
		for _, p := range r.items {
			if p.rec.seq != 0 {
				x.add(entryOf(p.rec, int64(8+len(p.val))), now)
			}
		}
	}
	q.mu.Unlock()
	q.enqueued.Add(uint64(nItems))
	q.m.enqueued.Add(float64(nItems))
	q.kick()
}

type snapshot struct {
	ready, inflight, dead int
	bytes                 int64
	oldest                int64
}

func (q *Queue) snapshot() snapshot {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := snapshot{ready: q.x.nReady, inflight: q.x.nInflight, dead: q.x.nDead, bytes: q.x.bytes}
	// The oldest item takes a linear scan, so it is recomputed at most once
	// a second: stats are polled, and the hot paths stay free of another
	// ordered structure.
	now := time.Now()
	if now.Sub(q.oldestAt) > time.Second || (q.oldest == 0) != (s.ready+s.inflight == 0) {
		q.oldest, q.oldestAt = 0, now
		for _, e := range q.x.byID {
			if e.state != client.StateDead && (q.oldest == 0 || e.enqueued < q.oldest) {
				q.oldest = e.enqueued
			}
		}
	}
	s.oldest = q.oldest
	return s
}

func (q *Queue) fileSize() int64 {
	fi, err := os.Stat(q.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Stats returns the queue's counts, limits and counters since start.
func (q *Queue) Stats() (Stats, error) {
	if _, err := q.begin(); err != nil {
		return Stats{}, err
	}
	defer q.end()
	s := q.snapshot()
	st := Stats{
		Ready: s.ready, Inflight: s.inflight, Dead: s.dead, Items: s.ready + s.inflight + s.dead,
		Bytes: s.bytes, MaxItems: q.cfg.MaxItems, MaxBytes: q.cfg.MaxBytes,
		Enqueued: q.enqueued.Load(), Replayed: q.replayed.Load(), Failed: q.failed.Load(),
		DeadLettered: q.deadLettered.Load(), Rejected: q.rejected.Load(),
	}
	if s.oldest > 0 {
		t := time.Unix(0, s.oldest).UTC()
		st.OldestEnqueuedAt = &t
	}
	if p, ok := q.primary.WritablePrimary(); ok {
		st.Primary = p.Addr
	}
	return st, nil
}
