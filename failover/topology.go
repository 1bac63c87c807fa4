package failover

import (
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// Node is one member of the group: a Redis node and the sidecar beside it.
type Node struct {
	Name         string       `json:"name"`                    // sidecar name (node.name)
	Addr         string       `json:"addr"`                    // Redis announce address, "ip:port"
	SentinelAddr string       `json:"sentinel_addr,omitempty"` // the sidecar's Sentinel endpoint, "" if disabled
	HTTPAddr     string       `json:"http_addr,omitempty"`     // the sidecar's HTTP API
	Role         monitor.Role `json:"role,omitempty"`          // role Redis last reported
	Offset       int64        `json:"offset"`                  // replication offset last reported
	LinkUp       bool         `json:"link_up"`                 // replica: link to the primary is up
	Synced       bool         `json:"synced"`                  // replica: an initial sync has completed
	Priority     int          `json:"priority"`                // redis.priority; 0 = never promote
	RunID        string       `json:"run_id,omitempty"`
	Reachable    bool         `json:"reachable"`        // its sidecar's last observation got a reply
	SDown        bool         `json:"s_down,omitempty"` // this sidecar sees it down
	ODown        bool         `json:"o_down,omitempty"` // a quorum sees it down
	Member       string       `json:"member,omitempty"` // gossip state of its sidecar: alive, suspect, dead, left
	LastSeen     time.Time    `json:"last_seen"`        // last fresh report about it
}

// Snapshot is the group as this sidecar currently believes it to be. It is
// a copy: holding it never blocks the failover loop.
type Snapshot struct {
	MasterName    string        `json:"master_name"`
	Self          string        `json:"self"`
	Epoch         uint64        `json:"epoch"`
	Primary       Node          `json:"primary"` // Name is "" while no primary is known
	Replicas      []Node        `json:"replicas"`
	Sentinels     []Node        `json:"sentinels"` // the other sidecars (their SentinelAddr)
	Quorum        int           `json:"quorum"`
	DownAfter     time.Duration `json:"down_after_ns"`
	ParallelSyncs int           `json:"parallel_syncs"`
	// FailoverTimeout is the effective failover timeout: the group-wide
	// setting, or failover.switchover_timeout while none is set.
	FailoverTimeout time.Duration `json:"failover_timeout_ns"`
	// Writable is true while the primary is known, reachable and not fenced.
	Writable bool `json:"writable"`
	Fenced   bool `json:"fenced"` // this sidecar has paused writes on its own Redis
	// Isolated: this sidecar has had no acknowledged contact with a Raft
	// majority for fence_after; the primary it knows may have been
	// replaced, so the Sentinel endpoint names none.
	Isolated bool `json:"isolated"`
	// Lagging: the state names this node the promoted primary while its
	// Redis answers as a replica (of another, or of itself: detached), or
	// while this sidecar has no fresh observation of it: this sidecar's
	// view may lag the group's, and that Redis takes no writes (a
	// partition just healed, or the sidecar just resumed from a stall,
	// its Raft log still catching up), so the Sentinel endpoint names no
	// primary either. So is a sidecar that lost its Raft state until a
	// leader gave it the log up to that leader's commit index: the state
	// it applied may stop anywhere short of the group's.
	Lagging bool `json:"lagging,omitempty"`
	Paused  bool `json:"paused"` // automatic failover is paused by an operator
	// FlapPaused, when not empty, says why anti-flap paused automatic
	// failover (failover.max_failovers within failover.flap_window).
	FlapPaused string `json:"flap_paused,omitempty"`
	Leader     string `json:"leader,omitempty"`   // the Raft leader's node name, "" while none
	InFailover bool   `json:"in_failover"`        // a promotion or switchover is under way
	WhyNot     string `json:"why_not,omitempty"`  // why no replica can be promoted, when none can
	Conflict   string `json:"conflict,omitempty"` // discovery problem, e.g. several standalone primaries
}

// EventKind names a topology event. The values are Sentinel's event names
// without the +/- sign convention, which the redirect package adds.
type EventKind string

// Topology events, in the order a failover produces them.
const (
	EventSDown            EventKind = "+sdown"
	EventSDownCleared     EventKind = "-sdown"
	EventODown            EventKind = "+odown"
	EventODownCleared     EventKind = "-odown"
	EventPromotedReplica  EventKind = "+promoted-slave"
	EventSwitchPrimary    EventKind = "+switch-master"
	EventFailoverEnd      EventKind = "+failover-end"
	EventConvertToReplica EventKind = "+convert-to-slave"
	EventReplicaAdded     EventKind = "+slave"
	EventRoleChange       EventKind = "+role-change" // this sidecar's own Redis reports a new role, which agrees with the configuration
	EventFenced           EventKind = "+fenced"
	EventUnfenced         EventKind = "-fenced"

	// The rest of Sentinel's event set, in its exact names (issue 12).
	EventNewEpoch            EventKind = "+new-epoch"
	EventConfigUpdateFrom    EventKind = "+config-update-from"
	EventTryFailover         EventKind = "+try-failover"
	EventElectedLeader       EventKind = "+elected-leader"
	EventSelectedReplica     EventKind = "+selected-slave"
	EventStateSelectReplica  EventKind = "+failover-state-select-slave"
	EventStateSendNoOne      EventKind = "+failover-state-send-slaveof-noone"
	EventStateWaitPromotion  EventKind = "+failover-state-wait-promotion"
	EventStateReconfReplicas EventKind = "+failover-state-reconf-slaves"
	EventReplicaReconfSent   EventKind = "+slave-reconf-sent"
	EventReplicaReconfInProg EventKind = "+slave-reconf-inprog"
	EventReplicaReconfDone   EventKind = "+slave-reconf-done"
	// EventRoleMismatch ("-role-change", Sentinel's name) is this
	// sidecar's own Redis reporting a role that contradicts the
	// configuration (a new role, or a restart as the wrong role), or
	// another member's Redis that this sidecar found acting as a primary
	// and demoted (before its +convert-to-slave).
	EventRoleMismatch EventKind = "-role-change"
)

// Event is one change of the topology.
type Event struct {
	Kind       EventKind `json:"kind"`
	Time       time.Time `json:"time"`
	Epoch      uint64    `json:"epoch"`
	Node       Node      `json:"node"`                  // the instance the event is about
	OldPrimary Node      `json:"old_primary,omitempty"` // switch events: previous primary
	NewPrimary Node      `json:"new_primary,omitempty"` // switch events: the new primary
	// Votes and Quorum describe +odown ("#quorum 2/2").
	Votes  int `json:"votes,omitempty"`
	Quorum int `json:"quorum,omitempty"`
}
