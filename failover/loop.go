package failover

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/monitor"
)

// core is the loop's state. Only the loop goroutine touches it; effects
// change it by returning a function the loop runs.
type core struct {
	st authority.State
	// gs is group(st), kept by onState: st changes only there, and the
	// conversion (a map and slices) is needed on every step.
	gs      groupState
	p       params
	started time.Time
	// verified: a Verify since start confirmed the state this sidecar acts
	// on; until then its Redis, if a primary, stays paused.
	verified  bool
	verifying bool
	verifyAt  time.Time

	peers     map[string]peerView
	obs       monitor.Observation
	links     []linkMark // the primaries the local Redis was recently linked to
	localUpAt time.Time

	probeAddr  string
	probeSince time.Time
	lastAlive  time.Time
	lastWrote  time.Time // the probed primary last took a write probe
	sdown      bool
	odown      bool
	votes      int
	decision   leaderDecision

	fenced    bool
	fenceBusy bool
	fenceAt   time.Time // no fencing command before this (after a failure)
	// renewAt: no renewal of a standing fence's pause before this, an
	// interval after the last one (fencePause outlasts several).
	renewAt time.Time
	// ackSince: since when the fenced primary waits for its replicas to
	// prove they are live (localPlan.AwaitAcks); zero when not waiting.
	ackSince time.Time
	// promotedEpoch is the epoch this sidecar committed "promoted" for;
	// the local state may apply that entry a moment later.
	promotedEpoch uint64
	// localBusy: a promotion, demotion, re-point or switchover step runs
	// on the local Redis.
	localBusy bool
	promoting bool
	// partialWait: a demotion or re-point waits for a primary whose
	// sidecar does not vouch for it to be able to continue the local stream.
	partialWait bool
	retryAt     time.Time
	// retryPromote: the back-off until retryAt follows a failed promotion.
	retryPromote bool
	leaderBusy   bool
	leaderAt     time.Time
	gateBusy     bool
	verdict      *verdict        // this sidecar's gate's last verdict
	foreign      map[string]bool // members whose Redis a foreign check runs on
	strays       map[string]bool // members whose Redis the last stray check paused (pauseStray)
	// ownReplica: members whose Redis a check for a replica of the local
	// Redis runs on (ownReplicaTargets).
	ownReplica map[string]bool
	// unjudgedSince: since when checks of the primary's Redis at
	// unjudgedEpoch have seen it restarted unjudged (pauseUnjudgedPrimary),
	// zero when they do not; pausedUnjudged: the last check paused it (the
	// warning is logged once).
	unjudgedSince  time.Time
	unjudgedEpoch  uint64
	pausedUnjudged bool
	// primarySeen is the latest of those checks (localInput.PrimarySeen).
	primarySeen primarySighting

	handoverEpoch uint64
	myHandover    *handover
	takeoverEpoch uint64

	ids identities // the local Redis's identity: the empty-restart check
	// stuckWhy: the why-not this leader last logged for a primary it
	// could not replace ("" when none).
	stuckWhy string
	// namedAt: when this sidecar first saw the state name it the primary
	// at namedEpoch; ownAlive: the last observation of its Redis that
	// counted as a live primary. Its SDOWN opinion of itself runs from the
	// later of both.
	namedEpoch uint64
	namedAt    time.Time
	ownAlive   time.Time
	// leaderSince: when this sidecar last became the Raft leader; zero
	// while it is not.
	leaderSince time.Time
	// epochDuties: the state moved to a new epoch since the last step;
	// the duties that otherwise run at ticks run at the next step.
	epochDuties bool
	// epochStart: when the current epoch's failover started, on this
	// sidecar's clock (nextEpochStart); gs.Started is its At. following:
	// at the last step (steppedAt) the authority had applied every entry
	// it knew committed, with a leader known (Ready), so the next epoch it
	// applies arrives as it is committed, unless the process stood still
	// since (stopped, or starved).
	epochStart epochStart
	following  bool
	// steppedAt: the last step; awake: since when this sidecar has run
	// without a stall (started, or the step after one; stalled). The
	// SDOWN judgments count from it.
	steppedAt time.Time
	awake     time.Time
	// promotedHeard: when this sidecar applied the promotion of the
	// current epoch's primary (groupState.OpinionsFrom); zero when it
	// did not see it commit.
	promotedHeard time.Time
	// pastStarts: the starts, on this sidecar's clock, of the epochs
	// before the current one that it applied while following, for the
	// recorded forks of those epochs (groupState.PastForks).
	pastStarts map[uint64]time.Time
	// localAt: the times on this sidecar's clock of the committed
	// instants the anti-flap window and a switchover's deadline run from
	// (localInstant), by the committed instant's UnixNano.
	localAt map[int64]time.Time
	// handedFrom: the leaderSince of the leadership this sidecar last
	// tried to hand over; once per leadership (handOver).
	handedFrom time.Time
	// evictedAt: when the fence last disconnected the local Redis's
	// clients (localPlan.Evict).
	evictedAt time.Time

	// lastRole is the role the local Redis last reported; "" at start and
	// while it is unreachable.
	lastRole    monitor.Role
	expectRole  monitor.Role
	expectUntil time.Time

	switched     string // the primary last announced with +switch-master
	switchedAddr string
	replicasSeen map[string]bool
	// replicasDown are the non-primary members announced with +sdown
	// (their Redis silent for down_after): -sdown follows on recovery.
	replicasDown map[string]bool
	reconfTo     string // this replica was re-pointed to this address
	reconfState  int    // 0 none, 1 sent, 2 in progress

	minReplicas int // value last set on the local Redis, -1 unknown
	// fenceHeld is the run id of the local Redis a fence last set
	// min-replicas-to-write on (ownFenceMinReplicas), until the release.
	fenceHeld  string
	flapLogged string
	conflict   string

	// pubKey is the topology key publish last published, keyBuf the
	// buffer it builds the next one in.
	pubKey string
	keyBuf []byte

	// sent is the last report broadcast, sentAt when: an unchanged
	// report is repeated only as often as freshness needs (reportDue).
	sent   report
	sentAt time.Time

	// troubleAt: when this sidecar last saw a failover in sight
	// (troubleInSight) or a new epoch, and trouble what it saw; Raft runs
	// calm calmAfter later. calm is what it last asked for.
	troubleAt time.Time
	trouble   string
	calm      bool
}

func (f *Failover) newCore(now time.Time) *core {
	return &core{
		started:      now,
		awake:        now,
		troubleAt:    now,
		peers:        map[string]peerView{},
		foreign:      map[string]bool{},
		strays:       map[string]bool{},
		ownReplica:   map[string]bool{},
		replicasSeen: map[string]bool{},
		replicasDown: map[string]bool{},
		minReplicas:  -1,
	}
}

