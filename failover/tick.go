package failover

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// plan is what one tick decided to do to the local Redis. Deciding happens
// under the lock; doing happens outside it.
type plan struct {
	fence        bool   // (re)issue CLIENT PAUSE WRITE
	unfence      bool   // CLIENT UNPAUSE
	demoteTo     string // stale primary: REPLICAOF this address, kill clients
	repointTo    string // replica following the wrong primary: REPLICAOF this address
	promoteLocal bool   // the configuration names this node: REPLICAOF NO ONE
	elect        *electionSpec
}

// electionSpec describes an election this sidecar starts for itself.
type electionSpec struct {
	reason       string
	primary      string // being replaced; "" for the initial election
	primaryAddr  string
	primaryEpoch uint64
}

// tick observes, decides and acts once.
func (f *Failover) tick(ctx context.Context) {
	now := time.Now()
	obs := f.local.Last()
	known := f.known()
	f.mu.Lock()
	f.setObsLocked(obs)
	f.observeLocked(now, known)
	p := f.planLocked(now, known)
	rep := f.reportLocked()
	f.mu.Unlock()
	f.cluster.Broadcast(kindReport, encode(rep))
	f.execute(ctx, p)
}

// setObsLocked records the latest local observation.
func (f *Failover) setObsLocked(o monitor.Observation) {
	f.obs = o
	if o.Reachable() && o.Time.After(f.localUpAt) {
		f.localUpAt = o.Time
	}
}

// localUpLocked reports whether the local Redis answered recently.
func (f *Failover) localUpLocked(now time.Time) bool {
	return f.obs.Reachable() && now.Sub(f.obs.Time) < f.fresh
}

// sdownLocked is this sidecar's opinion of the configured primary: no
// reply proving it alive for down_after.
func (f *Failover) sdownLocked(now time.Time) bool {
	if f.conf.Primary == "" {
		return false
	}
	if f.conf.Primary == f.self.Name {
		// The primary's own sidecar judges by its local observation.
		last := f.started
		if f.obs.Alive() && f.obs.Time.After(last) {
			last = f.obs.Time
		}
		return now.Sub(last) >= f.cfg.DownAfter
	}
	due := f.sdownDueLocked()
	return !due.IsZero() && !now.Before(due)
}

// primaryDownLocked is how long this sidecar has had no reply proving the
// configured primary alive; 0 for its own primary, which it does not probe.
func (f *Failover) primaryDownLocked(now time.Time) time.Duration {
	if f.conf.Primary == "" || f.conf.Primary == f.self.Name || f.probeAddr != f.conf.PrimaryAddr || f.probeSince.IsZero() {
		return 0
	}
	last := f.probeSince
	if f.lastAlive.After(last) {
		last = f.lastAlive
	}
	if d := now.Sub(last); d > f.mc.Interval+f.mc.Timeout {
		return d
	}
	return 0
}

// majoritySinceLocked returns the last moment this sidecar had heard from
// a majority of the known set (itself included): the need-th most recent
// time a known peer was heard. Before any peer is heard, the start time
// stands in, so a restarted sidecar gets fence_after to find its peers.
func (f *Failover) majoritySinceLocked(known []string) time.Time {
	need := len(known) / 2
	if need == 0 {
		return time.Now()
	}
	var times []time.Time
	for _, k := range known {
		if k == f.self.Name {
			continue
		}
		if t, ok := f.lastHeard[k]; ok {
			times = append(times, t)
		}
	}
	if len(times) < need {
		return f.started
	}
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	t := times[need-1]
	if t.Before(f.started) {
		return f.started
	}
	return t
}

