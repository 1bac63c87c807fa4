package retryq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/vigil-redis/vigil/retryq/client"
)

// replayScript applies a run of items, each at most once, in order.
// KEYS[i] is the done marker of item i. ARGV[1] is the marker TTL in
// milliseconds and ARGV[2] the number of items; then each item has
// ARGV pred, n, and its command's n arguments. pred is 0, or the index in
// KEYS of the marker of the item just before it in the same ordering
// group and the same pipeline: if that one did not apply, neither may
// this one (per-key order). The predecessor is either earlier in this
// call (its marker, if it applied, was set above) or the last item of the
// previous call in the pipeline, whose marker is then an extra key.
//
// Each item's marker is claimed (SET NX, which also tells an item applied
// earlier) just before its write and removed again if the write fails,
// in the same script, so marker and write happen together or not at all:
// Redis runs a script without interleaving other commands, refuses a
// script's writes only before its first one (OOM, READONLY), and a script
// that has written cannot be killed. Claiming first costs one command per
// item less than checking with EXISTS and setting afterwards. One
// call carries many items because the per-call cost of EVALSHA (parsing,
// script lookup, Lua entry, one reply) is larger than the work per item.
//
// The reply has one element per item: 1 applied, 0 already applied
// earlier, 2 blocked by its predecessor, or the command's own error reply
// unchanged.
const replayScript = `
local ttl = ARGV[1]
local out = {}
local a = 3
for i = 1, tonumber(ARGV[2]) do
  local pred, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local first = a + 2
  a = first + n
  if not redis.call('SET', KEYS[i], '1', 'NX', 'PX', ttl) then
    out[i] = 0
  elseif pred > 0 and redis.call('EXISTS', KEYS[pred]) == 0 then
    redis.call('DEL', KEYS[i])
    out[i] = 2
  else
    local r = redis.pcall(unpack(ARGV, first, a - 1))
    if type(r) == 'table' and r.err then
      redis.call('DEL', KEYS[i])
      out[i] = r
    else
      out[i] = 1
    end
  end
end
return out
`