// loop is the owner of the failover state: it takes every input, decides
// with the pure functions and starts the effects.
func (f *Failover) loop(ctx context.Context) {
	now := time.Now()
	c := f.newCore(now)
	var stCh <-chan struct{}
	c.st, stCh = f.auth.Watch()
	f.onState(c, authority.State{}, now)
	t := monitor.NewTicker(f.mc.Interval)
	defer t.Stop()
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	f.step(ctx, c, now, true)
	for {
		tick := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Next()
			tick = true
		case <-due.C:
		case <-f.local.Updates():
		case m := <-f.reports:
			f.onReport(c, m)
		case fn := <-f.results:
			fn(c)
		case pr := <-f.probes:
			if pr.addr == c.probeAddr && pr.alive && pr.at.After(c.lastAlive) {
				c.lastAlive = pr.at
			}
			if pr.addr == c.probeAddr && pr.wrote && pr.at.After(c.lastWrote) {
				c.lastWrote = pr.at
			}
		case <-stCh:
			old := c.st
			c.st, stCh = f.auth.Watch()
			f.onState(c, old, time.Now())
		}
		now := time.Now()
		f.step(ctx, c, now, tick)
		// SDOWN falls due down_after after the last valid reply, and
		// isolation fence_after after the last Raft contact; they rarely
		// land on a tick: wake exactly then (the fence waiting for the next
		// tick let a cut-off primary take writes for up to an interval
		// more, chaos seed 4).
		var next time.Duration
		for _, d := range []time.Time{f.sdownDue(c), f.auth.LastContact().Add(c.p.FenceAfter)} {
			if w := d.Sub(now); !d.IsZero() && w > 0 && w < f.mc.Interval && (next == 0 || w < next) {
				next = w
			}
		}
		if next > 0 {
			due.Reset(next)
		}
	}
}

// onReport records a peer's report.
func (f *Failover) onReport(c *core, m peerMsg) {
	prev, had := c.peers[m.from]
	c.peers[m.from] = nextPeerView(prev, had, m.rep, m.at, c.p)
}

// nextPeerView is what this sidecar knows of a peer (prev, if had) once
// its report rep arrived at at.
func nextPeerView(prev peerView, had bool, rep report, at time.Time, p params) peerView {
	pv := peerView{Rep: rep, Received: at, First: at, UpAt: prev.UpAt, UpKeys: prev.UpKeys, Uncut: prev.Uncut, Known: mergeKnown(prev.Known, rep, at),
		AsPrimary: nextAsPrimary(prev.AsPrimary, rep, at),
		Links:     nextLinks(prev.Links, rep.Obs.MasterAddr, rep.Obs.Role == monitor.RoleReplica && rep.Obs.LinkUp, at, linkKeep(p)),
		Stall:     nextStall(prev.Stall, rep, at),
		Follows:   nextFollows(prev.Follows, rep, at)}
	if had && !prev.First.IsZero() {
		pv.First = prev.First
	}
	if rep.Obs.Reachable {
		pv.UpAt, pv.UpKeys = at, rep.Obs.Keys
	}
	if !rep.CutOff {
		pv.Uncut = at
	}
	return pv
}

// forgottenPrimary is what this sidecar keeps of the committed primary
// once forget removed its vote (it stays a member): its report goes, as a
// forgotten member's does, but not the history its Redis was last seen
// leading, judged, at this epoch. Without it the rules that keep replicas
// from full-syncing whatever that Redis restarts with while its sidecar
// cannot watch it (unwatchedPrimaryMark) stopped with the forget. Chaos
// seed 12502 (N=5): b, epoch 7's primary, was forgotten at 59.4 s while
// its sidecar was stopped; its Redis was killed without persistence at
// 63.4 s, right after the sidecar resumed, and came back at 65.1 s from
// the 25 s old RDB of an earlier full sync. a's, d's and e's Redis, its
// replicas, still configured to follow it, full-synced that RDB by
// themselves within 0.6 s, 117 acknowledged writes with them. The rest
// goes with the report: what the waits for a member's data count on (its
// known offsets, when its Redis last answered) would hold failovers back
// for a primary the operator has declared gone.
func forgottenPrimary(pv peerView) peerView {
	return peerView{AsPrimary: pv.AsPrimary}
}

// onState reacts to a newly applied committed state.
func (f *Failover) onState(c *core, old authority.State, now time.Time) {
	st := c.st
	c.gs = group(st)
	f.localTimes(c, old, now)
	c.p = f.cfg.params(st.Settings, f.fresh)
	f.m.epoch.Set(float64(st.Epoch))
	f.m.paused.Set(boolFloat(st.Paused))
	f.m.flapPaused.Set(boolFloat(st.FlapPaused != ""))
	if old.Index == 0 && old.Epoch == 0 {
		// The state this sidecar starts with: nothing to announce.
		c.switched = ""
		if st.Promoted {
			c.switched, c.switchedAddr = st.Primary, f.memberAddr(st, st.Primary)
		}
		return
	}
	if st.Epoch != old.Epoch {
		c.troubleAt, c.trouble = now, "new epoch"
		c.epochDuties = true
	}
	if st.Epoch > old.Epoch {
		f.emit(Event{Kind: EventNewEpoch, Epoch: st.Epoch, Node: f.nodeOf(c, st.Primary, now)})
		if leader, self := f.auth.Leader(); !self && leader != "" && st.Primary != old.Primary {
			f.emit(Event{Kind: EventConfigUpdateFrom, Epoch: st.Epoch, Node: f.nodeOf(c, leader, now),
				OldPrimary: f.nodeOf(c, old.Primary, now), NewPrimary: f.nodeOf(c, st.Primary, now)})
		}
	}
	if st.Primary != old.Primary || st.Epoch != old.Epoch {
		f.log.Info("new primary", "epoch", st.Epoch, "primary", st.Primary, "previous", old.Primary, "reason", st.Reason)
		// Reported on the master instance, at the failed primary's address.
		oldp := f.nodeOf(c, old.Primary, now)
		if c.sdown {
			f.emit(Event{Kind: EventSDownCleared, Epoch: old.Epoch, Node: oldp, OldPrimary: oldp})
		}
		if c.odown {
			f.emit(Event{Kind: EventODownCleared, Epoch: old.Epoch, Node: oldp, OldPrimary: oldp})
		}
		c.sdown, c.odown, c.ids.Empty = false, false, false
		f.m.sdown.Set(0)
		f.m.odown.Set(0)
		c.myHandover = nil
		clear(c.replicasSeen)
	}
	if st.Promoted && st.Primary != "" && (st.Primary != c.switched || !old.Promoted || old.Epoch != st.Epoch) {
		addr := f.memberAddr(st, st.Primary)
		if c.switched != "" && c.switched != st.Primary {
			f.emit(Event{Kind: EventSwitchPrimary, Epoch: st.Epoch, Node: f.nodeOf(c, st.Primary, now),
				OldPrimary: Node{Name: c.switched, Addr: c.switchedAddr},
				NewPrimary: Node{Name: st.Primary, Addr: addr}})
		}
		c.switched, c.switchedAddr = st.Primary, addr
	}
	if st.Paused != old.Paused {
		f.log.Info("automatic failover "+map[bool]string{true: "paused", false: "resumed"}[st.Paused], "epoch", st.Epoch)
	}
	if st.FlapPaused != "" && st.FlapPaused != c.flapLogged {
		f.log.Error("automatic failover paused by anti-flap", "epoch", st.Epoch, "why", st.FlapPaused)
	}
	c.flapLogged = st.FlapPaused
	for name, om := range old.Members {
		// forget removes a member, or (the primary's) its vote.
		if m, ok := st.Members[name]; (!ok || (om.Voter && !m.Voter)) && name != f.self.Name {
			if pv, had := c.peers[name]; had && ok && name == st.Primary {
				c.peers[name] = forgottenPrimary(pv)
			} else {
				delete(c.peers, name)
			}
			if err := f.cluster.Forget(name); err != nil {
				f.log.Debug("forget in gossip", "peer", name, "err", err)
			}
			f.log.Info("node forgotten", "peer", name)
		}
	}
}

