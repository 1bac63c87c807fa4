package failover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// ballot is one vote reply and who sent it.
type ballot struct {
	from string
	r    voteReply
}

// Why a promotion did not happen after winning the votes.
var (
	errPrimaryAlive = errors.New("failover: primary answered the re-check")
	errVetoed       = errors.New("failover: promotion vetoed")
	errSuperseded   = errors.New("failover: a newer configuration arrived")
)

// voteHold is this sidecar's latest vote in an election whose outcome it
// has not heard yet. The candidate that got it may have won and be
// promoting, with its announcement still on the way; until the outcome is
// heard or the hold lapses, this sidecar neither runs for election itself
// nor votes for anyone else against the same configuration. Every winner
// holds a majority of such votes (its own included), so no second
// candidate can win against the same failed primary in the meantime.
type voteHold struct {
	epoch     uint64 // the election's epoch
	candidate string // who got the vote; this node itself when it campaigns
	// The configuration the election replaces; a newer configuration is
	// the outcome and ends the hold.
	primary      string
	primaryEpoch uint64
	until        time.Time // when the hold lapses
}

// outcomeGrace is how long a vote holds: long enough for its candidate to
// collect the other votes, re-check the primary, promote (three commands
// to Redis) and announce the result. If the winner dies before it
// announces, the next election starts after this.
func (f *Failover) outcomeGrace() time.Duration {
	return 2*f.cfg.ElectionTimeout + f.mc.Timeout + 3*f.cmdWait + f.fresh
}

// holdLocked records a vote for candidate at epoch against the
// configuration (primary, primaryEpoch).
func (f *Failover) holdLocked(epoch uint64, candidate, primary string, primaryEpoch uint64) {
	if epoch < f.hold.epoch {
		return
	}
	f.hold = voteHold{epoch: epoch, candidate: candidate, primary: primary, primaryEpoch: primaryEpoch,
		until: time.Now().Add(f.outcomeGrace())}
}

// heldForLocked names the candidate this sidecar's vote is held for, or ""
// when no hold applies to the current configuration.
func (f *Failover) heldForLocked(now time.Time) string {
	h := f.hold
	if h.candidate == "" || !now.Before(h.until) || h.primary != f.conf.Primary || h.primaryEpoch != f.conf.Epoch {
		return ""
	}
	return h.candidate
}

// promotingLocked names a fresh peer that is most likely the winner of an
// election whose announcement has not arrived yet: its Redis reports
// itself a primary the configuration does not name, and its sidecar voted
// at an epoch newer than the configuration's (a candidate votes for
// itself). Running against it would promote a second replica for one
// failure and lose the writes it has taken. It counts for outcomeGrace
// from when its Redis became primary, so a stray primary, or a winner
// whose sidecar stopped before announcing, delays failover but never
// blocks it.
func (f *Failover) promotingLocked(now time.Time) string {
	c := f.conf
	grace := f.outcomeGrace()
	who := ""
	for name, p := range f.peers {
		r := p.rep
		if name == c.Primary || now.Sub(p.received) >= f.fresh || !r.Obs.Reachable || r.Obs.Role != monitor.RolePrimary ||
			r.VotedEpoch <= c.Epoch || p.primarySince.IsZero() || now.Sub(p.primarySince) >= grace {
			continue
		}
		if who == "" || name < who {
			who = name
		}
	}
	return who
}

// elect runs one election for this sidecar and, if it wins, promotes the
// local Redis. A loss schedules the next try after a randomized delay.
func (f *Failover) elect(ctx context.Context, spec electionSpec) {
	defer func() {
		f.mu.Lock()
		f.inFailover = false
		f.mu.Unlock()
		f.poke()
	}()
	start := time.Now()
	_, err := f.electAndPromote(ctx, spec, start)
	if err != nil && ctx.Err() == nil {
		f.mu.Lock()
		f.retryAt = time.Now().Add(jitter(f.cfg.ElectionTimeout))
		f.mu.Unlock()
	}
}

