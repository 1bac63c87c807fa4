package retryq

import (
	"container/heap"

	"github.com/vigil-redis/vigil/retryq/client"
)

// entry is the in-memory index of one stored item; the command itself stays
// on disk until it is replayed.
type entry struct {
	seq         uint64
	id          string
	group       string // ordering group: the ordering key, or a unique name for keyless items
	priority    int
	state       client.State
	enqueued    int64
	next        int64
	attempts    int
	maxAttempts int
	size        int64
}

// group holds the not-dead items of one ordering key in sequence order.
// Only its head may be replayed on its own; later items ride along in the
// same pipeline behind it (see the replay script's predecessor check).
type group struct {
	key   string
	items []*entry
	where int // whereNone, whereReady or whereDelayed
	hidx  int // index in the heap named by where
	// The head's priority and seq, copied when the group enters the ready
	// heap, so that comparisons do not chase two pointers per group.
	prio int
	seq  uint64
}

const (
	whereNone = iota
	whereReady
	whereDelayed
)

func (g *group) head() *entry { return g.items[0] }

// readyHeap orders groups whose head may run now: higher priority first,
// then lower sequence (FIFO).
type readyHeap []*group

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.seq < b.seq
}
func (h readyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].hidx = i; h[j].hidx = j }
func (h *readyHeap) Push(x any)        { g := x.(*group); g.hidx = len(*h); *h = append(*h, g) }
func (h *readyHeap) Pop() any          { old := *h; g := old[len(old)-1]; *h = old[:len(old)-1]; return g }
func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].hidx = i; h[j].hidx = j }
func (h *delayHeap) Push(x any)        { g := x.(*group); g.hidx = len(*h); *h = append(*h, g) }
func (h *delayHeap) Pop() any          { old := *h; g := old[len(old)-1]; *h = old[:len(old)-1]; return g }
func (h delayHeap) Less(i, j int) bool { return h[i].head().next < h[j].head().next }

// delayHeap orders groups whose head waits for its backoff to end.
type delayHeap []*group

// index is the queue's in-memory view. All of it is guarded by Queue.mu.
type index struct {
	byID    map[string]*entry
	groups  map[string]*group
	ready   readyHeap
	delayed delayHeap

	nReady, nInflight, nDead int
	bytes                    int64
	nextSeq                  uint64
}

func newIndex() *index {
	return &index{byID: map[string]*entry{}, groups: map[string]*group{}, nextSeq: 1}
}

func (x *index) count() int { return len(x.byID) }

// add inserts an entry that is newer than every entry of its group.
func (x *index) add(e *entry, now int64) {
	x.byID[e.id] = e
	x.bytes += e.size
	if e.seq >= x.nextSeq {
		x.nextSeq = e.seq + 1
	}
	if e.state == client.StateDead {
		x.nDead++
		return
	}
	x.nReady++
	g := x.groups[e.group]
	if g == nil {
		g = &group{key: e.group}
		x.groups[e.group] = g
	}
	g.items = append(g.items, e)
	if len(g.items) == 1 {
		x.place(g, now)
	}
}

// unplace removes g from whichever heap holds it.
func (x *index) unplace(g *group) {
	switch g.where {
	case whereReady:
		heap.Remove(&x.ready, g.hidx)
	case whereDelayed:
		heap.Remove(&x.delayed, g.hidx)
	}
	g.where = whereNone
}

// place puts g where its head belongs: nowhere while the head is in
// flight, the delay heap while it backs off, else the ready heap. Empty
// groups are forgotten.
func (x *index) place(g *group, now int64) {
	x.unplace(g)
	if len(g.items) == 0 {
		delete(x.groups, g.key)
		return
	}
	h := g.head()
	switch {
	case h.state == client.StateInflight:
	case h.next > now:
		g.where = whereDelayed
		heap.Push(&x.delayed, g)
	default:
		g.where = whereReady
		g.prio, g.seq = h.priority, h.seq
		heap.Push(&x.ready, g)
	}
}

// take marks up to max ready entries in flight and returns them in
// dispatch order: the best group's head first, followed by the group's
// next items while they are ready, then the next group. It also returns
// when the earliest backoff ends (0 if none).
func (x *index) take(max int, now int64) (batch []*entry, wakeAt int64) {
	for len(x.delayed) > 0 && x.delayed[0].head().next <= now {
		g := heap.Pop(&x.delayed).(*group)
		g.where = whereReady
		g.prio, g.seq = g.head().priority, g.head().seq
		heap.Push(&x.ready, g)
	}
	for len(batch) < max && len(x.ready) > 0 {
		g := heap.Pop(&x.ready).(*group)
		g.where = whereNone
		for _, e := range g.items {
			if len(batch) == max || e.state != client.StateReady || e.next > now {
				break
			}
			e.state = client.StateInflight
			x.nReady--
			x.nInflight++
			batch = append(batch, e)
		}
	}
	if len(x.delayed) > 0 {
		wakeAt = x.delayed[0].head().next
	}
	return batch, wakeAt
}

// release returns an in-flight entry to ready with its state otherwise
// unchanged; the caller re-places its group.
func (x *index) release(e *entry) {
	if e.state == client.StateInflight {
		e.state = client.StateReady
		x.nInflight--
		x.nReady++
	}
}

// remove forgets an entry entirely (applied, deleted or purged).
func (x *index) remove(e *entry, now int64) {
	delete(x.byID, e.id)
	x.bytes -= e.size
	switch e.state {
	case client.StateDead:
		x.nDead--
		return
	case client.StateInflight:
		x.nInflight--
	default:
		x.nReady--
	}
	x.detach(e, now)
}

// detach takes a not-dead entry out of its group.
func (x *index) detach(e *entry, now int64) {
	g := x.groups[e.group]
	if g == nil {
		return
	}
	for i, it := range g.items {
		if it == e {
			g.items = append(g.items[:i], g.items[i+1:]...)
			if i == 0 || len(g.items) == 0 {
				x.place(g, now)
			}
			return
		}
	}
}

// kill moves a not-dead entry to the dead-letter set.
func (x *index) kill(e *entry, now int64) {
	if e.state == client.StateDead {
		return
	}
	if e.state == client.StateInflight {
		x.nInflight--
	} else {
		x.nReady--
	}
	x.detach(e, now)
	e.state = client.StateDead
	x.nDead++
}

// insertOrdered puts a ready entry into g at its sequence position.
func (x *index) insertOrdered(g *group, e *entry, now int64) {
	i := len(g.items)
	for i > 0 && g.items[i-1].seq > e.seq {
		i--
	}
	g.items = append(g.items, nil)
	copy(g.items[i+1:], g.items[i:])
	g.items[i] = e
	x.place(g, now)
}