// memberAddr is a member's committed Redis address.
func (f *Failover) memberAddr(st authority.State, name string) string {
	if name == f.self.Name {
		return f.self.Addr
	}
	return st.Members[name].RedisAddr
}

// promotionEntry is the history entry of the committed primary's
// promotion: where it left the history before it (ForkReplID,
// ForkOffset) and the one it began (NewReplID); zero when not recorded.
func promotionEntry(st authority.State) authority.HistoryEntry {
	for _, h := range slices.Backward(st.History) {
		if h.Epoch == st.Epoch && h.New == st.Primary && h.Result == resultSuccess {
			return h
		}
	}
	return authority.HistoryEntry{}
}

// group converts the committed state for the pure functions.
func group(st authority.State) groupState {
	g := groupState{Epoch: st.Epoch, Primary: st.Primary, Promoted: st.Promoted, Started: st.Started, Paused: st.Paused,
		FlapPaused: st.FlapPaused, Failovers: st.Failovers, Members: make(map[string]memberAddrs, len(st.Members))}
	for _, h := range st.History {
		if h.Reason == reasonAntiFlap && h.Start.After(g.FlapSince) {
			g.FlapSince = h.Start
		}
	}
	h := promotionEntry(st)
	g.ForkReplID, g.Fork, g.NewReplID, g.Resumed = h.ForkReplID, h.ForkOffset, h.NewReplID, h.Resumed
	g.Previous = st.Previous
	for _, h := range st.History {
		if h.Epoch < st.Epoch && h.Result == resultSuccess && h.ForkReplID != "" {
			g.PastForks = append(g.PastForks, pastFork{Epoch: h.Epoch, New: h.New, ReplID: h.ForkReplID, Offset: h.ForkOffset, Start: h.Start,
				NewReplID: h.NewReplID, Resumed: h.Resumed})
		}
	}
	if s := st.Switchover; s != nil {
		g.Switchover = &switchoverIntent{From: s.From, To: s.To, Epoch: s.Epoch, Deadline: s.Deadline}
	}
	for name, m := range st.Members {
		g.Members[name] = memberAddrs{Redis: m.RedisAddr, Priority: m.Priority, Forgotten: m.Removed, Voter: m.Voter}
	}
	return g
}

// localTimes puts the times of c.gs that the committed state gives on
// the committing leader's clock on this sidecar's (nextEpochStart): the
// current epoch's start, and the starts of earlier epochs' recorded forks
// this sidecar saw begin. It also notes a promotion applied as it
// committed: each sidecar judges the promoted Redis afresh (its SDOWN
// clock restarts), and the leader counts no opinion sent before
// (groupState.OpinionsFrom). c.st is the state just applied, old the one
// before.
func (f *Failover) localTimes(c *core, old authority.State, now time.Time) {
	st := c.st
	following := c.following && now.Sub(c.steppedAt) <= 2*f.mc.Interval
	if prev := c.epochStart; prev.Epoch != st.Epoch && !prev.At.IsZero() {
		if c.pastStarts == nil {
			c.pastStarts = map[uint64]time.Time{}
		}
		c.pastStarts[prev.Epoch] = prev.At
	}
	c.epochStart = nextEpochStart(c.epochStart, st.Epoch, st.Started, following, now)
	c.gs.Started = c.epochStart.At
	if len(c.pastStarts) > 0 {
		kept := map[uint64]bool{}
		for i, pf := range c.gs.PastForks {
			if at, ok := c.pastStarts[pf.Epoch]; ok {
				c.gs.PastForks[i].Start, kept[pf.Epoch] = at, true
			}
		}
		maps.DeleteFunc(c.pastStarts, func(e uint64, _ time.Time) bool { return !kept[e] })
	}

	// The anti-flap window and a switchover's deadline: the same clocks.
	seen := map[int64]bool{}
	local := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		k := t.UnixNano()
		seen[k] = true
		at, ok := c.localAt[k]
		if !ok {
			at = localInstant(t, following, now)
			if c.localAt == nil {
				c.localAt = map[int64]time.Time{}
			}
			c.localAt[k] = at
		}
		return at
	}
	c.gs.Failovers = slices.Clone(c.gs.Failovers)
	for i, t := range c.gs.Failovers {
		c.gs.Failovers[i] = local(t)
	}
	c.gs.FlapSince = local(c.gs.FlapSince)
	if sw := st.Switchover; sw != nil && sw.Timeout > 0 && c.gs.Switchover != nil {
		c.gs.Switchover.Deadline = local(sw.Deadline.Add(-sw.Timeout)).Add(sw.Timeout)
	}
	maps.DeleteFunc(c.localAt, func(k int64, _ time.Time) bool { return !seen[k] })

	switch {
	case st.Promoted && st.Epoch == old.Epoch && !old.Promoted && old.Index != 0:
		c.promotedHeard = now
		if c.probeAddr != "" {
			c.probeSince = now
		}
	case st.Epoch != old.Epoch || !st.Promoted:
		c.promotedHeard = time.Time{}
	}
	if !c.promotedHeard.IsZero() {
		c.gs.OpinionsFrom = c.promotedHeard.Add(f.mc.Interval)
	}
}