// electAndPromote wins an election for this node and promotes it. It
// records the outcome in metrics and history.
func (f *Failover) electAndPromote(ctx context.Context, spec electionSpec, start time.Time) (Configuration, error) {
	f.mu.Lock()
	prev := f.conf
	f.mu.Unlock()
	epoch, err := f.campaign(ctx, spec)
	if err == nil {
		var c Configuration
		c, err = f.promote(ctx, spec, epoch, start)
		if err == nil {
			f.m.failovers.WithLabelValues(resultSuccess).Inc()
			f.m.duration.Observe(time.Since(start).Seconds())
			return c, nil
		}
	}
	if ctx.Err() != nil {
		return Configuration{}, err
	}
	reason := failPromote
	switch {
	case errors.Is(err, errElectionLost):
		reason = failElection
	case errors.Is(err, errPrimaryAlive):
		reason = failPrimaryAlive
	case errors.Is(err, errVetoed):
		reason = failVetoed
	case errors.Is(err, errPersist):
		reason = failPersist
	}
	f.m.failures.WithLabelValues(reason).Inc()
	if reason != failElection && reason != failVetoed {
		// Lost and vetoed elections are routine while a failover sorts
		// itself out; the failures that matter are counted as failovers.
		f.m.failovers.WithLabelValues(resultFailure).Inc()
		if f.hist != nil {
			_ = f.hist.add(HistoryEntry{Epoch: epoch, Old: prev.Primary, New: f.self.Name, Reason: spec.reason,
				Start: start, Duration: time.Since(start), Result: resultFailure, Error: err.Error()})
		}
	}
	f.log.Warn("failover attempt failed", "epoch", epoch, "reason", spec.reason, "err", err)
	return Configuration{}, err
}

var errPersist = errors.New("failover: cannot persist")

// campaign asks every known peer for its vote at the next epoch and returns
// that epoch once a majority of the known set granted it.
func (f *Failover) campaign(ctx context.Context, spec electionSpec) (uint64, error) {
	known := f.known()
	f.mu.Lock()
	if h := f.heldForLocked(time.Now()); h != "" && h != f.self.Name {
		held := f.hold.epoch
		f.mu.Unlock()
		return 0, fmt.Errorf("%w: voted for %s at epoch %d; its outcome is not known yet", errElectionLost, h, held)
	}
	epoch := max(f.conf.Epoch, f.maxEpochSeen, f.store.state().VotedEpoch) + 1
	f.maxEpochSeen = epoch
	ch := make(chan ballot, len(known)+1)
	f.elections[epoch] = ch
	self := f.nodeLocked(f.self.Name)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.elections, epoch)
		f.mu.Unlock()
	}()

	if f.gate != nil && spec.reason != ReasonInitial {
		if err := f.gate.AllowPromote(ctx, self, epoch); err != nil {
			f.mu.Lock()
			f.noCandidate[whyVetoed] = true
			f.mu.Unlock()
			return epoch, fmt.Errorf("%w: %w", errVetoed, err)
		}
	}
	ok, err := f.store.vote(epoch, f.self.Name)
	if err != nil {
		return epoch, fmt.Errorf("%w: vote: %w", errPersist, err)
	}
	if !ok {
		return epoch, fmt.Errorf("%w: already voted in epoch %d", errElectionLost, epoch)
	}
	f.mu.Lock()
	prevHold := f.hold
	f.holdLocked(epoch, f.self.Name, spec.primary, spec.primaryEpoch)
	f.mu.Unlock()
	won := false
	defer func() {
		if won {
			return
		}
		// A lost election's own vote is in no winner's majority: it need
		// not hold this sidecar back; a vote it gave before still does.
		f.mu.Lock()
		if f.hold.epoch == epoch && f.hold.candidate == f.self.Name {
			f.hold = prevHold
		}
		f.mu.Unlock()
	}()
	f.log.Info("requesting votes", "epoch", epoch, "reason", spec.reason, "primary", spec.primary)
	req := encode(voteRequest{Epoch: epoch, Candidate: f.self.Name, CandidateAddr: f.self.Addr,
		Primary: spec.primary, PrimaryEpoch: spec.primaryEpoch, Reason: spec.reason})
	sendCtx, cancel := context.WithTimeout(ctx, f.cfg.ElectionTimeout)
	defer cancel()
	for _, k := range known {
		if k == f.self.Name {
			continue
		}
		go func() {
			if err := f.cluster.Send(sendCtx, k, kindVoteRequest, req); err != nil {
				f.log.Debug("send vote request", "peer", k, "epoch", epoch, "err", err)
			}
		}()
	}
	need := len(known)/2 + 1
	granted := map[string]bool{f.self.Name: true}
	denied := map[string]bool{}
	for len(granted) < need {
		if len(known)-len(denied) < need {
			return epoch, fmt.Errorf("%w: %d of %d denied", errElectionLost, len(denied), len(known))
		}
		select {
		case <-sendCtx.Done():
			return epoch, fmt.Errorf("%w: %d of %d votes in %s", errElectionLost, len(granted), need, f.cfg.ElectionTimeout)
		case b := <-ch:
			if !slices.Contains(known, b.from) || b.r.Candidate != f.self.Name {
				continue
			}
			if b.r.Granted {
				granted[b.from] = true
			} else {
				denied[b.from] = true
				f.log.Debug("vote denied", "peer", b.from, "epoch", epoch, "why", b.r.Why)
			}
		}
	}
	won = true
	f.log.Info("election won", "epoch", epoch, "votes", len(granted), "known", len(known))
	return epoch, nil
}

