package retryq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/vigil-redis/vigil/retryq/client"
)

// replayScript applies one item at most once. KEYS[1] is the item's done
// marker; KEYS[2], when present, is the marker of the item just before it
// in the same ordering group and the same pipeline: if that one did not
// apply, neither may this one (per-key order). ARGV[1] is the marker TTL in
// milliseconds, ARGV[2..] the command. The marker is set in the same
// script as the write, so both happen or neither does.
//
// Returns 1 applied, 0 already applied earlier, 2 blocked by predecessor;
// the command's own error reply is passed through unchanged.
const replayScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if #KEYS > 1 and redis.call('EXISTS', KEYS[2]) == 0 then return 2 end
local r = redis.pcall(unpack(ARGV, 2))
if type(r) == 'table' and r.err then return r end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
`

// DoneKeyPrefix prefixes the done-marker key of each replayed item.
const DoneKeyPrefix = "vigil:retryq:done:"

const (
	replayApplied = 1
	replayDup     = 0
	replayBlocked = 2
)

var replaySHA = redis.NewScript(replayScript).Hash()

type primaryConn struct {
	p      Primary
	c      *redis.Client
	loaded bool // script loaded; guarded by Queue.pmu
}

// connFor returns the client for p, replacing one for an older primary.
func (q *Queue) connFor(p Primary) *primaryConn {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	if q.conn != nil && q.conn.p == p {
		return q.conn
	}
	if q.conn != nil {
		// Batches still using it fail with a connection error: no attempts.
		_ = q.conn.c.Close()
	}
	q.conn = &primaryConn{p: p, c: redis.NewClient(&redis.Options{
		Addr:            p.Addr,
		Username:        p.Username,
		Password:        p.Password,
		DialTimeout:     q.cfg.RedisTimeout,
		ReadTimeout:     q.cfg.RedisTimeout,
		WriteTimeout:    q.cfg.RedisTimeout,
		MaxRetries:      -1, // the drain loop retries, without spending attempts
		PoolSize:        q.cfg.DrainConcurrency + 1,
		DisableIdentity: true,
		Protocol:        2,
	})}
	q.logger.Info("draining into primary", "redis_addr", p.Addr)
	return q.conn
}

// paused reports until when the drain holds off p after it failed.
func (q *Queue) paused(p Primary) time.Time {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	if q.pausedAt == p {
		return q.pauseEnd
	}
	return time.Time{}
}

func (q *Queue) pause(p Primary, err error) {
	q.m.primaryErrs.Inc()
	q.pmu.Lock()
	defer q.pmu.Unlock()
	if q.pausedAt != p || time.Now().After(q.pauseEnd) {
		q.logger.Warn("primary not writable, replay paused", "redis_addr", p.Addr, "err", err,
			"duration", q.cfg.PrimaryRetry)
	}
	q.pausedAt, q.pauseEnd = p, time.Now().Add(q.cfg.PrimaryRetry)
	if q.conn != nil && q.conn.p == p {
		q.conn.loaded = false
	}
}

// drainLoop is one drain worker.
func (q *Queue) drainLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(d time.Duration, changed <-chan struct{}) {
		timer.Reset(d)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-q.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	for ctx.Err() == nil {
		changed := q.primary.Changed()
		p, ok := q.primary.WritablePrimary()
		if !ok {
			// No writable primary: wait for one. Nothing is taken, so no
			// attempt can be spent.
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		now := time.Now()
		if until := q.paused(p); now.Before(until) {
			wait(until.Sub(now), changed)
			q.kick() // pass the wake-up on: other workers may sleep on it
			continue
		}
		n, limWait := q.lim.take(q.cfg.BatchSize, now)
		if n == 0 {
			wait(limWait, changed)
			continue
		}
		q.mu.Lock()
		batch, wakeAt := q.x.take(n, now.UnixNano())
		more := len(q.x.ready) > 0
		q.mu.Unlock()
		q.lim.giveBack(n-len(batch), now)
		if len(batch) == 0 {
			d := time.Hour
			if wakeAt > 0 {
				d = time.Duration(wakeAt - now.UnixNano())
			}
			wait(d, changed)
			continue
		}
		if more {
			q.kick()
		}
		q.replay(ctx, q.connFor(p), batch)
		q.kick()
	}
}

type outcome int

const (
	outReturn   outcome = iota // back to ready, nothing spent
	outDone                    // applied now or earlier: delete
	outRetry                   // item-specific failure: attempt spent, backoff
	outDead                    // attempts exhausted
	outDeadPerm                // permanent failure
	outMissing                 // record vanished: forget
)

// replay sends one batch through the replay script in a single pipeline
// and records the outcome of each item.
func (q *Queue) replay(ctx context.Context, pc *primaryConn, batch []*entry) {
	recs, err := loadRecords(q.db, batch)
	if err != nil {
		q.logger.Error("load items for replay", "err", fmt.Errorf("retryq: read %s: %w", q.path, err))
		q.settle(batch, nil, make([]outcome, len(batch)), nil)
		return
	}
	q.pmu.Lock()
	needLoad := !pc.loaded
	q.pmu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, q.cfg.RedisTimeout)
	defer cancel()
	if needLoad {
		if err := pc.c.ScriptLoad(rctx, replayScript).Err(); err != nil {
			q.pause(pc.p, err)
			q.settle(batch, recs, make([]outcome, len(batch)), nil)
			return
		}
		q.pmu.Lock()
		pc.loaded = true
		q.pmu.Unlock()
	}

	ttl := strconv.FormatInt(q.cfg.DoneTTL.Milliseconds(), 10)
	pipe := pc.c.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	prevGroup := ""
	prevID := ""
	for i, e := range batch {
		r := recs[i]
		if r == nil {
			prevGroup, prevID = "", ""
			continue
		}
		keys := []string{DoneKeyPrefix + e.id}
		if e.group == prevGroup {
			keys = append(keys, DoneKeyPrefix+prevID)
		}
		prevGroup, prevID = e.group, e.id
		args := make([]any, 0, 1+len(r.args))
		args = append(args, ttl)
		for _, a := range r.args {
			args = append(args, a)
		}
		cmds[i] = pipe.EvalSha(rctx, replaySHA, keys, args...)
	}
	_, _ = pipe.Exec(rctx)

	outs := make([]outcome, len(batch))
	errs := make([]string, len(batch))
	var primaryErr error
	noScript := false
	for i, cmd := range cmds {
		if cmd == nil {
			outs[i] = outMissing
			continue
		}
		res, err := cmd.Int64()
		if err == nil {
			switch res {
			case replayApplied, replayDup:
				outs[i] = outDone
			default: // blocked behind a predecessor that did not apply
				outs[i] = outReturn
			}
			continue
		}
		switch classify(err) {
		case classPrimary:
			if primaryErr == nil {
				primaryErr = err
			}
			outs[i] = outReturn
		case classNoScript:
			noScript = true
			outs[i] = outReturn
		case classPermanent:
			outs[i] = outDeadPerm
			errs[i] = err.Error()
		default:
			errs[i] = err.Error()
			if recs[i].attempts+1 >= recs[i].maxAttempts {
				outs[i] = outDead
			} else {
				outs[i] = outRetry
			}
		}
	}
	if primaryErr != nil {
		q.pause(pc.p, primaryErr)
	}
	if noScript {
		q.pmu.Lock()
		pc.loaded = false
		q.pmu.Unlock()
	}
	q.settle(batch, recs, outs, errs)
}

// settle persists the outcomes of a batch and updates the index.
//
// Applied items are not deleted here: their seqs go to the committer,
// which deletes them in its next transaction, together with whatever else
// it writes then, under one fsync. So a worker starts its next batch
// without waiting for the disk, and while it replays, the deletions of
// several batches (and any enqueues) accumulate into one commit. The item
// leaves the index at once, so nothing replays it again in this process;
// a crash before the deletion is durable replays it after the restart,
// where the script finds its done-marker and skips it — the same outcome
// as a crash between the write to Redis and a synchronous deletion, and
// the window is the same one commit.
func (q *Queue) settle(batch []*entry, recs []*record, outs []outcome, errs []string) {
	now := time.Now()
	type update struct {
		val []byte
		rec *record
	}
	updates := make([]update, len(batch))
	var dirty bool
	var dels []uint64
	for i, o := range outs {
		switch o {
		case outDone:
			dels = append(dels, batch[i].seq)
		case outRetry:
			r := recs[i]
			r.attempts++
			r.lastErr = errs[i]
			r.next = now.Add(q.backoff(r.attempts)).UnixNano()
			updates[i] = update{val: r.encode(nil), rec: r}
			dirty = true
		case outDead, outDeadPerm:
			r := recs[i]
			r.attempts++
			r.lastErr = errs[i]
			r.state = client.StateDead
			r.next = 0
			updates[i] = update{val: r.encode(nil), rec: r}
			dirty = true
		}
	}
	if dirty {
		err := q.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketItems)
			for i, o := range outs {
				switch o {
				case outRetry, outDead, outDeadPerm:
					if err := b.Put(seqKey(batch[i].seq), updates[i].val); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			// Nothing recorded: return the failed items unchanged, with
			// their attempt not spent.
			q.logger.Error("record replay outcome", "err", fmt.Errorf("retryq: write %s: %w", q.path, err))
			for i, o := range outs {
				switch o {
				case outRetry, outDead, outDeadPerm:
					outs[i] = outReturn
				}
			}
		}
	}
	if len(dels) > 0 {
		q.cmu.Lock()
		q.pendingDel = append(q.pendingDel, dels...)
		q.cmu.Unlock()
		select {
		case q.commitReq <- struct{}{}:
		default:
		}
	}

	nowNs := now.UnixNano()
	var nDone, nFailed, nDeadPerm, nDeadExh int
	q.mu.Lock()
	touched := map[*group]bool{}
	for i, e := range batch {
		switch outs[i] {
		case outReturn:
			q.x.release(e)
		case outDone, outMissing:
			q.x.remove(e, nowNs)
			if outs[i] == outDone {
				nDone++
			}
			if g := q.x.groups[e.group]; g != nil {
				touched[g] = true
			}
			continue
		case outRetry:
			q.x.release(e)
			r := updates[i].rec
			e.attempts, e.next = r.attempts, r.next
			e.size = int64(8 + len(updates[i].val))
			nFailed++
		case outDead, outDeadPerm:
			r := updates[i].rec
			e.attempts, e.next = r.attempts, 0
			q.x.bytes += int64(8+len(updates[i].val)) - e.size
			e.size = int64(8 + len(updates[i].val))
			q.x.kill(e, nowNs)
			nFailed++
			if outs[i] == outDeadPerm {
				nDeadPerm++
			} else {
				nDeadExh++
			}
			if g := q.x.groups[e.group]; g != nil {
				touched[g] = true
			}
			continue
		}
		if g := q.x.groups[e.group]; g != nil {
			touched[g] = true
		}
	}
	for g := range touched {
		q.x.place(g, nowNs)
	}
	q.mu.Unlock()

	q.replayed.Add(uint64(nDone))
	q.m.replayed.Add(float64(nDone))
	q.failed.Add(uint64(nFailed))
	q.m.failed.Add(float64(nFailed))
	q.deadLettered.Add(uint64(nDeadPerm + nDeadExh))
	q.m.deadLettered.WithLabelValues(reasonPermanent).Add(float64(nDeadPerm))
	q.m.deadLettered.WithLabelValues(reasonExhausted).Add(float64(nDeadExh))
}

// backoff draws the delay before attempt+1 with full jitter.
func (q *Queue) backoff(attempts int) time.Duration {
	c := q.cfg.BackoffBase
	for i := 1; i < attempts && c < q.cfg.BackoffMax; i++ {
		c *= 2
	}
	c = min(c, q.cfg.BackoffMax)
	return rand.N(c) + 1
}

// limiter is a token bucket for the drain rate; zero rate is unlimited.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, batch int) *limiter {
	// A tenth of a second's worth, at least one item, at most one batch.
	burst := max(1, min(float64(batch), rate/10))
	return &limiter{rate: rate, burst: burst, tokens: burst}
}

// take grants up to want tokens; with none available it says how long to
// wait for one.
func (l *limiter) take(want int, now time.Time) (int, time.Duration) {
	if l.rate == 0 {
		return want, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return 0, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
	}
	n := min(want, int(l.tokens))
	l.tokens -= float64(n)
	return n, 0
}

func (l *limiter) giveBack(n int, now time.Time) {
	if l.rate == 0 || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = min(l.burst, l.tokens+float64(n))
}