// judgedSince is when this sidecar's judgement of the primary it probes
// began: probing it, or running again after a stall (stalled); zero when
// it probes none.
func (c *core) judgedSince() time.Time {
	if c.probeSince.IsZero() {
		return time.Time{}
	}
	return later(c.probeSince, c.awake)
}

// sdownDue is when SDOWN of the probed primary falls due.
func (f *Failover) sdownDue(c *core) time.Time {
	since := c.judgedSince()
	if c.probeAddr == "" || since.IsZero() {
		return time.Time{}
	}
	return later(since, f.primaryLastGood(c)).Add(c.p.DownAfter)
}

// stalled reports whether a sidecar that stepped at last and steps
// again at now stood still in between (stopped, or starved of CPU) long
// enough to judge a primary down that answered every probe it sent: down
// to the last interval before the stall the primary answered, so only a
// stall that takes most of down_after can make the gap since the last
// reply reach it. Half of down_after, and at least two intervals (the
// loop wakes every interval).
func stalled(last, now time.Time, downAfter, interval time.Duration) bool {
	return !last.IsZero() && now.Sub(last) > max(downAfter/2, 2*interval)
}

// primaryLastGood applies primaryLastGood to the primary this sidecar
// probes.
func (f *Failover) primaryLastGood(c *core) time.Time {
	return primaryLastGood(c.lastAlive, c.peers[c.st.Primary].Uncut, c.lastWrote)
}

// step observes, decides and acts once.
func (f *Failover) step(ctx context.Context, c *core, now time.Time, tick bool) {
	if stalled(c.steppedAt, now, c.p.DownAfter, f.mc.Interval) {
		// Its probes did not run either: the time since the last reply
		// says nothing about the primary (chaos seed 17522, N=3: a's
		// sidecar, stopped for 2.25 s, judged the primary down at once
		// when it resumed, and with the primary's own sidecar, cut from
		// its Redis, made a quorum that failed over from a Redis taking
		// writes). SDOWN starts counting again.
		f.log.Warn("this sidecar stood still: judging the primary again from now", "stalled", now.Sub(c.steppedAt))
		c.awake = now
	}
	c.steppedAt = now
	c.following = f.auth.Ready() // for the next epoch's start (nextEpochStart)
	st := c.st
	gs := c.gs // a copy: Promoted below is this step's alone
	if st.Primary == f.self.Name && c.promotedEpoch == st.Epoch {
		gs.Promoted = true
	}
	f.observeLocal(c, now)

	// The primary to probe: the committed one, at the address its own
	// sidecar announces.
	addr := primaryAddr(gs, c.peers, now, c.p.Fresh)
	if st.Primary == f.self.Name {
		addr = ""
	}
	if addr != c.probeAddr {
		c.probeAddr, c.probeSince, c.lastAlive, c.lastWrote = addr, now, time.Time{}, time.Time{}
		if addr == "" {
			// Nothing to probe, nothing to judge.
			c.probeSince = time.Time{}
		}
		f.target.Store(&addr)
	}

	// SDOWN, this sidecar's opinion.
	sd, why := false, "no valid reply"
	switch {
	case st.Primary == "":
	case st.Primary == f.self.Name:
		// Once promoted, a Redis answering as a replica is no primary
		// (Sentinel's rule): after down_after the group replaces it
		// rather than promote it again, whatever data it now follows.
		if c.namedEpoch != st.Epoch {
			c.namedEpoch, c.namedAt = st.Epoch, now
		}
		if c.obs.Alive() && (c.obs.Role != monitor.RoleReplica || !gs.Promoted) {
			c.ownAlive = later(c.ownAlive, c.obs.Time)
		}
		sd = now.Sub(later(later(c.awake, c.namedAt), c.ownAlive)) >= c.p.DownAfter
		why = "the local Redis answers as a replica, or not at all"
	default:
		since := c.judgedSince()
		sd = sdownAt(now, since, f.primaryLastGood(c), c.p.DownAfter)
		if !sdownAt(now, since, c.lastAlive, c.p.DownAfter) {
			why = "takes no writes while its sidecar is silent"
			if pv := c.peers[st.Primary]; pv.fresh(now, c.p.Fresh) && pv.Rep.CutOff {
				why = "takes no writes: its sidecar, cut off from the majority, keeps it fenced"
			}
		}
	}
	// Writes are probed only while the primary's own sidecar is silent, or
	// says it keeps them paused because it is cut off.
	pv, ok := c.peers[st.Primary]
	f.writeProbe.Store(st.Primary != f.self.Name && (!ok || !pv.fresh(now, c.p.Fresh) || pv.Rep.CutOff))
	changed := false
	if sd != c.sdown {
		changed = true
		c.sdown = sd
		f.m.sdown.Set(boolFloat(sd))
		kind := EventSDownCleared
		if sd {
			kind = EventSDown
			f.log.Warn("primary subjectively down", "epoch", st.Epoch, "primary", st.Primary, "redis_addr", addr, "why", why)
		} else {
			f.log.Info("primary reachable again", "epoch", st.Epoch, "primary", st.Primary)
		}
		f.emit(Event{Kind: kind, Epoch: st.Epoch, Node: f.nodeOf(c, st.Primary, now)})
	}
	own := f.report(c, now)
	prev := c.peers[f.self.Name]
	// The keys its Redis held when last seen answering, as a peer's
	// report records them (nextPeerView): without them a leader whose own
	// Redis, the primary's, died counted it as holding none, waited only
	// down_after for it, and promoted a holder with fewer keys (chaos
	// seed 17233, N=3: 1812 keys over its own 1983, and clients read
	// values 3 s old from the holder).
	upKeys := prev.UpKeys
	if own.Obs.Reachable {
		upKeys = own.Obs.Keys
	}
	c.peers[f.self.Name] = peerView{Rep: own, Received: now, UpAt: later(c.localUpAt, prev.UpAt), UpKeys: upKeys, First: c.started,
		Known: nextKnown(prev.Known, own, now), AsPrimary: nextAsPrimary(prev.AsPrimary, own, now),
		Follows: nextFollows(prev.Follows, own, now)}

	// ODOWN and candidates: every sidecar computes them for its status;
	// only the leader acts on them.
	leader, self := f.auth.Leader()
	if !self {
		c.leaderSince = time.Time{}
	} else if c.leaderSince.IsZero() {
		c.leaderSince = now
	}
	d := decideLeader(now, gs, c.peers, c.p, f.cfg.InitialPrimary)
	c.decision = d
	if d.ODown != c.odown {
		c.odown = d.ODown
		f.m.odown.Set(boolFloat(d.ODown))
		if d.ODown {
			f.log.Warn("primary objectively down", "epoch", st.Epoch, "primary", st.Primary, "votes", d.Votes, "quorum", c.p.Quorum)
			f.emit(Event{Kind: EventODown, Epoch: st.Epoch, Node: f.nodeOf(c, st.Primary, now), Votes: d.Votes, Quorum: c.p.Quorum})
		} else {
			f.emit(Event{Kind: EventODownCleared, Epoch: st.Epoch, Node: f.nodeOf(c, st.Primary, now)})
		}
	}
	c.votes = d.Votes
	if d.Conflict != c.conflict && d.Conflict != "" {
		f.log.Warn("cannot tell which node is primary", "conflict", d.Conflict)
	}
	c.conflict = d.Conflict
	f.m.conflict.Set(boolFloat(c.conflict != ""))
	noCand := map[string]bool{}
	if len(d.Excluded) == 0 && d.WhyNot != "" {
		noCand[whyNoReplica] = true
	}
	if d.WhyNot != "" {
		for _, why := range d.Excluded {
			noCand[why] = true
		}
	}
	for i, why := range whyReasons {
		f.m.noCandidateBy[i].Set(boolFloat(noCand[why]))
	}
	f.m.majority.Set(boolFloat(now.Sub(f.auth.LastContact()) < c.p.FenceAfter))

	f.ensureVerified(ctx, c)
	f.gateDuties(ctx, c, now)
	f.leaderDuties(ctx, c, now)
	f.localDuties(ctx, c, now, gs, addr)
	f.switchoverDuties(ctx, c, now)
	if tick || c.epochDuties {
		// Also at once on a new epoch: a stray or stale primary the new
		// one's promotion will not fence is paused before that promotion
		// more often than not, not up to an interval after it (chaos seed
		// 16826, N=5: e paused a's Redis, the deposed primary, which only
		// it could reach, 0.1 s after b's promotion, at its next tick, and
		// both took writes for 14 ms).
		c.epochDuties = false
		f.foreignDuties(ctx, c, now, gs)
		f.ownReplicaDuties(ctx, c, now, gs)
	}
	f.calm(c, now, gs, addr, leader)
	f.publish(c, now)
	if tick || changed {
		if r := f.report(c, now); changed || reportDue(c.sent, r, c.sentAt, now, f.mc.Interval, f.fresh) {
			f.sendReport(c, r, now)
		}
	}
}

