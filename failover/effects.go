package failover

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/monitor"
)

// leaderDuties: on the Raft leader's sidecar, commit what decideLeader
// decided.
func (f *Failover) leaderDuties(ctx context.Context, c *core, now time.Time) {
	if _, self := f.auth.Leader(); !self || !c.verified || c.leaderBusy || now.Before(c.leaderAt) {
		return
	}
	d := c.decision
	st := c.st
	// Sentinel's -failover-abort-no-good-slave: say once, on change, why
	// a primary that needs replacing is not.
	stuck := ""
	if (d.ODown || d.Empty || d.Stuck || d.NotPrimary) && d.Action == leaderNone && d.WhyNot != "" {
		stuck = d.WhyNot
		if stuck != c.stuckWhy {
			f.log.Warn("no replica to promote", "epoch", st.Epoch, "primary", st.Primary, "why_not", stuck)
		}
	}
	c.stuckWhy = stuck
	if d.Blocked && f.handOver(ctx, c, now) {
		return
	}
	switch d.Action {
	case leaderFlapPause:
		c.leaderBusy = true
		f.log.Error("anti-flap: pausing automatic failover", "epoch", st.Epoch, "primary", st.Primary, "why", d.Reason)
		f.m.flapPauses.Inc()
		now := time.Now()
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			_, err := f.apply(ctx, authority.Command{Op: authority.OpFlapPause, Reason: d.Reason})
			if err == nil {
				// The history records when the count restarts after a resume.
				e := HistoryEntry{Epoch: st.Epoch, Old: st.Primary, Reason: reasonAntiFlap, Result: "paused", Error: d.Reason, Start: now}
				_, err = f.apply(ctx, authority.Command{Op: authority.OpHistory, Entry: &e})
			}
			return f.leaderDone(err)
		})
	case leaderPromote:
		if d.Reason == ReasonAuto && !leaderSettled(c.leaderSince, now, c.p) {
			return
		}
		c.leaderBusy = true
		epoch := st.Epoch + 1
		target := f.nodeOf(c, d.Target, now)
		primary := f.nodeOf(c, st.Primary, now)
		if d.Reason == ReasonAuto {
			// What the choice rested on, for a post-mortem from info logs:
			// why each other member was passed over and where each stood.
			f.log.Warn("starting failover", "epoch", epoch, "primary", st.Primary, "peer", d.Target, "votes", d.Votes, "empty", d.Empty,
				"holder", d.Holder, "chosen_replid", d.ChosenReplID, "chosen_offset", d.ChosenOffset, "chosen_keys", d.ChosenKeys,
				"excluded", d.Excluded, "positions", positions(c.peers, now, c.p.Fresh))
			f.emit(Event{Kind: EventTryFailover, Epoch: epoch, Node: primary})
			f.emit(Event{Kind: EventElectedLeader, Epoch: epoch, Node: primary})
			f.emit(Event{Kind: EventStateSelectReplica, Epoch: epoch, Node: primary})
			f.emit(Event{Kind: EventSelectedReplica, Epoch: epoch, Node: target, OldPrimary: primary, NewPrimary: target})
		} else {
			f.log.Info("initial primary discovered", "epoch", epoch, "primary", d.Target)
		}
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			_, err := f.apply(ctx, authority.Command{Op: authority.OpSetPrimary, IfEpoch: epoch - 1, Epoch: epoch,
				Primary: target.Name, Reason: d.Reason, Start: now, ChosenReplID: d.ChosenReplID, ChosenOffset: d.ChosenOffset, ChosenKeys: d.ChosenKeys})
			return f.leaderDone(err)
		})
	}
}

// handOver hands Raft leadership to a voter that hears members whose
// reports no longer reach this sidecar, when a failover is due and no
// replica qualifies (handTo): at most once per leadership, and only after
// leading for two report lifetimes, so that two leaders each missing a
// member the other hears pass it back and forth no more than that.
// It reports whether it started one.
func (f *Failover) handOver(ctx context.Context, c *core, now time.Time) bool {
	if c.handedFrom.Equal(c.leaderSince) || now.Sub(c.leaderSince) < 2*c.p.Fresh {
		return false
	}
	to := handTo(f.self.Name, c.gs, c.peers, now, c.p.Fresh)
	if to == "" {
		return false
	}
	c.handedFrom, c.leaderBusy = c.leaderSince, true
	f.log.Warn("handing raft leadership over: it hears members this sidecar does not", "peer", to,
		"unheard", unheardBy(f.self.Name, c.gs, c.peers, now, c.p.Fresh), "why_not", c.decision.WhyNot)
	f.m.handOvers.Inc()
	f.spawn(ctx, func(context.Context) func(*core) {
		err := f.auth.TransferLeadership(to)
		return func(c *core) {
			c.leaderBusy = false
			if err != nil {
				f.log.Warn("raft leadership handover failed", "peer", to, "err", err)
			}
		}
	})
	return true
}

// gateDuties runs this sidecar's pre-promotion gate when the group's
// decision names it the candidate to replace the primary, and reports the
// verdict; the leader commits it only if the gate allows.
func (f *Failover) gateDuties(ctx context.Context, c *core, now time.Time) {
	d := c.decision
	st := c.st
	if f.gate == nil || !d.AwaitGate || d.Target != f.self.Name || c.gateBusy {
		return
	}
	if v := c.verdict; v != nil && v.Primary == st.Primary && v.Epoch == st.Epoch {
		return
	}
	c.gateBusy = true
	self := f.nodeOf(c, f.self.Name, now)
	primary, epoch := st.Primary, st.Epoch
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		err := f.gate.AllowPromote(ctx, self, epoch+1)
		return func(c *core) {
			c.gateBusy = false
			c.verdict = &verdict{Primary: primary, Epoch: epoch, Allowed: err == nil}
			if err != nil {
				f.log.Warn("promotion vetoed by the pre-promotion gate", "epoch", epoch+1, "err", err)
				f.m.failures.WithLabelValues(failVetoed).Inc()
			}
			f.reportNow(c)
		}
	})
}

// leaderDone ends a leader effect: a stale command means the state moved
// on (the next step sees it); any other error waits an interval.
func (f *Failover) leaderDone(err error) func(*core) {
	return func(c *core) {
		c.leaderBusy = false
		if err != nil && !errors.Is(err, authority.ErrStale) {
			f.log.Warn("leader apply failed", "err", err)
			c.leaderAt = time.Now().Add(f.mc.Interval)
		}
	}
}

// apply commits cmd with a bounded wait.
func (f *Failover) apply(ctx context.Context, cmd authority.Command) (authority.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*f.cmdWait)
	defer cancel()
	st, err := f.auth.Apply(ctx, cmd)
	if err != nil {
		return st, fmt.Errorf("failover: apply %s: %w", cmd.Op, err)
	}
	return st, nil
}

// applyIdempotent applies cmd, which must be idempotent (promoted, history),
// and sends it once more when its outcome is unknown: when the leader that
// took it is lost before it answers (a handover's old primary shutting
// down), giving up would leave a promoted primary unconfirmed or without its
// history entry (TestHandoverOnSIGTERM in CI). The linearizable read in
// between waits for the next leader.
func (f *Failover) applyIdempotent(ctx context.Context, cmd authority.Command) error {
	_, err := f.apply(ctx, cmd)
	if err == nil || errors.Is(err, authority.ErrStale) || errors.Is(err, authority.ErrInvalid) || ctx.Err() != nil {
		return err
	}
	if _, verr := f.verify(ctx); verr != nil {
		return fmt.Errorf("%w (and then %w)", err, verr)
	}
	f.log.Info("command outcome unknown; applying it again", "op", cmd.Op, "epoch", cmd.Epoch, "err", err)
	_, err = f.apply(ctx, cmd)
	return err
}

// pauseAndVerify pauses the local Redis's writes for d, then verifies the
// committed state. Writes stop first: the effect owns the pause while it
// runs, and the Verify may wait seconds for a leader (chaos seed 8: a
// restarted, cut-off former primary took writes for 2 s while its
// demotion waited for it).
func (f *Failover) pauseAndVerify(ctx context.Context, d time.Duration) (authority.State, error) {
	if err := f.pauseWrites(ctx, d); err != nil {
		return authority.State{}, err
	}
	return f.verify(ctx)
}

// verify is a bounded linearizable read.
func (f *Failover) verify(ctx context.Context) (authority.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*f.cmdWait)
	defer cancel()
	st, err := f.auth.Verify(ctx)
	if err != nil {
		return st, fmt.Errorf("failover: verify: %w", err)
	}
	return st, nil
}

// localDuties decides for the local Redis and starts the effects.
func (f *Failover) localDuties(ctx context.Context, c *core, now time.Time, gs groupState, addr string) {
	if gs.Primary == f.self.Name {
		addr = f.self.Addr
	} else if syncSourceDoubtful(gs, c.peers, now, c.p.Fresh) {
		addr = "" // neither demote nor re-point to it for now
	}
	in := localInput{
		Now: now, Self: f.self.Name, State: gs, Ready: c.verified,
		Obs: localObs{Reachable: c.obs.Reachable(), Role: c.obs.Role, MasterAddr: c.obs.MasterAddr(), LinkUp: c.obs.LinkUp, Time: c.obs.Time,
			Replicas: c.obs.Replicas, ReplID: c.obs.ReplID, Offset: c.obs.Offset, NoKeys: c.obs.Keys == 0},
		AckSince:    c.ackSince,
		PrimaryAddr: addr, LastContact: f.auth.LastContact(), Started: c.started, Fenced: c.fenced, Busy: c.localBusy, Promoting: c.promoting,
		Empty: c.ids.Empty, EmptyTo: f.bestReplicaAddr(c, now), Peers: c.peers, P: c.p,
		Unsure: c.ids.unsure(), Judging: !c.ids.Unsure.IsZero(), SelfAddr: f.rc.Addr, SelfTLS: f.rc.TLS.Enabled, SourceUnvouched: sourceUnvouched(gs, c.peers, now, c.p.Fresh),
		PartialRefused: c.partialWait,
		Keeps:          f.keeper != nil, Restarted: restartedPrimary(c.obs, gs, f.self.Name),
		PrimarySeen: c.primarySeen,
	}
	p := decideLocal(in)
	switch {
	case p.AwaitAcks && c.ackSince.IsZero():
		c.ackSince = now
		f.log.Info("waiting for a replica to acknowledge before releasing writes", "epoch", gs.Epoch)
	case !p.AwaitAcks && !p.Unfence:
		c.ackSince = time.Time{}
	}
	// Renewals of a standing fence wait for renewAt: the step after each
	// one's completion would otherwise send the next at once: an isolated
	// sidecar sent its Redis 1.6 million CLIENT PAUSE in under two
	// minutes (chaos seed 13005; TestFenceReleasedAfterHeal counts them).
	if p.Fence && !c.fenceBusy && !now.Before(c.fenceAt) && (!c.fenced || !now.Before(c.renewAt)) {
		c.fenceBusy = true
		pause := f.fencePause(c.p)
		// Clients are disconnected at most every other interval: a client
		// that reconnects to this node through a Sentinel that does not
		// know better yet is sent away again soon after.
		evict := p.Evict && now.Sub(c.evictedAt) >= 2*f.mc.Interval
		if evict {
			c.evictedAt = now
		}
		hold, run := f.holdDue(c, gs), c.obs.RunID
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			err := f.pauseWrites(ctx, pause)
			if err == nil && evict {
				f.killClientsOn(ctx, f.local.Client())
			}
			var herr error
			if err == nil && hold > 0 {
				herr = f.holdMinReplicasOn(ctx, f.local.Client(), hold)
			}
			return func(c *core) {
				if hold > 0 && herr == nil {
					c.fenceHeld, c.minReplicas = run, hold
				} else if herr != nil {
					f.log.Warn("writes paused, but min_replicas not kept on the local redis", "err", herr)
				}
				c.fenceBusy = false
				if err != nil {
					f.log.Debug("fence", "err", err)
					c.fenceAt = time.Now().Add(f.mc.Interval / 2)
					return
				}
				c.renewAt = time.Now().Add(f.mc.Interval)
				if !c.fenced {
					c.fenced = true
					f.m.fenced.Set(1)
					f.log.Warn("writes paused on the local redis", "epoch", c.st.Epoch, "primary", c.st.Primary, "isolated", p.Isolated)
					f.emit(Event{Kind: EventFenced, Epoch: c.st.Epoch, Node: f.nodeOf(c, f.self.Name, time.Now())})
				}
			}
		})
	}
	if p.Unfence && !c.fenceBusy && !c.localBusy && !now.Before(c.fenceAt) {
		c.fenceBusy = true
		replica := c.obs.Role == monitor.RoleReplica
		epoch := c.st.Epoch
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			if !replica {
				// Writes are released only on the leader's word that this
				// node is still the promoted primary.
				st, err := f.verify(ctx)
				if err != nil || st.Primary != f.self.Name || !st.Promoted || st.Epoch != epoch {
					return func(c *core) { c.fenceBusy, c.fenceAt = false, time.Now().Add(f.mc.Interval) }
				}
				f.setMinReplicas(ctx, len(st.Members))
			}
			err := f.unpauseWrites(ctx)
			return func(c *core) {
				c.fenceBusy = false
				if err != nil {
					f.log.Warn("release writes", "err", err)
					c.fenceAt = time.Now().Add(f.mc.Interval)
					return
				}
				f.setUnfenced(c)
			}
		})
	}
	if c.localBusy || heldBack(now, c.retryAt, c.retryPromote, p.Promote) {
		return
	}
	switch {
	case p.Promote:
		if p.Alone {
			// Not empty any more for the group: its data stands.
			c.ids.Empty = false
			f.log.Warn("no other member's redis holds anything: the refused promotion goes ahead", "epoch", gs.Epoch)
		}
		f.startPromote(ctx, c, p.Alone)
	case p.DemoteTo != "":
		f.startDemote(ctx, c, p.DemoteTo, c.ids.Empty, p.PartialOnly)
	case p.RepointTo != "" && p.KeepTail:
		f.startKeepTail(ctx, c, p.RepointTo)
	case p.RepointTo != "":
		f.startRepoint(ctx, c, p.RepointTo, p.PartialOnly, p.FullSyncOn)
	case p.Detach:
		why := "replica detached from its primary: this sidecar is cut off from the majority"
		// A primary detached keeps the fence's min-replicas-to-write
		// hold, which the fence sets only on a Redis that answers as a
		// primary: made a primary again later, it takes no unreplicated
		// write once a pause lapses (TestFenceKeepsMinReplicas: a
		// restart detached while judged, seed 15212's rule, before any
		// fence saw it answer as a primary).
		hold := f.holdDue(c, gs)
		switch {
		case c.ids.Empty:
			why = "empty primary detached: it points at itself so that no replica syncs from it"
		case !c.ids.Unsure.IsZero() && c.obs.Role == monitor.RolePrimary:
			why = "restarted primary detached while it is judged: it points at itself so that no replica syncs from it"
		case c.obs.Role == monitor.RolePrimary:
			why = "stale primary detached: it points at itself until a primary vouched for can be followed"
		case gs.Primary == f.self.Name && !gs.Promoted:
			why = "named replica detached from the deposed primary: it points at itself before its promotion"
		case !p.Isolated:
			why = "replica of a deposed primary detached: it points at itself until the committed primary can be followed"
		}
		f.startDetach(ctx, c, why, hold)
	case p.Undetach:
		f.startUndetach(ctx, c)
	}
	f.trackReconf(c, now)
	if gs.Primary == f.self.Name && gs.Promoted && c.obs.Role == monitor.RolePrimary && !c.fenced && !c.localBusy {
		if want := minReplicasFor(c.p.MinReplicas, len(gs.Members)); want != c.minReplicas && (want > 0 || c.minReplicas > 0) {
			// Back at the group's value: the next fence sets its hold anew.
			c.minReplicas, c.fenceHeld = want, ""
			f.spawn(ctx, func(ctx context.Context) func(*core) {
				f.setMinReplicas(ctx, len(gs.Members))
				return nil
			})
		}
	}
}

