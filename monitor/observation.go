package monitor

import (
	"net"
	"strconv"
	"time"
)

// Reason says why a probe got no valid reply. The empty Reason means the
// node answered.
type Reason string

// The reasons a probe can fail. They are the values of the reason label of
// vigil_redis_probe_errors_total, so the set is closed.
const (
	ReasonNone    Reason = ""
	ReasonRefused Reason = "refused" // nothing listens: the process is gone
	ReasonTimeout Reason = "timeout" // no answer within monitor.timeout (stopped, overloaded, cut)
	ReasonLoading Reason = "loading" // -LOADING: alive, still loading its dataset
	ReasonBusy    Reason = "busy"    // -BUSY: alive, running a long script
	ReasonAuth    Reason = "auth"    // -NOAUTH, -WRONGPASS: alive, we cannot log in
	ReasonError   Reason = "error"   // any other failure
)

// Alive reports whether the reason still proves a live process, as Sentinel
// treats -LOADING and -BUSY: such a node must not be failed over.
func (r Reason) Alive() bool {
	return r == ReasonNone || r == ReasonLoading || r == ReasonBusy || r == ReasonAuth
}

// Role is the replication role Redis reports.
type Role string

// The roles INFO replication reports.
const (
	RoleUnknown Role = ""
	RolePrimary Role = "master"
	RoleReplica Role = "slave"
)

// Replica is one connected replica as its primary reports it.
type Replica struct {
	Addr   string `json:"addr"`   // "ip:port" the replica announced
	State  string `json:"state"`  // online, wait_bgsave, send_bulk
	Offset int64  `json:"offset"` // replication offset the replica acknowledged
	Lag    int64  `json:"lag"`    // seconds since the last ack
}

// Observation is what one probe saw of one Redis.
type Observation struct {
	Addr    string        `json:"addr"`
	Time    time.Time     `json:"time"`
	Reason  Reason        `json:"reason,omitempty"` // why the probe failed; empty when it answered
	Err     string        `json:"error,omitempty"`  // the error text, for humans
	RTT     time.Duration `json:"rtt_ns"`           // round trip of the pipelined PING and INFOs, with a dial if one was needed
	Role    Role          `json:"role,omitempty"`
	RunID   string        `json:"run_id,omitempty"`
	Version string        `json:"version,omitempty"`
	ReplID  string        `json:"repl_id,omitempty"`  // master_replid: the replication history this node is on
	ReplID2 string        `json:"repl_id2,omitempty"` // master_replid2: the history before the last promotion
	// ReplOffset2 is second_repl_offset, one past the last offset of
	// ReplID2 this node holds; 0 without ReplID2.
	ReplOffset2 int64 `json:"repl_offset2,omitempty"`
	Offset      int64 `json:"offset"` // master_repl_offset (primary, replica with its link down) or slave_repl_offset (replica with its link up)
	// Priority is Redis's replica-priority (lower is preferred, 0 never
	// promoted). INFO reports it only on replicas; on a primary the Prober
	// fills it from a cached CONFIG GET. -1 means unknown: a primary seen
	// through Probe alone, or a node that did not answer INFO.
	Priority int `json:"priority"`
	// Loading is true while the node answers -LOADING (it is loading its
	// dataset from disk or from a full sync).
	Loading bool `json:"loading,omitempty"`
	// Keys is DBSIZE (the keys of database 0); -1 when not known. A Redis
	// restarted from its AOF has no replication position (Redis 7.0 starts
	// its offsets again), and this tells it from one that came back empty.
	Keys int64 `json:"keys"`

	// Replica side.
	MasterHost string `json:"master_host,omitempty"`
	MasterPort int    `json:"master_port,omitempty"`
	LinkUp     bool   `json:"link_up"`
	// LinkDownFor is how long the link has been down, 0 when up. Probe
	// takes INFO's whole seconds; the Prober refines it with its own clock
	// while it watches the link down, including a link that never came up.
	LinkDownFor time.Duration `json:"link_down_ns,omitempty"`
	// MasterLinkDownSinceSeconds is INFO's master_link_down_since_seconds as
	// reported: -1 when the link is up, when the node is not a replica, or
	// when Redis says the link never came up since start or since it was a
	// primary (Redis >= 6.2; older versions' bogus epoch-based values are
	// also mapped to -1).
	MasterLinkDownSinceSeconds int64 `json:"master_link_down_since_seconds"`
	SyncInProgress             bool  `json:"sync_in_progress"`
	// Synced is true once an initial sync has completed at least once, so a
	// replica that never got a full dataset is never promoted. It stays true
	// when the primary goes away after a completed sync. From one INFO: the
	// link is up, or master_link_down_since_seconds is not -1 (the link
	// broke after being up). The Prober also keeps it true while
	// master_replid stays the one it saw synced, e.g. for a replica
	// restarted from its RDB, for which Redis reports -1. Only replicas are
	// Synced.
	Synced bool `json:"synced"`
	// LagBytes is how many bytes of the replication stream this replica
	// has not processed yet: its primary's master_repl_offset minus its
	// slave_repl_offset, read in the same probe. -1 when unknown (link
	// down, primary unreachable or on another history, node unreachable, or
	// a replica seen through Probe alone); 0 on a primary.
	LagBytes int64 `json:"lag_bytes"`

	// Primary side (a replica with its own replicas reports them too).
	ConnectedReplicas int       `json:"connected_replicas"`
	Replicas          []Replica `json:"replicas,omitempty"`
}

// Reachable reports whether the node answered the probe. The zero
// Observation (no probe yet) is not reachable.
func (o Observation) Reachable() bool { return o.Reason == ReasonNone && !o.Time.IsZero() }

// Alive reports whether the node proved it is running (it may still be
// unusable, e.g. loading).
func (o Observation) Alive() bool { return o.Reason.Alive() && !o.Time.IsZero() }

// WritablePrimary reports whether the node answered as a primary.
func (o Observation) WritablePrimary() bool { return o.Reachable() && o.Role == RolePrimary }

// MasterAddr is "host:port" of the primary this replica follows, or "".
func (o Observation) MasterAddr() string {
	if o.MasterHost == "" {
		return ""
	}
	return joinHostPort(o.MasterHost, o.MasterPort)
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
