package authority

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Op names a change to the State.
type Op string

// The operations of the state machine.
const (
	// OpSetPrimary installs Primary at Epoch (> State.Epoch), if IfEpoch
	// is still the current epoch.
	OpSetPrimary Op = "set-primary"
	// OpPromoted records that Node, the primary at Epoch, confirmed its
	// promotion.
	OpPromoted Op = "promoted"
	// OpRegister records a member's own current addresses.
	OpRegister Op = "register"
	// OpPause and OpResume stop and restart automatic failover; OpResume
	// also clears an anti-flap pause.
	OpPause  Op = "pause"
	OpResume Op = "resume"
	// OpFlapPause records that anti-flap paused automatic failover, with
	// Reason saying why.
	OpFlapPause Op = "flap-pause"
	// OpSwitchoverBegin and OpSwitchoverEnd start and end an operator
	// switchover.
	OpSwitchoverBegin Op = "switchover-begin"
	OpSwitchoverEnd   Op = "switchover-end"
	// OpForget removes a member (the leader also removes it from raft).
	OpForget Op = "forget"
	// OpSettings replaces the group-wide settings.
	OpSettings Op = "settings"
	// OpHistory appends a history entry.
	OpHistory Op = "history"
)

// Command is one proposed change. Which fields matter depends on Op.
type Command struct {
	Op Op `json:"op"`
	// IfEpoch makes set-primary, promoted and switchover-* a compare-and-set:
	// the command applies only if State.Epoch == IfEpoch when it commits,
	// so a proposal made from a stale view is rejected (ErrStale), the same
	// way on every node.
	IfEpoch uint64 `json:"if_epoch"`
	// Epoch is the new epoch of set-primary (must exceed State.Epoch) and
	// the epoch a promoted command confirms.
	Epoch   uint64 `json:"epoch,omitempty"`
	Primary string `json:"primary,omitempty"`
	// Reason: set-primary's reason (initial, auto, switchover, handover),
	// flap-pause's explanation.
	Reason string `json:"reason,omitempty"`
	// Start: when the failover of set-primary started; when a member
	// registered. The proposer's clock: the FSM never reads a clock.
	Start      time.Time     `json:"start,omitzero"`
	Member     *Member       `json:"member,omitempty"`
	Node       string        `json:"node,omitempty"`
	Switchover *Switchover   `json:"switchover,omitempty"`
	Settings   *Settings     `json:"settings,omitempty"`
	Entry      *HistoryEntry `json:"entry,omitempty"`
	// ChosenReplID and ChosenOffset: set-primary's replication position
	// the leader chose Primary at (its report's master_replid and offset);
	// empty when it chose none (a holder, a switchover, the initial
	// primary, or an entry written before they existed).
	ChosenReplID string `json:"chosen_repl_id,omitempty"`
	ChosenOffset int64  `json:"chosen_offset,omitempty"`
	// ChosenKeys: for a holder (a Redis with keys at no position it can
	// prove), the keys its report held when the leader chose it; 0
	// otherwise.
	ChosenKeys int64 `json:"chosen_keys,omitempty"`
}

// Errors of Apply. They are returned wrapped; test with errors.Is.
var (
	// ErrStale: the command's IfEpoch is no longer the current epoch, or it
	// was otherwise decided from an outdated State.
	ErrStale = errors.New("authority: stale command")
	// ErrNoLeader: there is no raft leader to apply or verify with.
	ErrNoLeader = errors.New("authority: no leader")
	// ErrInvalid: the command is malformed or not allowed in the current state.
	ErrInvalid = errors.New("authority: invalid command")
	// ErrNotMember: the named node is not a member of the raft configuration.
	ErrNotMember = errors.New("authority: not a member")
)

// commandVersion is the first byte of every encoded command, so that the
// format can change while old entries stay readable.
const commandVersion byte = 1

// encodeCommand returns the log entry for c.
func encodeCommand(c Command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("authority: encode %s command: %w", c.Op, err)
	}
	return append([]byte{commandVersion}, b...), nil
}

// decodeCommand parses a log entry written by encodeCommand.
func decodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return Command{}, fmt.Errorf("%w: empty log entry", ErrInvalid)
	}
	if b[0] != commandVersion {
		return Command{}, fmt.Errorf("%w: command version %d, want %d", ErrInvalid, b[0], commandVersion)
	}
	var c Command
	if err := json.Unmarshal(b[1:], &c); err != nil {
		return Command{}, fmt.Errorf("%w: decode command: %v", ErrInvalid, err)
	}
	return c, nil
}
