package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// Switchover hands the primary role to the replica named to, or to the best
// replica when to is "", without losing an acknowledged write: writes are
// paused on the primary, the target catches up to the primary's offset, wins
// an election at a new epoch and is promoted, the old primary is demoted and
// released. Any sidecar may be asked; it forwards the request to the current
// primary's sidecar, which coordinates. The cooldown does not apply.
func (f *Failover) Switchover(ctx context.Context, to string) (Configuration, error) {
	f.mu.Lock()
	c, ready := f.conf, f.ready
	f.mu.Unlock()
	switch {
	case !ready:
		return Configuration{}, ErrNotReady
	case c.Primary == "":
		return Configuration{}, ErrNoPrimary
	case c.Primary == f.self.Name:
		return f.coordinateSwitchover(ctx, to)
	}
	r, err := f.call(ctx, c.Primary, call{Op: opSwitchover, Node: to})
	if err != nil {
		return Configuration{}, err
	}
	f.mu.Lock()
	f.adoptLocked(r.Config, c.Primary)
	f.mu.Unlock()
	return r.Config, nil
}

// coordinateSwitchover runs a switchover on the current primary's sidecar.
func (f *Failover) coordinateSwitchover(ctx context.Context, to string) (Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SwitchoverTimeout)
	defer cancel()
	now := time.Now()
	f.mu.Lock()
	c := f.conf
	var err error
	var target candidate
	switch {
	case c.Primary != f.self.Name:
		err = fmt.Errorf("%w: %s is not the primary", ErrBadRequest, f.self.Name)
	case f.inFailover || f.switchTarget != "":
		err = ErrBusy
	case !f.localUpLocked(now) || f.obs.Role != "master":
		err = fmt.Errorf("%w: the local Redis is not a reachable primary", ErrBadRequest)
	}
	if err == nil {
		// Lag does not exclude anyone here: the target catches up first.
		ranked, excluded := rankCandidates(f.candidatesLocked(now), c.Primary, math.MaxInt64)
		i := 0
		if to != "" {
			i = slices.IndexFunc(ranked, func(n candidate) bool { return n.Name == to })
		}
		switch {
		case to != "" && i < 0 && excluded[to] == "":
			err = fmt.Errorf("%w: %q", ErrUnknownNode, to)
		case to != "" && i < 0:
			err = fmt.Errorf("%w: %s: %s", ErrNoCandidate, to, excluded[to])
		case len(ranked) == 0:
			err = fmt.Errorf("%w: %s", ErrNoCandidate, whyNot(excluded))
		default:
			target = ranked[i]
		}
	}
	if err != nil {
		f.mu.Unlock()
		return Configuration{}, err
	}
	f.switchTarget = target.Name
	rep := encode(f.reportLocked())
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.switchTarget = ""
		f.mu.Unlock()
		f.poke()
	}()
	start := time.Now()
	f.log.Info("switchover starting", "epoch", c.Epoch, "peer", target.Name)

	// Voters grant the target's election only while this sidecar's report
	// names it: make sure they have it before the target asks.
	f.cluster.Broadcast(kindReport, rep)
	rctx, rcancel := context.WithTimeout(ctx, f.cfg.ElectionTimeout)
	_ = f.cluster.BroadcastReliable(rctx, kindReport, rep)
	rcancel()

	fail := func(err error) (Configuration, error) {
		f.m.failovers.WithLabelValues(resultFailure).Inc()
		f.m.failures.WithLabelValues(failSwitchover).Inc()
		if f.hist != nil {
			_ = f.hist.add(HistoryEntry{Epoch: c.Epoch, Old: f.self.Name, New: target.Name, Reason: ReasonSwitchover,
				Start: start, Duration: time.Since(start), Result: resultFailure, Error: err.Error()})
		}
		f.log.Error("switchover failed", "peer", target.Name, "err", err)
		return Configuration{}, fmt.Errorf("switchover to %s: %w", target.Name, err)
	}

	// From here no write is acknowledged by this primary.
	if err := f.pauseWrites(ctx, f.cfg.SwitchoverTimeout); err != nil {
		return fail(err)
	}
	offset, err := f.localOffset(ctx)
	if err != nil {
		f.release(ctx)
		return fail(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, f.cfg.SwitchoverTimeout*3/4)
	r, err := f.call(cctx, target.Name, call{Op: opPromote, Primary: f.self.Name, Epoch: c.Epoch, Offset: offset})
	ccancel()
	var next Configuration
	if err == nil {
		next = r.Config
	} else {
		// The target may have promoted although its answer was lost;
		// writes stay paused until that is ruled out.
		deadline := time.Now().Add(2 * f.cfg.ElectionTimeout)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			f.mu.Lock()
			cur := f.conf
			f.mu.Unlock()
			if cur.Epoch > c.Epoch {
				next = cur
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if next.Epoch == 0 {
			f.release(ctx)
			return fail(err)
		}
	}
	f.mu.Lock()
	f.adoptLocked(next, target.Name)
	cur := f.conf
	f.mu.Unlock()
	if cur.Primary != f.self.Name {
		f.mu.Lock()
		f.expectRoleLocked(monitor.RoleReplica)
		f.mu.Unlock()
		if err := f.replicaOf(ctx, cur.PrimaryAddr); err != nil {
			f.log.Error("demote after switchover", "err", err)
		}
		f.killClients(ctx)
		f.mu.Lock()
		f.emitLocked(f.demotedEventLocked(cur.PrimaryAddr))
		f.mu.Unlock()
	}
	f.release(ctx)
	f.m.failovers.WithLabelValues(resultSuccess).Inc()
	f.m.duration.Observe(time.Since(start).Seconds())
	f.log.Info("switchover done", "epoch", cur.Epoch, "primary", cur.Primary, "duration", time.Since(start))
	return cur, nil
}

// release lifts the switchover's write pause.
func (f *Failover) release(ctx context.Context) {
	if err := f.unpauseWrites(context.WithoutCancel(ctx)); err != nil {
		f.log.Error("release writes after switchover", "err", err)
	}
}

// switchoverPromote runs on the target of a switchover: wait until the
// local replica has everything the paused primary acknowledged, win an
// election and promote.
func (f *Failover) switchoverPromote(ctx context.Context, c call) (Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SwitchoverTimeout/2)
	defer cancel()
	start := time.Now()
	f.mu.Lock()
	conf := f.conf
	var err error
	switch {
	case conf.Primary != c.Primary || conf.Epoch != c.Epoch:
		err = fmt.Errorf("%w: configuration here is %s at epoch %d", ErrBadRequest, conf.Primary, conf.Epoch)
	case f.inFailover:
		err = ErrBusy
	}
	if err == nil {
		f.inFailover = true
	}
	f.mu.Unlock()
	if err != nil {
		return Configuration{}, err
	}
	defer func() {
		f.mu.Lock()
		f.inFailover = false
		f.mu.Unlock()
		f.poke()
	}()
	for {
		off, err := f.localOffset(ctx)
		if err == nil && off >= c.Offset {
			break
		}
		select {
		case <-ctx.Done():
			return Configuration{}, fmt.Errorf("did not catch up to offset %d (at %d): %w", c.Offset, off, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	spec := electionSpec{reason: ReasonSwitchover, primary: c.Primary, primaryAddr: conf.PrimaryAddr, primaryEpoch: c.Epoch}
	for {
		epoch, err := f.campaign(ctx, spec)
		if err == nil {
			return f.promote(ctx, spec, epoch, start)
		}
		if !errors.Is(err, errElectionLost) {
			return Configuration{}, err
		}
		f.log.Info("switchover election lost; retrying", "epoch", epoch, "err", err)
		select {
		case <-ctx.Done():
			return Configuration{}, err
		case <-time.After(time.Duration(rand.Int64N(int64(f.cfg.ElectionTimeout/4) + 1))):
		}
	}
}

// call sends an operator request to node and waits for its answer.
func (f *Failover) call(ctx context.Context, node string, c call) (callReply, error) {
	c.ID = rand.Uint64() | 1 // 0 marks a malformed call
	ch := make(chan callReply, 1)
	f.mu.Lock()
	f.calls[c.ID] = ch
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, c.ID)
		f.mu.Unlock()
	}()
	if err := f.cluster.Send(ctx, node, kindCall, encode(c)); err != nil {
		return callReply{}, fmt.Errorf("forward %s to %s: %w", c.Op, node, err)
	}
	select {
	case r := <-ch:
		if r.Err != "" {
			return r, fmt.Errorf("%s on %s: %s", c.Op, node, r.Err)
		}
		return r, nil
	case <-ctx.Done():
		return callReply{}, fmt.Errorf("%s on %s: %w", c.Op, node, ctx.Err())
	}
}

// onCall serves an operator request forwarded by a peer.
func (f *Failover) onCall(ctx context.Context, from string, c call) {
	reply := callReply{ID: c.ID}
	var err error
	switch c.Op {
	case opSwitchover:
		reply.Config, err = f.coordinateSwitchover(ctx, c.Node)
	case opPromote:
		reply.Config, err = f.switchoverPromote(ctx, c)
	case opForget:
		err = f.forgetLocal(c.Node)
	}
	if err != nil {
		reply.Err = err.Error()
	}
	sctx, cancel := context.WithTimeout(ctx, f.cfg.SwitchoverTimeout)
	defer cancel()
	if err := f.cluster.Send(sctx, from, kindCallReply, encode(reply)); err != nil {
		f.log.Warn("answer forwarded request", "peer", from, "err", err)
	}
}

// Pause stops automatic failover group-wide. Failure detection and
// reporting go on.
func (f *Failover) Pause(ctx context.Context) (Configuration, error) { return f.setPaused(ctx, true) }

// Resume re-enables automatic failover group-wide.
func (f *Failover) Resume(ctx context.Context) (Configuration, error) { return f.setPaused(ctx, false) }

func (f *Failover) setPaused(ctx context.Context, paused bool) (Configuration, error) {
	f.mu.Lock()
	c := f.conf
	if c.Primary == "" {
		f.mu.Unlock()
		return c, ErrNoPrimary
	}
	if c.Paused == paused {
		f.mu.Unlock()
		return c, nil
	}
	c.Version++
	c.Paused = paused
	f.adoptLocked(c, f.self.Name)
	f.mu.Unlock()
	f.announce(ctx, c)
	return c, nil
}

// Forget removes node from the known set on every reachable sidecar, so a
// decommissioned node stops counting toward the majority.
func (f *Failover) Forget(ctx context.Context, node string) error {
	if node == f.self.Name || node == "" {
		return fmt.Errorf("%w: cannot forget %q", ErrBadRequest, node)
	}
	if err := f.forgetLocal(node); err != nil {
		return err
	}
	var errs []error
	for _, k := range f.known() {
		if k == f.self.Name {
			continue
		}
		if _, err := f.call(ctx, k, call{Op: opForget, Node: node}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Failover) forgetLocal(node string) error {
	if node == f.self.Name {
		return fmt.Errorf("%w: cannot forget self", ErrBadRequest)
	}
	if err := f.cluster.Forget(node); err != nil {
		return fmt.Errorf("forget %s: %w", node, err)
	}
	f.mu.Lock()
	delete(f.peers, node)
	delete(f.lastHeard, node)
	f.mu.Unlock()
	f.log.Info("node forgotten", "peer", node)
	return nil
}