// Bounds of one replay call. Lua's unpack handles a few thousand values,
// so a command with more arguments than maxArgsShared goes alone in its
// call, where a failure of the call is that command's own.
const (
	maxItemsPerCall = 64
	maxArgsPerCall  = 2048
	maxBytesPerCall = 1 << 20
	maxArgsShared   = 512
)

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
		Dialer:          primaryDialer(p, q.cfg.RedisTimeout),
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
	// Logged when the primary or the error changes, and a repeat at most
	// once a minute: a primary waiting for a replica fails the same way
	// every primary_retry, for as long as the replicas are down.
	now := time.Now()
	if msg := err.Error(); q.pausedAt != p || msg != q.pauseMsg || now.Sub(q.pauseLogged) >= time.Minute {
		q.logger.Warn("primary not writable, replay paused", "redis_addr", p.Addr, "err", err,
			"duration", q.cfg.PrimaryRetry)
		q.pauseMsg, q.pauseLogged = msg, now
	}
	q.pausedAt, q.pauseEnd = p, now.Add(q.cfg.PrimaryRetry)
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
	outReturn     outcome = iota // back to ready, nothing spent
	outDone                      // applied now or earlier: delete
	outRetry                     // item-specific failure: attempt spent, backoff
	outDead                      // attempts exhausted
	outDeadPerm                  // permanent failure
	outDeadPolicy                // refused by retryq.allowed_commands at replay
	outMissing                   // record vanished: forget
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
	outs := make([]outcome, len(batch))
	errs := make([]string, len(batch))
	// The policy holds at replay too: items stored before
	// retryq.allowed_commands was narrowed, or put in the file by anything
	// but Enqueue, never run. They are dead-lettered, not dropped, so an
	// operator sees them; live, the records the calls carry, lacks them.
	live, cloned := recs, false
	for i, r := range recs {
		if r == nil {
			outs[i] = outMissing
			continue
		}
		if err := q.policy.Check(r.args); err != nil {
			if !cloned {
				live, cloned = slices.Clone(recs), true
			}
			live[i] = nil
			outs[i], errs[i] = outDeadPolicy, "refused at replay: "+err.Error()
			q.logger.Warn("queued item refused by the command policy; dead-lettered", "id", batch[i].id, "err", err)
		}
	}
	if !slices.Contains(outs, outReturn) {
		q.settle(batch, recs, outs, errs)
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
			q.settle(batch, recs, outs, errs)
			return
		}
		q.pmu.Lock()
		pc.loaded = true
		q.pmu.Unlock()
	}

	ttl := strconv.FormatInt(q.cfg.DoneTTL.Milliseconds(), 10)
	calls := buildCalls(batch, live, ttl, nil)
	// One connection for the batch and its confirmation: WAIT counts the
	// replicas that hold this connection's writes.
	cn := pc.c.Conn()
	defer func() { _ = cn.Close() }()
	pipe := cn.Pipeline()
	for _, c := range calls {
		c.cmd = pipe.Do(rctx, c.args...)
		c.args = nil
	}
	_, _ = pipe.Exec(rctx)

	var primaryErr error
	noScript := false
	var split []int // items of multi-item calls that failed as a whole
	record := func(i int, err error) {
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
	collect := func(calls []*replayCall) {
		for _, c := range calls {
			res, err := c.cmd.Slice()
			if err == nil && len(res) != len(c.items) {
				err = fmt.Errorf("retryq: replay script answered %d results for %d items", len(res), len(c.items))
			}
			if err != nil {
				cl := classify(err)
				if len(c.items) > 1 && (cl == classItem || cl == classPermanent) {
					// Not the primary's fault and not a reply per item:
					// find the culprit by replaying each item alone.
					split = append(split, c.items...)
					continue
				}
				for _, i := range c.items {
					record(i, err)
				}
				continue
			}
			for k, i := range c.items {
				switch v := res[k].(type) {
				case int64:
					if v == replayApplied || v == replayDup {
						outs[i] = outDone
					} else { // blocked behind a predecessor that did not apply
						outs[i] = outReturn
					}
				case error:
					record(i, v)
				default:
					record(i, fmt.Errorf("retryq: unexpected replay result %v", v))
				}
			}
		}
	}
	collect(calls)
	if len(split) > 0 && primaryErr == nil && !noScript {
		// Alone, each item's result is its own; a predecessor check still
		// applies between consecutive items of a group.
		calls = buildCalls(batch, live, ttl, split)
		pipe := cn.Pipeline()
		for _, c := range calls {
			c.cmd = pipe.Do(rctx, c.args...)
			c.args = nil
		}
		_, _ = pipe.Exec(rctx)
		split = nil
		collect(calls)
	}
	for _, i := range split { // the primary failed meanwhile: try again later
		outs[i] = outReturn
	}
	if primaryErr == nil && slices.Contains(outs, outDone) {
		if err := confirm(rctx, cn, min(confirmWait, q.cfg.RedisTimeout/2), pc.p.Replicated); err != nil {
			// Applied, but perhaps only on a primary that is about to be
			// replaced without them: keep the items. Replayed again,
			// they find their markers if the writes survived and apply
			// once more where they did not.
			for i := range outs {
				if outs[i] == outDone {
					outs[i] = outReturn
				}
			}
			primaryErr = err
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

// confirmKey is the key confirm writes so that its WAIT covers every
// write the primary holds.
const confirmKey = "vigil:retryq:confirm"

// confirmWait bounds how long a batch waits for a replica's acknowledgement
// (and half of retryq.redis_timeout, when that is shorter).
const confirmWait = time.Second

// errUnconfirmed: a replica did not acknowledge a replayed batch in time.
var errUnconfirmed = errors.New("retryq: no replica acknowledged the replayed writes")

// confirm returns nil once a replica of the primary behind cn holds what
// cn wrote, or when the primary has no replica to wait for and needs none.
// An item is deleted from the queue only then: a primary cut off from its
// replicas still accepts writes until it is fenced, and a failover
// discards them (chaos seed 4: an INCR the queue applied to such a primary
// was never applied on the new one). A write of its own comes first, as a
// batch of items found already applied wrote nothing on cn. replicated is
// Primary.Replicated.
func confirm(ctx context.Context, cn *redis.Conn, wait time.Duration, replicated bool) error {
	var set *redis.StatusCmd
	var role *redis.Cmd
	var need *redis.MapStringStringCmd
	// The pipeline's error is the first of its commands'; each is read on
	// its own, as a CONFIG refused by an ACL must not stop the drain.
	_, _ = cn.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.Set(ctx, confirmKey, "1", time.Minute)
		role = p.Do(ctx, "ROLE")
		need = p.ConfigGet(ctx, "min-replicas-to-write")
		return nil
	})
	if err := set.Err(); err != nil {
		return err
	}
	r, err := role.Slice()
	if err != nil {
		return err
	}
	minReplicas := -1
	if cfg, err := need.Result(); err == nil {
		if n, err := strconv.Atoi(cfg["min-replicas-to-write"]); err == nil {
			minReplicas = n
		}
	}
	mustWait, err := confirmPlan(r, minReplicas, replicated)
	if err != nil || !mustWait {
		return err
	}
	n, err := cn.Wait(ctx, 1, wait).Result()
	if err != nil {
		return err
	}
	if n < 1 {
		return errUnconfirmed
	}
	return nil
}

// errNoReplica: the primary lists no replica although its
// min-replicas-to-write or its group (Primary.Replicated) asks for one.
var errNoReplica = errors.New("retryq: the primary has no replica, and its min-replicas-to-write or its group asks for one")

// confirmPlan decides from the primary's ROLE reply and its
// min-replicas-to-write whether confirm must WAIT for a replica. A lone
// primary confirms by itself only when it is meant to run alone
// (min-replicas-to-write 0, and not replicated: no other member in its
// group): one that should have replicas and lists none holds the only
// copy, which the next failover discards (chaos seed 4705: retry-queue
// INCRs confirmed on a primary with no replica attached were lost when
// another Redis was promoted; seed 14010, N=3, min_replicas 0: b, promoted
// while c's Redis was stopped and a's cut from it, confirmed INCRs alone,
// and the group failed over to a 2.3 s later).
// An unknown setting (-1: CONFIG refused) counts as 0, so a queue draining
// through a user without CONFIG into a lone primary still drains.
func confirmPlan(role []any, minReplicas int, replicated bool) (wait bool, err error) {
	if len(role) < 3 || role[0] != "master" {
		return false, fmt.Errorf("retryq: confirm: role %v is not master", role)
	}
	if replicas, _ := role[2].([]any); len(replicas) > 0 {
		return true, nil
	}
	if minReplicas > 0 || replicated {
		return false, errNoReplica
	}
	return false, nil // a lone primary meant to be alone: no other copy to wait for
}

type replayCall struct {
	items []int // indices into the batch
	args  []any
	cmd   *redis.Cmd
}

// buildCalls packs the items of batch with a record into EVALSHA calls of
// the replay script, in batch order. With only set, it makes one call per
// listed item instead. An item's predecessor is the batch's previous item
// when that one has a record and the same ordering group (take returns a
// group's items together, in order).
func buildCalls(batch []*entry, recs []*record, ttl string, only []int) []*replayCall {
	type fixup struct {
		argv int
		key  string
	}
	var calls []*replayCall
	var cur *replayCall
	// keys and argv are scratch, reused from call to call: only the
	// final, exactly sized argument list of each call is allocated.
	keys := make([]string, 0, maxItemsPerCall+1)
	argv := make([]any, 0, 2+maxItemsPerCall*5)
	var extra []fixup // preds that name a marker outside the call
	var nArgs, nBytes int
	flush := func() {
		if cur == nil {
			return
		}
		argv[1] = len(cur.items)
		for _, f := range extra {
			keys = append(keys, f.key)
			argv[f.argv] = len(keys)
		}
		cur.args = make([]any, 0, 3+len(keys)+len(argv))
		cur.args = append(cur.args, "evalsha", replaySHA, len(keys))
		for _, k := range keys {
			cur.args = append(cur.args, k)
		}
		cur.args = append(cur.args, argv...)
		calls = append(calls, cur)
		clear(argv) // drop references to the records' arguments
		cur, keys, argv, extra, nArgs, nBytes = nil, keys[:0], argv[:0], extra[:0], 0, 0
	}
	add := func(i int) {
		r := recs[i]
		if r == nil {
			return
		}
		size := 0
		for _, a := range r.args {
			size += len(a)
		}
		alone := len(r.args) > maxArgsShared || only != nil
		if cur != nil && (alone || len(cur.items) == maxItemsPerCall ||
			nArgs+len(r.args) > maxArgsPerCall || nBytes+size > maxBytesPerCall) {
			flush()
		}
		if cur == nil {
			cur = &replayCall{}
			argv = append(argv, ttl, 0)
		}
		pred := 0
		if j := i - 1; j >= 0 && recs[j] != nil && batch[j].group == batch[i].group {
			if n := len(cur.items); n > 0 && cur.items[n-1] == j {
				pred = n // its marker is the last key so far
			} else {
				extra = append(extra, fixup{len(argv), DoneKeyPrefix + batch[j].id})
			}
		}
		cur.items = append(cur.items, i)
		keys = append(keys, DoneKeyPrefix+batch[i].id)
		argv = append(argv, pred, len(r.args))
		for _, a := range r.args {
			argv = append(argv, a)
		}
		nArgs += len(r.args)
		nBytes += size
		if alone {
			flush()
		}
	}
	if only == nil {
		for i := range batch {
			add(i)
		}
	} else {
		for _, i := range only {
			add(i)
		}
	}
	flush()
	return calls
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
		case outDead, outDeadPerm, outDeadPolicy:
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
				case outRetry, outDead, outDeadPerm, outDeadPolicy:
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
				case outRetry, outDead, outDeadPerm, outDeadPolicy:
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
	var nDone, nFailed, nDeadPerm, nDeadPolicy, nDeadExh int
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
		case outDead, outDeadPerm, outDeadPolicy:
			r := updates[i].rec
			e.attempts, e.next = r.attempts, 0
			q.x.bytes += int64(8+len(updates[i].val)) - e.size
			e.size = int64(8 + len(updates[i].val))
			q.x.kill(e, nowNs)
			nFailed++
			switch outs[i] {
			case outDeadPerm:
				nDeadPerm++
			case outDeadPolicy:
				nDeadPolicy++
			default:
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
	q.deadLettered.Add(uint64(nDeadPerm + nDeadPolicy + nDeadExh))
	q.m.deadLettered.WithLabelValues(reasonPermanent).Add(float64(nDeadPerm))
	q.m.deadLettered.WithLabelValues(reasonPolicy).Add(float64(nDeadPolicy))
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
