package failover

import (
	"errors"
	"fmt"
	"time"
)

// Config controls when this sidecar considers the primary down, how the
// group agrees on it, and how the replacement is chosen and installed. Every
// sidecar of a group should run with the same values.
type Config struct {
	// MasterName is the name Sentinel clients ask for
	// (SENTINEL get-master-addr-by-name <name>).
	MasterName string `koanf:"master_name"`

	// Quorum is how many sidecars (this one included) must see the primary
	// subjectively down (SDOWN) for it to be objectively down (ODOWN).
	// Starting a failover additionally needs votes from a majority of the
	// known sidecars, so a quorum below the majority only makes detection
	// more eager, never authorises a failover by itself. Must be at least 1.
	Quorum int `koanf:"quorum"`

	// DownAfter is how long the primary may give no valid reply before this
	// sidecar considers it subjectively down. -LOADING and -BUSY replies
	// count as alive. Shorter fails over sooner; too short fails over on a
	// GC pause or a slow fork.
	DownAfter time.Duration `koanf:"down_after"`

	// FenceAfter is how long a sidecar whose Redis is primary may fail to
	// hear from a majority of the known set before it pauses writes on it
	// (CLIENT PAUSE WRITE). It must be shorter than DownAfter (with room for
	// one monitor.interval), so an isolated primary stops taking writes
	// before the majority can promote a replacement.
	FenceAfter time.Duration `koanf:"fence_after"`

	// MaxLagBytes excludes from promotion every replica more than this many
	// bytes of replication stream behind the most advanced replica. Zero
	// means only the most advanced replicas qualify.
	MaxLagBytes int64 `koanf:"max_lag_bytes"`

	// ParallelSyncs is how many replicas re-point to a new primary at the
	// same time (each then does a partial or full resync). Higher converges
	// faster and loads the new primary more. Must be at least 1.
	ParallelSyncs int `koanf:"parallel_syncs"`

	// Cooldown is how long after a failover the group refuses another
	// automatic one, so a flapping node cannot bounce the primary around.
	// An operator's switchover ignores it. Zero disables the cooldown.
	Cooldown time.Duration `koanf:"cooldown"`

	// InitialPrimary names the sidecar (node.name) whose Redis becomes
	// primary when the group starts with every Redis a standalone primary
	// and no configuration exists yet. Empty means vigil does not guess:
	// it reports the conflict and waits for an operator. It is ignored as
	// soon as Redis's own replication state names a primary.
	InitialPrimary string `koanf:"initial_primary"`

	// ElectionTimeout is how long a candidate waits for votes before it
	// gives up an epoch and retries at the next one after a randomized delay
	// of up to the same length. It is also the grace period each
	// lower-ranked candidate waits before trying in place of a better one
	// that does not act. A few network round trips plus an fsync suffice.
	// A sidecar that voted does not run for election itself, nor vote for
	// another candidate against the same primary, until it hears the
	// outcome or about 2 election timeouts plus the time a promotion may
	// take (three Redis commands) have passed: the winner may be promoting
	// with its announcement still on the way. If the winner dies before it
	// announces, failover resumes after that grace period.
	ElectionTimeout time.Duration `koanf:"election_timeout"`

	// SwitchoverTimeout bounds a planned switchover: how long writes on the
	// old primary may stay paused while the target catches up and is
	// promoted. When it passes, the switchover is abandoned and writes are
	// released on the old primary.
	SwitchoverTimeout time.Duration `koanf:"switchover_timeout"`

	// HistorySize is how many recent failovers are remembered in
	// node.data_dir and served on /v1/history. Must be at least 1.
	HistorySize int `koanf:"history_size"`
}

// DefaultConfig returns the defaults: Sentinel's master name and quorum,
// detection in 5 seconds, fencing in 2.
func DefaultConfig() Config {
	return Config{
		MasterName:        "mymaster",
		Quorum:            2,
		DownAfter:         5 * time.Second,
		FenceAfter:        2 * time.Second,
		MaxLagBytes:       1 << 20,
		ParallelSyncs:     1,
		Cooldown:          60 * time.Second,
		ElectionTimeout:   500 * time.Millisecond,
		SwitchoverTimeout: 10 * time.Second,
		HistorySize:       32,
	}
}

// Validate reports every problem, each naming its key and value.
func (c Config) Validate() error {
	var errs []error
	if c.MasterName == "" {
		errs = append(errs, errors.New(`failover.master_name ("") must not be empty`))
	}
	for _, r := range c.MasterName {
		if r <= ' ' || r == 0x7f {
			errs = append(errs, fmt.Errorf("failover.master_name (%q) must not contain spaces or control characters", c.MasterName))
			break
		}
	}
	if c.Quorum < 1 {
		errs = append(errs, fmt.Errorf("failover.quorum (%d) must be at least 1", c.Quorum))
	}
	if c.DownAfter <= 0 {
		errs = append(errs, fmt.Errorf("failover.down_after (%s) must be positive", c.DownAfter))
	}
	if c.FenceAfter <= 0 {
		errs = append(errs, fmt.Errorf("failover.fence_after (%s) must be positive", c.FenceAfter))
	}
	if c.DownAfter > 0 && c.FenceAfter >= c.DownAfter {
		errs = append(errs, fmt.Errorf("failover.fence_after (%s) must be shorter than failover.down_after (%s)", c.FenceAfter, c.DownAfter))
	}
	if c.MaxLagBytes < 0 {
		errs = append(errs, fmt.Errorf("failover.max_lag_bytes (%d) must not be negative", c.MaxLagBytes))
	}
	if c.ParallelSyncs < 1 {
		errs = append(errs, fmt.Errorf("failover.parallel_syncs (%d) must be at least 1", c.ParallelSyncs))
	}
	if c.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("failover.cooldown (%s) must not be negative", c.Cooldown))
	}
	if c.ElectionTimeout <= 0 {
		errs = append(errs, fmt.Errorf("failover.election_timeout (%s) must be positive", c.ElectionTimeout))
	}
	if c.SwitchoverTimeout <= 0 {
		errs = append(errs, fmt.Errorf("failover.switchover_timeout (%s) must be positive", c.SwitchoverTimeout))
	}
	if c.HistorySize < 1 {
		errs = append(errs, fmt.Errorf("failover.history_size (%d) must be at least 1", c.HistorySize))
	}
	return errors.Join(errs...)
}
