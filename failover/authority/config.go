package authority

import (
	"errors"
	"fmt"
	"time"
)

// Config controls how the group's authority forms, grows and elects its
// leader. It lives under failover.* in the configuration file; every
// sidecar of a group should run with the same values.
type Config struct {
	// BootstrapExpect is how many sidecars must see each other, none of
	// them with raft state, before they form a new group together (as
	// Consul's bootstrap_expect). Every one of them computes the same
	// server list from the same gossip view. 1 forms a single-node group
	// at once. A sidecar that has raft state, or that sees any member with
	// raft state, never bootstraps: it waits to be added by the leader.
	BootstrapExpect int `koanf:"bootstrap_expect"`

	// Stabilization is how long a new member must stay alive and
	// registered (and, when the caller supplies the check, replicating)
	// before the leader makes it a voter. A member that vanishes sooner
	// never votes and never counts toward a majority. Longer protects the
	// majority from flapping joiners; shorter lets a replaced node vote sooner.
	Stabilization time.Duration `koanf:"stabilization"`

	// RaftHeartbeatTimeout is how long a follower goes without hearing from
	// the leader before it calls an election (raft waits a random time
	// between one and two of these). It bounds how fast a dead leader is
	// replaced; too short on a loaded host causes needless elections, and
	// the leader sends every follower a heartbeat each tenth of it, most of
	// an idle sidecar's CPU. 0 derives it from failover.down_after (Timed).
	RaftHeartbeatTimeout time.Duration `koanf:"raft_heartbeat_timeout"`

	// RaftElectionTimeout is how long a candidate waits for votes before it
	// retries (again randomised up to twice this). 0: the heartbeat timeout.
	RaftElectionTimeout time.Duration `koanf:"raft_election_timeout"`

	// RaftLeaderLeaseTimeout is how long a leader keeps leading without
	// hearing from a majority. It must not exceed RaftHeartbeatTimeout, so
	// a cut-off leader steps down before the others elect a new one.
	// 0: three quarters of the heartbeat timeout.
	RaftLeaderLeaseTimeout time.Duration `koanf:"raft_leader_lease_timeout"`

	// RaftCalmHeartbeatTimeout is the heartbeat timeout raft runs at while
	// the failover core sees nothing a failover may follow (Authority.Calm):
	// every member reports, the primary answers, nobody holds it down. A
	// longer one means fewer heartbeats, most of an idle sidecar's
	// wake-ups. At the first sign of trouble raft goes back to
	// RaftHeartbeatTimeout, and a follower whose leader was silent longer
	// than that calls an election at once. Raft's lease does not change,
	// so calm heartbeats (a tenth to a fifth of this apart) must leave a
	// third of raft_leader_lease_timeout, and at least 100 ms, to spare:
	// at most 10/3 of the lease, less with a lease under 300 ms. 0: two and
	// a half heartbeat timeouts, within that limit and within 5/4 of
	// failover.fence_after; equal to raft_heartbeat_timeout: no calm
	// timings.
	RaftCalmHeartbeatTimeout time.Duration `koanf:"raft_calm_heartbeat_timeout"`

	// RaftCommitTimeout is how often (randomised up to twice this) an
	// idle leader sends each follower an append carrying its commit index.
	// Shorter costs CPU on every node all the time; the authority does not
	// wait for it to spread a command (it sends a barrier after each one).
	// 0: the heartbeat timeout.
	RaftCommitTimeout time.Duration `koanf:"raft_commit_timeout"`

	// RaftSnapshotInterval is how often raft checks whether to snapshot,
	// and RaftSnapshotThreshold how many new log entries make it do so.
	// Snapshots let raft truncate raft.db; the state is small.
	RaftSnapshotInterval time.Duration `koanf:"raft_snapshot_interval"`
	// RaftSnapshotThreshold is how many new log entries since the last
	// snapshot make raft take one (checked every RaftSnapshotInterval).
	RaftSnapshotThreshold uint64 `koanf:"raft_snapshot_threshold"`
}

// DefaultConfig returns the defaults: three sidecars bootstrap a group, a
// member votes after 10 s of health, and raft timings that replace a dead
// leader in well under a second on a LAN.
func DefaultConfig() Config {
	return Config{
		BootstrapExpect:        3,
		Stabilization:          10 * time.Second,
		RaftHeartbeatTimeout:   200 * time.Millisecond,
		RaftElectionTimeout:    200 * time.Millisecond,
		RaftLeaderLeaseTimeout: 150 * time.Millisecond,
		RaftCommitTimeout:      50 * time.Millisecond,
		RaftSnapshotInterval:   time.Minute,
		RaftSnapshotThreshold:  1024,
	}
}

