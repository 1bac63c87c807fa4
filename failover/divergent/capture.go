package divergent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Errors Capture wraps.
var (
	// ErrBacklogShort means the old primary's backlog no longer reaches back
	// to the fork point: the first CaptureResult.Missing bytes after the fork
	// cannot be recovered. Nothing is captured then, because the backlog's
	// first byte is usually in the middle of a command.
	ErrBacklogShort = errors.New("divergent: replication backlog no longer reaches the fork point")
	// ErrOtherHistory means the node no longer holds the old history at
	// all (it restarted, or was already resynced): nothing can be recovered.
	ErrOtherHistory = errors.New("divergent: node does not hold the old replication history")
	// ErrNotPrimary means the node is no longer a primary: it was demoted
	// already and its divergent writes are gone.
	ErrNotPrimary = errors.New("divergent: node is not a primary")
)

// scanBytes is how much of the stream before the fork Capture reads to
// learn which database was selected at the fork: the replication stream
// names the database only when it changes (SELECT), so the first
// divergent commands may rely on a SELECT sent before the fork.
const scanBytes = 1 << 20

// CaptureResult is the divergent tail of a former primary.
type CaptureResult struct {
	// Addr is the former primary's address.
	Addr string
	// Fork is where the histories split.
	Fork Fork
	// EndOffset is the former primary's master_repl_offset when the capture
	// started: Stream holds offsets Fork.Offset+1 through EndOffset.
	EndOffset int64
	// Stream is the divergent replication stream exactly as the former
	// primary sent it, pings and acknowledgement requests included.
	Stream []byte
	// StartDB is the database selected at the fork point, or -1 when the
	// scanned stream before the fork does not say (see scanBytes).
	StartDB int
	// Missing is how many divergent bytes the backlog no longer holds
	// (with ErrBacklogShort), or all of them (with ErrOtherHistory when the
	// length is known).
	Missing int64
	// BacklogFirst is the oldest offset the backlog held.
	BacklogFirst int64
	// OffsetAfter is master_repl_offset read again after the capture, -1
	// when unknown. Beyond EndOffset, the stream moved on: writes were not
	// paused (those after EndOffset are not in Stream), or the node pinged
	// replicas still attached to it (every repl-ping-replica-period).
	OffsetAfter int64
}

// Bytes is the length of the divergent history, captured or not.
func (r CaptureResult) Bytes() int64 { return max(r.EndOffset-r.Fork.Offset, 0) }

