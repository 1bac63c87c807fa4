package retryq

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the retry queue. The database lives at
// filepath.Join(node.data_dir, "retryq.db").
type Config struct {
	// MaxItems is the most items the queue holds, counting ready, in-flight
	// and dead-lettered items. An enqueue that would exceed it is refused
	// with "queue full" (HTTP 507); nothing already queued is ever dropped.
	MaxItems int `koanf:"max_items"`
	// MaxBytes is the most bytes of encoded items the queue holds (all
	// states). It bounds the live data, not the file: bbolt reuses freed
	// pages but never shrinks the file.
	MaxBytes int64 `koanf:"max_bytes"`
	// DrainRate caps replays per second so a freshly promoted primary is not
	// swamped. Zero means unlimited.
	DrainRate float64 `koanf:"drain_rate"`
	// DrainConcurrency is how many replay batches may be in flight to the
	// primary at once.
	DrainConcurrency int `koanf:"drain_concurrency"`
	// BatchSize is the most items replayed in one pipeline round trip
	// (sent as EVALSHA calls of up to 64 items each). Larger batches drain
	// faster; smaller ones spread the load. The drain rate still applies:
	// a batch never takes more items than the rate allows at that moment.
	BatchSize int `koanf:"batch_size"`
	// DefaultMaxAttempts is the attempt budget of an item that does not set
	// its own max_attempts. Only item-specific failures spend attempts;
	// an unreachable or read-only primary never does.
	DefaultMaxAttempts int `koanf:"default_max_attempts"`
	// BackoffBase is the backoff cap after the first failed attempt; the cap
	// doubles per attempt up to BackoffMax and the actual delay is drawn
	// uniformly from [0, cap) (full jitter).
	BackoffBase time.Duration `koanf:"backoff_base"`
	// BackoffMax is the largest backoff cap.
	BackoffMax time.Duration `koanf:"backoff_max"`
	// DoneTTL is how long the per-item done marker (vigil:retryq:done:<id>)
	// lives in Redis. A replay of an item whose marker still exists is
	// skipped, so this must cover the time an applied item may be replayed
	// again: a sidecar crash between applying and deleting it locally, plus
	// the restart, plus a caller re-sending the same idempotency key.
	DoneTTL time.Duration `koanf:"done_ttl"`
	// PrimaryRetry is how long the drain waits before trying a primary again
	// after it failed as a whole (connection refused, timeout, READONLY,
	// LOADING, ...). A change of primary ends the wait at once.
	PrimaryRetry time.Duration `koanf:"primary_retry"`
	// RedisTimeout bounds dialing and one pipeline round trip to the primary.
	RedisTimeout time.Duration `koanf:"redis_timeout"`
	// MaxRequestBytes is the largest accepted POST /v1/retryq body.
	MaxRequestBytes int64 `koanf:"max_request_bytes"`
	// AllowedCommands are the command names (case-insensitive) the queue
	// accepts; any other item is refused with 400 naming its command.
	// Default: the data-writing commands of strings, hashes, lists, sets,
	// sorted sets, streams, HyperLogLog, bitmaps, geo and RedisJSON, with
	// DEL/UNLINK, expiries and renames (DefaultAllowedCommands; the README
	// lists them). An empty list is refused at start. Administrative,
	// destructive and scripting commands (FLUSHALL, CONFIG, EVAL, ...) are
	// refused even when listed here: enqueueing runs them with the
	// sidecar's own Redis credentials.
	AllowedCommands []string `koanf:"allowed_commands"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		MaxItems:           1_000_000,
		MaxBytes:           512 << 20,
		DrainRate:          20_000,
		DrainConcurrency:   4,
		BatchSize:          1024,
		DefaultMaxAttempts: 10,
		BackoffBase:        100 * time.Millisecond,
		BackoffMax:         5 * time.Minute,
		DoneTTL:            24 * time.Hour,
		PrimaryRetry:       500 * time.Millisecond,
		RedisTimeout:       5 * time.Second,
		MaxRequestBytes:    32 << 20,
		AllowedCommands:    DefaultAllowedCommands(),
	}
}

// Validate reports every invalid setting, each naming its key and value.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.MaxItems <= 0 {
		bad("retryq.max_items (%d) must be positive", c.MaxItems)
	}
	if c.MaxBytes <= 0 {
		bad("retryq.max_bytes (%d) must be positive", c.MaxBytes)
	}
	if c.DrainRate < 0 {
		bad("retryq.drain_rate (%g) must not be negative (0 means unlimited)", c.DrainRate)
	}
	if c.DrainConcurrency <= 0 || c.DrainConcurrency > 256 {
		bad("retryq.drain_concurrency (%d) must be between 1 and 256", c.DrainConcurrency)
	}
	if c.BatchSize <= 0 || c.BatchSize > 10_000 {
		bad("retryq.batch_size (%d) must be between 1 and 10000", c.BatchSize)
	}
	if c.DefaultMaxAttempts <= 0 {
		bad("retryq.default_max_attempts (%d) must be positive", c.DefaultMaxAttempts)
	}
	if c.BackoffBase <= 0 {
		bad("retryq.backoff_base (%s) must be positive", c.BackoffBase)
	}
	if c.BackoffMax < c.BackoffBase {
		bad("retryq.backoff_max (%s) must not be shorter than retryq.backoff_base (%s)", c.BackoffMax, c.BackoffBase)
	}
	if c.DoneTTL < time.Second {
		bad("retryq.done_ttl (%s) must be at least 1s", c.DoneTTL)
	} else if c.DoneTTL < c.BackoffMax {
		bad("retryq.done_ttl (%s) must not be shorter than retryq.backoff_max (%s)", c.DoneTTL, c.BackoffMax)
	}
	if c.PrimaryRetry <= 0 {
		bad("retryq.primary_retry (%s) must be positive", c.PrimaryRetry)
	}
	if c.RedisTimeout <= 0 {
		bad("retryq.redis_timeout (%s) must be positive", c.RedisTimeout)
	}
	if c.MaxRequestBytes <= 0 {
		bad("retryq.max_request_bytes (%d) must be positive", c.MaxRequestBytes)
	}
	if _, err := NewPolicy(c.AllowedCommands); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