// Timed fills the raft timings left at 0 from the primary's down_after:
// the heartbeat timeout is a fifth of it, at least 200 ms and at most 1 s,
// so a dead leader is replaced (one to two heartbeat timeouts and an
// election) well within down_after, while a slower detection setting does
// not pay for heartbeats it cannot use; the election timeout equals it,
// the leader lease is three quarters of it and the commit timeout equals
// it: an idle leader's appends cost as much as its heartbeats, and no
// command waits for them (raftApply's barrier spreads each commit).
// Values set explicitly stay.
func (c Config) Timed(downAfter time.Duration) Config {
	if c.RaftHeartbeatTimeout == 0 {
		c.RaftHeartbeatTimeout = min(max(downAfter/5, 200*time.Millisecond), time.Second)
	}
	if c.RaftElectionTimeout == 0 {
		c.RaftElectionTimeout = c.RaftHeartbeatTimeout
	}
	if c.RaftLeaderLeaseTimeout == 0 {
		c.RaftLeaderLeaseTimeout = c.RaftHeartbeatTimeout * 3 / 4
	}
	if c.RaftCommitTimeout == 0 {
		c.RaftCommitTimeout = c.RaftHeartbeatTimeout
	}
	if c.RaftCalmHeartbeatTimeout == 0 {
		c.RaftCalmHeartbeatTimeout = max(c.RaftHeartbeatTimeout, min(c.RaftHeartbeatTimeout*5/2, calmLimit(c.RaftLeaderLeaseTimeout)))
	}
	return c
}

// calmLimit is the longest calm heartbeat timeout whose heartbeats (at
// most a fifth of it apart) keep a third of the lease, and at least
// calmMargin, to spare: a leader whose lease lapses steps down, and its
// group is without one until a follower's (calm) timer fires.
func calmLimit(lease time.Duration) time.Duration {
	return max(0, 5*(lease-max(lease/3, calmMargin)))
}

// calmMargin is the least time calm heartbeats leave before the lease
// lapses: room for a loaded host's scheduling delays.
const calmMargin = 100 * time.Millisecond

// timings returns the heartbeat and election timeouts for raft, calm or
// not. The election timeout is never below the heartbeat timeout (raft
// refuses that). Without a calm heartbeat timeout longer than the
// heartbeat timeout, calm changes nothing.
func (c Config) timings(calm bool) (heartbeat, election time.Duration) {
	if !calm || c.RaftCalmHeartbeatTimeout <= c.RaftHeartbeatTimeout {
		return c.RaftHeartbeatTimeout, c.RaftElectionTimeout
	}
	return c.RaftCalmHeartbeatTimeout, max(c.RaftElectionTimeout, c.RaftCalmHeartbeatTimeout)
}

// Validate reports every problem of c, each naming the key and the bad value.
func (c Config) Validate() error {
	var errs []error
	if c.BootstrapExpect < 1 {
		errs = append(errs, fmt.Errorf("failover.bootstrap_expect (%d) must be at least 1", c.BootstrapExpect))
	}
	if c.Stabilization < 0 {
		errs = append(errs, fmt.Errorf("failover.stabilization (%s) must not be negative", c.Stabilization))
	}
	minimum := func(key string, d, least time.Duration) {
		if d < least {
			errs = append(errs, fmt.Errorf("failover.%s (%s) must be at least %s", key, d, least))
		}
	}
	minimum("raft_heartbeat_timeout", c.RaftHeartbeatTimeout, 10*time.Millisecond)
	minimum("raft_election_timeout", c.RaftElectionTimeout, 10*time.Millisecond)
	minimum("raft_leader_lease_timeout", c.RaftLeaderLeaseTimeout, 5*time.Millisecond)
	minimum("raft_commit_timeout", c.RaftCommitTimeout, time.Millisecond)
	minimum("raft_snapshot_interval", c.RaftSnapshotInterval, time.Second)
	if c.RaftLeaderLeaseTimeout > c.RaftHeartbeatTimeout {
		errs = append(errs, fmt.Errorf("failover.raft_leader_lease_timeout (%s) must not exceed failover.raft_heartbeat_timeout (%s)",
			c.RaftLeaderLeaseTimeout, c.RaftHeartbeatTimeout))
	}
	if c.RaftElectionTimeout < c.RaftHeartbeatTimeout {
		errs = append(errs, fmt.Errorf("failover.raft_election_timeout (%s) must not be shorter than failover.raft_heartbeat_timeout (%s)",
			c.RaftElectionTimeout, c.RaftHeartbeatTimeout))
	}
	if c.RaftCalmHeartbeatTimeout != 0 {
		if c.RaftCalmHeartbeatTimeout < c.RaftHeartbeatTimeout {
			errs = append(errs, fmt.Errorf("failover.raft_calm_heartbeat_timeout (%s) must not be shorter than failover.raft_heartbeat_timeout (%s)",
				c.RaftCalmHeartbeatTimeout, c.RaftHeartbeatTimeout))
		}
		if limit := calmLimit(c.RaftLeaderLeaseTimeout); c.RaftCalmHeartbeatTimeout > limit && c.RaftCalmHeartbeatTimeout > c.RaftHeartbeatTimeout {
			errs = append(errs, fmt.Errorf("failover.raft_calm_heartbeat_timeout (%s) must not exceed %s with failover.raft_leader_lease_timeout %s: its heartbeats, up to a fifth of it apart, must leave a third of the lease and at least %s",
				c.RaftCalmHeartbeatTimeout, limit, c.RaftLeaderLeaseTimeout, calmMargin))
		}
	}
	if c.RaftSnapshotThreshold < 16 {
		errs = append(errs, fmt.Errorf("failover.raft_snapshot_threshold (%d) must be at least 16", c.RaftSnapshotThreshold))
	}
	return errors.Join(errs...)
}