// backOff holds the local effects back for an interval after one failed;
// promotion says whether it was a promotion (see heldBack).
func (f *Failover) backOff(c *core, promotion bool) {
	c.retryAt, c.retryPromote = time.Now().Add(f.mc.Interval), promotion
}

// heldBack reports whether a local effect waits out the back-off of a
// failed one until retryAt. A promotion waits only for a failed
// promotion's: the failure of a demotion or re-point decided under the
// previous primary (one towards that dead primary, typically) says
// nothing about promoting, and waiting it out delayed 3 of 6 failovers by
// 160-175 ms (BenchmarkFailover, down_after 1 s: a re-point to the killed
// primary failed 2 ms after the commit naming this node).
func heldBack(now, retryAt time.Time, retryPromote, promote bool) bool {
	return now.Before(retryAt) && (!promote || retryPromote)
}

// takeObs makes an observation taken right after an effect the loop's, so
// the next decision sees the new role, not the last periodic probe's.
func (f *Failover) takeObs(c *core, o monitor.Observation) {
	if o.Time.After(c.obs.Time) {
		c.obs = o
		c.links = nextLinks(c.links, o.MasterAddr(), o.Role == monitor.RoleReplica && o.LinkUp, o.Time, linkKeep(c.p))
		if o.Reachable() && o.Time.After(c.localUpAt) {
			c.localUpAt = o.Time
		}
	}
}

func (f *Failover) setUnfenced(c *core) {
	if c.fenced {
		c.fenced = false
		// The release sets the group's min_replicas again, below the
		// fence's hold without min_replicas: the next fence sets it anew.
		c.fenceHeld = ""
		f.m.fenced.Set(0)
		f.log.Info("writes released on the local redis", "epoch", c.st.Epoch)
		f.emit(Event{Kind: EventUnfenced, Epoch: c.st.Epoch, Node: f.nodeOf(c, f.self.Name, time.Now())})
		// Peers call the primary writable from its report: tell them now.
		f.reportNow(c)
	}
}

// expectRole announces that vigil is about to give the local Redis role and
// reports the change with an event of its own.
func (f *Failover) expectRole(c *core, role monitor.Role) {
	c.expectRole = role
	c.expectUntil = time.Now().Add(2*f.cmdWait + f.fresh)
}