// Capture reads from the former primary at addr every byte of replication
// stream it produced after fork, up to its master_repl_offset at the time
// of the call, the way a replica continuing from the fork would.
//
// The caller must have paused the node's writes (CLIENT PAUSE WRITE) so
// its offset stands still; Capture stops at the offset it read first, not
// on a timeout, so writes it accepted later would be missed (OffsetAfter
// says so). ctx bounds the whole capture.
//
// On the wire: AUTH when configured, INFO replication, REPLCONF
// listening-port 0, REPLCONF capa eof capa psync2, PSYNC <replid>
// <offset>; it expects +CONTINUE and reads the backlog. It never sends
// REPLCONF ACK: Redis counts a new replica as fresh for min-replicas from
// the PSYNC itself for min-replicas-max-lag seconds (repl_ack_time is set
// when the partial resync is accepted), and an ACK would extend that and
// move the replica's acknowledged offset forward, so WAIT on the old
// primary would count this connection. Since the caller holds writes
// paused, no write can be admitted in that window; the connection is
// closed as soon as the tail is read. An answer of +FULLRESYNC closes the
// connection without reading the RDB.
func Capture(ctx context.Context, addr string, opts RedisOptions, fork Fork) (CaptureResult, error) {
	res := CaptureResult{Addr: addr, Fork: fork, StartDB: -1, OffsetAfter: -1, EndOffset: fork.Offset}
	if fork.IsZero() || fork.Offset < 0 {
		return res, fmt.Errorf("divergent: capture from %s: no fork point", addr)
	}
	c, err := dial(ctx, addr, opts)
	if err != nil {
		return res, fmt.Errorf("divergent: capture: %w", err)
	}
	defer c.close()
	ri, err := c.replInfo(ctx)
	if err != nil {
		return res, fmt.Errorf("divergent: capture from %s: %w", addr, err)
	}
	res.BacklogFirst = ri.backlogFirst
	if ri.role != "master" {
		return res, fmt.Errorf("divergent: capture from %s (role %s): %w", addr, ri.role, ErrNotPrimary)
	}
	fork = ri.branchFrom(fork)
	res.Fork, res.EndOffset = fork, fork.Offset
	if !ri.holds(fork) {
		return res, fmt.Errorf("divergent: capture from %s: replid %s (replid2 %s up to %d), fork %s at %d: %w",
			addr, ri.replID, ri.replID2, ri.secondOffset, fork.OldReplID, fork.Offset, ErrOtherHistory)
	}
	res.EndOffset = ri.offset
	if ri.offset < fork.Offset {
		return res, fmt.Errorf("divergent: capture from %s: its offset %d is before the fork at %d: %w",
			addr, ri.offset, fork.Offset, ErrOtherHistory)
	}
	if ri.offset == fork.Offset {
		res.OffsetAfter = ri.offset
		return res, nil // nothing diverged
	}
	start := fork.PSYNCOffset()
	if !ri.inBacklog(start) {
		res.Missing = res.Bytes()
		if ri.backlogActive && ri.backlogFirst > start {
			res.Missing = min(ri.backlogFirst-start, res.Bytes())
		}
		return res, fmt.Errorf("divergent: capture from %s: fork at %d, backlog starts at %d, %d of %d divergent bytes lost: %w",
			addr, fork.Offset, ri.backlogFirst, res.Missing, res.Bytes(), ErrBacklogShort)
	}
	from := max(start-scanBytes, ri.backlogFirst)
	if !ri.holds(Fork{OldReplID: fork.OldReplID, Offset: from - 1}) {
		from = start
	}

	for _, cmd := range [][][]byte{
		{[]byte("REPLCONF"), []byte("listening-port"), []byte("0")},
		{[]byte("REPLCONF"), []byte("capa"), []byte("eof"), []byte("capa"), []byte("psync2")},
	} {
		if _, err := c.do(ctx, cmd...); err != nil {
			return res, fmt.Errorf("divergent: capture from %s: %s: %w", addr, cmd[1], err)
		}
	}
	if err := c.send([]byte("PSYNC"), []byte(fork.OldReplID), strconv.AppendInt(nil, from, 10)); err != nil {
		return res, fmt.Errorf("divergent: capture: %w", err)
	}
	var ans string
	for ans == "" { // a primary may send newlines while it prepares
		if ans, err = c.line(ctx); err != nil {
			return res, fmt.Errorf("divergent: capture from %s: psync: %w", addr, err)
		}
	}
	switch {
	case strings.HasPrefix(ans, "+CONTINUE"):
	case strings.HasPrefix(ans, "+FULLRESYNC"):
		// The backlog moved between INFO and PSYNC. Do not read the RDB.
		c.close()
		res.Missing = res.Bytes()
		if ri2, err := infoOnce(ctx, addr, opts); err == nil {
			res.BacklogFirst = ri2.backlogFirst
			if ri2.backlogActive && ri2.backlogFirst > start {
				res.Missing = min(ri2.backlogFirst-start, res.Bytes())
			}
		}
		return res, fmt.Errorf("divergent: capture from %s: psync %d answered %q, %d of %d divergent bytes lost: %w",
			addr, from, ans, res.Missing, res.Bytes(), ErrBacklogShort)
	default:
		return res, fmt.Errorf("divergent: capture from %s: psync %d answered %q", addr, from, ans)
	}

	buf := make([]byte, ri.offset-from+1)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return res, fmt.Errorf("divergent: capture from %s: read offsets %d-%d: %w", addr, from, ri.offset, c.wrapErr(ctx, err))
	}
	c.close()
	pre := buf[:start-from]
	res.Stream = buf[start-from:]
	if db, ok := selectedAtEnd(pre); ok {
		res.StartDB = db
	}
	if _, err := splitStream(res.Stream, start); err != nil {
		return res, fmt.Errorf("divergent: capture from %s: %w", addr, err)
	}
	if ri2, err := infoOnce(ctx, addr, opts); err == nil {
		res.OffsetAfter = ri2.offset
	}
	return res, nil
}

// selectPrefix is how Redis writes a SELECT into the replication stream
// (shared.select in server.c).
var selectPrefix = []byte("*2\r\n$6\r\nSELECT\r\n$")

// selectedAtEnd finds the database selected at the end of pre, a piece of
// stream that ends on a command boundary but may start inside a command:
// the last SELECT from which the rest of pre parses as whole commands
// ending exactly at its end.
func selectedAtEnd(pre []byte) (int, bool) {
	end := len(pre)
	for end > 0 {
		i := bytes.LastIndex(pre[:end], selectPrefix)
		if i < 0 {
			return 0, false
		}
		end = i
		args, n, err := parseCommand(pre[i:])
		if err != nil || len(args) != 2 {
			continue
		}
		db, err := strconv.Atoi(string(args[1]))
		if err != nil || db < 0 {
			continue
		}
		if _, err := splitStream(pre[i+n:], 0); err == nil {
			return db, true
		}
	}
	return 0, false
}

// command is one command of a replication stream.
type command struct {
	offset int64    // replication offset of its first byte
	raw    []byte   // exactly as in the stream
	args   [][]byte // slices of raw
}

func (c command) is(name string) bool { return strings.EqualFold(string(c.args[0]), name) }

// splitStream cuts a stream that starts and ends on command boundaries
// into commands; first is the offset of its first byte.
func splitStream(b []byte, first int64) ([]command, error) {
	var out []command
	pos := 0
	for pos < len(b) {
		args, n, err := parseCommand(b[pos:])
		if err != nil {
			return nil, fmt.Errorf("stream at offset %d: %w", first+int64(pos), err)
		}
		out = append(out, command{offset: first + int64(pos), raw: b[pos : pos+n : pos+n], args: args})
		pos += n
	}
	return out, nil
}
