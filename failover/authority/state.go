package authority

import (
	"maps"
	"slices"
	"time"
)

// Member is one sidecar of the group as the replicated state records it.
// Its addresses are the ones the member itself last registered, so a
// persisted address is never used while its owner announces another.
type Member struct {
	// Name is node.name, also the member's raft ServerID.
	Name string `json:"name"`
	// RaftAddr is the member's gossip advertise address (host:port), also
	// its raft ServerAddress: raft rides the gossip port.
	RaftAddr string `json:"raft_addr,omitempty"`
	// RedisAddr, SentinelAddr and HTTPAddr are the addresses the member
	// announces for its Redis, its Sentinel endpoint and its HTTP API.
	RedisAddr    string `json:"redis_addr,omitempty"`
	SentinelAddr string `json:"sentinel_addr,omitempty"`
	HTTPAddr     string `json:"http_addr,omitempty"`
	// Priority is the member's replica priority (0 = never promoted).
	Priority int `json:"priority,omitempty"`
	// Voter reports the member's current raft suffrage, as committed in
	// the raft configuration; the FSM maintains it, a register command
	// cannot set it.
	Voter bool `json:"voter,omitempty"`
	// Since is when the member first registered (the proposer's clock).
	Since time.Time `json:"since,omitzero"`
	// Removed marks the primary's record kept after it left the raft
	// configuration (forget of the primary's node): its Redis may still
	// serve. It goes when another primary is installed.
	Removed bool `json:"removed,omitempty"`
}

// Switchover is an operator switchover under way.
type Switchover struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Epoch    uint64    `json:"epoch"` // the epoch the switchover started from
	Deadline time.Time `json:"deadline,omitzero"`
	// Timeout is how long before Deadline the switchover began, so that
	// each sidecar can run it to a deadline on its own clock; zero in
	// intents committed before it was recorded.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Settings are the group-wide settings an operator changes at run time
// (SENTINEL SET, vigil config set). A zero field means "use the file's value".
type Settings struct {
	DownAfter       time.Duration `json:"down_after,omitempty"`
	Quorum          int           `json:"quorum,omitempty"`
	ParallelSyncs   int           `json:"parallel_syncs,omitempty"`
	FailoverTimeout time.Duration `json:"failover_timeout,omitempty"`
	MaxLagBytes     int64         `json:"max_lag_bytes,omitempty"`
	MinReplicas     *int          `json:"min_replicas,omitempty"`
	MaxFailovers    int           `json:"max_failovers,omitempty"`
	FlapWindow      time.Duration `json:"flap_window,omitempty"`
}

// Clone returns a deep copy of s.
func (s Settings) Clone() Settings {
	if s.MinReplicas != nil {
		v := *s.MinReplicas
		s.MinReplicas = &v
	}
	return s
}

// HistoryEntry is one failover the group went through.
type HistoryEntry struct {
	Epoch    uint64        `json:"epoch"`
	Old      string        `json:"old,omitempty"`
	New      string        `json:"new,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Result   string        `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
	Start    time.Time     `json:"start,omitzero"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	// ForkReplID and ForkOffset are the old history's replication id and
	// offset at the fork (issue 13).
	ForkReplID string `json:"fork_repl_id,omitempty"`
	ForkOffset int64  `json:"fork_offset,omitempty"`
	// NewReplID is the history the promotion began (the promoted Redis's
	// master_replid right after it): only that process ever shows it as
	// its own, so a restart of it is told apart exactly ("" in entries
	// written before it was recorded).
	NewReplID string `json:"new_repl_id,omitempty"`
	// Resumed: the promoted Redis came back from its AOF after the leader
	// chose it, so its offsets began again on a history of its own.
	// ForkReplID and ForkOffset are then where the leader chose it (its
	// data set's place on the group's line), and the history it began,
	// NewReplID, began at offset 0, not at ForkOffset.
	Resumed bool `json:"resumed,omitempty"`
}

// Limits on the replicated lists, so the state (and every snapshot) stays small.
const (
	// MaxHistory is how many history entries State keeps (the newest).
	MaxHistory = 64
	// MaxFailoverTimes is how many automatic failover start times State
	// keeps for anti-flap.
	MaxFailoverTimes = 64
)

// State is the group's configuration: the value of the replicated state
// machine. Only committed raft entries change it.
type State struct {
	// Index is the raft index of the last entry applied to this state.
	Index uint64 `json:"index"`
	// Epoch is the failover epoch that installed Primary.
	Epoch uint64 `json:"epoch"`
	// Primary is the primary's node name; "" while none.
	Primary string `json:"primary,omitempty"`
	// Promoted reports that Primary confirmed its promotion at Epoch.
	Promoted bool `json:"promoted,omitempty"`
	// Previous is the primary that Primary replaced.
	Previous string `json:"previous,omitempty"`
	// Reason says how Primary was installed: initial, auto, switchover, handover.
	Reason string `json:"reason,omitempty"`
	// Started is when the failover that installed Primary started.
	Started time.Time `json:"started,omitzero"`
	// ChosenReplID and ChosenOffset are the replication position the
	// leader chose Primary at (Command.ChosenReplID); empty when none was
	// recorded, and then nothing is checked against them.
	ChosenReplID string `json:"chosen_repl_id,omitempty"`
	ChosenOffset int64  `json:"chosen_offset,omitempty"`
	// ChosenKeys: the keys of the holder the leader chose as Primary
	// (Command.ChosenKeys); 0 when it chose a position or none.
	ChosenKeys int64 `json:"chosen_keys,omitempty"`
	// Paused is the operator's pause of automatic failover.
	Paused bool `json:"paused,omitempty"`
	// FlapPaused, when not empty, says why anti-flap paused automatic failover.
	FlapPaused string `json:"flap_paused,omitempty"`
	// Switchover is an operator switchover under way, nil when none.
	Switchover *Switchover `json:"switchover,omitempty"`
	// Members are the group's members by name: every registered member and
	// every server of the raft configuration.
	Members map[string]Member `json:"members,omitempty"`
	// Settings are the group-wide run-time settings.
	Settings Settings `json:"settings"`
	// History holds the last MaxHistory failovers, oldest first.
	History []HistoryEntry `json:"history,omitempty"`
	// Failovers holds the start times of the recent automatic failovers
	// (at most MaxFailoverTimes, oldest first), for anti-flap.
	Failovers []time.Time `json:"failovers,omitempty"`
}

// Clone returns a deep copy of s: the copy shares nothing with s.
func (s State) Clone() State {
	c := s
	c.Members = maps.Clone(s.Members)
	if s.Switchover != nil {
		sw := *s.Switchover
		c.Switchover = &sw
	}
	c.Settings = s.Settings.Clone()
	c.History = slices.Clone(s.History)
	c.Failovers = slices.Clone(s.Failovers)
	return c
}

// PrimaryMember returns the primary's member record; false when there is
// no primary or it never registered.
func (s State) PrimaryMember() (Member, bool) {
	if s.Primary == "" {
		return Member{}, false
	}
	m, ok := s.Members[s.Primary]
	return m, ok
}

// Voters returns the names of the voting members, sorted.
func (s State) Voters() []string {
	var out []string
	for name, m := range s.Members {
		if m.Voter {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
