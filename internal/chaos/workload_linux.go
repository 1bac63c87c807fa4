//go:build linux

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	rqclient "github.com/vigil-redis/vigil/retryq/client"
)

// recorder collects ops from every worker.
type recorder struct {
	c   *cluster
	mu  sync.Mutex
	ops []Op
}

// do times fn as one op and records it.
func (r *recorder) do(o Op, fn func() (string, error)) Op {
	o.Invoke = r.c.since()
	v, err := fn()
	o.Complete = r.c.since()
	if err != nil {
		o.Err = err.Error()
	} else {
		o.OK = true
		if o.Kind == OpGet {
			o.Value = v
		}
	}
	r.add(o)
	return o
}

// add records an op timed by its caller.
func (r *recorder) add(o Op) {
	r.mu.Lock()
	r.ops = append(r.ops, o)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// workloads run until ctx ends; run waits for every worker.
type workloads struct {
	c   *cluster
	rec *recorder
	// seed drives the register workload's choices, not the schedule.
	seed   uint64
	queued queued
}

// queued holds, per node, the retry-queue items an acknowledged enqueue
// stored that no drainWatch has seen leave yet.
type queued struct {
	mu    sync.Mutex
	items map[string]map[string]queuedItem
}

// queuedItem is one such item: its enqueue was answered at acked, and it
// was last known queued at since.
type queuedItem struct{ since, acked time.Duration }

func (q *queued) add(node, key string, enq Op) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items == nil {
		q.items = map[string]map[string]queuedItem{}
	}
	if q.items[node] == nil {
		q.items[node] = map[string]queuedItem{}
	}
	// Stored between the call and its answer, and perhaps drained
	// before the answer came.
	q.items[node][key] = queuedItem{since: enq.Invoke, acked: enq.Complete}
}

// left takes node's listing, begun at at: the keys listed were queued
// then. It returns the items stored before at (answered by then) that
// the listing lacks, with when each was last known queued, and forgets
// them; an item answered since may not have been stored when listed.
func (q *queued) left(node string, listed map[string]bool, at time.Duration) map[string]time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	gone := map[string]time.Duration{}
	for k, it := range q.items[node] {
		switch {
		case it.acked > at:
		case listed[k]:
			it.since = max(it.since, at)
			q.items[node][k] = it
		default:
			gone[k] = it.since
			delete(q.items[node], k)
		}
	}
	return gone
}

func (w *workloads) failoverClient(retries int) *redis.Client {
	var addrs []string
	for _, nd := range w.c.nodes {
		addrs = append(addrs, nd.sentinelAddr())
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:      "mymaster",
		SentinelAddrs:   addrs,
		Dialer:          w.c.ns.Dial,
		DialTimeout:     500 * time.Millisecond,
		ReadTimeout:     500 * time.Millisecond,
		WriteTimeout:    500 * time.Millisecond,
		PoolTimeout:     500 * time.Millisecond,
		MaxRetries:      retries,
		DisableIdentity: true,
	})
}

