package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// Message kinds failover sends through the Cluster. Decisions travel in the
// Raft log; gossip carries only the fast, disposable part: each sidecar's
// observation and opinion, sent at once on change and repeated as often
// as receivers need to keep it fresh (reportDue).
const (
	kindReport byte = 0x10 // best effort, on change and as freshness needs
)

// wireVersion prefixes every payload. A receiver drops other versions.
const wireVersion byte = 2

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
	ReplID         string       `json:"ri,omitempty"`
	// ReplID2 is master_replid2: the history the Redis was on before it
	// last became a primary (a holder pointed at itself on a history a
	// promotion left shows that history here only; primaryMayHold).
	ReplID2 string `json:"ri2,omitempty"`
	// ReplOffset2 is second_repl_offset: the Redis holds ReplID2 up to
	// the offset before it (forkHolders); 0 from an older sidecar.
	ReplOffset2 int64 `json:"ro2,omitempty"`
	Replicas    int   `json:"nr,omitempty"` // primary: connected replicas
	Keys        int64 `json:"k,omitempty"`  // DBSIZE; -1 unknown
}

// handover is the old primary's side of a switchover: its writes are
// paused and Offset is its replication offset after the pause, which the
// target must reach before it takes over.
type handover struct {
	Epoch  uint64 `json:"e"`
	To     string `json:"t"`
	Offset int64  `json:"o"`
}

// report is what every sidecar tells its peers about itself.
type report struct {
	Name         string     `json:"n"`
	Addr         string     `json:"a"`
	SentinelAddr string     `json:"sa,omitempty"`
	HTTPAddr     string     `json:"ha,omitempty"`
	Priority     int        `json:"p"`
	Epoch        uint64     `json:"e,omitempty"` // the committed epoch this sidecar has applied
	Obs          obsSummary `json:"o"`
	// The opinion: this sidecar sees SDownPrimary down at SDownEpoch.
	SDown        bool   `json:"sd,omitempty"`
	SDownPrimary string `json:"sdp,omitempty"`
	SDownEpoch   uint64 `json:"sde,omitempty"`
	// PrimaryDownMs is how long, in milliseconds, this sidecar has had no
	// valid reply from SDownPrimary; 0 while it answers. The primary's
	// sidecar fences once a quorum can no longer reach its Redis, even
	// while it still hears them, and releases only when enough reach it.
	PrimaryDownMs int64 `json:"pdm,omitempty"`
	// Empty: SDownPrimary's Redis came back empty at SDownEpoch (its own
	// sidecar's judgement): a failure, whatever the probes say.
	Empty bool `json:"em,omitempty"`
	// Unsure: this sidecar's Redis is a primary it has not yet judged
	// against the replicas (it may have come back empty).
	Unsure bool `json:"un,omitempty"`
	Fenced bool `json:"f,omitempty"`
	// CutOff: Fenced because this sidecar has had no majority contact for
	// fence_after (and as long since it started): its Redis takes no
	// writes, however well it answers PING (primaryLastGood).
	CutOff   bool      `json:"co,omitempty"`
	Ready    bool      `json:"rd,omitempty"`
	Handover *handover `json:"ho,omitempty"`
	// Gate: this sidecar runs a pre-promotion gate (hooks.pre_promote);
	// the leader waits for its Verdict before it commits it as primary.
	Gate    bool     `json:"g,omitempty"`
	Verdict *verdict `json:"v,omitempty"`
	// Known is the last offset this sidecar saw its own Redis at as a
	// synced replica, or as the committed primary (nextKnown), at
	// KnownEpoch, KnownAgoMs before the report was
	// sent: a peer that missed the reports in between (cut off) still
	// learns what data this node held (durableFloor).
	KnownEpoch  uint64 `json:"ke,omitempty"`
	KnownOffset int64  `json:"ko,omitempty"`
	KnownAgoMs  int64  `json:"ka,omitempty"`
	// KnownReplID and KnownKeys: the history and key count its Redis had
	// then ("" from a sidecar that does not send them).
	KnownReplID string `json:"kr,omitempty"`
	KnownKeys   int64  `json:"kk,omitempty"`
	// LedEpoch and LedReplID: the history this sidecar last saw
	// SDownPrimary's own sidecar vouch for its Redis leading, at LedEpoch
	// (its primaryMark), LedAgoMs before the report was sent. A leader
	// that cannot hear the primary's sidecar learns from it where the
	// primary's data went (primaryReplID).
	LedEpoch  uint64 `json:"le,omitempty"`
	LedReplID string `json:"lr,omitempty"`
	LedAgoMs  int64  `json:"la,omitempty"`
	// Unheard lists, sorted and comma-separated, the members whose
	// reports have not reached this sidecar within a report's lifetime
	// (unheardBy); "" while it hears them all. A Raft leader that cannot
	// promote anyone hands its leadership to a voter that hears members it
	// does not (handTo).
	Unheard string `json:"uh,omitempty"`
}

// verdict is a candidate's gate's answer about replacing Primary at Epoch.
type verdict struct {
	Primary string `json:"p"`
	Epoch   uint64 `json:"e"`
	Allowed bool   `json:"a,omitempty"`
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

// sameReport reports whether a and b say the same: everything but
// KnownAgoMs and LedAgoMs, which only date the Known and Led fields from
// the moment of sending (the receiver keeps the date it computed from the
// first).
func sameReport(a, b report) bool {
	if !ptrEqual(a.Handover, b.Handover) || !ptrEqual(a.Verdict, b.Verdict) {
		return false
	}
	a.Handover, b.Handover, a.Verdict, b.Verdict = nil, nil, nil, nil
	a.KnownAgoMs, b.KnownAgoMs, a.LedAgoMs, b.LedAgoMs = 0, 0, 0, 0
	return a == b
}

// ptrEqual reports whether a and b are both nil or point to equal values.
func ptrEqual[T comparable](a, b *T) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// reportDue reports whether a tick at now sends next, this sidecar's
// report, when prev was last sent at sentAt. A changed report goes at
// that tick; an unchanged one only as often as a receiver needs to keep
// it fresh: about three times per fresh period, so that one lost report
// leaves it fresh. At monitor.interval 100ms that is every
// second tick, which halves the reports every sidecar sends and
// receives at idle (the largest share of its idle work after Raft's
// heartbeats); from 200ms up it is every tick. Half an interval of slack
// keeps a tick that fires a little early from skipping a due report.
func reportDue(prev, next report, sentAt, now time.Time, interval, fresh time.Duration) bool {
	every := max(interval, fresh/3)
	return sentAt.IsZero() || !sameReport(prev, next) || now.Add(interval/2).Sub(sentAt) >= every
}
