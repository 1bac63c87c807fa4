package failover

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-redis/vigil/monitor"
)

// Message kinds failover sends through the Cluster. They sit in a range of
// their own so other users of the gossip layer can pick other values.
const (
	kindReport      byte = 0x10 // best effort, every interval and on change
	kindVoteRequest byte = 0x11 // reliable, candidate -> every known peer
	kindVoteReply   byte = 0x12 // reliable, voter -> candidate
	kindConfig      byte = 0x13 // reliable + best effort, new configuration
	kindCall        byte = 0x14 // reliable, operator request forwarded to the sidecar that must act
	kindCallReply   byte = 0x15 // reliable, its answer
)

// wireVersion prefixes every payload. A receiver drops other versions.
const wireVersion byte = 1

// maxPayload bounds what a decoder accepts; real messages are far smaller.
const maxPayload = 64 << 10

// Errors of the decoder; each dropped message is counted by reason.
var (
	errEmpty     = errors.New("failover: empty message")
	errVersion   = errors.New("failover: unknown message version")
	errTooLarge  = errors.New("failover: message too large")
	errMalformed = errors.New("failover: malformed message")
)

// obsSummary is the part of a monitor.Observation peers need.
type obsSummary struct {
	Reachable      bool         `json:"r,omitempty"`
	Alive          bool         `json:"al,omitempty"`
	Role           monitor.Role `json:"ro,omitempty"`
	MasterAddr     string       `json:"m,omitempty"`
	LinkUp         bool         `json:"l,omitempty"`
	Synced         bool         `json:"sy,omitempty"`
	SyncInProgress bool         `json:"sp,omitempty"`
	Offset         int64        `json:"o,omitempty"`
	RunID          string       `json:"id,omitempty"`
	Replicas       int          `json:"nr,omitempty"` // primary: connected replicas
}

// report is what every sidecar tells its peers about itself.
type report struct {
	Name         string        `json:"n"`
	Addr         string        `json:"a"`
	SentinelAddr string        `json:"sa,omitempty"`
	HTTPAddr     string        `json:"ha,omitempty"`
	Priority     int           `json:"p"`
	Config       Configuration `json:"c"`
	Obs          obsSummary    `json:"o"`
	// The opinion: this sidecar sees SDownPrimary down at SDownEpoch.
	SDown        bool   `json:"sd,omitempty"`
	SDownPrimary string `json:"sdp,omitempty"`
	SDownEpoch   uint64 `json:"sde,omitempty"`
	// PrimaryDownMs is how long, in milliseconds, this sidecar has had no
	// valid reply from SDownPrimary; 0 while it answers. The primary's
	// sidecar fences when a majority can no longer reach its Redis, even
	// while it still hears them.
	PrimaryDownMs int64  `json:"pdm,omitempty"`
	Fenced        bool   `json:"f,omitempty"`
	Ready         bool   `json:"rd,omitempty"`
	VotedEpoch    uint64 `json:"ve,omitempty"`
	// Switching names the replica this sidecar's primary is handing over
	// to in a planned switchover; voters grant that replica's switchover
	// election only while the current primary's sidecar says so.
	Switching string `json:"sw,omitempty"`
}

// voteRequest asks a peer for its vote for Candidate at Epoch.
type voteRequest struct {
	Epoch         uint64 `json:"e"`
	Candidate     string `json:"c"`
	CandidateAddr string `json:"ca"`
	// Primary is the primary being replaced and PrimaryEpoch the epoch of
	// the configuration that installed it; "" for an initial election.
	Primary      string `json:"p,omitempty"`
	PrimaryEpoch uint64 `json:"pe,omitempty"`
	Reason       string `json:"r"` // auto, switchover, initial
}

// voteReply answers a voteRequest.
type voteReply struct {
	Epoch     uint64 `json:"e"`
	Candidate string `json:"c"`
	Granted   bool   `json:"g,omitempty"`
	Why       string `json:"w,omitempty"` // why the vote was refused
	// Seen is the highest epoch the voter knows, so a candidate that lost
	// for being behind starts its next try above it.
	Seen uint64 `json:"s,omitempty"`
}

