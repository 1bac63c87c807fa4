package retryq

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketItems = []byte("items")

// ErrCorrupt is wrapped by Open when the database file is truncated or
// damaged. The error names the file; move it aside to start empty.
var ErrCorrupt = errors.New("retryq: database file is corrupt or truncated")

// openDB opens, checks and indexes the database at path. bbolt trusts its
// file: a damaged one can make it panic, or fault on a page past the end of
// a truncated file. Both are turned into an error naming the file.
func openDB(path string, now int64) (db *bolt.DB, x *index, err error) {
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, x = nil, nil
			err = fmt.Errorf("%w: %s: %v (move the file aside to start with an empty queue)", ErrCorrupt, path, r)
		}
	}()
	// A fault reading the memory-mapped file (SIGBUS past the end of a
	// truncated file) becomes a recoverable panic in this goroutine.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	var size int64
	if fi, statErr := os.Stat(path); statErr == nil {
		size = fi.Size()
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        10 * time.Second, // another vigil holding the file
		NoFreelistSync: true,             // the freelist is rebuilt on open; saves a page write per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, nil, fmt.Errorf("retryq: open %s: file is locked by another process", path)
		}
		if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) || errors.Is(err, bolt.ErrVersionMismatch) ||
			size > 0 {
			return nil, nil, fmt.Errorf("%w: %s: %v (move the file aside to start with an empty queue)", ErrCorrupt, path, err)
		}
		return nil, nil, fmt.Errorf("retryq: open %s: %w", path, err)
	}
	fail := func(format string, args ...any) (*bolt.DB, *index, error) {
		_ = db.Close()
		return nil, nil, fmt.Errorf("%w: %s: %s (move the file aside to start with an empty queue)",
			ErrCorrupt, path, fmt.Sprintf(format, args...))
	}
	x = newIndex()
	err = db.View(func(tx *bolt.Tx) error {
		if size > 0 && tx.Size() > size {
			return fmt.Errorf("file is %d bytes but its metadata needs %d", size, tx.Size())
		}
		// Drain the whole channel: Check's goroutine blocks until read.
		var checkErr error
		for cerr := range tx.Check() {
			if checkErr == nil {
				checkErr = cerr
			}
		}
		if checkErr != nil {
			return checkErr
		}
		b := tx.Bucket(bucketItems)
		if b == nil {
			return nil
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
		return fail("%v", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketItems)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("retryq: init %s: %w", path, err)
	}
	return db, x, nil
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
		b := tx.Bucket(bucketItems)
		var k [8]byte
		for i, e := range es {
			putBE(k[:], e.seq)
			v := b.Get(k[:])
			if v == nil {
				continue
			}
			r, err := decodeRecord(e.seq, v)
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
