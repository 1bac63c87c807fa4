package authority

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The forwarding RPC on the 0xF2 channel: a follower opens a stream to
// the leader, writes one JSON request, reads one JSON response and closes
// the stream. hashicorp/raft only applies on the leader, hence this.
// Any member answers kindPosition: where its raft log ends, which a
// member without raft state asks before it votes (refuseAmnesiacVote).

type requestKind string

const (
	kindApply    requestKind = "apply"
	kindVerify   requestKind = "verify"
	kindPosition requestKind = "position"
)

// request is one forwarded call.
type request struct {
	Kind    requestKind `json:"kind"`
	Command *Command    `json:"command,omitempty"`
	// TimeoutMS is how long the caller waits; the leader gives up sooner.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// Error classes a response carries, so the caller's errors.Is works.
const (
	errClassStale     = "stale"
	errClassInvalid   = "invalid"
	errClassNotMember = "not_member"
	errClassNotLeader = "not_leader"
	errClassOther     = "other"
)

type response struct {
	State      *State       `json:"state,omitempty"`
	Position   *logPosition `json:"position,omitempty"`
	Error      string       `json:"error,omitempty"`
	ErrorClass string       `json:"error_class,omitempty"`
}

// maxMessage bounds a request or response (the state is a few KiB).
const maxMessage = 4 << 20

// remoteError is an error the leader returned.
type remoteError struct {
	msg  string
	kind error
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.kind }

func classOf(err error) string {
	switch {
	case errors.Is(err, ErrStale):
		return errClassStale
	case errors.Is(err, ErrNotMember):
		return errClassNotMember
	case errors.Is(err, ErrInvalid):
		return errClassInvalid
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, ErrNoLeader):
		return errClassNotLeader
	default:
		return errClassOther
	}
}

// forward sends req to the leader and returns its answer.
func (a *Authority) forward(ctx context.Context, r *raft.Raft, req request) (State, error) {
	addr, id := r.LeaderWithID()
	if id == "" {
		return State{}, errRetry{errors.New("no leader known")}
	}
	if a, err := a.addrs.ServerAddr(id); err == nil {
		addr = a
	}
	layer := a.rpc.Load()
	if layer == nil {
		return State{}, errRetry{errors.New("rpc layer not running")}
	}
	// One attempt gives a leader that does not answer two heartbeat
	// timeouts, the most its followers take to stop following it (raft
	// picks from one to two): a dial to a leader cut off by dropped
	// packets fails only at its timeout, and one that took the whole wait
	// kept the caller from the leader elected meanwhile (chaos seed 16844,
	// N=5: a re-point's Verify dialled the cut-off leader for 1.4 s and
	// held back the promotion behind it). Only a verification, which
	// changes nothing, is cut short whole: an apply sent may have
	// committed, so its answer is waited for.
	wait := deadline(ctx)
	attempt := wait
	if hb := a.cfg.RaftHeartbeatTimeout; hb > 0 {
		attempt = min(attempt, 2*hb)
	}
	if req.Kind == kindVerify {
		wait = attempt
	}
	req.TimeoutMS = wait.Milliseconds()
	conn, err := layer.dial(string(addr), attempt)
	if err != nil {
		return State{}, errRetry{fmt.Errorf("dial leader %s at %s: %w", id, addr, err)}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(wait))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		// Nothing reached the leader's handler unless the whole request did;
		// a request the leader cannot decode is never applied.
		return State{}, errRetry{fmt.Errorf("send to leader %s: %w", id, err)}
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(conn, maxMessage)).Decode(&resp); err != nil {
		if req.Kind == kindVerify {
			return State{}, errRetry{fmt.Errorf("read from leader %s: %w", id, err)}
		}
		return State{}, fmt.Errorf("authority: %s forwarded to %s: outcome unknown: %w", req.Kind, id, err)
	}
	if resp.Error != "" {
		switch resp.ErrorClass {
		case errClassNotLeader:
			return State{}, errRetry{fmt.Errorf("%s: %s", id, resp.Error)}
		case errClassStale:
			return derefState(resp.State), remoteError{resp.Error, ErrStale}
		case errClassInvalid:
			return derefState(resp.State), remoteError{resp.Error, ErrInvalid}
		case errClassNotMember:
			return derefState(resp.State), remoteError{resp.Error, ErrNotMember}
		default:
			return derefState(resp.State), fmt.Errorf("authority: %s on leader %s: %s", req.Kind, id, resp.Error)
		}
	}
	if resp.State == nil {
		return State{}, fmt.Errorf("authority: %s on leader %s: empty response", req.Kind, id)
	}
	a.fsm.adopt(*resp.State)
	return *resp.State, nil
}

