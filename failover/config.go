package failover

import (
	"errors"
	"fmt"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Config controls when this sidecar considers the primary down, how the
// group decides on it, and how the replacement is chosen and installed. Every
// sidecar of a group should run with the same values; the group-wide
// settings an operator changes at run time (SetSettings) override the
// matching fields without a restart.
type Config struct {
	// MasterName is the name Sentinel clients ask for
	// (SENTINEL get-master-addr-by-name <name>).
	MasterName string `koanf:"master_name"`

	// Quorum is how many sidecars (this one included) must see the primary
	// subjectively down (SDOWN) for the Raft leader to judge it
	// objectively down (ODOWN) and commit a replacement. The commit itself
	// needs a Raft majority of the voters, so a quorum below the majority
	// only makes detection more eager. Must be at least 1.
	Quorum int `koanf:"quorum"`

	// DownAfter is how long the primary may give no valid reply before this
	// sidecar considers it subjectively down. -LOADING and -BUSY replies
	// count as alive. Shorter fails over sooner; too short fails over on a
	// GC pause or a slow fork.
	DownAfter time.Duration `koanf:"down_after"`

	// FenceAfter is how long the primary's sidecar may go without an
	// acknowledged contact with a Raft majority (its own monotonic clock)
	// before it pauses writes on its Redis (CLIENT PAUSE WRITE), renewed
	// while it stays cut off. It must be shorter than DownAfter, so an
	// isolated primary stops taking writes before the majority can promote
	// a replacement.
	FenceAfter time.Duration `koanf:"fence_after"`

	// MaxLagBytes excludes from promotion every replica more than this many
	// bytes of replication stream behind the primary's last known offset
	// (or the most advanced replica, when that is further). Zero means
	// only replicas that have everything qualify.
	MaxLagBytes int64 `koanf:"max_lag_bytes"`

	// ParallelSyncs is how many replicas re-point to a new primary at the
	// same time (each then does a partial or full resync). Higher converges
	// faster and loads the new primary more. A replica whose link has stayed
	// down with no transfer for 2 s while its sidecar reaches the primary
	// no longer counts. Must be at least 1.
	ParallelSyncs int `koanf:"parallel_syncs"`

	// MinReplicas, when above zero, makes the primary's sidecar keep
	// min-replicas-to-write (this value, or the number of other members if
	// fewer) and min-replicas-max-lag (fence_after in whole seconds) set on
	// the primary: a primary cut off from its replicas stops accepting
	// writes at once, and a write is acknowledged only while a replica
	// receives the stream. A sidecar that pauses a primary's writes (its
	// own, or a restarted one its sidecar cannot watch) sets it as well, so
	// that a pause left to lapse takes no write no replica receives. It
	// costs write availability when replicas are down. Zero leaves Redis's
	// own settings alone.
	MinReplicas int `koanf:"min_replicas"`

	// MaxFailovers and FlapWindow are anti-flap: at most MaxFailovers
	// automatic failovers within FlapWindow. A primary that a quorum sees
	// down is always replaced after DownAfter while fewer than
	// MaxFailovers happened in the window; past the cap automatic failover
	// pauses itself (status, metric vigil_failover_flap_paused, an error
	// log) until an operator resumes it. Zero MaxFailovers disables the cap.
	MaxFailovers int `koanf:"max_failovers"`

	// FlapWindow is the anti-flap window: the automatic failovers that
	// started within it count toward MaxFailovers. Must be positive while
	// MaxFailovers is set.
	FlapWindow time.Duration `koanf:"flap_window"`

	// ShutdownHandover bounds the switchover the primary's sidecar runs on
	// SIGTERM (and `vigil handover`) before it exits: writes move to the
	// best replica without waiting for DownAfter. A replica's sidecar exits
	// at once.
	ShutdownHandover time.Duration `koanf:"shutdown_handover"`

	// InitialPrimary names the sidecar (node.name) whose Redis becomes
	// primary when a new group starts with no single primary: several
	// standalone primaries, or Redis that replicate from themselves (parked
	// by vigil to keep their data, as after every sidecar lost its state).
	// Empty means vigil does not guess: it reports the conflict and waits
	// for an operator. It is ignored as soon as Redis's own replication
	// state names a primary, and once the group has one.
	InitialPrimary string `koanf:"initial_primary"`

	// SwitchoverTimeout bounds a planned switchover: how long writes on the
	// old primary may stay paused while the target catches up and is
	// promoted. When it passes, the switchover is abandoned and writes are
	// released on the old primary. It bounds the write pause of an
	// automatic promotion and of a demotion the same way. The group-wide
	// failover_timeout (SENTINEL SET <name> failover-timeout, vigil config
	// set) overrides it while set.
	SwitchoverTimeout time.Duration `koanf:"switchover_timeout"`

	// Authority is the Raft group's configuration: failover.bootstrap_expect,
	// failover.stabilization and the raft_* timings.
	Authority authority.Config `koanf:",squash"`
}

// DefaultConfig returns the defaults: Sentinel's master name and quorum,
// detection in 5 seconds, fencing in 2, at most 3 automatic failovers in 10
// minutes, and a 10-second handover on shutdown.
func DefaultConfig() Config {
	return Config{
		MasterName:        "mymaster",
		Quorum:            2,
		DownAfter:         5 * time.Second,
		FenceAfter:        2 * time.Second,
		MaxLagBytes:       1 << 20,
		ParallelSyncs:     1,
		MaxFailovers:      3,
		FlapWindow:        10 * time.Minute,
		ShutdownHandover:  10 * time.Second,
		SwitchoverTimeout: 10 * time.Second,
		Authority:         untimed(authority.DefaultConfig()),
	}
}

// untimed leaves the raft timings to Timed, which derives them from
// down_after when the sidecar starts.
func untimed(c authority.Config) authority.Config {
	c.RaftHeartbeatTimeout, c.RaftElectionTimeout, c.RaftLeaderLeaseTimeout, c.RaftCommitTimeout = 0, 0, 0, 0
	c.RaftCalmHeartbeatTimeout = 0
	return c
}

// AuthorityConfig is the authority's configuration with the raft timings
// left at 0 derived from DownAfter. A derived calm heartbeat timeout also
// keeps calm heartbeats (up to a fifth of it apart) within a quarter of
// FenceAfter: a primary's sidecar fences its Redis when that long passed
// since its last contact, which heartbeats renew.
func (c Config) AuthorityConfig() authority.Config {
	a := c.Authority.Timed(c.DownAfter)
	if c.Authority.RaftCalmHeartbeatTimeout == 0 {
		a.RaftCalmHeartbeatTimeout = max(a.RaftHeartbeatTimeout, min(a.RaftCalmHeartbeatTimeout, c.FenceAfter*5/4))
	}
	return a
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
	if c.MinReplicas < 0 {
		errs = append(errs, fmt.Errorf("failover.min_replicas (%d) must not be negative", c.MinReplicas))
	}
	if c.MaxFailovers < 0 {
		errs = append(errs, fmt.Errorf("failover.max_failovers (%d) must not be negative", c.MaxFailovers))
	}
	if c.MaxFailovers > 0 && c.FlapWindow <= 0 {
		errs = append(errs, fmt.Errorf("failover.flap_window (%s) must be positive while failover.max_failovers (%d) is set", c.FlapWindow, c.MaxFailovers))
	}
	if c.ShutdownHandover < 0 {
		errs = append(errs, fmt.Errorf("failover.shutdown_handover (%s) must not be negative", c.ShutdownHandover))
	}
	if c.SwitchoverTimeout <= 0 {
		errs = append(errs, fmt.Errorf("failover.switchover_timeout (%s) must be positive", c.SwitchoverTimeout))
	}
	errs = append(errs, c.AuthorityConfig().Validate())
	return errors.Join(errs...)
}

// params overlays the group-wide settings s on the file's values.
func (c Config) params(s authority.Settings, fresh time.Duration) params {
	p := params{
		Quorum: c.Quorum, DownAfter: c.DownAfter, FenceAfter: c.FenceAfter, MaxLagBytes: c.MaxLagBytes,
		ParallelSyncs: c.ParallelSyncs, MaxFailovers: c.MaxFailovers, FlapWindow: c.FlapWindow,
		MinReplicas: c.MinReplicas, FailoverTimeout: c.SwitchoverTimeout, Fresh: fresh,
	}
	if s.Quorum > 0 {
		p.Quorum = s.Quorum
	}
	if s.DownAfter > 0 && s.DownAfter > c.FenceAfter {
		p.DownAfter = s.DownAfter
	}
	if s.MaxLagBytes > 0 {
		p.MaxLagBytes = s.MaxLagBytes
	}
	if s.ParallelSyncs > 0 {
		p.ParallelSyncs = s.ParallelSyncs
	}
	if s.MaxFailovers > 0 {
		p.MaxFailovers = s.MaxFailovers
	}
	if s.FlapWindow > 0 {
		p.FlapWindow = s.FlapWindow
	}
	if s.FailoverTimeout > 0 {
		p.FailoverTimeout = s.FailoverTimeout
	}
	if s.MinReplicas != nil && *s.MinReplicas >= 0 {
		p.MinReplicas = *s.MinReplicas
	}
	return p
}