// calm asks Raft for its calm timings once this sidecar has seen no
// trouble for calmAfter, and for its failover timings otherwise.
func (f *Failover) calm(c *core, now time.Time, gs groupState, addr, leader string) {
	answered := later(c.lastAlive, c.probeSince)
	if gs.Primary == f.self.Name {
		answered = later(later(c.started, c.namedAt), c.ownAlive)
	} else if addr == "" {
		answered = time.Time{} // the primary's address is unknown
	}
	why := troubleInSight(calmInput{
		Now: now, Self: f.self.Name, St: gs, Peers: c.peers, P: c.p, Interval: f.mc.Interval,
		Answered: answered, SDown: c.sdown, ODown: c.odown, Leader: leader,
		Busy: c.localBusy || c.promoting || c.leaderBusy || c.fenceBusy || c.fenced,
	})
	if why != "" {
		c.troubleAt, c.trouble = now, why
	}
	calm := now.Sub(c.troubleAt) >= calmAfter(c.p)
	if calm != c.calm {
		c.calm = calm
		f.log.Debug("raft timings", "calm", calm, "last_trouble", c.trouble, "trouble_at", c.troubleAt)
	}
	f.auth.Calm(calm)
}

// sendReport broadcasts r, this sidecar's report at now, and remembers it.
func (f *Failover) sendReport(c *core, r report, now time.Time) {
	f.cluster.Broadcast(kindReport, encode(r))
	c.sent, c.sentAt = r, now
}

// reportNow sends this sidecar's report at once: peers act on what
// changed without waiting for the next tick.
func (f *Failover) reportNow(c *core) {
	now := time.Now()
	f.sendReport(c, f.report(c, now), now)
}

// observeLocal takes the latest local observation: role changes, the
// empty-restart check.
func (f *Failover) observeLocal(c *core, now time.Time) {
	o := f.local.Last()
	if !o.Time.After(c.obs.Time) && !c.obs.Time.IsZero() {
		return
	}
	c.obs = o
	c.links = nextLinks(c.links, o.MasterAddr(), o.Role == monitor.RoleReplica && o.LinkUp, o.Time, linkKeep(c.p))
	if o.Reachable() && o.Time.After(c.localUpAt) {
		c.localUpAt = o.Time
	}
	if c.expectRole != "" && now.After(c.expectUntil) {
		c.expectRole = ""
	}
	if !o.Reachable() {
		c.lastRole = ""
	}
	if o.Reachable() && o.Role != "" {
		// As Sentinel's INFO refresh: a change of the reported role is
		// +role-change when the new role agrees with the configuration and
		// -role-change when it contradicts it. A Redis first seen (at start,
		// or back after being unreachable: a restart) has no previous
		// role; it is reported only when it contradicts the configuration,
		// as Sentinel reports an old primary that restarts as a master.
		// The changes vigil makes itself are +promoted-slave and
		// +convert-to-slave instead.
		coherent := c.st.Primary == "" || (o.Role == monitor.RolePrimary) == (c.st.Primary == f.self.Name)
		kind := EventRoleChange
		if !coherent {
			kind = EventRoleMismatch
		}
		switch {
		case c.expectRole != "" && o.Role == c.expectRole:
			c.expectRole = ""
		case c.lastRole != "" && c.lastRole != o.Role, c.lastRole == "" && !coherent:
			f.emit(Event{Kind: kind, Epoch: c.st.Epoch, Node: f.nodeOf(c, f.self.Name, now)})
		}
		c.lastRole = o.Role
	}
	// Empty restart: the named primary's Redis came back as a new process
	// on a new history with less data than a replica holds.
	st := c.st
	prev := c.ids
	var lift time.Duration
	if prev.Empty {
		// Asked only while a verdict stands, not on every observation.
		all, richer := membersAnswer(f.self.Name, c.gs, c.peers, o.Keys, now, c.p.Fresh)
		lift = emptyLift(st.Promoted, f.bestReplicaAddr(c, now) != "" || richer, all, c.p)
	}
	h := promotionEntry(st)
	var chosen int64
	if !st.Promoted {
		chosen = st.ChosenOffset
	}
	c.ids = nextIdentity(prev, o, identityCtx{Named: st.Primary == f.self.Name, Epoch: st.Epoch, Fork: h.ForkOffset, ForkReplID: h.ForkReplID, Chosen: chosen,
		ChosenKeys: st.ChosenKeys, NewReplID: h.NewReplID, PastForks: c.gs.PastForks, SelfAddr: f.rc.Addr,
		Replicas:  func() []replicaPos { return replicaPositions(f.self.Name, c.peers, st.Epoch, now, c.p) },
		Unheard:   func() bool { return unheardMember(f.self.Name, c.gs, c.peers, now, c.p) },
		NoneHolds: func() bool { return noneHolds(f.self.Name, c.gs, c.peers, now, c.p.Fresh) }, LiftAfter: lift, DownAfter: c.p.DownAfter,
		DurableWait: durableWait(c.p), Now: now})
	switch {
	case c.ids.Lifted:
		c.ids.Lifted = false
		f.log.Error("no replica can prove it holds more: the restarted primary's data stands, and what it lost is lost",
			"epoch", st.Epoch, "run_id", o.RunID, "offset", o.Offset, "waited", lift)
	case c.ids.Empty && !prev.Empty:
		f.log.Error("primary restarted empty: writes stay paused and the group fails over",
			"epoch", st.Epoch, "run_id", o.RunID, "offset", o.Offset)
		f.m.emptyRestarts.Inc()
	case !c.ids.Unsure.IsZero() && prev.Unsure.IsZero():
		f.log.Warn("primary restarted on a new replication history; comparing it with the replicas' offsets",
			"epoch", st.Epoch, "run_id", o.RunID, "offset", o.Offset)
	}
}

