package retryq

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var bucketItems = []byte("items")

// ErrCorrupt is wrapped by Open when the database file is truncated or
// damaged. The error names the file; move it aside to start empty.
var ErrCorrupt = errors.New("retryq: database file is corrupt or truncated")

// openDB opens, checks and indexes the database at path.
//
// bbolt trusts its file: a damaged one makes it panic, sometimes in a
// goroutine of its own where no recover can reach (rebuilding the freelist
// on open), and a truncated one makes it fault on a page past the end of
// the file. So the file is first opened read-only, which touches no page
// but the meta pages, and every reachable page is walked in this goroutine
// with panics recovered and faults turned into panics; the index is built
// in the same pass. Only a file that passed is opened for writing and
// given bbolt's own consistency check.
func openDB(path string, now int64) (*bolt.DB, *index, error) {
	corrupt := func(detail any) error {
		return fmt.Errorf("%w: %s: %v (move the file aside to start with an empty queue)", ErrCorrupt, path, detail)
	}
	x := newIndex()
	fi, statErr := os.Stat(path)
	if statErr == nil && fi.Size() > 0 {
		if err := walkFile(path, fi.Size(), x, now, corrupt); err != nil {
			return nil, nil, err
		}
	}
	db, err := openBolt(path, false)
	if err != nil {
		return nil, nil, fmt.Errorf("retryq: open %s: %w", path, err)
	}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = corrupt(r)
			}
		}()
		return db.Update(func(tx *bolt.Tx) error {
			// Drain the whole channel: Check's goroutine blocks until read.
			var checkErr error
			for cerr := range tx.Check() {
				if checkErr == nil {
					checkErr = cerr
				}
			}
			if checkErr != nil {
				return corrupt(checkErr)
			}
			_, err := tx.CreateBucketIfNotExists(bucketItems)
			return err
		})
	}()
	if err != nil {
		_ = db.Close()
		if errors.Is(err, ErrCorrupt) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("retryq: init %s: %w", path, err)
	}
	return db, x, nil
}

func openBolt(path string, readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:       readOnly,
		Timeout:        10 * time.Second, // another process holding the file
		NoFreelistSync: true,             // the freelist is rebuilt on open; saves a page write per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, errors.New("file is locked by another process")
	}
	return db, err
}

// walkFile reads every item of an existing file read-only, recovering from
// whatever the damage makes bbolt do.
func walkFile(path string, size int64, x *index, now int64, corrupt func(any) error) (err error) {
	var db *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(r)
		}
		if db != nil {
			_ = db.Close()
		}
	}()
	// A fault reading the mapped file becomes a recoverable panic here.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = openBolt(path, true)
	if err != nil {
		if strings.Contains(err.Error(), "locked") {
			return fmt.Errorf("retryq: open %s: %w", path, err)
		}
		return corrupt(err)
	}
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > size {
			return corrupt(fmt.Sprintf("file is %d bytes but its metadata needs %d", size, tx.Size()))
		}
		// Visit every bucket so that every branch and leaf page is read.
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !bytes.Equal(name, bucketItems) {
				return b.ForEach(func(k, v []byte) error { return nil })
			}
			return b.ForEach(func(k, v []byte) error {
				if len(k) != 8 {
					return fmt.Errorf("bad key %x", k)
				}
				r, derr := decodeRecord(beUint64(k), v)
				if derr != nil {
					return derr
				}
				x.add(entryOf(r, int64(len(k)+len(v))), now)
				return nil
			})
		})
		if err != nil {
			return corrupt(err)
		}
		return nil
	})
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func entryOf(r *record, size int64) *entry {
	return &entry{
		seq: r.seq, id: r.id, group: groupKey(r), priority: r.priority, state: r.state,
		enqueued: r.enqueued, next: r.next, attempts: r.attempts, maxAttempts: r.maxAttempts, size: size,
	}
}

// groupKey names the ordering group. Items without an ordering key get a
// group of their own, named so that it cannot collide with a real key.
func groupKey(r *record) string {
	if len(r.key) == 0 {
		return "\x00id:" + r.id
	}
	return "k:" + string(r.key)
}

// loadRecords reads the records of entries, in order. Missing ones (which
// only a bug could cause) are returned as nil.
func loadRecords(db *bolt.DB, es []*entry) ([]*record, error) {
	out := make([]*record, len(es))
	err := db.View(func(tx *bolt.Tx) error {
		// A batch is mostly consecutive sequence numbers (FIFO), so the
		// cursor steps to the next key instead of searching from the root
		// for each one, and seeks only when the next key is not the one.
		c := tx.Bucket(bucketItems).Cursor()
		var k [8]byte
		var ck, cv []byte
		for i, e := range es {
			putBE(k[:], e.seq)
			if ck != nil && bytes.Compare(ck, k[:]) < 0 {
				ck, cv = c.Next()
			}
			if ck == nil || !bytes.Equal(ck, k[:]) {
				ck, cv = c.Seek(k[:])
			}
			if ck == nil || !bytes.Equal(ck, k[:]) {
				continue
			}
			r, err := decodeRecord(e.seq, cv)
			if err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	return out, err
}

func putBE(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// Preallocation. bbolt grows its file with ftruncate, which leaves holes:
// the first write to each new page then allocates disk blocks, and the
// commit's fdatasync must also commit that allocation to the filesystem
// journal (BenchmarkFdatasync on the project's ext4 test machine: p50
// 244-262 µs into a hole, 118-148 µs into written blocks; enqueue commits
// were 10-20% faster with preallocation). So the committer keeps
// a stretch past bbolt's high-water mark filled with real zeros, written
// ahead of need: a quarter of the data size, at least 64 KiB, at most
// 8 MiB, so the file stays within bbolt's own growth steps.
//
// Safety: bbolt never reads or writes past its high-water mark except to
// allocate new pages inside a write transaction, and the zeros are written
// inside one (holding bbolt's writer lock, before the transaction has
// allocated anything), so they cannot overwrite a live page. A file longer
// than its data is normal for bbolt; open checks only that it is not
// shorter.
const (
	zeroAheadMin = 64 << 10
	zeroAheadMax = 8 << 20
)

type prealloc struct {
	f   *os.File
	end int64 // the file holds written blocks up to here (past the hwm)
	buf []byte
}

func openPrealloc(path string) (*prealloc, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return &prealloc{f: f}, nil
}

// reserve makes sure blocks exist past the high-water mark of tx, a write
// transaction that has not yet allocated pages. The caller's commit syncs
// the zeros together with its own pages.
func (p *prealloc) reserve(tx *bolt.Tx) error {
	if p == nil {
		return nil
	}
	hwm := tx.Size()
	ahead := min(zeroAheadMax, max(zeroAheadMin, hwm/4&^(zeroAheadMin-1)))
	if p.end < hwm {
		p.end = hwm
	}
	if p.end-hwm >= ahead/2 {
		return nil
	}
	if p.buf == nil {
		p.buf = make([]byte, 256<<10)
	}
	for target := hwm + ahead; p.end < target; {
		n := min(int64(len(p.buf)), target-p.end)
		if _, err := p.f.WriteAt(p.buf[:n], p.end); err != nil {
			return fmt.Errorf("preallocate: %w", err)
		}
		p.end += n
	}
	return nil
}

func (p *prealloc) close() error {
	if p == nil {
		return nil
	}
	return p.f.Close()
}
