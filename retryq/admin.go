package retryq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vigil-redis/vigil/retryq/client"
)

// Lock order: Queue.mu is never taken inside a bbolt transaction, because
// a committing writer that must remap the file waits for every reader.
// Admin changes therefore claim their items under mu (marking ready ones in
// flight so the drain leaves them alone), write without mu, and apply the
// result under mu again. adminMu serialises admin changes among themselves.

const (
	defaultListLimit = 100
	maxListLimit     = 10_000
	scanChunk        = 1000
)

// Get returns the item with id.
func (q *Queue) Get(id string) (Item, error) {
	db, err := q.begin()
	if err != nil {
		return Item{}, err
	}
	defer q.end()
	q.mu.Lock()
	e := q.x.byID[id]
	var seq uint64
	var st client.State
	if e != nil {
		seq, st = e.seq, e.state
	}
	q.mu.Unlock()
	if e == nil {
		return Item{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	recs, err := loadRecords(db, []*entry{{seq: seq}})
	if err != nil {
		return Item{}, fmt.Errorf("retryq: read %s: %w", q.path, err)
	}
	if recs[0] == nil {
		return Item{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return recs[0].item(st), nil
}

// ListOptions selects items for List; see client.ListOptions.
type ListOptions = client.ListOptions

// List returns items in queue (enqueue) order, filtered by state.
func (q *Queue) List(opts ListOptions) ([]Item, error) {
	switch opts.State {
	case "", client.StateReady, client.StateInflight, client.StateDead:
	default:
		return nil, fmt.Errorf("%w: state %q is not ready, inflight or dead", ErrInvalid, opts.State)
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	db, err := q.begin()
	if err != nil {
		return nil, err
	}
	defer q.end()
	var from uint64
	if opts.After != "" {
		q.mu.Lock()
		e := q.x.byID[opts.After]
		if e != nil {
			from = e.seq + 1
		}
		q.mu.Unlock()
		if e == nil {
			return nil, fmt.Errorf("%w: after %q", ErrNotFound, opts.After)
		}
	}
	var out []Item
	for len(out) < limit {
		recs, next, err := q.scan(db, from, scanChunk, func(v []byte) bool {
			return opts.State != client.StateDead || v[1] == stateByteDead
		})
		if err != nil {
			return nil, err
		}
		q.mu.Lock()
		for _, r := range recs {
			e := q.x.byID[r.id]
			if e == nil || e.seq != r.seq {
				continue // gone since the scan
			}
			if opts.State == "" || e.state == opts.State {
				out = append(out, r.item(e.state))
			}
			if len(out) == limit {
				break
			}
		}
		q.mu.Unlock()
		if next == 0 {
			break
		}
		from = next
	}
	return out, nil
}

// scan reads up to n records with seq >= from whose raw value passes keep,
// in one short read transaction. next is where to continue, 0 at the end.
func (q *Queue) scan(db *bolt.DB, from uint64, n int, keep func(v []byte) bool) (recs []*record, next uint64, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		seen := 0
		for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
			if seen == n {
				next = beUint64(k)
				return nil
			}
			seen++
			if len(v) < 2 || !keep(v) {
				continue
			}
			r, err := decodeRecord(beUint64(k), v)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("retryq: read %s: %w", q.path, err)
	}
	return recs, next, err
}

// Export writes every dead letter to w as one JSON object per line, in
// queue order.
func (q *Queue) Export(ctx context.Context, w io.Writer) error {
	db, err := q.begin()
	if err != nil {
		return err
	}
	defer q.end()
	var from uint64
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for {
		recs, next, err := q.scan(db, from, scanChunk, func(v []byte) bool { return v[1] == stateByteDead })
		if err != nil {
			return err
		}
		buf.Reset()
		for _, r := range recs {
			if err := enc.Encode(r.item(client.StateDead)); err != nil {
				return err
			}
		}
		// Written outside the read transaction: a slow reader must not
		// hold the file's mapping.
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("retryq: export: %w", err)
		}
		if next == 0 || ctx.Err() != nil {
			return ctx.Err()
		}
		from = next
	}
}

// claim marks e as being changed by an admin operation. Ready items are
// taken out of the drain's reach; in-flight ones cannot be claimed.
func (q *Queue) claim(e *entry, now int64) error {
	switch e.state {
	case client.StateInflight:
		return fmt.Errorf("%w: %q", ErrBusy, e.id)
	case client.StateReady:
		e.state = client.StateInflight
		q.x.nReady--
		q.x.nInflight++
		if g := q.x.groups[e.group]; g != nil && g.head() == e {
			q.x.place(g, now)
		}
	}
	return nil
}

// unclaim undoes claim after a failed write.
func (q *Queue) unclaim(e *entry, wasDead bool, now int64) {
	if wasDead {
		return
	}
	q.x.release(e)
	if g := q.x.groups[e.group]; g != nil {
		q.x.place(g, now)
	}
}

// Delete removes the item with id unless it is being replayed.
func (q *Queue) Delete(id string) error {
	db, err := q.begin()
	if err != nil {
		return err
	}
	defer q.end()
	q.adminMu.Lock()
	defer q.adminMu.Unlock()
	now := time.Now().UnixNano()
	q.mu.Lock()
	e := q.x.byID[id]
	if e == nil {
		q.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	wasDead := e.state == client.StateDead
	if err := q.claim(e, now); err != nil {
		q.mu.Unlock()
		return err
	}
	q.mu.Unlock()
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketItems).Delete(seqKey(e.seq)) })
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		q.unclaim(e, wasDead, now)
		return fmt.Errorf("retryq: write %s: %w", q.path, err)
	}
	q.x.remove(e, time.Now().UnixNano())
	q.logger.Info("item deleted", "id", id)
	return nil
}