// identities is the empty-restart bookkeeping of the local Redis.
type identities struct {
	// Ident is the last identity of the local Redis known to hold its
	// data; zero when none is known (as after this sidecar's restart).
	Ident redisIdentity
	// Unsure: since when the local primary shows a new identity that
	// could not be judged yet (restartUnknown); zero otherwise.
	Unsure time.Time
	// Empty: the named primary came back empty at EmptyEpoch, judged so at
	// EmptyAt (zero when refused at its promotion), which moves on to the
	// last observation at which a member could replace it (the lift's
	// wait, emptyLift, counts from there).
	Empty      bool
	EmptyEpoch uint64
	EmptyAt    time.Time
	// Lifted: an Empty verdict was lifted (no replica held more); the
	// caller logs it and clears the flag.
	Lifted bool
	// SeenRunID is the local Redis process last observed as a primary (or
	// detached), first seen so at offset SeenOffset (redisIdentity.Moved);
	// "" once it is seen as a replica.
	SeenRunID  string
	SeenOffset int64
}

// unsure reports whether a local primary is not yet judged against the
// replicas: no identity known to hold its data, or a new one in question.
func (s identities) unsure() bool { return s.Ident.RunID == "" || !s.Unsure.IsZero() }

// identityCtx is what nextIdentity judges an observation of the local
// Redis against.
type identityCtx struct {
	Named bool // the committed state names this node the primary
	Epoch uint64
	Fork  int64 // the offset it was promoted at (promotionEntry); 0 when not known
	// ForkReplID is the history that promotion left (promotionEntry); ""
	// when not known.
	ForkReplID string
	// NewReplID is the history that promotion began (promotionEntry);
	// "" when not recorded.
	NewReplID string
	// PastForks are the forks earlier epochs' promotions recorded
	// (groupState.PastForks; leftAt).
	PastForks []pastFork
	// Chosen is the offset the leader chose it at while it is not promoted
	// (set-primary's ChosenOffset); 0 otherwise.
	Chosen int64
	// ChosenKeys is the keys the leader chose it for as a holder
	// (set-primary's ChosenKeys), kept after its promotion: an observation
	// from before the promotion can be judged after it; 0 otherwise.
	ChosenKeys int64
	// SelfAddr is the local Redis's address: a named Redis that points at
	// it was detached as empty, and is judged like a primary.
	SelfAddr string
	// Replicas lists the replicas' positions, asked only when a judgement
	// is needed.
	Replicas func() []replicaPos
	// Unheard reports whether a registered member has sent no report the
	// judgement could count (unheardMember); nil: none.
	Unheard func() bool
	// NoneHolds reports whether every other member's Redis answers holding
	// no key (noneHolds); nil: not known.
	NoneHolds func() bool
	LiftAfter time.Duration // emptyLift; 0 while a synced replica could replace it
	DownAfter time.Duration
	// DurableWait is durableWait: how long a restart that holds no key
	// waits for an unheard member (unjudgedWait).
	DurableWait time.Duration
	Now         time.Time
}

// unjudgedWait is how long the named primary's restart that no verdict
// judges yet (restartUnknown: a member unheard) waits for that member
// before its identity stands: down_after, or, for a Redis that came back
// holding no key, the durable wait that an empty verdict's lift gives a
// member out of reach (emptyLift). Standing, an empty restart replaces the
// data of every Redis that follows it, the unheard member's too once it
// is back. Chaos seed 13005 (N=3): c's node, epoch 3's primary (promoted
// at 28257), was killed without persistence while a's Redis was down and
// b's sidecar stopped; c's restarted sidecar found its Redis empty, heard
// nobody who could judge it, and after down_after (2 s) let it stand. b's
// sidecar resumed 0.3 s later and re-pointed b's Redis, the only one with
// the group's data, at it: every write acknowledged before the first
// fault was gone.
//
// Once every other member's Redis answers holding no key (none), there is
// nobody left to wait for: the group lost its data everywhere, and the
// restart stands after down_after. Chaos seed 13705 (N=3): every Redis
// had lost its data; c's sidecar, wiped, waited the full 20 s for its
// empty Redis, epoch 3's primary, although a's and b's answered empty
// from 4 s in, and the group took no write for 20 s.
func unjudgedWait(keys int64, none bool, downAfter, durable time.Duration) time.Duration {
	if keys == 0 && !none {
		return max(downAfter, durable)
	}
	return downAfter
}