// doomedLocked reports whether enough peers have been unable to reach this
// sidecar's primary for long enough that they could replace it soon: as
// many as a promotion needs votes (the primary's own sidecar never votes
// against it), each without a reply for half of down_after - fence_after.
//
// Isolation alone does not protect a partition that cuts the Redis links
// before gossip: the majority promotes down_after after losing the primary,
// and this sidecar may keep hearing its peers until shortly before that, so
// fence_after of silence would come too late. With this rule, gossip cut
// before the peers' opinions arrive means isolation fencing finishes by
// (down_after - fence_after)/2 + fence_after, and gossip cut after they
// arrive means fencing already happened; either way the other half of
// down_after - fence_after is slack for delivery and scheduling delays.
func (f *Failover) doomedLocked(now time.Time, known []string) bool {
	c := f.conf
	if c.Primary != f.self.Name {
		return false
	}
	threshold := ((f.cfg.DownAfter - f.cfg.FenceAfter) / 2).Milliseconds()
	n := 0
	for _, k := range known {
		p, ok := f.peers[k]
		if !ok || k == f.self.Name || now.Sub(p.received) >= f.fresh {
			continue
		}
		r := p.rep
		if r.SDownPrimary == f.self.Name && r.SDownEpoch == c.Epoch && r.PrimaryDownMs >= threshold {
			n++
		}
	}
	return n >= len(known)/2+1
}

// reachedByMajorityLocked reports whether this sidecar and enough peers to
// make a majority of the known set reach this node's Redis, by fresh
// reports.
func (f *Failover) reachedByMajorityLocked(now time.Time, known []string) bool {
	threshold := ((f.cfg.DownAfter - f.cfg.FenceAfter) / 2).Milliseconds()
	n := 0
	for _, k := range known {
		p, ok := f.peers[k]
		if !ok || k == f.self.Name || now.Sub(p.received) >= f.fresh {
			continue
		}
		r := p.rep
		if r.SDownPrimary == f.self.Name && r.SDownEpoch == f.conf.Epoch && r.PrimaryDownMs < threshold {
			n++
		}
	}
	return n >= len(known)/2
}

// candidatesLocked lists every node for candidate choice, self included.
func (f *Failover) candidatesLocked(now time.Time) []candidate {
	o := f.obs
	nodes := []candidate{{
		Name: f.self.Name, Addr: f.self.Addr, Priority: f.self.Priority,
		Fresh: now.Sub(o.Time) < f.fresh, Reachable: o.Reachable(),
		Role: o.Role, Synced: o.Synced, Offset: o.Offset,
	}}
	for name, p := range f.peers {
		r := p.rep
		nodes = append(nodes, candidate{
			Name: name, Addr: r.Addr, Priority: r.Priority,
			Fresh: now.Sub(p.received) < f.fresh, Reachable: r.Obs.Reachable,
			Role: r.Obs.Role, Synced: r.Obs.Synced, Offset: r.Obs.Offset,
		})
	}
	return nodes
}