// onVoteRequest answers a candidate. The vote is on disk before the reply
// leaves.
func (f *Failover) onVoteRequest(ctx context.Context, from string, req voteRequest) {
	f.mu.Lock()
	why := ""
	if from != req.Candidate {
		why = "request not sent by the candidate's sidecar"
	} else {
		why = f.voteRefusalLocked(time.Now(), req)
	}
	f.maxEpochSeen = max(f.maxEpochSeen, req.Epoch)
	f.mu.Unlock()
	granted := false
	if why == "" {
		ok, err := f.store.vote(req.Epoch, req.Candidate)
		switch {
		case err != nil:
			why = "cannot persist the vote"
			f.log.Error("persist vote", "epoch", req.Epoch, "err", err)
		case !ok:
			why = "already voted in this epoch"
		default:
			granted = true
			f.mu.Lock()
			f.holdLocked(req.Epoch, req.Candidate, req.Primary, req.PrimaryEpoch)
			f.mu.Unlock()
		}
	}
	if granted {
		f.m.votes.WithLabelValues("granted").Inc()
		f.log.Info("vote granted", "peer", from, "epoch", req.Epoch, "reason", req.Reason)
	} else {
		f.m.votes.WithLabelValues("denied").Inc()
		f.log.Debug("vote denied", "peer", from, "epoch", req.Epoch, "why", why)
	}
	f.mu.Lock()
	seen := max(f.maxEpochSeen, f.conf.Epoch)
	f.mu.Unlock()
	reply := encode(voteReply{Epoch: req.Epoch, Candidate: req.Candidate, Granted: granted, Why: why, Seen: seen})
	go func() {
		sctx, cancel := context.WithTimeout(ctx, f.cfg.ElectionTimeout)
		defer cancel()
		if err := f.cluster.Send(sctx, from, kindVoteReply, reply); err != nil {
			f.log.Debug("send vote reply", "peer", from, "err", err)
		}
	}()
}

// voteRefusalLocked says why this sidecar refuses req, or "" to grant it
// (subject to the one-vote-per-epoch store).
func (f *Failover) voteRefusalLocked(now time.Time, req voteRequest) string {
	c := f.conf
	if req.Epoch <= c.Epoch {
		return fmt.Sprintf("epoch %d is not newer than %d", req.Epoch, c.Epoch)
	}
	if h := f.heldForLocked(now); h != "" && h != req.Candidate {
		return fmt.Sprintf("voted for %s at epoch %d; its outcome is not known yet", h, f.hold.epoch)
	}
	switch req.Reason {
	case ReasonInitial:
		if c.Primary != "" {
			return "a configuration exists"
		}
		if !f.ready {
			return "voter not ready"
		}
		if who, _ := f.discoverLocked(now); who != req.Candidate {
			return fmt.Sprintf("discovery here names %q", who)
		}
		return ""
	case ReasonAuto:
		if c.Paused {
			return "automatic failover is paused"
		}
		if req.Primary != c.Primary || req.PrimaryEpoch != c.Epoch {
			return fmt.Sprintf("replaces %s at epoch %d, here %s at epoch %d", req.Primary, req.PrimaryEpoch, c.Primary, c.Epoch)
		}
		if !f.sdown {
			return "primary not down here"
		}
		if y := f.promotingLocked(now); y != "" && y != req.Candidate {
			return fmt.Sprintf("%s is being promoted", y)
		}
		if f.cfg.Cooldown > 0 && !f.lastFailover.IsZero() && now.Sub(f.lastFailover) < f.cfg.Cooldown {
			return "cooldown"
		}
		ranked, excluded := rankCandidates(f.candidatesLocked(now), c.Primary, f.cfg.MaxLagBytes)
		if !slices.ContainsFunc(ranked, func(n candidate) bool { return n.Name == req.Candidate }) {
			return fmt.Sprintf("candidate not eligible here: %s", excluded[req.Candidate])
		}
		return ""
	case ReasonSwitchover:
		if req.Primary != c.Primary || req.PrimaryEpoch != c.Epoch {
			return fmt.Sprintf("replaces %s at epoch %d, here %s at epoch %d", req.Primary, req.PrimaryEpoch, c.Primary, c.Epoch)
		}
		authorised := f.switchTarget
		if c.Primary != f.self.Name {
			p, ok := f.peers[c.Primary]
			if !ok || now.Sub(p.received) >= f.fresh {
				return "no fresh report from the primary's sidecar"
			}
			authorised = p.rep.Switching
		}
		if authorised != req.Candidate {
			return "switchover not authorised by the primary's sidecar"
		}
		ranked, excluded := rankCandidates(f.candidatesLocked(now), c.Primary, math.MaxInt64)
		if !slices.ContainsFunc(ranked, func(n candidate) bool { return n.Name == req.Candidate }) {
			return fmt.Sprintf("candidate not eligible here: %s", excluded[req.Candidate])
		}
		return ""
	}
	return "unknown reason"
}