// Requeue makes the item with id ready now with its attempts reset. A
// dead letter goes to the back of the queue (a new sequence number); a
// ready item in backoff keeps its place.
func (q *Queue) Requeue(id string) (Item, error) {
	db, err := q.begin()
	if err != nil {
		return Item{}, err
	}
	defer q.end()
	q.adminMu.Lock()
	defer q.adminMu.Unlock()
	now := time.Now().UnixNano()
	q.mu.Lock()
	e := q.x.byID[id]
	if e == nil {
		q.mu.Unlock()
		return Item{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	wasDead := e.state == client.StateDead
	if err := q.claim(e, now); err != nil {
		q.mu.Unlock()
		return Item{}, err
	}
	oldSeq, newSeq := e.seq, e.seq
	if wasDead {
		newSeq = q.x.nextSeq
		q.x.nextSeq++
	}
	q.mu.Unlock()

	var r *record
	var val []byte
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		v := b.Get(seqKey(oldSeq))
		if v == nil {
			return fmt.Errorf("item %q missing on disk", id)
		}
		var err error
		if r, err = decodeRecord(oldSeq, v); err != nil {
			return err
		}
		r.seq, r.state, r.attempts, r.next = newSeq, client.StateReady, 0, 0
		val = r.encode(nil)
		if newSeq != oldSeq {
			if err := b.Delete(seqKey(oldSeq)); err != nil {
				return err
			}
			b.FillPercent = 1
		}
		return b.Put(seqKey(newSeq), val)
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		q.unclaim(e, wasDead, now)
		return Item{}, fmt.Errorf("retryq: requeue %q in %s: %w", id, q.path, err)
	}
	now = time.Now().UnixNano()
	q.x.remove(e, now)
	ne := entryOf(r, int64(8+len(val)))
	if wasDead {
		q.x.add(ne, now)
	} else {
		// Same place in its group: swap the entry in.
		q.x.byID[ne.id] = ne
		q.x.bytes += ne.size
		q.x.nReady++
		g := q.x.groups[ne.group]
		if g == nil {
			g = &group{key: ne.group}
			q.x.groups[ne.group] = g
		}
		q.x.insertOrdered(g, ne, now)
	}
	q.kick()
	q.logger.Info("item requeued", "id", id)
	return r.item(client.StateReady), nil
}

// Purge deletes every item in state (dead or ready; in-flight items are
// left alone) and returns how many it deleted.
func (q *Queue) Purge(state client.State) (int, error) {
	if state != client.StateDead && state != client.StateReady {
		return 0, fmt.Errorf("%w: purge state %q must be dead or ready", ErrInvalid, state)
	}
	db, err := q.begin()
	if err != nil {
		return 0, err
	}
	defer q.end()
	q.adminMu.Lock()
	defer q.adminMu.Unlock()
	now := time.Now().UnixNano()
	q.mu.Lock()
	var es []*entry
	for _, e := range q.x.byID {
		if e.state == state {
			es = append(es, e)
		}
	}
	for _, e := range es {
		_ = q.claim(e, now)
	}
	q.mu.Unlock()

	deleted := 0
	var werr error
	for len(es) > 0 && werr == nil {
		chunk := es[:min(len(es), 10_000)]
		es = es[len(chunk):]
		werr = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketItems)
			for _, e := range chunk {
				if err := b.Delete(seqKey(e.seq)); err != nil {
					return err
				}
			}
			return nil
		})
		q.mu.Lock()
		now = time.Now().UnixNano()
		for _, e := range chunk {
			if werr != nil {
				q.unclaim(e, state == client.StateDead, now)
			} else {
				q.x.remove(e, now)
				deleted++
			}
		}
		q.mu.Unlock()
	}
	if werr != nil {
		q.mu.Lock()
		now = time.Now().UnixNano()
		for _, e := range es {
			q.unclaim(e, state == client.StateDead, now)
		}
		q.mu.Unlock()
		return deleted, fmt.Errorf("retryq: purge %s: %w", q.path, werr)
	}
	q.logger.Info("items purged", "state", state, "count", deleted)
	return deleted, nil
}