// startPromote promotes the local Redis for the committed state naming
// this node: verify the entry, pause writes, REPLICAOF NO ONE in a
// transaction that disconnects clients, confirm with ROLE, prove the entry
// is still the newest by committing "promoted" at its epoch, and only then
// release writes. alone (localPlan.Alone) waives the checks that the
// local Redis is the one the leader chose.
func (f *Failover) startPromote(ctx context.Context, c *core, alone bool) {
	st := c.st
	epoch, reason, previous, started := st.Epoch, st.Reason, st.Previous, st.Started
	// The durations run from the start on this sidecar's clock
	// (nextEpochStart); the entries keep the committed start.
	localStart := c.gs.Started
	chosenID, chosenOff := st.ChosenReplID, st.ChosenOffset
	c.localBusy, c.promoting = true, true
	f.log.Warn("committed as the primary; promoting", "epoch", epoch, "reason", reason, "previous", previous)
	if reason != ReasonInitial {
		f.expectRole(c, monitor.RolePrimary)
	}
	wasReplica := c.obs.Role != monitor.RolePrimary
	self := f.nodeOf(c, f.self.Name, time.Now())
	oldp := Node{Name: previous, Addr: f.memberAddr(st, previous)}
	members := len(st.Members)
	olds := f.oldHolds(c, previous, reason)
	ackBound, oldPause := ackLagBound(c.p), f.fencePause(c.p)
	holdFor := c.p.FailoverTimeout
	fp := c.p
	loopCtx := ctx
	// Every member's Redis empty as this sidecar sees it too, the primary
	// replaced being previous: the leader may have chosen an unsynced
	// replica for it (nothingToLose), and promoting one loses nothing.
	was := c.gs
	was.Primary = previous
	empty := previous != "" && previous != f.self.Name && nothingToLose(was, c.peers, time.Now(), c.p.Fresh)
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		start := time.Now()
		fenced := true
		var fork divergent.Fork // where this node's history left the old primary's
		var newReplID string    // the history the promotion began
		var aofFork divergent.Fork
		aof := false // back from its AOF since it was chosen: aofFork is the fork
		err := func() error {
			vst, err := f.verify(ctx)
			if err != nil {
				fenced = false
				return err
			}
			if vst.Epoch != epoch || vst.Primary != f.self.Name || vst.Promoted {
				fenced = false
				return fmt.Errorf("%w: the newest entry is %s at epoch %d", authority.ErrStale, vst.Primary, vst.Epoch)
			}
			for _, h := range olds {
				h.done = make(chan struct{})
				if !h.fence {
					close(h.done)
					continue
				}
				// Beside the promotion: an old Redis cut off costs a
				// timeout, which must not delay it.
				go func() {
					defer close(h.done)
					h.fenced = f.fenceOldPrimary(ctx, h.name, h.addrs, oldPause)
				}()
			}
			defer func() {
				for _, h := range olds {
					<-h.done
				}
			}()
			if err := f.pauseWrites(ctx, holdFor); err != nil {
				fenced = false
				return err
			}
			before := f.local.ProbeNow(ctx)
			if why := unpromotable(before, reason == ReasonInitial); why != "" && !alone && !(empty && before.Keys <= 0) {
				return fmt.Errorf("%w: %s", errUnpromotable, why)
			}
			if chosenID != "" && !alone {
				info, err := infoOn(ctx, f.local.Client(), f.cmdWait)
				if err != nil {
					return err
				}
				pos := parseReplPosition(info)
				if why := leftChosen(before, pos, chosenID, chosenOff); why != "" {
					return fmt.Errorf("%w: %s", errUnpromotable, why)
				}
				if !wasReplica {
					fork, newReplID = resumedFork(pos, chosenID, chosenOff)
				}
				aofFork, aof = restartFork(before, pos, chosenID, chosenOff)
				if aof && !wasReplica {
					fork, newReplID = aofFork, pos.ReplID
				}
			}
			if !wasReplica && newReplID == "" {
				newReplID = initialHistory(reason, before)
			}
			if wasReplica {
				f.emit(Event{Kind: EventStateSendNoOne, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
				if err := f.promoteTx(ctx, members, holdFor); err != nil {
					return err
				}
				fork, newReplID = f.localFork(ctx)
				if aof {
					fork = aofFork
				}
				f.emit(Event{Kind: EventStateWaitPromotion, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
			}
			role, err := f.localRole(ctx)
			if err != nil {
				return err
			}
			if role != "master" {
				return fmt.Errorf("role after replicaof no one is %q", role)
			}
			// The fork is committed with "promoted": replicas re-pointed
			// at once must know where the old history was left
			// (aheadOfFork). The failover's end completes the entry.
			sofar := time.Since(start)
			if !localStart.IsZero() {
				sofar = time.Since(localStart)
			}
			entry := HistoryEntry{Epoch: epoch, Old: previous, New: f.self.Name, Reason: reason, Result: resultSuccess,
				Start: started, Duration: sofar, ForkReplID: fork.OldReplID, ForkOffset: fork.Offset, NewReplID: newReplID, Resumed: aof}
			if err := f.applyIdempotent(ctx, authority.Command{Op: authority.OpPromoted, IfEpoch: epoch, Epoch: epoch, Node: f.self.Name, Entry: &entry}); err != nil {
				return err
			}
			var hold *oldHold
			for _, h := range olds {
				if h.selfFollowed {
					// Its last acknowledgement to the old Redis came
					// before the REPLICAOF NO ONE just done.
					if t := time.Now().Add(ackBound); t.After(h.until) {
						h.until, h.who = t, f.self.Name
					}
				}
				if hold == nil || h.until.After(hold.until) {
					hold = h
				}
			}
			if wait := time.Duration(0); hold != nil {
				if wait = time.Until(hold.until); wait > 0 {
					f.log.Warn("holding writes until the old primary can take none", "epoch", epoch, "previous", previous,
						"old", hold.name, "replica", hold.who, "wait", wait)
					if err := f.pauseWrites(ctx, wait+f.cmdWait); err != nil {
						return err
					}
					// Each old primary's hold ends at its time or when
					// the fence on its Redis lands, tried again while
					// it holds if the first try found it out of reach.
					for _, h := range olds {
						var refence func(context.Context) bool
						if h.fence {
							refence = func(ctx context.Context) bool {
								return f.fenceOldPrimary(ctx, h.name, h.addrs, max(oldPause, time.Until(h.until)))
							}
						}
						if err := waitHold(ctx, h.until, h.done, &h.fenced, f.mc.Interval, refence); err != nil {
							return err
						}
					}
				}
			}
			// Its Redis may have restarted during the hold: writes stay
			// paused, and the loop judges it (nextIdentity) and releases
			// them by its own rule if it holds the data.
			if why := promotionLost(before, f.local.ProbeNow(ctx)); why != "" {
				return fmt.Errorf("writes not released: %s", why)
			}
			if why := releaseCutOff(f.auth.LastContact(), time.Now(), fp); why != "" {
				return fmt.Errorf("writes not released: %s", why)
			}
			f.setMinReplicas(ctx, members)
			if err := f.unpauseWrites(ctx); err != nil {
				return err
			}
			fenced = false
			return nil
		}()
		o := f.local.ProbeNow(ctx)
		took := time.Since(start)
		if !localStart.IsZero() {
			took = time.Since(localStart)
		}
		return func(c *core) {
			c.localBusy, c.promoting = false, false
			if err == nil {
				// The entry committed with "promoted" gets its duration.
				// Apart from the promotion, which is over: a handover's
				// old primary, the Raft leader, exits at once, and the
				// wait for the next one kept this node "in failover"
				// (TestHandoverOnSIGTERM's readiness check).
				entry := HistoryEntry{Epoch: epoch, Old: previous, New: f.self.Name, Reason: reason, Result: resultSuccess,
					Start: started, Duration: took, ForkReplID: fork.OldReplID, ForkOffset: fork.Offset, NewReplID: newReplID, Resumed: aof}
				f.spawn(loopCtx, func(ctx context.Context) func(*core) {
					if herr := f.applyIdempotent(ctx, authority.Command{Op: authority.OpHistory, Entry: &entry}); herr != nil {
						f.log.Warn("record failover history", "err", herr)
					}
					return nil
				})
			}
			f.takeObs(c, o)
			if fenced && !c.fenced {
				c.fenced = true
				f.m.fenced.Set(1)
			}
			if errors.Is(err, errUnpromotable) && c.st.Epoch == epoch && c.st.Primary == f.self.Name {
				// Reported as empty: the leader fails over at once and
				// counts no data on this node (durableFloor).
				f.log.Error("promotion refused: writes stay paused and the group fails over", "epoch", epoch, "err", err)
				c.ids.Empty, c.ids.EmptyEpoch = true, epoch
				f.m.failures.WithLabelValues(failPromote).Inc()
				f.backOff(c, true)
				return
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, authority.ErrStale) {
					f.log.Error("promotion failed", "epoch", epoch, "err", err)
					f.m.failures.WithLabelValues(failPromote).Inc()
					f.m.failovers.WithLabelValues(resultFailure).Inc()
				}
				// Stale too: the state that asked for it may not have
				// caught up yet, and retrying at once spun 37,000 times
				// (chaos seed 101).
				f.backOff(c, true)
				return
			}
			f.setUnfenced(c)
			c.promotedEpoch = epoch
			c.minReplicas = minReplicasFor(c.p.MinReplicas, members)
			f.m.failovers.WithLabelValues(resultSuccess).Inc()
			f.m.duration.Observe(took.Seconds())
			f.log.Warn("replica promoted", "epoch", epoch, "reason", reason, "previous", previous, "duration", took)
			if reason != ReasonInitial {
				now := time.Now()
				self := f.nodeOf(c, f.self.Name, now)
				f.emit(Event{Kind: EventPromotedReplica, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
				f.emit(Event{Kind: EventStateReconfReplicas, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
				f.emit(Event{Kind: EventFailoverEnd, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
			}
		}
	})
}

// fenceOldPrimary pauses writes on the Redis of prev, the primary this
// node replaces, at the first of addrs that answers, for d. It reports
// whether that Redis takes no writes: paused, or a replica by now, which
// is left unpaused (pausePrimaryOn).
func (f *Failover) fenceOldPrimary(ctx context.Context, prev string, addrs []string, d time.Duration) bool {
	for _, addr := range slices.Compact(slices.Clone(addrs)) {
		cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
		paused, err := fencePrimaryOn(ctx, cl, f.cmdWait, d)
		cl.Close()
		if paused {
			f.log.Warn("old primary's redis fenced: its sidecar is silent or cannot reach it", "peer", prev, "redis_addr", addr, "pause", d)
			if err != nil {
				f.log.Debug("disconnect the old primary's clients", "peer", prev, "redis_addr", addr, "err", err)
			}
			return true
		}
		if err == nil {
			// A replica by now takes no writes either.
			f.log.Info("old primary's redis answers as a replica: left unpaused", "peer", prev, "redis_addr", addr)
			return true
		}
		f.log.Debug("fence old primary", "peer", prev, "redis_addr", addr, "err", err)
	}
	return false
}

// oldHold is a member whose Redis may still be a primary that a promotion
// holds writes for (oldPrimaryHold) and fences if it answers.
type oldHold struct {
	name  string
	addrs []string // its Redis: the committed address and the one it last reported
	until time.Time
	who   string // the replica that may acknowledge it the longest
	// fence: try to pause its Redis; selfFollowed: the local Redis
	// acknowledged it until the promotion (followsOld).
	fence, selfFollowed bool
	done                chan struct{} // closed when the fence is over
	fenced              bool          // the fence landed; read after done
}

// oldHolds lists what a promotion replacing previous waits for: previous
// itself, and every other member whose sidecar is silent and whose Redis
// a replica acknowledged recently (oldPrimaryHold).
func (f *Failover) oldHolds(c *core, previous, reason string) []*oldHold {
	now := time.Now()
	names := slices.Collect(maps.Keys(c.st.Members))
	if previous != "" {
		names = append(names, previous)
	}
	slices.Sort(names)
	var out []*oldHold
	for _, name := range slices.Compact(names) {
		if name == f.self.Name {
			continue
		}
		addrs := []string{f.memberAddr(c.st, name)}
		if pv, ok := c.peers[name]; ok && pv.Rep.Addr != "" {
			addrs = append(addrs, pv.Rep.Addr)
		}
		h := &oldHold{name: name, addrs: addrs}
		h.until, h.who = oldPrimaryHold(name, addrs, f.self.Name, c.links, c.peers, now, c.p)
		h.fence = !h.until.IsZero()
		if name == previous {
			// An old primary's sidecar that is silent, or cannot reach
			// its Redis, fences nothing: this one fences that Redis, if
			// it answers, before releasing writes.
			h.fence = reason == ReasonAuto && oldUnwatched(previous, f.self.Name, c.peers, now, c.p.Fresh)
			h.selfFollowed = h.fence && c.p.MinReplicas > 0 && followsOld(c.obs, addrs)
		} else if h.until.IsZero() {
			continue
		}
		out = append(out, h)
	}
	return out
}

// waitHold waits until until, or until the fence on the old primary,
// reported through done and *fenced, lands. When that fence failed (its
// Redis out of reach at the promotion), refence, unless nil, tries it
// again every interval while the hold lasts: a fence that lands later
// pauses the old Redis past until just as well, so it ends the hold too
// (chaos seed 6205, N=5: c's Redis was cut off with its sidecar; d's own
// Redis, linked to it in Redis's eyes, held d's writes 3 s after its
// REPLICAOF NO ONE, though c's Redis was back in reach 0.7 s into the
// hold, where the peers demoted it).
func waitHold(ctx context.Context, until time.Time, done <-chan struct{}, fenced *bool, every time.Duration, refence func(context.Context) bool) error {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	var tick <-chan time.Time
	for {
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			if *fenced {
				return nil
			}
			done = nil // failed: the hold runs out unless a retry lands
			if refence != nil && every > 0 {
				tk := time.NewTicker(every)
				defer tk.Stop()
				tick = tk.C
			}
		case <-tick:
			// A try to a Redis still out of reach ends with the hold.
			rctx, cancel := context.WithDeadline(ctx, until)
			ok := refence(rctx)
			cancel()
			if ok {
				return nil
			}
		}
	}
}

// errNoPartial: the primary would not continue the local Redis's stream.
var errNoPartial = errors.New("failover: only a full sync would follow the primary")

// sourceContinues returns nil when the Redis at addr, the primary, would
// continue the local Redis's replication stream (a partial resync), and an
// error wrapping errNoPartial when following it means a full sync.
func (f *Failover) sourceContinues(ctx context.Context, addr string) error {
	return f.continuesOn(ctx, f.local.Client(), addr, "")
}

// continuesOn is sourceContinues for the Redis behind from; with vouched
// (the history the primary's sidecar vouched for) it also accepts a full
// sync from that very process (replPosition.follows).
func (f *Failover) continuesOn(ctx context.Context, from *redis.Client, addr, vouched string) error {
	local, err := infoOn(ctx, from, f.cmdWait)
	if err != nil {
		return err
	}
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	remote, err := infoOn(ctx, cl, f.mc.Timeout)
	if err != nil {
		return fmt.Errorf("%w: %s does not answer: %w", errNoPartial, addr, err)
	}
	lp, rp := parseReplPosition(local), parseReplPosition(remote)
	if !rp.follows(lp, vouched) {
		return fmt.Errorf("%w: the local redis is at %d on %s; %s is at %d on %s (before that %s up to %d), backlog from %d; vouched for: %q",
			errNoPartial, lp.Offset, lp.ReplID, addr, rp.Offset, rp.ReplID, rp.ReplID2, rp.Second-1, rp.First, vouched)
	}
	return nil
}

// infoOn reads INFO replication within wait.
func infoOn(ctx context.Context, cl *redis.Client, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return cl.Info(ctx, "replication").Result()
}

// waitPartial handles an errNoPartial from a demotion or re-point: it is
// logged once, not as a failure, and tried again next interval. It reports
// whether err was one.
func (f *Failover) waitPartial(c *core, err error, addr string) bool {
	if !errors.Is(err, errNoPartial) {
		c.partialWait = false
		return false
	}
	if !c.partialWait {
		f.log.Warn("not following the primary while its sidecar does not vouch for it: only a full sync would",
			"redis_addr", addr, "err", err)
	}
	c.partialWait = true
	f.backOff(c, false)
	return true
}

// errUnpromotable: the local Redis is not the one the leader chose.
var errUnpromotable = errors.New("failover: the local redis cannot be promoted")

// unpromotable says why the local Redis, observed as o just before its
// promotion, is not the replica the leader chose, or "" when it is. The
// leader chooses a replica that completed a sync; one that has not synced
// since it started was restarted since, and holds what it loaded from disk
// or nothing (chaos seed 101, N=5: a named primary's Redis came back empty
// during its promotion, was promoted, and a replica full-synced from it).
// One that holds keys may be a holder the leader chose (holders), or a
// replica restarted from its AOF with its data: it goes ahead.
// A primary that no REPLICAOF NO ONE made (no previous history) was
// restarted as one; only the initial primary is one already.
func unpromotable(o monitor.Observation, initial bool) string {
	switch {
	case !o.Reachable():
		return "" // the promotion itself reports it
	case o.Role == monitor.RoleReplica && !o.Synced && o.Keys <= 0:
		// One with keys may be what the leader chose (holders).
		return "its Redis has not synced since it started and holds no keys: it is not the replica the leader chose"
	case o.Role == monitor.RolePrimary && !initial && noPastHistory(o) && o.Keys <= 0:
		// One with keys restarted from its persistence, as a holder the
		// leader chose does: it goes ahead like a replica with keys.
		// Refused, it was reported empty, pointed at a replica holding
		// nothing and wiped by it (chaos seed 507, N=3).
		return "its Redis is a primary no promotion made and holds no keys: it restarted since the leader chose it"
	}
	return ""
}

// leftChosen says why the local Redis, observed as o and at replication
// position pos just before its promotion, no longer continues the position
// the leader chose it at (replID, offset, committed with set-primary), or
// "" when it does: still on that history at or past that offset, or moved
// on from it by a partial resync or its own promotion (master_replid2) no
// earlier than there. Anything else resynced or restarted since the
// choice and holds other data. Chaos seed 1906 (N=3): b, named at epoch 2,
// could not verify for 2 s while its Redis still followed a, whose node
// had been killed with its AOF wiped; a's Redis came back empty, b's
// full-synced it (0 keys, a new history at offset 0), and the leader
// promoted b on its last report (34,070 bytes on a's old history): c, the
// one Redis left with the writes, full-synced from b.
//
// No position and no check: none was chosen (a holder, a switchover, the
// initial primary, an entry older than this rule), or the Redis restarted
// from its persistence without one (a replica never synced since it
// started at offset 0, as after an AOF restart, a primary no promotion
// made), which unpromotable judges by its keys.
//
// A replica never synced since it started but at an offset above 0 has a
// position: Redis 7.0 restarts a replica from an RDB on the snapshot's
// master_replid at the snapshot's offset (a cached primary to resume
// from), and that is all it holds, so it is checked like any other.
// Chaos seed 11714 (N=3, the second run): b, named at epoch 8 at its
// offset on f2d2b520 (epoch 7's history, past 146281, with the retry-queue
// INCRs a's Redis took and b's acknowledged), was killed with its Redis
// (no persistence) before its REPLICAOF NO ONE; the Redis came back from
// the RDB of its full sync 12 s earlier, at 142071 on 99e20f9d (epoch 6's),
// and as a replica "not synced" it passed; b's restarted sidecar promoted
// it, and a's Redis, back from its AOF with every INCR, full-synced from
// it.
//
// So is one at offset 0 on the very history it was chosen on: that is the
// RDB its full sync wrote at the start of the history, not an AOF restart
// (which begins a history of its own), and it holds nothing streamed since.
// Chaos seed 12180 (N=3): a, named at epoch 4 at 6780 on 527280d2 with
// 653 keys, was wiped and its Redis killed twice without persistence; the
// Redis came back each time from the RDB of its full sync at 527280d2:0
// (547 keys), a's sidecar promoted it 36.6 s after the choice, and c's
// Redis, parked at 7223 on 527280d2 with the retry-queue INCRs b's queue
// had drained, full-synced from it: 13 INCRs were lost.
func leftChosen(o monitor.Observation, pos replPosition, replID string, offset int64) string {
	switch {
	case replID == "" || !o.Reachable():
		return ""
	case backFromAOF(o, pos, replID):
		return ""
	case pos.ReplID == replID && pos.Offset >= offset:
		return ""
	case pos.ReplID2 == replID && pos.Second-1 >= offset:
		return ""
	}
	return fmt.Sprintf("its Redis is at %d on %s (before that %s up to %d), not on from %d on %s where the leader chose it: it resynced or restarted since",
		pos.Offset, pos.ReplID, pos.ReplID2, pos.Second-1, offset, replID)
}

// resumedFork is the fork a promotion records when the local Redis is
// already a primary as it begins, at pos: an earlier attempt's REPLICAOF
// NO ONE landed and the attempt failed after it (its reply lost, the
// Verify or the promoted commit refused), so this attempt sends none and
// reads no fork after it. A Redis whose master_replid2 is the history the
// leader chose it on (chosenID), left no earlier than where it was chosen
// (chosenOff), is the process that REPLICAOF NO ONE made: it left that
// history at second_repl_offset - 1 and began master_replid, as
// localFork reads them after a REPLICAOF NO ONE of this attempt. Zero
// when that does not hold (no position chosen: a holder, a switchover, the
// initial primary). Chaos seed 9315 (N=3): c's first attempt at epoch 3
// timed out on a REPLICAOF NO ONE that landed at 65351 on 93fcf6ff, the
// third committed "promoted" with no fork, and with no fork floor
// (forkFloor, behindFork) the leader replaced c, cut off with every write,
// by a's Redis parked at 36856 on that history 5 s later.
func resumedFork(pos replPosition, chosenID string, chosenOff int64) (divergent.Fork, string) {
	if chosenID == "" || pos.ReplID2 != chosenID || pos.Second < 1 || pos.Second-1 < chosenOff || pos.ReplID == "" {
		return divergent.Fork{}, ""
	}
	return divergent.Fork{OldReplID: pos.ReplID2, Offset: pos.Second - 1}, pos.ReplID
}

// restartFork is the fork a promotion records for a Redis that came back
// from its AOF since the leader chose it at chosenOff on chosenID, as
// leftChosen lets it through (o observed and pos read just before the
// promotion): a replica never synced at offset 0 on a history other than
// the chosen one, or a primary no REPLICAOF NO ONE made. Its data is what
// it held on the chosen history, but its offsets began again on a history
// of its own, and a REPLICAOF NO ONE leaves that one at 0: recorded as the
// fork, it ties the promotion to nothing another Redis stands on, so a
// deposed primary's tail past the chosen offset is neither kept
// (aheadOfFork finds no fork for it) nor counted as past it. Chaos seed
// 11584 (N=5): d, chosen at epoch 2 at 28794 on 9262198f, was killed with
// its Redis and came back from its AOF at 0 on e602e00e; its promotion
// recorded e602e00e:0, and a's Redis, epoch 1's deposed primary, and b's,
// at 32679 and 32665 on 9262198f with two retry-queue INCRs, were
// re-pointed with a full sync instead of keeping their tail.
func restartFork(o monitor.Observation, pos replPosition, chosenID string, chosenOff int64) (divergent.Fork, bool) {
	if chosenID == "" || chosenOff <= 0 || pos.ReplID == "" || pos.ReplID == chosenID || pos.ReplID2 == chosenID || !backFromAOF(o, pos, chosenID) {
		return divergent.Fork{}, false
	}
	return divergent.Fork{OldReplID: chosenID, Offset: chosenOff}, true
}

// backFromAOF reports whether the local Redis, observed as o at position
// pos, may have come back from its AOF since the leader chose it on
// chosenID, the restarts leftChosen lets through: a replica never synced
// at offset 0 on a history other than the chosen one (an AOF restart
// begins one of its own), or a primary no REPLICAOF NO ONE made.
func backFromAOF(o monitor.Observation, pos replPosition, chosenID string) bool {
	return o.Role == monitor.RoleReplica && !o.Synced && pos.Offset <= 0 && pos.ReplID != chosenID ||
		o.Role == monitor.RolePrimary && noPastHistory(o)
}

// initialHistory is the history the initial primary's confirmation
// records as the one its epoch began (NewReplID): the master_replid of its
// Redis, already a primary (o), which only that process writes (a restart
// or a REPLICAOF NO ONE begins another). With it an AOF restart of the
// initial primary is judged as a promoted one's (aofKeptPromotedHistory):
// a replica still on that history holding no more keys says nothing
// against it. "" for any other promotion, which records what its
// REPLICAOF NO ONE began (localFork, resumedFork). Chaos seed 9522 (N=3):
// a, epoch 1's primary, was killed with its Redis; a's Redis came back
// from its AOF with every write, among them 7 retry-queue INCRs whose
// other copy, on c's Redis, had been lost; a's restarted sidecar judged it
// empty against b's Redis, cut off 4 s before the kill and behind on a's
// own earlier history, and epoch 2 promoted b: the INCRs were lost.
func initialHistory(reason string, o monitor.Observation) string {
	if reason != ReasonInitial || o.Role != monitor.RolePrimary {
		return ""
	}
	return o.ReplID
}

// promotionLost says why the local Redis, observed as now at the end of
// its promotion, is no longer the process the promotion made primary
// (before: observed just before its REPLICAOF NO ONE), or "" when it
// still is. A restart drops the promotion's pause and keeps whatever the
// Redis loaded, which the promotion must not release; its sidecar pauses
// it meanwhile once judged empty (decideLocal). Chaos seed 2001 (N=5): d's
// Redis, killed during the promotion's hold, came back from a 21 s old
// RDB, and the promotion released writes on it and reported success.
func promotionLost(before, now monitor.Observation) string {
	switch {
	case before.RunID != "" && now.RunID != "" && now.RunID != before.RunID:
		return fmt.Sprintf("its Redis restarted during the promotion (run_id %s, was %s)", now.RunID, before.RunID)
	case now.Loading:
		return "its Redis is loading a data set: it restarted during the promotion"
	case !now.Reachable():
		// Not known: the release fails on a Redis that is down, and a
		// probe that timed out on a loaded machine would only delay it.
		return ""
	case now.Role != monitor.RolePrimary:
		return fmt.Sprintf("its Redis is no longer a primary (%s)", now.Role)
	}
	return ""
}

// releaseCutOff says why a promotion must not release writes at now: its
// sidecar has had no majority contact (lastContact) for fence_after, so the
// loop would fence it, and does not while the promotion runs (decideLocal:
// the effect owns the pause). The old primary's hold (ackLagBound, 3 s at
// fence_after 1 s) outlasts fence_after. Chaos seed 5618 (N=5): b, epoch
// 5's primary, promoted at 48.10 s and held writes 3 s; a one-way cut
// from 48.22 s left no majority anywhere (Raft leader a stepped down at
// 48.59 s); b's release at 51.21 s let its Redis acknowledge writes for
// 48 ms, no replica holding them (e's had detached), before the loop
// fenced it; b's node was then killed, and its AOF restart kept no
// position to capture them from.
func releaseCutOff(lastContact, now time.Time, p params) string {
	if isolated(lastContact, now, p) {
		return fmt.Sprintf("no majority contact for %s (fence_after %s)", now.Sub(lastContact).Round(time.Millisecond), p.FenceAfter)
	}
	return ""
}

// noPastHistory reports whether o shows no history before its current one
// (master_replid2 zero): a primary that no REPLICAOF NO ONE made, restarted
// as one (empty or from its AOF), or the initial primary. The converse does
// not hold: Redis 7.0 gives a primary restarted from an RDB the snapshot's
// history as master_replid2 (promotedBefore).
func noPastHistory(o monitor.Observation) bool { return strings.Trim(o.ReplID2, "0") == "" }

// startDemote turns the local primary, which the committed state does not
// name (or which came back empty), into a replica of addr.
func (f *Failover) startDemote(ctx context.Context, c *core, addr string, empty, partialOnly bool) {
	st := c.st
	epoch, primary := st.Epoch, st.Primary
	c.localBusy = true
	f.expectRole(c, monitor.RoleReplica)
	self := f.nodeOf(c, f.self.Name, time.Now())
	newp := Node{Name: primary, Addr: addr}
	if empty {
		newp = Node{Addr: addr}
	}
	pause := f.fencePause(c.p)
	// A stale primary restarted as one holds no history a capture could
	// read its divergent writes from.
	restarted := !empty && restartedPrimary(c.obs, group(c.st), f.self.Name)
	vouched := "" // with partialOnly nobody vouches for the primary
	if !partialOnly {
		vouched = vouchedHistory(group(c.st), c.peers, time.Now(), c.p.Fresh)
	}
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		err := func() error {
			vst, err := f.pauseAndVerify(ctx, pause)
			if err != nil {
				return err
			}
			if empty {
				if vst.Epoch != epoch || vst.Primary != f.self.Name {
					return fmt.Errorf("%w: the state moved on", authority.ErrStale)
				}
			} else if vst.Primary == f.self.Name || vst.Primary != primary {
				return fmt.Errorf("%w: the newest entry names %s", authority.ErrStale, vst.Primary)
			}
			if partialOnly {
				if err := f.sourceContinues(ctx, addr); err != nil {
					if errors.Is(err, errNoPartial) && restarted {
						// Held back as a primary, a replica that still
						// followed it full-synced its stale snapshot (chaos
						// seed 10, N=3): pointing at itself, it refuses them.
						if derr := f.replicaOf(ctx, f.local.Client(), f.rc.Addr, false); derr != nil {
							return derr
						}
						f.log.Warn("stale primary detached: it points at itself until the new primary is vouched for", "epoch", epoch)
					}
					return err
				}
			}
			var keep *keepReq // an empty restart has nothing to keep
			if !empty {
				keep = &keepReq{epoch: vst.Epoch, node: f.self.Name, addr: f.self.Addr, history: vst.History}
			}
			// An empty primary is pointed at a replica, not at the
			// primary: nothing of it to follow.
			return f.demoteRedis(ctx, f.local.Client(), addr, addr, !empty, keep, !empty, vouched)
		}()
		o := f.local.ProbeNow(ctx)
		return func(c *core) {
			c.localBusy = false
			f.takeObs(c, o)
			if f.waitPartial(c, err, addr) {
				return
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, authority.ErrStale) {
					f.log.Error("demote local redis", "redis_addr", addr, "err", err)
				}
				f.backOff(c, false)
				return
			}
			if empty {
				f.log.Warn("empty primary pointed at the most advanced replica", "redis_addr", addr)
				c.fenced = true
				return
			}
			f.log.Warn("stale primary demoted", "redis_addr", addr, "epoch", epoch)
			f.setUnfenced(c)
			f.emit(Event{Kind: EventConvertToReplica, Epoch: epoch, Node: self,
				OldPrimary: Node{Name: self.Name, Addr: self.Addr}, NewPrimary: newp})
		}
	})
}

// demoteRedis pauses writes on a Redis, keeps its divergent writes when
// keep names it and a Keeper is set (replayed into addr, the primary),
// makes it a replica of to (addr, or the Redis itself when nobody watches
// it: foreignFollows) and disconnects its clients so they rediscover the
// primary; with release it lifts the pause afterwards (a replica refuses
// writes by itself). With
// check, addr is the primary, and it is followed only if it still
// continues the Redis's stream or is the process its sidecar vouched for
// (vouched; replPosition.follows), asked right before the REPLICAOF: the
// keep and the verify before it can take seconds, in which that Redis can
// restart empty (chaos seed 2505, N=3).
func (f *Failover) demoteRedis(ctx context.Context, cl *redis.Client, addr, to string, release bool, keep *keepReq, check bool, vouched string) error {
	if f.keeper == nil {
		keep = nil
	}
	pause := f.failoverTimeout()
	if keep != nil {
		// The offset must stand still while the capture reads up to it.
		pause += f.keeper.Config().CaptureTimeout
	}
	if err := pauseOn(ctx, cl, f.cmdWait, pause); err != nil {
		f.m.commandErrors.WithLabelValues("client_pause").Inc()
		return err
	}
	if keep != nil {
		demote, err := f.keepDivergent(ctx, *keep, addr)
		if err != nil {
			return f.failedDemotion(ctx, cl, err)
		}
		if !demote {
			// Demoted by someone else meanwhile: a replica, and a paused
			// replica applies nothing of its primary's stream. Left
			// paused for 40 s, one looked synced while it held none of
			// the writes WAIT counted on (chaos seed 8, N=3).
			return f.unpauseOn(ctx, cl)
		}
	}
	if check {
		if err := f.continuesOn(ctx, cl, addr, vouched); err != nil {
			// Still paused: not named, a primary stays fenced.
			return f.failedDemotion(ctx, cl, err)
		}
	}
	if err := f.replicaOfOn(ctx, cl, to); err != nil {
		return f.failedDemotion(ctx, cl, err)
	}
	f.killClientsOn(ctx, cl)
	if release {
		return f.unpauseOn(ctx, cl)
	}
	return nil
}

// failedDemotion ends a demotion that failed after demoteRedis paused
// the Redis behind cl: one that answers as a replica by now (demoted by
// another sidecar meanwhile) has its pause lifted (liftReplicaPause); a
// primary stays paused, fenced as meant. It returns err, joined with the
// lift's own error if that failed.
func (f *Failover) failedDemotion(ctx context.Context, cl *redis.Client, err error) error {
	if _, lerr := liftReplicaPause(context.WithoutCancel(ctx), cl, f.cmdWait); lerr != nil {
		return errors.Join(err, lerr)
	}
	return err
}

// liftReplicaPause lifts a CLIENT PAUSE on the Redis behind cl if it
// answers ROLE as a replica, and reports whether it did. A paused replica
// applies nothing of its primary's stream yet keeps acknowledging it, so
// it counts toward the primary's min-replicas-to-write while it holds
// none of the writes: left paused for up to 40 s by a failed demotion,
// one did so in chaos seed 11208 (N=5, a's Redis, demoted by e 0.6 s
// before b's own demotion of it failed), and e's Redis was the only real
// copy of the writes the primary took.
func liftReplicaPause(ctx context.Context, cl *redis.Client, wait time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*wait)
	defer cancel()
	role, err := roleOf(ctx, cl)
	if err != nil || role != "slave" {
		return false, err
	}
	if err := cl.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		return false, fmt.Errorf("client unpause: %w", err)
	}
	return true, nil
}

// startRepoint makes the local replica follow addr. With partialOnly it
// does so only where that continues the local stream, or, a full sync,
// where addr leads history fullSyncOn (localPlan.FullSyncOn).
func (f *Failover) startRepoint(ctx context.Context, c *core, addr string, partialOnly bool, fullSyncOn string) {
	st := c.st
	primary, epoch := st.Primary, st.Epoch
	c.localBusy = true
	self := f.nodeOf(c, f.self.Name, time.Now())
	pn := f.nodeOf(c, primary, time.Now())
	pn.Addr = addr
	// Sentinel describes the replica as one of the failed master until
	// +switch-master.
	oldp := Node{Name: c.st.Previous, Addr: f.memberAddr(c.st, c.st.Previous)}
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		err := func() error {
			vst, err := f.verify(ctx)
			if err != nil {
				return err
			}
			if vst.Primary != primary {
				return fmt.Errorf("%w: the newest entry names %s", authority.ErrStale, vst.Primary)
			}
			if partialOnly {
				if err := f.continuesOn(ctx, f.local.Client(), addr, fullSyncOn); err != nil {
					return err
				}
			}
			if err := f.replicaOfOn(ctx, f.local.Client(), addr); err != nil {
				return err
			}
			// A replica is never paused on purpose (the release of a
			// fence lifts it at once): one left over from another
			// sidecar's check of this Redis as a stale primary
			// (pausePrimaryOn) would have it acknowledge the stream
			// it does not apply.
			if err := f.unpauseWrites(ctx); err != nil {
				f.log.Warn("lift any pause from the re-pointed replica", "redis_addr", f.rc.Addr, "err", err)
			}
			return nil
		}()
		o := f.local.ProbeNow(ctx)
		return func(c *core) {
			c.localBusy = false
			f.takeObs(c, o)
			if f.waitPartial(c, err, addr) {
				return
			}
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, authority.ErrStale) {
					f.log.Error("re-point replica", "redis_addr", addr, "err", err)
				}
				f.backOff(c, false)
				return
			}
			f.log.Info("replica re-pointed", "redis_addr", addr, "epoch", epoch)
			c.reconfTo, c.reconfState = addr, 1
			f.emit(Event{Kind: EventReplicaReconfSent, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: pn})
		}
	})
}

