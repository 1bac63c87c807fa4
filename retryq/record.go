package retryq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-redis/vigil/retryq/client"
)

// record is one item as stored in bbolt. The bbolt key is the item's
// sequence number (8 bytes, big endian), so the bucket is in enqueue order
// and appends touch only the last page.
type record struct {
	seq         uint64
	state       client.State // ready or dead; in flight exists only in memory
	id          string
	key         []byte
	priority    int
	enqueued    int64 // unix nanoseconds
	attempts    int
	maxAttempts int
	next        int64 // unix nanoseconds of the next attempt
	lastErr     string
	args        [][]byte
}

const recordVersion = 1

const (
	stateByteReady = 1
	stateByteDead  = 2
)

var errCorruptRecord = errors.New("corrupt record")

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// encode appends the value bytes of r to b.
func (r *record) encode(b []byte) []byte {
	st := byte(stateByteReady)
	if r.state == client.StateDead {
		st = stateByteDead
	}
	b = append(b, recordVersion, st)
	b = binary.AppendVarint(b, int64(r.priority))
	b = binary.AppendVarint(b, r.enqueued)
	b = binary.AppendUvarint(b, uint64(r.attempts))
	b = binary.AppendUvarint(b, uint64(r.maxAttempts))
	b = binary.AppendVarint(b, r.next)
	b = appendBytes(b, []byte(r.id))
	b = appendBytes(b, r.key)
	b = appendBytes(b, []byte(r.lastErr))
	b = binary.AppendUvarint(b, uint64(len(r.args)))
	for _, a := range r.args {
		b = appendBytes(b, a)
	}
	return b
}

func (r *record) encodedSize() int {
	n := 2 + 5*binary.MaxVarintLen64 + 3*binary.MaxVarintLen32 + len(r.id) + len(r.key) + len(r.lastErr)
	for _, a := range r.args {
		n += binary.MaxVarintLen32 + len(a)
	}
	return n
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeRecord parses a stored value; it never panics on bad input. The
// returned record does not alias v (bbolt memory is only valid inside its
// transaction): v is copied once, and the key and arguments are slices of
// that copy, capped so that appending to one cannot overwrite the next.
func decodeRecord(seq uint64, v []byte) (*record, error) {
	if len(v) < 2 || v[0] != recordVersion {
		return nil, fmt.Errorf("%w: seq %d: bad version", errCorruptRecord, seq)
	}
	r := &record{seq: seq}
	switch v[1] {
	case stateByteReady:
		r.state = client.StateReady
	case stateByteDead:
		r.state = client.StateDead
	default:
		return nil, fmt.Errorf("%w: seq %d: bad state %d", errCorruptRecord, seq, v[1])
	}
	d := decoder{b: bytes.Clone(v[2:])}
	r.priority = int(d.varint())
	r.enqueued = d.varint()
	r.attempts = int(d.uvarint())
	r.maxAttempts = int(d.uvarint())
	r.next = d.varint()
	r.id = string(d.bytes())
	r.key = d.bytes()
	r.lastErr = string(d.bytes())
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = true
	} else {
		r.args = make([][]byte, 0, n)
		for i := uint64(0); i < n && !d.err; i++ {
			r.args = append(r.args, d.bytes())
		}
	}
	if d.err || len(d.b) != 0 || r.id == "" || len(r.args) == 0 {
		return nil, fmt.Errorf("%w: seq %d", errCorruptRecord, seq)
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// item converts a record to the admin API's view.
func (r *record) item(state client.State) client.Item {
	it := client.Item{
		ID: r.id, State: state, Command: r.args, Priority: r.priority, Key: r.key,
		EnqueuedAt: time.Unix(0, r.enqueued), Attempts: r.attempts, MaxAttempts: r.maxAttempts,
		LastError: r.lastErr,
	}
	if state == client.StateReady && r.next > 0 {
		it.NextAttemptAt = time.Unix(0, r.next)
	}
	return it
}