func (f *Failover) onVoteReply(from string, r voteReply) {
	f.mu.Lock()
	f.maxEpochSeen = max(f.maxEpochSeen, r.Seen)
	ch := f.elections[r.Epoch]
	f.mu.Unlock()
	if ch != nil {
		select {
		case ch <- ballot{from: from, r: r}:
		default:
		}
	}
}

// promote makes the local Redis the primary at epoch and announces it.
func (f *Failover) promote(ctx context.Context, spec electionSpec, epoch uint64, start time.Time) (Configuration, error) {
	if spec.reason == ReasonAuto {
		// The votes may be a little old: a primary that came back in the
		// meantime must keep its role.
		c := monitor.NewClient(spec.primaryAddr, f.rc, f.mc.Timeout)
		pctx, cancel := context.WithTimeout(ctx, f.mc.Timeout)
		o := monitor.Probe(pctx, c)
		cancel()
		c.Close()
		if o.Alive() {
			return Configuration{}, errPrimaryAlive
		}
	}
	role, err := f.localRole(ctx)
	if err != nil || role != "master" {
		if spec.reason != ReasonInitial {
			// +promoted-slave reports this change, not +role-change.
			f.mu.Lock()
			f.expectRoleLocked(monitor.RolePrimary)
			f.mu.Unlock()
		}
		if err := f.replicaOf(ctx, ""); err != nil {
			return Configuration{}, err
		}
		if role, err = f.localRole(ctx); err != nil {
			return Configuration{}, err
		}
		if role != "master" {
			return Configuration{}, fmt.Errorf("role after replicaof no one is %q", role)
		}
	}
	f.mu.Lock()
	c := Configuration{Epoch: epoch, Primary: f.self.Name, PrimaryAddr: f.self.Addr, Paused: f.conf.Paused,
		Reason: spec.reason, Previous: spec.primary, Started: start, Took: time.Since(start)}
	if !c.Newer(f.conf) {
		f.mu.Unlock()
		return Configuration{}, errSuperseded
	}
	// Durable before anyone hears of it.
	if err := f.store.saveConfig(c); err != nil {
		f.mu.Unlock()
		return Configuration{}, fmt.Errorf("%w: configuration: %w", errPersist, err)
	}
	// The initial configuration records what Redis already is; it is not
	// a failover clients need to hear of.
	events := spec.reason != ReasonInitial
	oldp := Node{Name: spec.primary, Addr: spec.primaryAddr}
	if events {
		self := f.nodeLocked(f.self.Name)
		f.emitLocked(Event{Kind: EventPromotedReplica, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
	}
	f.adoptLocked(c, f.self.Name) // emits +switch-master
	if events {
		self := f.nodeLocked(f.self.Name)
		f.emitLocked(Event{Kind: EventFailoverEnd, Epoch: epoch, Node: self, OldPrimary: oldp, NewPrimary: self})
	}
	f.mu.Unlock()
	f.log.Warn("replica promoted", "epoch", epoch, "reason", spec.reason, "previous", spec.primary, "duration", c.Took)
	f.announce(ctx, c)
	return c, nil
}

// announce sends a configuration to every peer at once, best effort and
// reliably in parallel: whichever arrives first wins.
func (f *Failover) announce(ctx context.Context, c Configuration) {
	b := encode(c)
	f.cluster.Broadcast(kindConfig, b)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 4*f.cfg.ElectionTimeout)
		defer cancel()
		if err := f.cluster.BroadcastReliable(actx, kindConfig, b); err != nil {
			f.log.Debug("reliable announce", "epoch", c.Epoch, "err", err)
		}
	}()
}