// startKeepTail keeps the writes the local replica holds beyond the new
// primary's fork (localPlan.KeepTail), then makes it follow addr: with
// writes paused it leaves the old history (REPLICAOF NO ONE keeps it as
// the previous one, up to where it stands), and the demotion of a deposed
// primary follows, which captures that tail from the fork and replays or
// archives it.
func (f *Failover) startKeepTail(ctx context.Context, c *core, addr string) {
	st := c.st
	primary, epoch := st.Primary, st.Epoch
	c.localBusy = true
	pause := f.fencePause(c.p)
	vouched := vouchedHistory(group(st), c.peers, time.Now(), c.p.Fresh) // KeepTail: vouched for
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		err := func() error {
			vst, err := f.pauseAndVerify(ctx, pause)
			if err == nil && (vst.Primary != primary || vst.Primary == f.self.Name) {
				err = fmt.Errorf("%w: the newest entry names %s", authority.ErrStale, vst.Primary)
			}
			if err != nil {
				// Still a replica: paused, it would apply nothing of its
				// primary's stream.
				_ = f.unpauseWrites(ctx)
				return err
			}
			// The history it leaves: after REPLICAOF NO ONE master_replid
			// is a new one, and forkFor would not find the fork (seed 302).
			from := f.replIDOf(ctx, f.rc.Addr)
			if err := f.promoteTx(ctx, len(vst.Members), pause); err != nil {
				return err
			}
			keep := &keepReq{epoch: vst.Epoch, node: f.self.Name, addr: f.self.Addr, history: vst.History, replID: from}
			return f.demoteRedis(ctx, f.local.Client(), addr, addr, true, keep, true, vouched)
		}()
		o := f.local.ProbeNow(ctx)
		return func(c *core) {
			if !f.settle(ctx, c, o, err, "keep the local replica's writes beyond the fork") {
				return
			}
			f.log.Warn("replica's writes beyond the new primary's fork kept; it follows the primary", "redis_addr", addr, "epoch", epoch)
			c.reconfTo, c.reconfState = addr, 1
		}
	})
}