func derefState(s *State) State {
	if s == nil {
		return State{}
	}
	return *s
}

// serveRPC answers forwarded requests until ctx ends (the caller closes l).
func (a *Authority) serveRPC(ctx context.Context, l *trackedLayer, wg *sync.WaitGroup) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			a.logger.Warn("accept forwarded request", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryInterval):
			}
			continue
		}
		wg.Go(func() { a.handleRPC(ctx, conn) })
	}
}

func (a *Authority) handleRPC(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(transportIOWait))
	var req request
	if err := json.NewDecoder(io.LimitReader(conn, maxMessage)).Decode(&req); err != nil {
		a.logger.Debug("bad forwarded request", "peer", conn.RemoteAddr().String(), "err", err)
		return
	}
	if req.Kind == kindPosition {
		var resp response
		if r := a.raft.Load(); r == nil {
			resp.Error, resp.ErrorClass = "raft is not running", errClassOther
		} else if pos, err := lastPosition(r); err != nil {
			resp.Error, resp.ErrorClass = err.Error(), errClassOther
		} else {
			resp.Position = &pos
		}
		_ = conn.SetWriteDeadline(time.Now().Add(transportIOWait))
		if werr := json.NewEncoder(conn).Encode(resp); werr != nil {
			a.logger.Debug("answer a position request", "peer", conn.RemoteAddr().String(), "err", werr)
		}
		return
	}
	wait := time.Duration(req.TimeoutMS) * time.Millisecond
	if wait <= 0 || wait > defaultDeadline {
		wait = defaultDeadline
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_ = conn.SetDeadline(time.Now().Add(wait + time.Second))

	var (
		st  State
		err error
	)
	r := a.raft.Load()
	switch {
	case r == nil || r.State() != raft.Leader:
		err = fmt.Errorf("%s is not the leader: %w", a.deps.Self.Name, raft.ErrNotLeader)
	case req.Kind == kindApply && req.Command != nil:
		st, err = a.applyLeader(ctx, r, *req.Command)
	case req.Kind == kindVerify:
		st, err = a.verifyLeader(ctx, r)
	default:
		err = fmt.Errorf("%w: forwarded request kind %q", ErrInvalid, req.Kind)
	}
	var resp response
	if err != nil {
		var re errRetry
		if errors.As(err, &re) {
			err = fmt.Errorf("%w: %v", ErrNoLeader, re.err)
		}
		resp.Error, resp.ErrorClass = err.Error(), classOf(err)
	}
	if err == nil || resp.ErrorClass == errClassStale {
		resp.State = &st
	}
	if werr := json.NewEncoder(conn).Encode(resp); werr != nil {
		a.logger.Debug("answer forwarded request", "peer", conn.RemoteAddr().String(), "err", werr)
	}
}

// lastPosition is where r's log ends, as raft compares logs in an election:
// its last entry, or its last snapshot when that is later.
func lastPosition(r *raft.Raft) (logPosition, error) {
	stats := r.Stats()
	var v [4]uint64
	for i, key := range []string{"last_log_term", "last_log_index", "last_snapshot_term", "last_snapshot_index"} {
		n, err := strconv.ParseUint(stats[key], 10, 64)
		if err != nil {
			return logPosition{}, fmt.Errorf("authority: raft stats %s %q: %w", key, stats[key], err)
		}
		v[i] = n
	}
	log, snap := logPosition{Term: v[0], Index: v[1]}, logPosition{Term: v[2], Index: v[3]}
	if snap.Index > log.Index {
		return snap, nil
	}
	return log, nil
}

// peerPosition asks the member whose gossip address is addr where its raft
// log ends, waiting at most wait. A member that does not answer with a
// position (down, cut off, or older and without kindPosition) is an error.
func peerPosition(layer *trackedLayer, addr string, wait time.Duration) (logPosition, error) {
	conn, err := layer.dial(addr, wait)
	if err != nil {
		return logPosition{}, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	if err := json.NewEncoder(conn).Encode(request{Kind: kindPosition, TimeoutMS: wait.Milliseconds()}); err != nil {
		return logPosition{}, fmt.Errorf("send to %s: %w", addr, err)
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(conn, maxMessage)).Decode(&resp); err != nil {
		return logPosition{}, fmt.Errorf("read from %s: %w", addr, err)
	}
	if resp.Error != "" || resp.Position == nil {
		return logPosition{}, fmt.Errorf("%s answered no position: %q", addr, resp.Error)
	}
	return *resp.Position, nil
}