// nextIdentity is the bookkeeping after observation o of the local Redis.
func nextIdentity(s identities, o monitor.Observation, in identityCtx) identities {
	named, epoch, now := in.Named, in.Epoch, in.Now
	// A named Redis pointing at itself was detached as empty by this
	// sidecar's previous life: a wiped sidecar took it for a known one,
	// made it a primary again, and a replica holding every write
	// full-synced from it (chaos seed 11, N=3).
	self := o.Role == monitor.RoleReplica && in.SelfAddr != "" && o.MasterAddr() == in.SelfAddr
	detached := named && self
	// Before the state is known nothing is recorded, as for a primary
	// below: whether a Redis pointing at itself is named, and so judged,
	// is not known yet (chaos seed 2505, N=3: a wiped sidecar recorded its
	// Redis, detached as empty, before the Raft log reached it, and once
	// the log named it took it for the known process, made it a primary
	// again, and the Redis holding every write full-synced from it).
	// Nor is a Redis pointing at itself recorded while another is named:
	// it follows nobody, so nothing shows what it holds, and the state
	// may name it a moment later. Chaos seed 7312 (N=3): c's sidecar,
	// restarted wiped, pointed its Redis, back empty without persistence,
	// at itself while cut off; the Raft log reached it in two steps, and
	// an observation under the first (epoch 3, naming b) recorded the
	// empty process, so under the second (epoch 4, naming c, promoted)
	// it was the known one: made a primary again unjudged, vouched for,
	// and a's Redis, pointing at itself at 75763 on epoch 4's history
	// with 40 WAIT-confirmed retry-queue INCRs, full-synced 0 keys.
	if o.Reachable() && o.Role == monitor.RoleReplica && !self && epoch > 0 {
		// A replica promoted later is not a restart of the primary it
		// once was, nor of itself: the promotion keeps the run id. Its
		// identity is kept, not cleared: judged afresh after the
		// promotion, a new primary was compared with replicas still on
		// the old history with higher offsets, called empty, and the
		// group failed over sixteen times in two seconds between two
		// nodes (chaos seed 101, five nodes).
		s.Ident, s.Unsure = identityOf(o), time.Time{}
	}
	if o.Reachable() && o.Role == monitor.RoleReplica && !detached {
		s.SeenRunID = ""
	}
	if o.Reachable() && (o.Role == monitor.RolePrimary || detached) {
		// Where it came back is where this process was first seen as a
		// primary (or detached), not as a replica: a replica's offset
		// moves with its primary's, and one promoted since, first seen
		// below the fork it was promoted at, is no snapshot from below it.
		if o.RunID != s.SeenRunID {
			s.SeenRunID, s.SeenOffset = o.RunID, o.Offset
			if o.Role == monitor.RolePrimary && o.ReplID2 == "" {
				// A primary with no second history began its own at 0:
				// back from its AOF or without data (Redis 7.0 gives a
				// restart from an RDB the snapshot's history as
				// master_replid2, and a promotion the one it left),
				// whatever its offset when first seen. Chaos seed 11657
				// (N=5): c's sidecar, restarted wiped, first saw c's
				// Redis, back from its AOF with every write, at 14 (a
				// replica's sync and a ping), judged it a snapshot from
				// below its promotion, called it empty against fewer
				// keys, and pointed it at b: a full sync erased a
				// retry-queue INCR only it and e's Redis held.
				s.SeenOffset = 0
			}
		}
		cur := identityOf(o)
		if cur.Offset >= s.SeenOffset {
			cur.Moved = cur.Offset - s.SeenOffset
		}
		keep := false
		if named && !s.Empty {
			v := judgeRestart(s.Ident, cur, promotion{Fork: in.Fork, ForkReplID: in.ForkReplID, NewReplID: in.NewReplID, Chosen: in.Chosen,
				ChosenKeys: in.ChosenKeys, PastForks: in.PastForks}, in.Replicas())
			switch judgeHeard(s.Ident, v, in.Unheard != nil && in.Unheard()) {
			case restartEmpty:
				s.Empty, s.EmptyEpoch, s.EmptyAt = true, epoch, now
			case restartUnknown:
				if s.Unsure.IsZero() {
					s.Unsure = now
				}
				// With no replica heard from for down_after there is
				// nothing left to protect: the new identity stands
				// (unjudgedWait: longer for one that holds no key).
				none := cur.Keys == 0 && in.NoneHolds != nil && in.NoneHolds()
				keep = now.Sub(s.Unsure) < unjudgedWait(cur.Keys, none, in.DownAfter, in.DurableWait)
			}
		}
		switch {
		case s.Empty || keep || epoch == 0:
			// Judged empty, or still in question: the known identity
			// stays. Before the state is known nothing is recorded: a
			// sidecar that restarted must still judge a Redis it never
			// saw (chaos seed 3).
		case !named && cur.RunID != s.Ident.RunID:
			// Nor, while another node is named, a process other than the
			// known one (a deposed primary, or a replica promoted earlier,
			// keeps its run id): nobody judged it, and the state may name
			// this node a moment later, when it would be taken for the
			// known process and never judged (as for a Redis pointing at
			// itself above, seed 7312). Chaos seed 11706 (N=3): b,
			// epoch 9's primary (promoted at 104319, beginning
			// 584c7542), had its sidecar restarted wiped while cut off,
			// and its Redis came back from a stale RDB at 60228 on a new
			// history; the Raft log reached the sidecar in two steps, an
			// observation under the first (naming a) recorded the stale
			// process, and under the second (epoch 9, naming b) it was
			// the known one: vouched for, c's Redis, parked at 117819 on
			// 584c7542, full-synced it, and b released writes. An
			// earlier timer of an unjudged restart ends here too.
			s.Unsure = time.Time{}
		default:
			s.Ident, s.Unsure = cur, time.Time{}
		}
	}
	if s.Empty && s.EmptyEpoch != epoch {
		s.Empty = false
	}
	if s.Empty && in.LiftAfter <= 0 && !s.EmptyAt.IsZero() {
		// A synced replica or a richer Redis is heard (or the primary is
		// not promoted): the wait for one that could come back starts
		// again once none is. Counted from the verdict, it ran out 2.7 s
		// after a partition cut off the richer one. Chaos seed 12296
		// (N=3): a's Redis, epoch 3's primary, came back from a stale RDB
		// (673 keys) and was judged empty at 37.1 s; c's Redis, back from
		// its AOF with every write since epoch 2's fork and 53 retry-queue
		// INCRs, could be heard from a's sidecar from 49.1 s (when it
		// resumed) until a bridge partition at 54.5 s; the wait of 20 s
		// from the verdict lifted it at 57.2 s, and c's Redis full-synced
		// from it.
		s.EmptyAt = now
	}
	if s.Empty && in.LiftAfter > 0 && !s.EmptyAt.IsZero() && now.Sub(s.EmptyAt) >= in.LiftAfter {
		// No synced replica for liftAfter (emptyLift): nothing in the
		// group can prove it holds more, and waiting on keeps the group
		// without a primary for ever (chaos seed 1, N=3: every Redis
		// restarted without persistence; the primary's stale RDB was
		// all there was). Its data stands.
		s.Empty, s.Lifted = false, true
		if o.Reachable() {
			s.Ident, s.Unsure = identityOf(o), time.Time{}
		}
	}
	return s
}