// observeLocked updates the derived state: readiness, SDOWN, ODOWN,
// candidates, metrics and the events they imply.
func (f *Failover) observeLocked(now time.Time, known []string) {
	o := f.obs
	if f.expectRole != "" && now.After(f.expectUntil) {
		f.expectRole = ""
	}
	if o.Reachable() && o.Role != "" {
		switch {
		case f.expectRole != "" && o.Role == f.expectRole:
			// vigil's own promotion or demotion, reported by its own event.
			f.expectRole = ""
		case f.lastRole != "" && f.lastRole != o.Role:
			f.emitLocked(Event{Kind: EventRoleChange, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.self.Name)})
		}
		f.lastRole = o.Role
	}

	freshPeers, stalePeers := 0, 0
	for name, p := range f.peers {
		if now.Sub(p.received) < f.fresh {
			freshPeers++
			if p.rep.Obs.Role == monitor.RoleReplica && !f.replicasSeen[name] {
				f.replicasSeen[name] = true
				f.emitLocked(Event{Kind: EventReplicaAdded, Epoch: f.conf.Epoch, Node: f.nodeLocked(name)})
			}
		} else {
			stalePeers++
		}
	}
	f.m.peers.WithLabelValues("fresh").Set(float64(freshPeers))
	f.m.peers.WithLabelValues("stale").Set(float64(stalePeers))

	if !f.ready && f.settled {
		heard := 0
		for _, k := range known {
			if p, ok := f.peers[k]; ok && k != f.self.Name && now.Sub(p.received) < f.fresh {
				heard++
			}
		}
		if heard >= len(known)/2 {
			f.ready = true
			f.log.Info("failover ready", "epoch", f.conf.Epoch, "primary", f.conf.Primary, "peers", heard)
		}
	}

	// SDOWN, this sidecar's opinion.
	sd := f.sdownLocked(now)
	if sd != f.sdown {
		f.sdown = sd
		f.m.sdown.Set(boolFloat(sd))
		kind := EventSDownCleared
		if sd {
			kind = EventSDown
			f.log.Warn("primary subjectively down", "epoch", f.conf.Epoch, "primary", f.conf.Primary, "redis_addr", f.conf.PrimaryAddr)
		} else {
			f.log.Info("primary reachable again", "epoch", f.conf.Epoch, "primary", f.conf.Primary)
		}
		f.emitLocked(Event{Kind: kind, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.conf.Primary)})
	}

	// ODOWN: a quorum of fresh opinions about the same primary and epoch.
	votes := 0
	if f.sdown {
		votes++
	}
	for _, p := range f.peers {
		r := p.rep
		if now.Sub(p.received) < f.fresh && r.SDown && r.SDownPrimary == f.conf.Primary && r.SDownEpoch == f.conf.Epoch {
			votes++
		}
	}
	od := f.conf.Primary != "" && f.sdown && votes >= f.cfg.Quorum
	f.odownVotes = votes
	if od != f.odown {
		f.odown = od
		f.m.odown.Set(boolFloat(od))
		if od {
			f.odownSince = now
			f.log.Warn("primary objectively down", "epoch", f.conf.Epoch, "primary", f.conf.Primary, "votes", votes, "quorum", f.cfg.Quorum)
			f.emitLocked(Event{Kind: EventODown, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.conf.Primary), Votes: votes, Quorum: f.cfg.Quorum})
		} else {
			f.emitLocked(Event{Kind: EventODownCleared, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.conf.Primary)})
		}
	}

	// Candidate choice, for WhyNot and the metric.
	clear(f.noCandidate)
	f.whyNot = ""
	if f.conf.Primary != "" {
		ranked, excluded := rankCandidates(f.candidatesLocked(now), f.conf.Primary, f.cfg.MaxLagBytes)
		if len(ranked) == 0 {
			f.whyNot = whyNot(excluded)
			if len(excluded) == 0 {
				f.noCandidate[whyNoReplica] = true
			}
			for _, why := range excluded {
				f.noCandidate[why] = true
			}
		}
	}
	for _, why := range whyReasons {
		f.m.noCandidate.WithLabelValues(why).Set(boolFloat(f.noCandidate[why]))
	}

	f.m.majority.Set(boolFloat(now.Sub(f.majoritySinceLocked(known)) < f.fresh))

	// Discovery, while no configuration exists.
	if f.conf.Primary == "" && f.ready {
		_, conflict := f.discoverLocked(now)
		if conflict != f.conflict && conflict != "" {
			f.log.Warn("cannot tell which node is primary", "conflict", conflict)
		}
		f.conflict = conflict
	} else {
		f.conflict = ""
	}
	f.m.conflict.Set(boolFloat(f.conflict != ""))
}