// startDetach points the local Redis at itself (localPlan.Detach). No
// Verify: the sidecar is cut off from the leader. The change is not
// written to redis.conf; after a restart the sidecar decides again.
func (f *Failover) startDetach(ctx context.Context, c *core, why string, hold int) {
	c.localBusy = true
	addr, run := f.rc.Addr, c.obs.RunID
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		var herr error
		if hold > 0 {
			herr = f.holdMinReplicasOn(ctx, f.local.Client(), hold)
		}
		err := f.replicaOf(ctx, f.local.Client(), addr, false)
		o := f.local.ProbeNow(ctx)
		return func(c *core) {
			if hold > 0 && herr == nil {
				c.fenceHeld, c.minReplicas = run, hold
			}
			if f.settle(ctx, c, o, err, "detach the local redis") {
				f.log.Warn(why, "epoch", c.st.Epoch)
			}
		}
	})
}

// settle ends a local effect on the loop: the Redis's observation o is
// taken, and a failure is logged as msg (unless the sidecar is stopping)
// and tried again next interval. It reports whether the effect succeeded.
func (f *Failover) settle(ctx context.Context, c *core, o monitor.Observation, err error, msg string) bool {
	c.localBusy = false
	f.takeObs(c, o)
	if err == nil {
		return true
	}
	if ctx.Err() == nil {
		f.log.Error(msg, "redis_addr", f.rc.Addr, "err", err)
	}
	f.backOff(c, false)
	return false
}

// startUndetach makes the local Redis, the promoted primary pointing at
// itself, a primary again (localPlan.Undetach). Writes are paused first,
// then a Verify must still name this node, promoted, at the epoch the
// plan saw; the usual release follows. The sidecar's own state may lag the
// group's by an election or two after a partition heals, and a Redis made
// a primary on it begins a new history that hides its tail past the
// group's fork. Chaos seed 11535 (N=5): a's sidecar, at epoch 6 for 0.9 s
// after the heal while the group was at 8, made a's Redis, epoch 6's
// deposed primary, a primary twice; at epoch 10 the leader took it for a
// holder with the most keys (epoch 6's data plus its tail) and promoted
// it, and 5 acknowledged writes c's Redis held were full-synced away.
func (f *Failover) startUndetach(ctx context.Context, c *core) {
	c.localBusy = true
	epoch := c.st.Epoch
	f.expectRole(c, monitor.RolePrimary)
	pause := f.fencePause(c.p)
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		vst, err := f.pauseAndVerify(ctx, pause)
		if err == nil {
			err = undetachStale(vst, f.self.Name, epoch)
		}
		if err == nil {
			err = f.promoteTx(ctx, len(vst.Members), pause)
		} else if errors.Is(err, authority.ErrStale) {
			// Still pointing at itself, it takes no writes either way; the
			// pause would only hold its replicas' reads of it back.
			_ = f.unpauseWrites(ctx)
		}
		o := f.local.ProbeNow(ctx)
		return func(c *core) {
			if !f.settle(ctx, c, o, err, "make the local redis a primary again") {
				return
			}
			if !c.fenced {
				c.fenced = true
				f.m.fenced.Set(1)
			}
			f.log.Warn("the local redis is the primary again", "epoch", epoch)
		}
	})
}

// undetachStale refuses an Undetach planned at epoch that the verified
// state vst no longer backs: it must name self, promoted, at that epoch.
func undetachStale(vst authority.State, self string, epoch uint64) error {
	if vst.Epoch != epoch || vst.Primary != self || !vst.Promoted {
		return fmt.Errorf("%w: the verified state names %s at epoch %d (promoted %t), planned at epoch %d",
			authority.ErrStale, vst.Primary, vst.Epoch, vst.Promoted, epoch)
	}
	return nil
}

// trackReconf reports a re-pointed replica's progress: in progress while
// it syncs, done once its link is up.
func (f *Failover) trackReconf(c *core, now time.Time) {
	if c.reconfState == 0 || c.obs.MasterAddr() != c.reconfTo {
		return
	}
	self := f.nodeOf(c, f.self.Name, now)
	pn := Node{Name: c.st.Primary, Addr: c.reconfTo}
	oldp := Node{Name: c.st.Previous, Addr: f.memberAddr(c.st, c.st.Previous)}
	if c.reconfState == 1 && (c.obs.SyncInProgress || !c.obs.LinkUp) {
		c.reconfState = 2
		f.emit(Event{Kind: EventReplicaReconfInProg, Epoch: c.st.Epoch, Node: self, OldPrimary: oldp, NewPrimary: pn})
	}
	if c.obs.LinkUp && !c.obs.SyncInProgress {
		if c.reconfState == 1 {
			f.emit(Event{Kind: EventReplicaReconfInProg, Epoch: c.st.Epoch, Node: self, OldPrimary: oldp, NewPrimary: pn})
		}
		c.reconfState = 0
		f.emit(Event{Kind: EventReplicaReconfDone, Epoch: c.st.Epoch, Node: self, OldPrimary: oldp, NewPrimary: pn})
	}
}

