package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// envelopeVersion is the only wire format this package speaks. A receiver
// drops other versions rather than guessing, so a future format can be rolled
// out by sending both for a while.
const envelopeVersion = 1

// envelopeHeader is the fixed part: version, kind, name length, incarnation,
// sequence. The name sits between the name length and the incarnation.
const envelopeHeader = 1 + 1 + 1 + 8 + 8

// maxNameLen is the longest node name that fits the one-byte length field.
const maxNameLen = 255

var (
	errTruncated = errors.New("gossip: truncated envelope")
	errVersion   = errors.New("gossip: unknown envelope version")
	errNoName    = errors.New("gossip: envelope without sender")
)

// envelope wraps every user message so a receiver knows who sent it and can
// drop replays.
//
// Wire layout (big endian):
//
//	version(1) kind(1) nameLen(1) name(nameLen) incarnation(8) seq(8) payload(rest)
type envelope struct {
	Version     byte
	Kind        byte
	From        string
	Incarnation uint64 // sender's start, unique per process lifetime
	Seq         uint64 // per-sender, per-incarnation, increasing
	Payload     []byte // aliases the decoded buffer; copy before keeping
}

// appendEnvelope appends the encoding of e to dst. e.From must be 1 to
// maxNameLen bytes long (New checks the node name).
func appendEnvelope(dst []byte, e envelope) []byte {
	dst = append(dst, envelopeVersion, e.Kind, byte(len(e.From)))
	dst = append(dst, e.From...)
	dst = binary.BigEndian.AppendUint64(dst, e.Incarnation)
	dst = binary.BigEndian.AppendUint64(dst, e.Seq)
	return append(dst, e.Payload...)
}

// decodeEnvelope parses b. The returned Payload aliases b.
func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < envelopeHeader {
		return e, fmt.Errorf("%w: %d bytes", errTruncated, len(b))
	}
	e.Version = b[0]
	if e.Version != envelopeVersion {
		return e, fmt.Errorf("%w %d", errVersion, e.Version)
	}
	e.Kind = b[1]
	n := int(b[2])
	if n == 0 {
		return e, errNoName
	}
	if len(b) < envelopeHeader+n {
		return e, fmt.Errorf("%w: %d bytes with a %d-byte name", errTruncated, len(b), n)
	}
	e.From = string(b[3 : 3+n])
	rest := b[3+n:]
	e.Incarnation = binary.BigEndian.Uint64(rest[0:8])
	e.Seq = binary.BigEndian.Uint64(rest[8:16])
	e.Payload = rest[16:]
	return e, nil
}

// replayWindowSize is how far out of order a message may arrive and still be
// accepted. Reliable (TCP) and best-effort (UDP) messages share one sequence
// and concurrent sends race, so strict "greater than the last" would drop
// legitimate messages; a sliding window (as in IPsec and DTLS) rejects every
// duplicate while tolerating that reordering.
const replayWindowSize = 64

// replayWindow remembers which sequence numbers of one sender incarnation
// were accepted.
type replayWindow struct {
	incarnation uint64
	max         uint64 // highest accepted sequence
	seen        uint64 // bit i set: max-i was accepted
}

// accept reports whether (inc, seq) is new and records it if so. Messages from
// an older incarnation, duplicates, and messages more than replayWindowSize
// behind the newest are refused.
func (w *replayWindow) accept(inc, seq uint64) bool {
	switch {
	case inc < w.incarnation:
		return false
	case inc > w.incarnation || w.seen == 0:
		// A restarted sender starts a fresh window.
		w.incarnation, w.max, w.seen = inc, seq, 1
		return true
	case seq > w.max:
		shift := seq - w.max
		if shift >= replayWindowSize {
			w.seen = 1
		} else {
			w.seen = w.seen<<shift | 1
		}
		w.max = seq
		return true
	}
	behind := w.max - seq
	if behind >= replayWindowSize {
		return false
	}
	bit := uint64(1) << behind
	if w.seen&bit != 0 {
		return false
	}
	w.seen |= bit
	return true
}