// planLocked decides what to do to the local Redis and whether to run for
// election.
func (f *Failover) planLocked(now time.Time, known []string) plan {
	var p plan
	c := f.conf
	up := f.localUpLocked(now)
	localPrimary := up && f.obs.Role == monitor.RolePrimary
	localReplica := up && f.obs.Role == monitor.RoleReplica

	// Fencing. An isolated primary stops taking writes before the majority
	// can replace it; a primary the configuration does not name stops at
	// once. The pause is renewed every tick and lapses by itself if this
	// sidecar dies.
	isolated := now.Sub(f.majoritySinceLocked(known)) >= f.cfg.FenceAfter
	doomed := f.doomedLocked(now, known)
	wantFence := localPrimary && c.Primary != "" && !f.inFailover && f.switchTarget == "" &&
		(isolated || doomed || c.Primary != f.self.Name)
	switch {
	case wantFence:
		p.fence = true
	case f.fenced && f.switchTarget == "" && (localReplica ||
		(localPrimary && !isolated && c.Primary == f.self.Name && f.reachedByMajorityLocked(now, known))):
		// Unfencing needs fresh evidence: the local Redis answered as a
		// replica (which refuses writes by itself), or as a primary that
		// the configuration still names and a majority reaches again.
		// Opinions going stale must not open a gap between "doomed"
		// expiring and isolation setting in, and a local Redis that does
		// not answer (dead, stalled, slow) proves nothing: it stays
		// paused, and the pause lapses by itself if it is never renewed.
		p.unfence = true
	}

	if !f.ready || !up || f.inFailover || f.switchTarget != "" {
		return p
	}

	// Convergence on the configuration.
	if c.Primary != "" {
		switch {
		case c.Primary == f.self.Name && f.obs.Role == monitor.RoleReplica:
			p.promoteLocal = true
		case c.Primary != f.self.Name && f.obs.Role == monitor.RolePrimary:
			p.demoteTo = c.PrimaryAddr
		case c.Primary != f.self.Name && f.obs.Role == monitor.RoleReplica && f.obs.MasterAddr() != c.PrimaryAddr:
			if f.mayResyncLocked(now) {
				p.repointTo = c.PrimaryAddr
			}
		}
	}

	if now.Before(f.retryAt) {
		return p
	}
	if h := f.heldForLocked(now); h != "" && h != f.self.Name {
		// This sidecar voted for h, which may be promoting right now.
		return p
	}
	// Elections.
	switch {
	case c.Primary == "":
		if who, _ := f.discoverLocked(now); who == f.self.Name {
			p.elect = &electionSpec{reason: ReasonInitial}
		}
	case f.odown && !c.Paused && c.Primary != f.self.Name:
		if f.cfg.Cooldown > 0 && !f.lastFailover.IsZero() && now.Sub(f.lastFailover) < f.cfg.Cooldown {
			return p
		}
		if f.promotingLocked(now) != "" {
			// Another replica won and is promoting; its announcement is
			// on the way.
			return p
		}
		ranked, _ := rankCandidates(f.candidatesLocked(now), c.Primary, f.cfg.MaxLagBytes)
		rank := slices.IndexFunc(ranked, func(n candidate) bool { return n.Name == f.self.Name })
		// The best candidate runs at once; each next one waits one more
		// election timeout, so a better candidate whose sidecar is stuck
		// or vetoed does not stop the failover.
		if rank >= 0 && now.Sub(f.odownSince) >= time.Duration(rank)*f.cfg.ElectionTimeout {
			p.elect = &electionSpec{reason: ReasonAuto, primary: c.Primary, primaryAddr: c.PrimaryAddr, primaryEpoch: c.Epoch}
		}
	}
	if p.elect != nil {
		f.inFailover = true
	}
	return p
}

// mayResyncLocked applies failover.parallel_syncs: replicas that must
// re-point do so in name order, at most parallel_syncs of them syncing at a
// time. Every sidecar computes the same order from the shared reports.
func (f *Failover) mayResyncLocked(now time.Time) bool {
	c := f.conf
	syncing := 0
	waiting := []string{f.self.Name}
	for name, p := range f.peers {
		r := p.rep.Obs
		if name == c.Primary || now.Sub(p.received) >= f.fresh || !r.Reachable || r.Role != monitor.RoleReplica {
			continue
		}
		switch {
		case r.MasterAddr != c.PrimaryAddr:
			waiting = append(waiting, name)
		case !r.LinkUp || r.SyncInProgress:
			syncing++
		}
	}
	slices.Sort(waiting)
	return slices.Index(waiting, f.self.Name) < f.cfg.ParallelSyncs-syncing
}