// switchoverDuties plays this node's part in a committed switchover: the
// old primary pauses writes and tells its offset; the target waits until it
// has that offset and commits itself as the primary.
func (f *Failover) switchoverDuties(ctx context.Context, c *core, now time.Time) {
	st := c.st
	sw := c.gs.Switchover // its deadline on this sidecar's clock (localTimes)
	if handoverLapsed(c.myHandover, sw, now) {
		// The next report stops telling the peers a handover runs.
		c.myHandover = nil
	}
	if !sw.active(st.Epoch, now) || !c.verified {
		return
	}
	if sw.From == f.self.Name && st.Primary == f.self.Name && c.handoverEpoch != st.Epoch && !c.localBusy {
		c.handoverEpoch = st.Epoch
		c.localBusy = true
		epoch, to, deadline := st.Epoch, sw.To, sw.Deadline
		f.log.Info("switchover: pausing writes for the handover", "epoch", epoch, "peer", to)
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			err := f.pauseWrites(ctx, time.Until(deadline)+f.cmdWait)
			var off int64
			if err == nil {
				off, err = f.localOffset(ctx)
			}
			return func(c *core) {
				c.localBusy = false
				if err != nil {
					f.log.Error("switchover: pause the old primary", "err", err)
					return
				}
				if !c.fenced {
					c.fenced = true
					f.m.fenced.Set(1)
				}
				c.myHandover = &handover{Epoch: epoch, To: to, Offset: off}
				f.reportNow(c)
			}
		})
	}
	if sw.To == f.self.Name && c.takeoverEpoch != st.Epoch && !c.localBusy {
		from, ok := c.peers[sw.From]
		h := from.Rep.Handover
		if !ok || h == nil || h.Epoch != st.Epoch || h.To != f.self.Name {
			return
		}
		c.takeoverEpoch = st.Epoch
		c.localBusy = true
		epoch, deadline, target := st.Epoch, sw.Deadline, h.Offset
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			err := func() error {
				wctx, cancel := context.WithDeadline(ctx, deadline)
				defer cancel()
				for {
					off, err := f.localOffset(wctx)
					if err == nil && off >= target {
						break
					}
					select {
					case <-wctx.Done():
						return fmt.Errorf("did not catch up to offset %d (at %d): %w", target, off, wctx.Err())
					case <-time.After(2 * time.Millisecond):
					}
				}
				_, err := f.apply(ctx, authority.Command{Op: authority.OpSetPrimary, IfEpoch: epoch, Epoch: epoch + 1,
					Primary: f.self.Name, Reason: ReasonSwitchover, Start: time.Now()})
				return err
			}()
			return func(c *core) {
				c.localBusy = false
				if err != nil {
					f.log.Error("switchover: take over", "epoch", epoch, "err", err)
				}
			}
		})
	}
}

// foreignDuties probes the Redis of members whose sidecar is silent or says
// its Redis is a primary, and demotes any that acts as a primary the
// newest committed state does not name.
func (f *Failover) foreignDuties(ctx context.Context, c *core, now time.Time, gs groupState) {
	if !c.verified || gs.Primary == "" {
		return
	}
	if !gs.Promoted {
		f.strayDuties(ctx, c, now, gs)
	}
	// Before its promotion commits, the named primary's Redis is only
	// checked for writes nobody released (unpromotedUnwatched).
	unpromoted := unpromotedUnwatched(f.self.Name, gs, c.peers, now, c.p.Fresh)
	if !gs.Promoted && !unpromoted {
		return
	}
	paddr := primaryAddr(gs, c.peers, now, c.p.Fresh)
	if paddr == "" || syncSourceDoubtful(gs, c.peers, now, c.p.Fresh) {
		return
	}
	// The rule the local demotion follows (localPlan.PartialOnly): chaos
	// seed 11 (N=3) demoted another node's stale primary, holding writes,
	// into a primary restarted empty whose sidecar was dead.
	partialOnly := sourceUnvouched(gs, c.peers, now, c.p.Fresh)
	vouched := vouchedHistory(gs, c.peers, now, c.p.Fresh)
	pause := f.fencePause(c.p)
	mark := unwatchedPrimaryMark(f.self.Name, gs, c.peers, now, c.p.Fresh)
	if mark == "" && !unpromoted || c.unjudgedEpoch != gs.Epoch {
		c.unjudgedSince, c.unjudgedEpoch, c.pausedUnjudged = time.Time{}, gs.Epoch, false
	}
	if (mark != "" || unpromoted) && !c.foreign[gs.Primary] {
		// The primary's own sidecar cannot judge or pause its Redis: a
		// restart of it is paused from here (restartedUnjudged).
		c.foreign[gs.Primary] = true
		primary, epoch := gs.Primary, gs.Epoch
		due := unjudgedPauseDue(c.unjudgedSince, now, c.p.Fresh)
		unverified := unjudgedPauseUnverified(mark, f.auth.LastContact(), now, c.p)
		hold := 0
		if !c.pausedUnjudged {
			// Once per pause episode: its renewals need not rewrite the
			// config file.
			hold = fenceMinReplicas(c.p.MinReplicas, len(gs.Members))
		}
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			led, seen, paused, err := f.pauseUnjudgedPrimary(ctx, paddr, primary, epoch, mark, unpromoted, due, unverified, pause, hold)
			at := time.Now()
			return func(c *core) {
				c.foreign[primary] = false
				c.primarySeen = primarySighting{At: at, Epoch: epoch, ReplID: led}
				if err != nil {
					f.log.Debug("check the primary's redis", "peer", primary, "redis_addr", paddr, "err", err)
				}
				switch {
				case !seen || c.unjudgedEpoch != epoch:
					c.unjudgedSince = time.Time{}
				case c.unjudgedSince.IsZero():
					c.unjudgedSince = at
				}
				switch {
				case paused && !c.pausedUnjudged && unpromoted:
					f.log.Warn("writes paused on the primary's redis: it acts as a primary before its promotion, and its sidecar cannot reach it",
						"peer", primary, "redis_addr", paddr, "epoch", epoch)
				case paused && !c.pausedUnjudged:
					f.log.Warn("writes paused on the primary's redis: it restarted since its sidecar last judged it, and that sidecar cannot reach it",
						"peer", primary, "redis_addr", paddr, "epoch", epoch, "judged_history", mark)
				}
				c.pausedUnjudged = paused
			}
		})
	}
	if !gs.Promoted {
		// No primary to demote a stale one into yet.
		return
	}
	for name, addr := range foreignTargets(f.self.Name, gs, c.peers, now, c.p.Fresh) {
		if c.foreign[name] {
			continue
		}
		c.foreign[name] = true
		primary, epoch := gs.Primary, gs.Epoch
		follow := foreignFollows(name, c.peers, now, c.p.Fresh)
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			demoted, err := f.checkForeign(ctx, name, addr, primary, paddr, partialOnly, follow, vouched, pause)
			return func(c *core) {
				c.foreign[name] = false
				if err != nil {
					f.log.Debug("check foreign redis", "peer", name, "redis_addr", addr, "err", err)
				}
				if demoted {
					f.m.foreignDemotions.Inc()
					// As the Sentinel that reconfigures an old master
					// announces it (-role-change, then +convert-to-slave):
					// the member's own sidecar, cut from its Redis or
					// down, announces nothing, and one that watches it may
					// not have seen it as a master before this demotion
					// (an old primary's Redis that restarts is demoted
					// within a probe interval).
					f.emit(Event{Kind: EventRoleMismatch, Epoch: epoch, Node: Node{Name: name, Addr: addr, Role: monitor.RolePrimary}})
					f.emit(Event{Kind: EventConvertToReplica, Epoch: epoch, Node: Node{Name: name, Addr: addr},
						OldPrimary: Node{Name: name, Addr: addr}, NewPrimary: Node{Name: primary, Addr: paddr}})
				}
			}
		})
	}
}

// strayDuties pauses, before the named primary's promotion, the Redis of
// every member that strayTargets names and that answers as a primary: no
// primary exists yet to demote it into (checkForeign waits for one), and
// its own sidecar cannot pause it. Chaos seed 17040 (N=5, shipped
// defaults): c's Redis came back from its AOF as a primary while c's
// sidecar was cut from it, and took writes for 1.3 s while epoch 5's
// named primary, its sidecar stopped, never promoted; epoch 6 promoted b,
// and the two took writes together for 30 ms before b demoted c's.
func (f *Failover) strayDuties(ctx context.Context, c *core, now time.Time, gs groupState) {
	pause := f.fencePause(c.p)
	targets := strayTargets(f.self.Name, gs, c.peers, now, c.p.Fresh)
	for name := range c.strays {
		if _, ok := targets[name]; !ok {
			delete(c.strays, name)
		}
	}
	for name, addr := range targets {
		if c.foreign[name] {
			continue
		}
		c.foreign[name] = true
		primary := gs.Primary
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			paused, err := f.pauseStray(ctx, name, addr, primary, pause)
			return func(c *core) {
				c.foreign[name] = false
				if err != nil {
					f.log.Debug("check a stray primary", "peer", name, "redis_addr", addr, "err", err)
				}
				if paused && !c.strays[name] {
					f.log.Warn("writes paused on a member's redis: it acts as a primary the state does not name, before the named one's promotion, and its sidecar cannot reach it",
						"peer", name, "redis_addr", addr, "primary", primary)
				}
				c.strays[name] = paused
			}
		})
	}
}

// pauseStray pauses writes on member's Redis at addr, for pause, when it
// answers as a primary while a Verify still names primary: a stray
// primary nobody else fences until a promotion can demote it. Also when
// the Verify finds primary promoted: the duty runs beside the named
// primary's own promotion, and the demotion (checkForeign) comes only at
// the next tick. Chaos seed 17825 (N=5): the Verify returned after b's
// promotion, the stray was left alone, and a's Redis took writes beside
// b's for 75 ms until b's sidecar demoted it. One that answers as a
// replica by then is left unpaused (pausePrimaryOn). It reports whether
// the Redis stays paused.
func (f *Failover) pauseStray(ctx context.Context, member, addr, primary string, pause time.Duration) (bool, error) {
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	_, stray, err := f.foreignPrimary(ctx, cl, member, primary)
	if err != nil || !stray {
		return false, err
	}
	return pausePrimaryOn(ctx, cl, f.cmdWait, pause)
}

// foreignPrimary asks member's Redis behind cl for its role and, when it
// acts as a primary while the state names primary, reads the group's
// state through the leader (Verify): it reports that state and whether it
// still names primary, not member. Nothing is done to a Redis on a stale
// state.
func (f *Failover) foreignPrimary(ctx context.Context, cl *redis.Client, member, primary string) (authority.State, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, f.mc.Timeout)
	role, err := roleOf(rctx, cl)
	cancel()
	if err != nil || !foreignCheck(groupState{Primary: primary}, member, monitor.Role(roleName(role))) {
		return authority.State{}, false, err
	}
	vst, err := f.verify(ctx)
	if err != nil {
		return authority.State{}, false, err
	}
	return vst, vst.Primary == primary && foreignCheck(group(vst), member, monitor.RolePrimary), nil
}

// ownReplicaDuties points at itself the Redis of every member that
// ownReplicaTargets names and that follows the local Redis (followsOwn):
// this sidecar, cut off, cannot pause its own Redis, and without their
// acknowledgements min-replicas-to-write refuses its writes.
func (f *Failover) ownReplicaDuties(ctx context.Context, c *core, now time.Time, gs groupState) {
	local := localObs{Reachable: c.obs.Reachable(), Time: c.obs.Time}
	targets := ownReplicaTargets(f.self.Name, gs, c.peers, local, f.auth.LastContact(), c.started, now, c.p)
	own := slices.Compact([]string{f.self.Addr, f.rc.Addr})
	for name, addr := range targets {
		if c.ownReplica[name] {
			continue
		}
		c.ownReplica[name] = true
		f.spawn(ctx, func(ctx context.Context) func(*core) {
			detached, err := f.detachOwnReplica(ctx, addr, own)
			return func(c *core) {
				c.ownReplica[name] = false
				if err != nil {
					f.log.Debug("check a replica of the local redis", "peer", name, "redis_addr", addr, "err", err)
				}
				if detached {
					f.log.Warn("replica of the local redis detached: this sidecar is cut off and cannot pause its redis, and the replica's sidecar does not watch it",
						"peer", name, "redis_addr", addr, "epoch", gs.Epoch)
				}
			}
		})
	}
}

// detachOwnReplica asks the Redis at addr for its role and, if it follows
// the local Redis at one of own, points it at itself.
func (f *Failover) detachOwnReplica(ctx context.Context, addr string, own []string) (bool, error) {
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, f.mc.Timeout)
	role, master, err := roleAndMasterOf(rctx, cl)
	cancel()
	if err != nil || !followsOwn(monitor.Role(roleName(role)), master, own) {
		return false, err
	}
	if err := f.replicaOf(ctx, cl, addr, false); err != nil {
		return false, err
	}
	return true, nil
}