// Operations of a call.
const (
	opSwitchover = "switchover" // to the current primary's sidecar: coordinate a switchover
	opPromote    = "promote"    // to the target's sidecar: catch up, win an election, promote
	opForget     = "forget"     // to every peer: drop Node from the known set
)

// call is an operator request forwarded to the sidecar that must act.
type call struct {
	ID      uint64 `json:"id"`
	Op      string `json:"op"`
	Node    string `json:"node,omitempty"`    // switchover: target ("" = best); forget: the node
	Primary string `json:"primary,omitempty"` // promote: the primary being replaced
	Epoch   uint64 `json:"epoch,omitempty"`   // promote: the primary's configuration epoch
	Offset  int64  `json:"offset,omitempty"`  // promote: the primary's offset after pausing writes
}

// callReply answers a call.
type callReply struct {
	ID     uint64        `json:"id"`
	Err    string        `json:"err,omitempty"`
	Config Configuration `json:"config"`
}

// encode prefixes the JSON encoding of v with the wire version.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of basic types are encoded here.
		panic(fmt.Sprintf("failover: encode %T: %v", v, err))
	}
	return append([]byte{wireVersion}, b...)
}

// decode checks the version and size and parses b into v.
func decode(b []byte, v any) error {
	if len(b) == 0 {
		return errEmpty
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w %d", errVersion, b[0])
	}
	if len(b) > maxPayload {
		return fmt.Errorf("%w: %d bytes", errTooLarge, len(b))
	}
	if err := json.Unmarshal(b[1:], v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return nil
}

func validName(s string) bool { return s != "" && len(s) <= 255 }

func decodeReport(b []byte) (report, error) {
	var r report
	if err := decode(b, &r); err != nil {
		return report{}, err
	}
	if !validName(r.Name) || len(r.Addr) > 1024 {
		return report{}, fmt.Errorf("%w: report without a valid name", errMalformed)
	}
	return r, nil
}

func decodeVoteRequest(b []byte) (voteRequest, error) {
	var r voteRequest
	if err := decode(b, &r); err != nil {
		return voteRequest{}, err
	}
	if r.Epoch == 0 || !validName(r.Candidate) {
		return voteRequest{}, fmt.Errorf("%w: vote request without epoch or candidate", errMalformed)
	}
	switch r.Reason {
	case ReasonAuto, ReasonSwitchover, ReasonInitial:
	default:
		return voteRequest{}, fmt.Errorf("%w: vote request reason %q", errMalformed, r.Reason)
	}
	return r, nil
}

func decodeVoteReply(b []byte) (voteReply, error) {
	var r voteReply
	if err := decode(b, &r); err != nil {
		return voteReply{}, err
	}
	if r.Epoch == 0 || !validName(r.Candidate) {
		return voteReply{}, fmt.Errorf("%w: vote reply without epoch or candidate", errMalformed)
	}
	return r, nil
}

func decodeConfig(b []byte) (Configuration, error) {
	var c Configuration
	if err := decode(b, &c); err != nil {
		return Configuration{}, err
	}
	if c.Epoch == 0 || !validName(c.Primary) || c.PrimaryAddr == "" {
		return Configuration{}, fmt.Errorf("%w: configuration without epoch or primary", errMalformed)
	}
	return c, nil
}

func decodeCall(b []byte) (call, error) {
	var c call
	if err := decode(b, &c); err != nil {
		return call{}, err
	}
	switch c.Op {
	case opSwitchover, opPromote, opForget:
		if c.ID == 0 {
			return call{}, fmt.Errorf("%w: call without id", errMalformed)
		}
	default:
		return call{}, fmt.Errorf("%w: call op %q", errMalformed, c.Op)
	}
	return c, nil
}

func decodeCallReply(b []byte) (callReply, error) {
	var c callReply
	if err := decode(b, &c); err != nil {
		return callReply{}, err
	}
	if c.ID == 0 {
		return callReply{}, fmt.Errorf("%w: call reply without id", errMalformed)
	}
	return c, nil
}
