package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Switchover hands the primary role to the replica named to, or to the best
// replica when to is "", without losing an acknowledged write. It commits
// the intent; the old primary's sidecar pauses writes and announces its
// offset; the target catches up to it and commits itself as the primary at
// the next epoch, then promotes like any new primary; the old primary is
// demoted and released. Any sidecar may be asked. Only registered members
// (sidecars holding the group key) can be targets. Anti-flap does not
// count switchovers.
func (f *Failover) Switchover(ctx context.Context, to string) (Configuration, error) {
	v := f.current()
	if !v.ready {
		return Configuration{}, ErrNotReady
	}
	st, err := f.verify(ctx)
	if err != nil {
		return Configuration{}, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	now := time.Now()
	switch {
	case st.Primary == "":
		return Configuration{}, ErrNoPrimary
	case st.Switchover != nil && now.Before(st.Switchover.Deadline), !st.Promoted:
		return Configuration{}, ErrBusy
	case to == st.Primary:
		return Configuration{}, fmt.Errorf("%w: %s is already the primary", ErrBadRequest, to)
	}
	if to != "" {
		if _, ok := st.Members[to]; !ok {
			return Configuration{}, fmt.Errorf("%w: %q is not a member of the group", ErrUnknownNode, to)
		}
	}
	if from, ok := v.peers[st.Primary]; !ok || !from.fresh(now, f.fresh) {
		return Configuration{}, fmt.Errorf("%w: no fresh report from the primary's sidecar %s", ErrNotReady, st.Primary)
	}
	// Lag does not exclude anyone here: the target catches up first. A
	// sidecar that gossip no longer counts alive (one that has just left,
	// as in a rolling restart) is no target, even while its last report
	// is still fresh: it could never promote.
	alive := f.cluster.Alive()
	members := map[string]peerView{}
	for name, p := range v.peers {
		if _, ok := st.Members[name]; ok && slices.Contains(alive, name) {
			members[name] = p
		}
	}
	ranked, excluded := rankCandidates(candidatesOf(members, now, f.fresh), st.Primary, math.MaxInt64, 0)
	i := 0
	if to != "" {
		i = slices.IndexFunc(ranked, func(n candidate) bool { return n.Name == to })
	}
	switch {
	case to != "" && i < 0 && excluded[to] == "":
		return Configuration{}, fmt.Errorf("%w: %q", ErrUnknownNode, to)
	case to != "" && i < 0:
		return Configuration{}, fmt.Errorf("%w: %s: %s", ErrNoCandidate, to, excluded[to])
	case len(ranked) == 0:
		return Configuration{}, fmt.Errorf("%w: %s", ErrNoCandidate, whyNot(excluded))
	}
	target := ranked[i].Name
	timeout := f.cfg.params(st.Settings, f.fresh).FailoverTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	deadline := now.Add(timeout)
	start := time.Now()
	f.log.Info("switchover starting", "epoch", st.Epoch, "primary", st.Primary, "peer", target)
	begun, err := f.apply(ctx, authority.Command{Op: authority.OpSwitchoverBegin, IfEpoch: st.Epoch,
		Switchover: &authority.Switchover{From: st.Primary, To: target, Epoch: st.Epoch, Deadline: deadline, Timeout: timeout}})
	if err != nil {
		if errors.Is(err, authority.ErrStale) || errors.Is(err, authority.ErrInvalid) {
			return Configuration{}, fmt.Errorf("%w: %w", ErrBusy, err)
		}
		return Configuration{}, err
	}
	fail := func(err error) (Configuration, error) {
		// Abandon: the old primary's sidecar releases its writes once the
		// intent is gone or its deadline passed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*f.cmdWait)
		defer cancel()
		if _, aerr := f.auth.Apply(actx, authority.Command{Op: authority.OpSwitchoverEnd, IfEpoch: st.Epoch}); aerr != nil {
			f.log.Debug("end switchover", "err", aerr)
		}
		e := HistoryEntry{Epoch: st.Epoch, Old: st.Primary, New: target, Reason: ReasonSwitchover, Result: resultFailure,
			Error: err.Error(), Start: start, Duration: time.Since(start)}
		if _, herr := f.auth.Apply(actx, authority.Command{Op: authority.OpHistory, Entry: &e}); herr != nil {
			f.log.Debug("record switchover failure", "err", herr)
		}
		f.m.failovers.WithLabelValues(resultFailure).Inc()
		f.m.failures.WithLabelValues(failSwitchover).Inc()
		f.log.Error("switchover failed", "peer", target, "err", err)
		return Configuration{}, fmt.Errorf("switchover to %s: %w", target, err)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		cur, ch := f.auth.Watch()
		switch {
		case cur.Index < begun.Index:
			// This node has not applied the intent yet.
		case cur.Epoch > st.Epoch && cur.Primary == target && cur.Promoted:
			f.log.Info("switchover done", "epoch", cur.Epoch, "primary", cur.Primary, "duration", time.Since(start))
			return configuration(cur, cur.Members[target].RedisAddr), nil
		case cur.Epoch > st.Epoch && cur.Primary != target:
			return Configuration{}, fmt.Errorf("switchover to %s: superseded by %s at epoch %d", target, cur.Primary, cur.Epoch)
		case cur.Epoch == st.Epoch && cur.Switchover == nil:
			return fail(errors.New("abandoned"))
		}
		select {
		case <-ch:
		case <-timer.C:
			return fail(fmt.Errorf("not done within %s", timeout.Round(time.Millisecond)))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// Handover runs a switchover to the best replica if this node is the
// primary, bounded by failover.shutdown_handover: SIGTERM and `vigil
// handover` call it so that a planned shutdown of the primary costs no
// down_after. On a replica's sidecar it returns at once.
func (f *Failover) Handover(ctx context.Context) error {
	st := f.current().state
	if st.Primary != f.self.Name || f.cfg.ShutdownHandover <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.ShutdownHandover)
	defer cancel()
	f.log.Info("handing the primary role over before shutdown", "epoch", st.Epoch)
	if _, err := f.Switchover(ctx, ""); err != nil {
		return fmt.Errorf("failover: handover: %w", err)
	}
	return nil
}

// Pause stops automatic failover group-wide. Failure detection and
// reporting go on.
func (f *Failover) Pause(ctx context.Context) (Configuration, error) {
	return f.applyOp(ctx, authority.Command{Op: authority.OpPause})
}

// Resume re-enables automatic failover group-wide, also after anti-flap
// paused it.
func (f *Failover) Resume(ctx context.Context) (Configuration, error) {
	return f.applyOp(ctx, authority.Command{Op: authority.OpResume})
}

func (f *Failover) applyOp(ctx context.Context, cmd authority.Command) (Configuration, error) {
	if !f.current().ready {
		return Configuration{}, ErrNotReady
	}
	st, err := f.apply(ctx, cmd)
	if err != nil {
		return Configuration{}, err
	}
	if st.Primary == "" {
		return configuration(st, ""), nil
	}
	return configuration(st, st.Members[st.Primary].RedisAddr), nil
}

// Forget removes node from the group through the leader: it stops being a
// voter and a member, so a decommissioned node no longer counts toward the
// majority.
func (f *Failover) Forget(ctx context.Context, node string) error {
	if node == f.self.Name || node == "" {
		return fmt.Errorf("%w: cannot forget %q", ErrBadRequest, node)
	}
	if _, err := f.applyOp(ctx, authority.Command{Op: authority.OpForget, Node: node}); err != nil {
		if errors.Is(err, authority.ErrNotMember) {
			return fmt.Errorf("%w: %q", ErrUnknownNode, node)
		}
		if errors.Is(err, authority.ErrInvalid) {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		return err
	}
	return nil
}

// SetSettings replaces the group-wide settings through the leader; every
// sidecar applies them without a restart. Zero fields fall back to the
// file's values.
func (f *Failover) SetSettings(ctx context.Context, s authority.Settings) error {
	var errs []error
	if s.DownAfter < 0 || (s.DownAfter > 0 && s.DownAfter <= f.cfg.FenceAfter) {
		errs = append(errs, fmt.Errorf("down_after (%s) must be longer than failover.fence_after (%s)", s.DownAfter, f.cfg.FenceAfter))
	}
	if s.Quorum < 0 {
		errs = append(errs, fmt.Errorf("quorum (%d) must not be negative", s.Quorum))
	}
	if s.ParallelSyncs < 0 {
		errs = append(errs, fmt.Errorf("parallel_syncs (%d) must not be negative", s.ParallelSyncs))
	}
	if s.MaxLagBytes < 0 {
		errs = append(errs, fmt.Errorf("max_lag_bytes (%d) must not be negative", s.MaxLagBytes))
	}
	if s.MinReplicas != nil && *s.MinReplicas < 0 {
		errs = append(errs, fmt.Errorf("min_replicas (%d) must not be negative", *s.MinReplicas))
	}
	if s.MaxFailovers < 0 || s.FlapWindow < 0 || s.FailoverTimeout < 0 {
		errs = append(errs, errors.New("max_failovers, flap_window and failover_timeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	_, err := f.applyOp(ctx, authority.Command{Op: authority.OpSettings, Settings: &s})
	return err
}