// pauseUnjudgedPrimary checks the committed primary's Redis at addr:
// seen, it answers as a primary on another history than mark, the one its
// sidecar last judged, or with unpromoted as a primary at all
// (unwatchedPaused); with due, its writes are then paused for pause, once
// a fresh Verify still names primary at epoch (with unpromoted, still not
// promoted), or, with unverified (unjudgedPauseUnverified: this sidecar is
// cut off, no Verify can answer), without one. The pause lapses by itself
// unless renewed; the primary's sidecar, once it reaches its Redis again,
// judges it as any restart. With hold above zero the pause is made
// lasting as well: min-replicas-to-write hold (holdMinReplicasOn), for
// when this sidecar loses its reach too. led is the history that Redis
// leads when it answers as a primary, "" otherwise
// (localInput.PrimarySeen).
func (f *Failover) pauseUnjudgedPrimary(ctx context.Context, addr, primary string, epoch uint64, mark string, unpromoted, due, unverified bool, pause time.Duration, hold int) (led string, seen, paused bool, err error) {
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, f.mc.Timeout)
	defer cancel()
	role, err := roleOf(rctx, cl)
	if err != nil {
		return "", false, false, err
	}
	info, err := cl.Info(rctx, "replication").Result()
	if err != nil {
		return "", false, false, fmt.Errorf("info replication of %s: %w", addr, err)
	}
	r, id := monitor.Role(roleName(role)), parseReplPosition(info).ReplID
	if r == monitor.RolePrimary {
		led = id // primarySighting
	}
	if !unwatchedPaused(mark, unpromoted, r, id) {
		return led, false, false, nil
	}
	if !due {
		return led, true, false, nil
	}
	if !unverified {
		vst, err := f.verify(ctx)
		if err != nil {
			return led, true, false, err
		}
		if vst.Primary != primary || vst.Epoch != epoch || unpromoted && vst.Promoted {
			return led, true, false, nil
		}
	}
	if err := pauseOn(ctx, cl, f.cmdWait, pause); err != nil {
		return led, true, false, err
	}
	if hold > 0 {
		if err := f.holdMinReplicasOn(ctx, cl, hold); err != nil {
			return led, true, true, err
		}
	}
	return led, true, true, nil
}

// checkForeign asks member's Redis at addr for its role and, if it acts as
// a primary that a fresh Verify does not name, pauses and demotes it; with
// partialOnly, only where the primary would continue its stream, and
// otherwise it stays paused for pause. With follow (foreignFollows) it is
// pointed at the primary, else at itself.
func (f *Failover) checkForeign(ctx context.Context, member, addr, primary, paddr string, partialOnly, follow bool, vouched string, pause time.Duration) (bool, error) {
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	vst, stale, err := f.foreignPrimary(ctx, cl, member, primary)
	if err != nil || !stale {
		return false, err
	}
	if partialOnly {
		if err := f.continuesOn(ctx, cl, paddr, ""); err != nil {
			paused, perr := pausePrimaryOn(ctx, cl, f.cmdWait, pause)
			if perr != nil {
				return false, perr
			}
			if !paused {
				return false, fmt.Errorf("%s's redis answers as a replica by now: not paused", member)
			}
			return false, fmt.Errorf("stale primary of %s paused, not demoted: %w", member, err)
		}
	}
	f.log.Warn("demoting a stale primary of another node", "peer", member, "redis_addr", addr, "primary", primary)
	keep := &keepReq{epoch: vst.Epoch, node: member, addr: addr, history: vst.History}
	to := paddr
	if !follow {
		to = addr // nobody would detach it: it syncs nothing (chaos seed 7119)
	}
	if err := f.demoteRedis(ctx, cl, paddr, to, true, keep, follow, vouched); err != nil {
		return false, err
	}
	return true, nil
}

// roleName maps ROLE's first element to monitor's role names.
func roleName(r string) string {
	switch r {
	case "master":
		return string(monitor.RolePrimary)
	case "slave":
		return string(monitor.RoleReplica)
	}
	return r
}

// failoverTimeout is the effective failover timeout: the group-wide
// setting as last committed, or the file's failover.switchover_timeout.
func (f *Failover) failoverTimeout() time.Duration {
	var s authority.Settings
	if v := f.current(); v != nil {
		s = v.state.Settings
	}
	return f.cfg.params(s, f.fresh).FailoverTimeout
}

// replayWait bounds the replay of divergent writes a demotion waits for
// (divergent.Request.ReplayWait): down_after, after which the leader takes
// a named primary that has not promoted for stuck. The sidecar does
// nothing else to its Redis meanwhile, neither promote it nor point it
// away from a dead primary; an interrupted replay is retried in the
// background.
func (f *Failover) replayWait() time.Duration {
	var s authority.Settings
	if v := f.current(); v != nil {
		s = v.state.Settings
	}
	return f.cfg.params(s, f.fresh).DownAfter
}

// fencePause is how long one fencing CLIENT PAUSE lasts: renewed every
// step while it is wanted, it must survive a stalled sidecar (a loaded host,
// a GC pause) until the majority can have replaced this primary, and it
// lapses by itself if this sidecar dies: down_after plus a few intervals.
func (f *Failover) fencePause(p params) time.Duration {
	return p.DownAfter + 3*f.mc.Interval + 2*f.mc.Timeout
}

func (f *Failover) pauseWrites(ctx context.Context, d time.Duration) error {
	if err := pauseOn(ctx, f.local.Client(), f.cmdWait, d); err != nil {
		f.m.commandErrors.WithLabelValues("client_pause").Inc()
		return err
	}
	return nil
}

// pausePrimaryOn pauses writes on another member's Redis behind cl for d
// and reports whether it stays paused: a Redis that answers ROLE as a
// replica right after the pause has it lifted again (liftReplicaPause).
// The caller saw it answer as a primary, but a Verify later its own
// sidecar may have made it a replica, and a pause that lands after that
// sidecar's release is one nobody lifts. Chaos seed 12804 (N=3): c's
// Redis came back from its AOF as a primary, and its own sidecar made it
// a replica 3 ms after first seeing it; a's and b's sidecars had read its
// role before that and paused it 250 ms later, when it was a replica; it
// full-synced from b, the new primary, and for the 2.8 s of the pause
// applied nothing of b's stream while it acknowledged it, so b
// took writes under min-replicas-to-write that only b held, and lost them
// when it was killed.
func pausePrimaryOn(ctx context.Context, cl *redis.Client, wait, d time.Duration) (bool, error) {
	if err := pauseOn(ctx, cl, wait, d); err != nil {
		return false, err
	}
	lifted, err := liftReplicaPause(ctx, cl, wait)
	if err != nil {
		return true, err
	}
	return !lifted, nil
}

// fencePrimaryOn is pausePrimaryOn for the old primary a promotion
// replaces, once: the pause stops writes, not reads, so a Redis that stays
// paused has its clients disconnected too, and they ask a Sentinel again,
// as the local fence and a demotion make them do. An error doing so comes
// with paused true. Chaos seed 16826 (N=5): e fenced a's Redis, the
// deposed primary, whose sidecar was cut from it, and 60 ms later, before
// e's demotion of it disconnected them, a register client still connected
// to it read a value the new primary had replaced. (A stale primary paused
// but not demoted, checkForeign's, is paused again every pass: it is left
// its clients, among them its own sidecar's probe.)
func fencePrimaryOn(ctx context.Context, cl *redis.Client, wait, d time.Duration) (bool, error) {
	paused, err := pausePrimaryOn(ctx, cl, wait, d)
	if !paused || err != nil {
		return paused, err
	}
	return true, disconnectClients(ctx, cl, wait)
}

func pauseOn(ctx context.Context, cl *redis.Client, wait, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := cl.Do(ctx, "CLIENT", "PAUSE", max(d.Milliseconds(), 1), "WRITE").Err(); err != nil {
		return fmt.Errorf("client pause: %w", err)
	}
	return nil
}

func (f *Failover) unpauseWrites(ctx context.Context) error {
	return f.unpauseOn(ctx, f.local.Client())
}

// unpauseOn lifts a CLIENT PAUSE on the Redis behind cl.
func (f *Failover) unpauseOn(ctx context.Context, cl *redis.Client) error {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	if err := cl.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		f.m.commandErrors.WithLabelValues("client_unpause").Inc()
		return fmt.Errorf("client unpause: %w", err)
	}
	return nil
}

// promoteTx is Sentinel's promotion transaction: REPLICAOF NO ONE, CONFIG
// REWRITE (which fails without a config file: tolerated), and CLIENT KILL
// of normal and pub/sub clients so replica-reading clients rediscover.
// With min_replicas, min-replicas-to-write is set in the same transaction,
// before REPLICAOF NO ONE (promoteTxCmds): members is the group's size.
func (f *Failover) promoteTx(ctx context.Context, members int, pause time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	cl := f.local.Client()
	want := minReplicasFor(f.cfg.MinReplicas, members)
	steps := promoteTxCmds(want, maxLagSeconds(f.cfg.FenceAfter), pause)
	cmds, err := cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, args := range steps {
			p.Do(ctx, args...)
		}
		return nil
	})
	if len(cmds) < len(steps) {
		f.m.commandErrors.WithLabelValues("replicaof").Inc()
		return fmt.Errorf("promotion transaction: %w", err)
	}
	// Only REPLICAOF NO ONE must succeed: CONFIG REWRITE fails without a
	// config file, and CLIENT KILL finding nobody is fine.
	for i, args := range steps {
		switch {
		case args[0] == "REPLICAOF":
			if err := cmds[i].Err(); err != nil {
				f.m.commandErrors.WithLabelValues("replicaof").Inc()
				return fmt.Errorf("replicaof no one: %w", err)
			}
		case args[0] == "CONFIG" && args[1] == "SET":
			if err := cmds[i].Err(); err != nil {
				f.m.commandErrors.WithLabelValues("config_set").Inc()
				f.log.Warn("set min-replicas-to-write", "err", err)
			}
		case args[0] == "CLIENT" && args[1] == "PAUSE":
			if err := cmds[i].Err(); err != nil {
				f.m.commandErrors.WithLabelValues("client_pause").Inc()
				f.log.Warn("pause writes with the promotion", "err", err)
			}
		}
	}
	return nil
}

// promoteTxCmds are the commands of the promotion transaction. With
// minReplicas (min-replicas-to-write, zero without min_replicas) the
// Redis is made a primary already under it: every promotion pauses its
// writes first, but the pause lapses by itself, and a sidecar that dies
// before it releases them (and sets min-replicas-to-write then) left a
// primary that takes writes with no replica once the pause is over — the
// successor's hold on it (oldPrimaryHold) counts on min-replicas-to-write
// stopping it. Chaos seed 1503 (N=3): c, promoted at epoch 3 from a
// replica (min-replicas-to-write 0), held its writes for the old primary
// b; its sidecar was killed 2.2 s later, the promotion's 10 s pause lapsed
// at 39.0 s, and its Redis, no replica connected, took writes for 1.2 s
// beside a, promoted at epoch 4.
//
// The transaction pauses writes itself (for pause), so the Redis becomes
// a primary under a pause whatever happened to the one taken before it:
// CLIENT UNPAUSE is global, and another sidecar that fenced this Redis as
// an old primary and found it a replica lifts every pause on it
// (liftReplicaPause). Chaos seed 14905 (N=3, shipped defaults): b won
// epoch 2, paused its Redis and was stopped (pause-winner) before its
// REPLICAOF NO ONE; c, promoted at epoch 3, fenced b's Redis and, finding
// it a replica, lifted the pause; b's sidecar resumed 7.8 s later, ran the
// promotion, and b's Redis took writes beside c's for 0.25 s until b
// learned of epoch 3.
func promoteTxCmds(minReplicas, maxLag int, pause time.Duration) [][]any {
	cmds := [][]any{{"CLIENT", "PAUSE", max(pause.Milliseconds(), 1), "WRITE"}}
	if minReplicas > 0 {
		cmds = append(cmds, []any{"CONFIG", "SET", "min-replicas-to-write", minReplicas, "min-replicas-max-lag", maxLag})
	}
	return append(cmds,
		[]any{"REPLICAOF", "NO", "ONE"},
		[]any{"CONFIG", "REWRITE"},
		[]any{"CLIENT", "KILL", "TYPE", "normal"},
		[]any{"CLIENT", "KILL", "TYPE", "pubsub"})
}

// replicaOfOn sends REPLICAOF addr to cl, then CONFIG REWRITE (tolerated).
func (f *Failover) replicaOfOn(ctx context.Context, cl *redis.Client, addr string) error {
	return f.replicaOf(ctx, cl, addr, true)
}