// reportLocked is this sidecar's report to its peers.
func (f *Failover) reportLocked() report {
	o := f.obs
	var voted uint64
	if f.store != nil {
		voted = f.store.state().VotedEpoch
	}
	return report{
		Name: f.self.Name, Addr: f.self.Addr, SentinelAddr: f.self.SentinelAddr, HTTPAddr: f.self.HTTPAddr,
		Priority: f.self.Priority,
		Config:   f.conf,
		Obs: obsSummary{
			Reachable: o.Reachable(), Alive: o.Alive(), Role: o.Role, MasterAddr: o.MasterAddr(),
			LinkUp: o.LinkUp, Synced: o.Synced, SyncInProgress: o.SyncInProgress, Offset: o.Offset,
			RunID: o.RunID, Replicas: len(o.Replicas),
		},
		SDown: f.sdown, SDownPrimary: f.conf.Primary, SDownEpoch: f.conf.Epoch, PrimaryDownMs: f.primaryDownLocked(time.Now()).Milliseconds(),
		Fenced: f.fenced, Ready: f.ready, VotedEpoch: voted, Switching: f.switchTarget,
	}
}

// execute carries out a plan on the local Redis.
func (f *Failover) execute(ctx context.Context, p plan) {
	if p.fence {
		if err := f.pauseWrites(ctx, f.fencePause()); err != nil {
			f.log.Error("fence primary", "err", err)
		} else {
			f.mu.Lock()
			if !f.fenced {
				f.fenced = true
				f.m.fenced.Set(1)
				f.log.Warn("primary fenced: writes paused", "epoch", f.conf.Epoch, "primary", f.conf.Primary)
				f.emitLocked(Event{Kind: EventFenced, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.self.Name)})
			}
			f.mu.Unlock()
		}
	}
	if p.unfence {
		f.unfence(ctx)
	}
	if p.demoteTo != "" {
		if err := f.demote(ctx, p.demoteTo); err != nil {
			f.log.Error("demote stale primary", "err", err)
		}
	}
	if p.repointTo != "" {
		f.log.Info("re-pointing replica", "redis_addr", p.repointTo)
		if err := f.replicaOf(ctx, p.repointTo); err != nil {
			f.log.Error("re-point replica", "redis_addr", p.repointTo, "err", err)
		}
	}
	if p.promoteLocal {
		f.log.Warn("configuration names this node primary; promoting local replica")
		if err := f.replicaOf(ctx, ""); err != nil {
			f.log.Error("promote local replica", "err", err)
		}
	}
	if p.elect != nil {
		go f.elect(ctx, *p.elect)
	}
}

// fencePause is how long one CLIENT PAUSE lasts: long enough to survive
// until the next renewal, short enough that a dead sidecar's fence lapses.
func (f *Failover) fencePause() time.Duration {
	return f.cfg.FenceAfter + 3*f.mc.Interval + 2*f.mc.Timeout
}

func (f *Failover) unfence(ctx context.Context) {
	if err := f.unpauseWrites(ctx); err != nil {
		f.log.Error("unfence", "err", err)
		return
	}
	f.mu.Lock()
	if f.fenced {
		f.fenced = false
		f.m.fenced.Set(0)
		f.log.Info("primary unfenced: writes released", "epoch", f.conf.Epoch)
		f.emitLocked(Event{Kind: EventUnfenced, Epoch: f.conf.Epoch, Node: f.nodeLocked(f.self.Name)})
	}
	f.mu.Unlock()
}

// expectRoleLocked announces that vigil is about to give the local Redis
// role and reports the change with an event of its own.
func (f *Failover) expectRoleLocked(role monitor.Role) {
	f.expectRole = role
	// Long enough for the command, the probe after it and the next tick.
	f.expectUntil = time.Now().Add(2*f.cmdWait + f.fresh)
}

