package divergent

import (
	"errors"
	"fmt"
	"time"
)

// Mode is what happens to a former primary's divergent writes.
type Mode string

// The modes of failover.divergent_writes.
const (
	// ModeArchive captures them into node.data_dir/divergent (default).
	ModeArchive Mode = "archive"
	// ModeReplay archives them and applies them to the new primary.
	ModeReplay Mode = "replay"
	// ModeDiscard does not capture them: the demotion drops them, as Redis
	// Sentinel does.
	ModeDiscard Mode = "discard"
)

// Config is the failover.* part this package owns; the failover config
// embeds it (koanf ",squash") so the keys stay under failover.
type Config struct {
	// DivergentWrites is what happens to the writes a former primary
	// acknowledged after the fork point of a failover, when the failover
	// core captures them before demoting it: archive keeps them in
	// node.data_dir/divergent for `vigil divergent` (default); replay
	// archives them and applies each unit at most once to the new
	// primary; discard drops them, as Redis Sentinel does.
	DivergentWrites Mode `koanf:"divergent_writes"`
	// BacklogBytes is the repl-backlog-size, in bytes, vigil keeps on its
	// local Redis (with repl-backlog-ttl 0), set at start and whenever
	// that Redis restarts or changes role. It bounds how many divergent
	// bytes can be recovered: a former primary whose writes after the
	// fork exceed it has lost the oldest ones. It costs that much memory
	// on the primary and on each replica. Default 67108864 (64 MiB);
	// at least 16384.
	BacklogBytes int64 `koanf:"backlog_bytes"`
	// MarkerTTL is how long the at-most-once marker of each replayed unit
	// (vigil:divergent:done:<old replid>:<offset>, in database 0 of the
	// primary) lives. Replaying an archive again within it applies
	// nothing twice; after it, everything again. Each marker costs about
	// 100 bytes of the primary's memory. Default 168h (7 days); at least
	// 1m.
	MarkerTTL time.Duration `koanf:"divergent_marker_ttl"`
	// CaptureTimeout bounds one capture from a former primary (connect,
	// partial resync, reading the divergent tail); past it the capture
	// fails with an error. Default 30s; must be positive.
	CaptureTimeout time.Duration `koanf:"divergent_capture_timeout"`
	// ReplayRetry is how often, in replay mode, a pending archive whose
	// replay failed (no writable primary, the primary refused) is replayed
	// again against the current primary. Units applied before are skipped
	// by their markers. Default 30s; must be positive.
	ReplayRetry time.Duration `koanf:"divergent_replay_retry"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		DivergentWrites: ModeArchive,
		BacklogBytes:    64 << 20,
		MarkerTTL:       7 * 24 * time.Hour,
		CaptureTimeout:  30 * time.Second,
		ReplayRetry:     30 * time.Second,
	}
}

// Validate reports every invalid setting, each naming its key and value.
func (c Config) Validate() error {
	var errs []error
	switch c.DivergentWrites {
	case ModeArchive, ModeReplay, ModeDiscard:
	default:
		errs = append(errs, fmt.Errorf("failover.divergent_writes (%q) must be archive, replay or discard", c.DivergentWrites))
	}
	// Redis refuses a repl-backlog-size below 16 KiB.
	if c.BacklogBytes < 16<<10 {
		errs = append(errs, fmt.Errorf("failover.backlog_bytes (%d) must be at least 16384", c.BacklogBytes))
	}
	if c.MarkerTTL < time.Minute {
		errs = append(errs, fmt.Errorf("failover.divergent_marker_ttl (%s) must be at least 1m", c.MarkerTTL))
	}
	if c.CaptureTimeout <= 0 {
		errs = append(errs, fmt.Errorf("failover.divergent_capture_timeout (%s) must be positive", c.CaptureTimeout))
	}
	if c.ReplayRetry <= 0 {
		errs = append(errs, fmt.Errorf("failover.divergent_replay_retry (%s) must be positive", c.ReplayRetry))
	}
	return errors.Join(errs...)
}