// replicaOf sends REPLICAOF addr, and with rewrite CONFIG REWRITE so that
// a restart keeps it.
func (f *Failover) replicaOf(ctx context.Context, cl *redis.Client, addr string, rewrite bool) error {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("replicaof %q: %w", addr, err)
	}
	if _, err := strconv.Atoi(p); err != nil {
		return fmt.Errorf("replicaof %q: bad port", addr)
	}
	if err := cl.Do(ctx, "REPLICAOF", h, p).Err(); err != nil {
		f.m.commandErrors.WithLabelValues("replicaof").Inc()
		return fmt.Errorf("replicaof %s: %w", addr, err)
	}
	if !rewrite {
		return nil
	}
	if err := cl.Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
		f.log.Debug("config rewrite", "err", err)
	}
	return nil
}

func (f *Failover) killClientsOn(ctx context.Context, cl *redis.Client) {
	if err := disconnectClients(ctx, cl, f.cmdWait); err != nil {
		f.m.commandErrors.WithLabelValues("client_kill").Inc()
		f.log.Debug("kill clients", "err", err)
	}
}

// disconnectClients closes the normal and pub/sub connections of the Redis
// behind cl but the one it asks on (CLIENT KILL skips its caller), within
// wait.
func disconnectClients(ctx context.Context, cl *redis.Client, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var errs []error
	for _, typ := range []string{"normal", "pubsub"} {
		if err := cl.Do(ctx, "CLIENT", "KILL", "TYPE", typ).Err(); err != nil {
			errs = append(errs, fmt.Errorf("client kill type %s: %w", typ, err))
		}
	}
	return errors.Join(errs...)
}

// holdDue is the min-replicas-to-write hold a fence or a detach sets on
// the local Redis (ownFenceMinReplicas): on a Redis that answers as a
// primary and has not had it since this run began or since the group's
// value was last set (fenceHeld); 0 otherwise.
func (f *Failover) holdDue(c *core, gs groupState) int {
	if c.obs.Role != monitor.RolePrimary || c.obs.RunID == c.fenceHeld {
		return 0
	}
	return ownFenceMinReplicas(c.p.MinReplicas, len(gs.Members), f.cfg.Authority.BootstrapExpect)
}

// setMinReplicas keeps failover.min_replicas on the local Redis.
func (f *Failover) setMinReplicas(ctx context.Context, members int) {
	if err := f.holdMinReplicasOn(ctx, f.local.Client(), minReplicasFor(f.cfg.MinReplicas, members)); err != nil {
		f.log.Warn("keep min_replicas on the local redis", "err", err)
	}
}

// holdMinReplicasOn sets min-replicas-to-write want (and
// min-replicas-max-lag for fence_after) on the Redis behind cl.
//
// Written to redis.conf too: a primary that restarts (its pause gone
// with the process) then refuses writes until a replica is back,
// instead of acknowledging writes before its sidecar can judge whether
// it came back empty (chaos seed 7). Without a config file Redis refuses
// the rewrite; the setting then lasts until a restart.
func (f *Failover) holdMinReplicasOn(ctx context.Context, cl *redis.Client, want int) error {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	if err := cl.Do(ctx, "CONFIG", "SET", "min-replicas-to-write", want,
		"min-replicas-max-lag", maxLagSeconds(f.cfg.FenceAfter)).Err(); err != nil {
		f.m.commandErrors.WithLabelValues("config_set").Inc()
		return fmt.Errorf("set min-replicas-to-write: %w", err)
	}
	if err := cl.Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
		f.log.Debug("config rewrite", "err", err)
	}
	return nil
}

// localRole asks the local Redis for its role with ROLE.
func (f *Failover) localRole(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	r, err := roleOf(ctx, f.local.Client())
	if err != nil {
		f.m.commandErrors.WithLabelValues("role").Inc()
	}
	return r, err
}

// roleOf is the role a Redis answers ROLE with (master, slave).
func roleOf(ctx context.Context, cl *redis.Client) (string, error) {
	role, _, err := roleAndMasterOf(ctx, cl)
	return role, err
}

// roleAndMasterOf is roleOf with, for a replica, the primary it is
// configured to follow (host:port from ROLE's reply); "" otherwise.
func roleAndMasterOf(ctx context.Context, cl *redis.Client) (string, string, error) {
	v, err := cl.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", "", fmt.Errorf("role: %w", err)
	}
	if len(v) == 0 {
		return "", "", errors.New("role: empty reply")
	}
	s, _ := v[0].(string)
	if s != "slave" || len(v) < 3 {
		return s, "", nil
	}
	host, _ := v[1].(string)
	port := fmt.Sprint(v[2])
	if host == "" {
		return s, "", nil
	}
	return s, net.JoinHostPort(host, port), nil
}

// localOffset reads the local replication offset from INFO replication.
func (f *Failover) localOffset(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	txt, err := f.local.Client().Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("info replication: %w", err)
	}
	return parseOffset(txt)
}

// keepReq names a former primary whose divergent writes are kept before it
// is demoted.
type keepReq struct {
	epoch   uint64         // the epoch that replaced it
	node    string         // its node name
	addr    string         // its Redis
	history []HistoryEntry // the verified state's history, for the fork
	// replID is the history its Redis stood on before it left it
	// (startKeepTail promotes first); "" to ask the Redis.
	replID string
}

// keepDivergent has the Keeper keep the writes k's Redis took after the
// fork, and reports whether to demote it now. Writes stay paused meanwhile.
// A fork nobody can know (the new primary has no previous history) or a
// node that no longer holds them is demoted with them lost, and said so;
// an unreachable node or new primary is tried again on the next step
// rather than demoted with its writes.
func (f *Failover) keepDivergent(ctx context.Context, k keepReq, newPrimary string) (bool, error) {
	fork, err := f.forkOf(ctx, k, newPrimary)
	if errors.Is(err, divergent.ErrNoFork) {
		f.log.Error("divergent writes not kept: fork point unknown", "redis_addr", k.addr, "epoch", k.epoch, "err", err)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("fork point for %s: %w", k.addr, err)
	}
	res, err := f.keeper.Keep(ctx, divergent.Request{Epoch: k.epoch, Node: k.node, Addr: k.addr, Fork: fork, NewPrimary: newPrimary,
		ReplayWait: f.replayWait()})
	switch {
	case err == nil:
		if res.Archive != "" {
			f.log.Warn("divergent writes kept before demotion", "peer", k.node, "redis_addr", k.addr, "epoch", k.epoch,
				"archive", res.Archive, "commands", res.Commands, "lag_bytes", res.Bytes)
		}
		return true, nil
	case errors.Is(err, divergent.ErrBacklogShort), errors.Is(err, divergent.ErrOtherHistory):
		f.log.Error("divergent writes lost", "peer", k.node, "redis_addr", k.addr, "epoch", k.epoch,
			"archive", res.Archive, "err", err)
		return true, nil
	case errors.Is(err, divergent.ErrNotPrimary):
		return false, nil // demoted by someone else meanwhile
	default:
		return false, fmt.Errorf("keep divergent writes of %s: %w", k.addr, err)
	}
}

// forkOf returns where the group's history left k's: the fork a recorded
// failover took from the history k's Redis is still on (k was cut off
// across several failovers), else the fork of the epoch that replaced k,
// recorded in its history entry once the promotion was confirmed or read
// from the new primary, which keeps it until it is promoted again or
// restarts.
func (f *Failover) forkOf(ctx context.Context, k keepReq, newPrimary string) (divergent.Fork, error) {
	id := k.replID
	if id == "" {
		id = f.replIDOf(ctx, k.addr)
	}
	if fork, ok := forkFor(k.history, id, k.epoch); ok {
		return fork, nil
	}
	for _, h := range k.history {
		if h.Epoch == k.epoch && h.ForkReplID != "" {
			return divergent.Fork{OldReplID: h.ForkReplID, Offset: h.ForkOffset}, nil
		}
	}
	info, err := f.replicationInfo(ctx, newPrimary)
	if err != nil {
		return divergent.Fork{}, err
	}
	return divergent.ParseFork(info)
}

// replicationInfo is INFO replication of the Redis at addr.
func (f *Failover) replicationInfo(ctx context.Context, addr string) (string, error) {
	cl := monitor.NewClient(addr, f.rc, f.mc.Timeout)
	defer cl.Close()
	ictx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	info, err := cl.Info(ictx, "replication").Result()
	if err != nil {
		return "", fmt.Errorf("info replication of %s: %w", addr, err)
	}
	return info, nil
}

// forkFor finds, in the recorded failovers, where the line of epoch's
// promotion left the history replID a node's Redis is still on, the start
// of the writes that node holds and the new primary lacks. Histories form
// a tree (each promotion begins one, forked from another): following
// epoch's promotion back through the forks gives the histories its
// primary held and where it left each; following replID back gives the
// node's. The first of the node's histories on the new primary's line
// decides: replID itself, at the offset that line left it (chaos seed 4:
// a primary cut off from epoch 2 to 4 was compared with epoch 4's fork,
// taken from another history, and its writes were reported lost); else
// an ancestor, and the node's writes begin where its history below that
// ancestor began, named by that history, which its Redis still knows
// (its own, or the one before it). Chaos seed 7113 (N=3): c's Redis, epoch
// 2's primary on c0b4, held INCRs a replica had acknowledged; epoch 3
// forked a off c0b4 at 45828, epoch 4 promoted b from d50f, which c0b4 had
// left at 36899, and the capture from epoch 3's fork let every write of
// epoch 2 be full-synced away. Seed 7021 (N=5): d's own history, begun by
// epoch 9, none took from; epoch 10 promoted b from the one before it.
//
// When the records do not connect the two (trimmed, or epoch's fork not
// yet recorded), the newest recorded fork from replID, if any: epoch's
// line may have taken from it.
func forkFor(history []HistoryEntry, replID string, epoch uint64) (divergent.Fork, bool) {
	if replID == "" {
		return divergent.Fork{}, false
	}
	began := func(id string) *HistoryEntry {
		var b *HistoryEntry
		for i := range history {
			h := &history[i]
			if h.NewReplID == id && h.ForkReplID != "" && (b == nil || h.Epoch > b.Epoch) {
				b = h
			}
		}
		return b
	}
	var e *HistoryEntry
	for i := range history {
		if history[i].Epoch == epoch {
			e = &history[i]
		}
	}
	left := map[string]int64{} // the histories epoch's line held, each with where it left it
	for n := 0; e != nil && e.ForkReplID != "" && n <= len(history); n++ {
		if _, seen := left[e.ForkReplID]; seen {
			break
		}
		left[e.ForkReplID] = e.ForkOffset
		e = began(e.ForkReplID)
	}
	for id, below, n := replID, "", 0; n <= len(history); n++ {
		if off, ok := left[id]; ok {
			if below == "" {
				return divergent.Fork{OldReplID: id, Offset: off}, true
			}
			return divergent.Fork{OldReplID: below, Offset: began(below).ForkOffset}, true
		}
		b := began(id)
		if b == nil {
			break
		}
		below, id = id, b.ForkReplID
	}
	var best *HistoryEntry
	for i := range history {
		h := &history[i]
		if h.ForkReplID == replID && (best == nil || h.Epoch > best.Epoch) {
			best = h
		}
	}
	if best == nil {
		return divergent.Fork{}, false
	}
	return divergent.Fork{OldReplID: best.ForkReplID, Offset: best.ForkOffset}, true
}

// replIDOf is the replication id a Redis is on now, "" if it cannot say.
func (f *Failover) replIDOf(ctx context.Context, addr string) string {
	info, err := f.replicationInfo(ctx, addr)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_replid:"); ok {
			return v
		}
	}
	return ""
}

// localFork reads the fork point of the local Redis right after its
// promotion, and the history the promotion began (its master_replid); the
// zero Fork when it has none (or INFO fails: the demoting sidecar then
// asks the new primary itself).
func (f *Failover) localFork(ctx context.Context) (divergent.Fork, string) {
	ictx, cancel := context.WithTimeout(ctx, f.cmdWait)
	defer cancel()
	info, err := f.local.Client().Info(ictx, "replication").Result()
	if err != nil {
		f.log.Warn("read fork point after promotion", "err", err)
		return divergent.Fork{}, ""
	}
	fork, err := divergent.ParseFork(info)
	if err != nil {
		f.log.Warn("read fork point after promotion", "err", err)
		return divergent.Fork{}, ""
	}
	return fork, parseReplPosition(info).ReplID
}