// demotedEventLocked is +convert-to-slave for the local Redis, now a
// replica of the primary at addr: the old primary is this node, the new
// one the configured primary.
func (f *Failover) demotedEventLocked(addr string) Event {
	c := f.conf
	newp := Node{Name: c.Primary, Addr: c.PrimaryAddr}
	if c.PrimaryAddr != addr {
		newp = Node{Addr: addr}
	}
	self := f.nodeLocked(f.self.Name)
	return Event{Kind: EventConvertToReplica, Epoch: c.Epoch, Node: self,
		OldPrimary: Node{Name: self.Name, Addr: self.Addr}, NewPrimary: newp}
}

// demote turns the local primary into a replica of addr and disconnects its
// clients so they rediscover the primary.
func (f *Failover) demote(ctx context.Context, addr string) error {
	f.log.Warn("demoting stale primary", "redis_addr", addr)
	f.mu.Lock()
	f.expectRoleLocked(monitor.RoleReplica)
	f.mu.Unlock()
	if err := f.replicaOf(ctx, addr); err != nil {
		return err
	}
	f.killClients(ctx)
	f.mu.Lock()
	wasFenced := f.fenced
	f.emitLocked(f.demotedEventLocked(addr))
	f.mu.Unlock()
	if wasFenced {
		// A replica refuses writes by itself; the pause would only delay
		// reads and replication.
		f.unfence(ctx)
	}
	return nil
}

func (f *Failover) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.cmdWait)
}

// replicaOf sends REPLICAOF addr, or REPLICAOF NO ONE when addr is "".
func (f *Failover) replicaOf(ctx context.Context, addr string) error {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	host, port := "NO", "ONE"
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("replicaof %q: %w", addr, err)
		}
		if _, err := strconv.Atoi(p); err != nil {
			return fmt.Errorf("replicaof %q: bad port", addr)
		}
		host, port = h, p
	}
	if err := f.local.Client().Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		f.m.commandErrors.WithLabelValues("replicaof").Inc()
		return fmt.Errorf("replicaof %s %s: %w", host, port, err)
	}
	// Without a config file CONFIG REWRITE fails; the change then lasts
	// until Redis restarts, and convergence re-applies it after that.
	if err := f.local.Client().Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
		f.log.Debug("config rewrite", "err", err)
	}
	// The next decisions must see the new role, not the last periodic
	// probe's.
	o := f.local.ProbeNow(ctx)
	f.mu.Lock()
	if o.Time.After(f.obs.Time) {
		f.setObsLocked(o)
	}
	f.mu.Unlock()
	return nil
}

func (f *Failover) killClients(ctx context.Context) {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	for _, typ := range []string{"normal", "pubsub"} {
		if err := f.local.Client().Do(ctx, "CLIENT", "KILL", "TYPE", typ).Err(); err != nil {
			f.m.commandErrors.WithLabelValues("client_kill").Inc()
			f.log.Warn("kill clients", "type", typ, "err", err)
		}
	}
}

func (f *Failover) pauseWrites(ctx context.Context, d time.Duration) error {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	if err := f.local.Client().Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "WRITE").Err(); err != nil {
		f.m.commandErrors.WithLabelValues("client_pause").Inc()
		return fmt.Errorf("client pause: %w", err)
	}
	return nil
}

func (f *Failover) unpauseWrites(ctx context.Context) error {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	if err := f.local.Client().Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		f.m.commandErrors.WithLabelValues("client_unpause").Inc()
		return fmt.Errorf("client unpause: %w", err)
	}
	return nil
}

// localRole asks the local Redis for its role with ROLE.
func (f *Failover) localRole(ctx context.Context) (string, error) {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	v, err := f.local.Client().Do(ctx, "ROLE").Slice()
	if err != nil {
		f.m.commandErrors.WithLabelValues("role").Inc()
		return "", fmt.Errorf("role: %w", err)
	}
	if len(v) == 0 {
		return "", fmt.Errorf("role: empty reply")
	}
	s, _ := v[0].(string)
	return s, nil
}

// localOffset reads the local replication offset from INFO replication.
func (f *Failover) localOffset(ctx context.Context) (int64, error) {
	ctx, cancel := f.cmdCtx(ctx)
	defer cancel()
	txt, err := f.local.Client().Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("info replication: %w", err)
	}
	return parseOffset(txt)
}