// primaryDown is how long this sidecar has had no reply from the primary
// it probes; 0 for its own primary and while it answers within an
// interval and a timeout.
func (f *Failover) primaryDown(c *core, now time.Time) time.Duration {
	if c.probeAddr == "" || c.probeSince.IsZero() {
		return 0
	}
	if d := now.Sub(later(c.probeSince, f.primaryLastGood(c))); d > f.mc.Interval+f.mc.Timeout {
		return d
	}
	return 0
}

// bestReplicaAddr is the address of the replica with the highest offset.
func (f *Failover) bestReplicaAddr(c *core, now time.Time) string {
	var (
		best     int64 = -1
		addr     string
		bestName string
	)
	// Ties go to the first name in sorted order, without sorting: this
	// runs on every step.
	for name, p := range c.peers {
		if name == f.self.Name || !p.fresh(now, c.p.Fresh) || p.Rep.Obs.Role != monitor.RoleReplica || !p.Rep.Obs.Synced {
			continue
		}
		if o := p.Rep.Obs.Offset; o > best || (o == best && name < bestName) {
			best, addr, bestName = o, p.Rep.Addr, name
		}
	}
	return addr
}

// report is this sidecar's report to its peers.
func (f *Failover) report(c *core, now time.Time) report {
	o := c.obs
	st := c.st
	r := report{
		Name: f.self.Name, Addr: f.self.Addr, SentinelAddr: f.self.SentinelAddr, HTTPAddr: f.self.HTTPAddr,
		Priority: f.self.Priority, Epoch: st.Epoch,
		Obs: obsSummary{
			Reachable: o.Reachable() && now.Sub(o.Time) < f.fresh, Alive: o.Alive(), Role: o.Role, MasterAddr: o.MasterAddr(),
			LinkUp: o.LinkUp, Synced: o.Synced, SyncInProgress: o.SyncInProgress, Offset: o.Offset,
			RunID: o.RunID, ReplID: o.ReplID, ReplID2: o.ReplID2, ReplOffset2: o.ReplOffset2, Replicas: len(o.Replicas), Keys: o.Keys,
		},
		SDown: c.sdown, SDownPrimary: st.Primary, SDownEpoch: st.Epoch, Empty: c.ids.Empty,
		Unsure:        c.obs.Role == monitor.RolePrimary && c.ids.unsure(),
		PrimaryDownMs: f.primaryDown(c, now).Milliseconds(),
		Fenced:        c.fenced, CutOff: c.fenced && cutOff(f.auth.LastContact(), c.started, now, c.p),
		Ready: c.verified, Handover: c.myHandover,
		Gate: f.gate != nil, Verdict: c.verdict,
	}
	if k := c.peers[f.self.Name].Known; !k.At.IsZero() {
		r.KnownEpoch, r.KnownOffset, r.KnownAgoMs = k.Epoch, k.Offset, now.Sub(k.At).Milliseconds()
		r.KnownReplID, r.KnownKeys = k.ReplID, k.Keys
	}
	if m := c.peers[st.Primary].AsPrimary; st.Primary != "" && st.Primary != f.self.Name && !m.At.IsZero() {
		r.LedEpoch, r.LedReplID, r.LedAgoMs = m.Epoch, m.ReplID, now.Sub(m.At).Milliseconds()
	}
	r.Unheard = unheardBy(f.self.Name, c.gs, c.peers, now, f.fresh)
	return r
}

// ensureVerified runs one Verify once the authority is ready, so this
// sidecar acts on a state the leader confirmed, not on what it had on disk.
func (f *Failover) ensureVerified(ctx context.Context, c *core) {
	if c.verified || c.verifying || time.Now().Before(c.verifyAt) {
		return
	}
	c.verifying = true
	f.spawn(ctx, func(ctx context.Context) func(*core) {
		vctx, cancel := context.WithTimeout(ctx, 2*f.cmdWait)
		_, err := f.auth.Verify(vctx)
		cancel()
		return func(c *core) {
			c.verifying = false
			if err != nil {
				f.log.Debug("verify at start", "err", err)
				c.verifyAt = time.Now().Add(f.mc.Interval)
				return
			}
			if !c.verified {
				c.verified = true
				f.log.Info("failover ready", "epoch", c.st.Epoch, "primary", c.st.Primary)
			}
		}
	})
}

// epochStart is when the failover that installed Epoch started, on this
// sidecar's clock; At is zero when no failover did (the initial primary).
type epochStart struct {
	Epoch uint64
	At    time.Time
}

// nextEpochStart moves the committed start of epoch (started, read on the
// clock of the leader that committed it) to this sidecar's clock. The
// waits that run from it (the durable wait for richer data, a promotion
// that does not come within down_after) compare it with this sidecar's
// clock, and a later leader's clock may differ from the committing
// leader's by more than those waits: one 60 s ahead would have found
// every durable wait (50 s at the defaults) over the moment it took
// over, and stopped waiting for the members that held the latest writes;
// one behind would have held a stuck promotion that much longer. An
// epoch this sidecar applies while it follows the log (following: it had
// applied everything it knew committed, with a leader known) started when
// it applied it, give or take a commit's latency, whatever the clocks
// say. One it applies catching up (at start, or back from a partition)
// started at the committed time, as far as it can know, but not in its
// future. The same epoch keeps the start first found for it.
func nextEpochStart(prev epochStart, epoch uint64, started time.Time, following bool, now time.Time) epochStart {
	switch {
	case started.IsZero():
		return epochStart{Epoch: epoch}
	case epoch == prev.Epoch && !prev.At.IsZero():
		return prev
	}
	return epochStart{Epoch: epoch, At: localInstant(started, following, now)}
}

// localInstant moves a committed instant, read on the clock of the
// sidecar that committed it, to this sidecar's clock (an epoch's start:
// nextEpochStart): an entry applied while following the log was
// committed at now; one applied catching up at the committed time, but not
// in this sidecar's future. The anti-flap window counts failovers from
// their starts, and a switchover runs until its deadline (the instant it
// began plus its timeout): an old primary's sidecar whose clock ran 60 s
// behind the committer's would have kept its writes paused up to a minute
// past the deadline of a failed handover, one ahead by more than the
// timeout would never have handed over.
func localInstant(committed time.Time, following bool, now time.Time) time.Time {
	if following || committed.After(now) {
		return now
	}
	return committed
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