// pace sleeps d or until ctx ends; it reports whether to go on.
func pace(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// opCtx bounds one op; it does not inherit ctx's end, so an op in flight
// when the workload stops completes (or times out) and is recorded.
func opCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func (w *workloads) run(ctx context.Context) {
	var wg sync.WaitGroup
	spawn := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	spawn(func() { w.writer(ctx) })
	spawn(func() { w.proxyWriter(ctx) })
	for c := 3; c <= 4; c++ {
		spawn(func() { w.register(ctx, c) })
	}
	spawn(func() { w.enqueuer(ctx) })
	for _, nd := range w.c.nodes {
		spawn(func() { w.prober(ctx, nd) })
		spawn(func() { w.linker(ctx, nd) })
		spawn(func() { w.drainWatch(ctx, nd) })
	}
	wg.Wait()
}

// writer: unique keys through an unmodified go-redis failover client.
func (w *workloads) writer(ctx context.Context) {
	// No client retries, like the register clients: with go-redis's
	// default three, and still with one, its failover client stayed stuck
	// on a stopped Sentinel (SIGSTOP) for as long as it was stopped, every
	// op ending on its 2 s deadline, while the register clients without
	// retries wrote to the new primary 2.4 s after the fault (seed 16, N=3,
	// twice). That is the client waiting on a stopped process, whatever
	// Sentinel implementation runs there; the writer measures vigil.
	cl := w.failoverClient(-1)
	defer cl.Close()
	for seq := 0; ctx.Err() == nil; seq++ {
		k, v := fmt.Sprintf("w:%d", seq), strconv.Itoa(seq)
		w.rec.do(Op{Kind: OpWrite, Client: 1, Key: k, Value: v}, func() (string, error) {
			octx, cancel := opCtx(2 * time.Second)
			defer cancel()
			return "", cl.Set(octx, k, v, 0).Err()
		})
		if !pace(ctx, 20*time.Millisecond) {
			return
		}
	}
}

// proxyWriter: unique keys through each sidecar's proxy in turn.
func (w *workloads) proxyWriter(ctx context.Context) {
	var cls []*redis.Client
	for _, nd := range w.c.nodes {
		cls = append(cls, redis.NewClient(&redis.Options{
			Addr: nd.proxyAddr(), Dialer: w.c.ns.Dial, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
			PoolTimeout: 500 * time.Millisecond,
		}))
	}
	defer func() {
		for _, cl := range cls {
			cl.Close()
		}
	}()
	for seq := 0; ctx.Err() == nil; seq++ {
		nd := w.c.nodes[seq%len(cls)]
		k, v := fmt.Sprintf("p:%d", seq), strconv.Itoa(seq)
		w.rec.do(Op{Kind: OpProxyWrite, Client: 2, Node: nd.name, Key: k, Value: v}, func() (string, error) {
			octx, cancel := opCtx(time.Second)
			defer cancel()
			return "", cls[nd.idx].Set(octx, k, v, 0).Err()
		})
		if !pace(ctx, 30*time.Millisecond) {
			return
		}
	}
}

// register: SET of unique values and GET of five keys; no client retries,
// so each op has at most one effect.
func (w *workloads) register(ctx context.Context, client int) {
	cl := w.failoverClient(-1)
	defer cl.Close()
	r := rand.New(rand.NewPCG(w.seed, uint64(client)))
	for seq := 0; ctx.Err() == nil; seq++ {
		k := fmt.Sprintf("r:%d", r.IntN(5))
		if r.IntN(2) == 0 {
			v := fmt.Sprintf("%d-%d", client, seq)
			w.rec.do(Op{Kind: OpSet, Client: client, Key: k, Value: v}, func() (string, error) {
				octx, cancel := opCtx(time.Second)
				defer cancel()
				return "", cl.Set(octx, k, v, 0).Err()
			})
		} else {
			w.rec.do(Op{Kind: OpGet, Client: client, Key: k}, func() (string, error) {
				octx, cancel := opCtx(time.Second)
				defer cancel()
				v, err := cl.Get(octx, k).Result()
				// Only the reply itself may mean "no value": go-redis
				// wraps the Sentinels' null answers (no primary) in its
				// dial error, and errors.Is would count that failed GET
				// as an empty read (seed 3 reported a phantom
				// non-linearizable read this way).
				if err == redis.Nil { //nolint:errorlint // see above
					return "", nil
				}
				return v, err
			})
		}
		if !pace(ctx, 25*time.Millisecond) {
			return
		}
	}
}

// enqueuer: INCR of a fresh counter through the retry queue of each
// sidecar in turn, with an idempotency id.
func (w *workloads) enqueuer(ctx context.Context) {
	for seq := 0; ctx.Err() == nil; seq++ {
		nd := w.c.nodes[seq%len(w.c.nodes)]
		k := fmt.Sprintf("q:%d", seq)
		cl := rqclient.New(nd.httpBase(), w.c.token, w.c.hc)
		o := w.rec.do(Op{Kind: OpEnqueue, Client: 5, Node: nd.name, Key: k}, func() (string, error) {
			octx, cancel := opCtx(2 * time.Second)
			defer cancel()
			_, err := cl.Enqueue(octx, []rqclient.EnqueueItem{{ID: "chaos-" + k, Command: [][]byte{[]byte("INCR"), []byte(k)}}})
			return "", err
		})
		if o.OK {
			w.queued.add(nd.name, k, o)
		}
		if !pace(ctx, 200*time.Millisecond) {
			return
		}
	}
}

// drainWatch lists one node's retry queue every 100 ms and records each
// acknowledged item seen gone from it (OpDrained): the checker needs to
// know when an INCR was applied to tell one a later promotion lost within
// the loss bound from one the queue never applied.
func (w *workloads) drainWatch(ctx context.Context, nd *node) {
	cl := rqclient.New(nd.httpBase(), w.c.token, w.c.hc)
	for ctx.Err() == nil {
		start := w.c.since()
		octx, cancel := opCtx(500 * time.Millisecond)
		items, err := cl.List(octx, rqclient.ListOptions{Limit: 10_000})
		cancel()
		if err == nil {
			end := w.c.since()
			listed := map[string]bool{}
			for _, it := range items {
				listed[strings.TrimPrefix(it.ID, "chaos-")] = true
			}
			for k, since := range w.queued.left(nd.name, listed, start) {
				w.rec.add(Op{Kind: OpDrained, Client: 30 + nd.idx, Node: nd.name, Key: k, Invoke: since, Complete: end, OK: true})
			}
		}
		if !pace(ctx, 100*time.Millisecond) {
			return
		}
	}
}

// prober: a SET straight to one node's Redis every 50 ms, to see which
// nodes accept writes when.
func (w *workloads) prober(ctx context.Context, nd *node) {
	for seq := 0; ctx.Err() == nil; seq++ {
		k := "probe:" + nd.name
		w.rec.do(Op{Kind: OpProbe, Client: 10 + nd.idx, Node: nd.name, Key: k, Value: strconv.Itoa(seq)}, func() (string, error) {
			octx, cancel := opCtx(200 * time.Millisecond)
			defer cancel()
			return "", nd.rdb.Set(octx, k, seq, 0).Err()
		})
		if !pace(ctx, 50*time.Millisecond) {
			return
		}
	}
}

// linker: INFO replication and DBSIZE straight to one node's Redis every
// 100 ms, recording which nodes' Redis it streams to (OpLinks) and how
// many keys it holds (OpKeys) when that changes: the checker needs to know
// which replicas a primary could count under min-replicas-to-write when a
// fault cut it off, and which Redis held the most data when only a
// holder could be promoted.
func (w *workloads) linker(ctx context.Context, nd *node) {
	byIP := map[string]string{}
	for _, z := range w.c.nodes {
		byIP[z.addr] = z.name
	}
	last, lastKeys := "-", "-"
	for ctx.Err() == nil {
		o := Op{Kind: OpLinks, Client: 20 + nd.idx, Node: nd.name, Key: "links:" + nd.name, Invoke: w.c.since()}
		octx, cancel := opCtx(200 * time.Millisecond)
		var info *redis.StringCmd
		var keys *redis.IntCmd
		_, err := nd.rdb.Pipelined(octx, func(pipe redis.Pipeliner) error {
			info, keys = pipe.Info(octx, "replication"), pipe.DBSize(octx)
			return nil
		})
		cancel()
		o.Complete = w.c.since()
		if err == nil {
			o.OK, o.Value = true, onlineReplicas(info.Val(), byIP)
			if o.Value != last {
				last = o.Value
				w.rec.add(o)
			}
			k := o
			k.Kind, k.Key, k.Value = OpKeys, "keys:"+nd.name, strconv.FormatInt(keys.Val(), 10)
			if k.Value != lastKeys {
				lastKeys = k.Value
				w.rec.add(k)
			}
		}
		if !pace(ctx, 100*time.Millisecond) {
			return
		}
	}
}
