package failover

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/monitor"
)

// nodeOf describes the node called name as the loop knows it.
func (f *Failover) nodeOf(c *core, name string, now time.Time) Node {
	st := c.st
	if name == "" {
		return Node{}
	}
	if name == f.self.Name {
		n := f.self
		o := c.obs
		n.Role, n.Offset, n.LinkUp, n.Synced, n.RunID = o.Role, o.Offset, o.LinkUp, o.Synced, o.RunID
		n.Reachable = o.Reachable()
		n.LastSeen = o.Time
		// The primary's SDOWN is the group's opinion (the snapshot sets
		// it); any other node is SDOWN once its Redis has not answered
		// for down_after, so Sentinel clients stop reading from it.
		n.SDown = name != st.Primary && now.Sub(later(c.localUpAt, c.started)) >= c.p.DownAfter
		return n
	}
	m := st.Members[name]
	p, ok := c.peers[name]
	if !ok {
		return Node{Name: name, Addr: m.RedisAddr, SentinelAddr: m.SentinelAddr, HTTPAddr: m.HTTPAddr, Priority: m.Priority,
			SDown: name != st.Primary && now.Sub(c.started) >= c.p.DownAfter}
	}
	r := p.Rep
	fresh := p.fresh(now, c.p.Fresh)
	down := p.UpAt
	if down.IsZero() {
		down = p.First
	}
	return Node{
		Name: r.Name, Addr: r.Addr, SentinelAddr: r.SentinelAddr, HTTPAddr: r.HTTPAddr,
		Role: r.Obs.Role, Offset: r.Obs.Offset, LinkUp: r.Obs.LinkUp, Synced: r.Obs.Synced,
		Priority: r.Priority, RunID: r.Obs.RunID, Reachable: fresh && r.Obs.Reachable,
		SDown:    name != st.Primary && now.Sub(down) >= c.p.DownAfter,
		LastSeen: p.Received,
	}
}

// publish builds the readers' view and signals watchers if the topology
// changed.
func (f *Failover) publish(c *core, now time.Time) {
	st := c.st
	gs := c.gs
	alive := f.cluster.Alive()
	leader, _ := f.auth.Leader()
	handingOver := gs.Switchover.active(st.Epoch, now)
	s := Snapshot{
		MasterName: f.cfg.MasterName, Self: f.self.Name, Epoch: st.Epoch,
		Quorum: c.p.Quorum, DownAfter: c.p.DownAfter, ParallelSyncs: c.p.ParallelSyncs, FailoverTimeout: c.p.FailoverTimeout,
		Fenced: c.fenced, Paused: st.Paused, FlapPaused: st.FlapPaused, Leader: leader,
		Isolated:   isolated(f.auth.LastContact(), now, c.p),
		InFailover: c.promoting || handingOver || (st.Primary != "" && !st.Promoted),
		WhyNot:     c.decision.WhyNot, Conflict: c.conflict,
		Replicas: []Node{}, Sentinels: []Node{},
	}
	member := func(n *Node) {
		n.Member = "dead"
		if slices.Contains(alive, n.Name) {
			n.Member = "alive"
		}
	}
	up := c.obs.Reachable() && now.Sub(c.obs.Time) < c.p.Fresh
	isPrimary := false
	if st.Primary != "" {
		p := f.nodeOf(c, st.Primary, now)
		p.Addr = primaryAddr(gs, c.peers, now, c.p.Fresh)
		if st.Primary == f.self.Name {
			p.Addr = f.self.Addr
		}
		p.SDown, p.ODown = c.sdown, c.odown
		member(&p)
		s.Primary = p
		if st.Primary == f.self.Name {
			isPrimary = c.verified && st.Promoted && up && c.obs.Role == monitor.RolePrimary && !c.fenced && !handingOver && !c.ids.Empty
			s.Writable = isPrimary
			s.Lagging = lagging(up, c.obs.Role)
		} else if ps, ok := c.peers[st.Primary]; ok {
			r := ps.Rep
			s.Writable = st.Promoted && ps.fresh(now, c.p.Fresh) && r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary &&
				!r.Fenced && r.Handover == nil && !r.Empty
		}
		if !f.auth.CaughtUp() {
			// The state may be any prefix of the group's (seed 17035).
			s.Lagging, s.Writable = true, false
			isPrimary = false
		}
	}
	// Every member and peer, sorted, once: a slice, not a set, as this
	// runs on every step.
	names := append(make([]string, 0, 1+len(st.Members)+len(c.peers)), f.self.Name)
	for n := range st.Members {
		names = append(names, n)
	}
	for n := range c.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	s.Replicas, s.Sentinels = make([]Node, 0, len(names)), make([]Node, 0, len(names))
	for _, name := range names {
		n := f.nodeOf(c, name, now)
		member(&n)
		if name != f.self.Name {
			s.Sentinels = append(s.Sentinels, n)
		}
		if name != st.Primary {
			s.Replicas = append(s.Replicas, n)
			if n.Role == monitor.RoleReplica && n.Reachable && !c.replicasSeen[name] && st.Promoted {
				c.replicasSeen[name] = true
				f.emit(Event{Kind: EventReplicaAdded, Epoch: st.Epoch, Node: n})
			}
			// Sentinel reports a replica's SDOWN too: an old primary
			// that died is "+sdown slave ..." of the new primary, and
			// "-sdown slave ..." when its Redis is back.
			if n.SDown != c.replicasDown[name] && st.Primary != "" {
				kind := EventSDownCleared
				if n.SDown {
					kind = EventSDown
				}
				c.replicasDown[name] = n.SDown
				f.emit(Event{Kind: kind, Epoch: st.Epoch, Node: n})
			}
		}
	}
	for name := range c.replicasDown {
		if _, ok := slices.BinarySearch(names, name); !ok || name == st.Primary {
			delete(c.replicasDown, name)
		}
	}
	fresh, stale := 0, 0
	for name, p := range c.peers {
		if name == f.self.Name {
			continue
		}
		if p.fresh(now, c.p.Fresh) {
			fresh++
		} else {
			stale++
		}
	}
	f.m.peersFresh.Set(float64(fresh))
	f.m.peersStale.Set(float64(stale))

	// The key is rebuilt in a buffer the loop keeps and stays the
	// published string while it is unchanged (nearly every step).
	c.keyBuf = appendTopologyKey(c.keyBuf[:0], s)
	key := c.pubKey
	if string(c.keyBuf) != key {
		key = string(c.keyBuf)
		c.pubKey = key
	}
	v := &view{
		snap:      s,
		key:       key,
		conf:      configuration(st, s.Primary.Addr),
		ready:     c.verified && !c.obs.Time.IsZero(),
		isPrimary: isPrimary,
		state:     st,
		peers:     maps.Clone(c.peers),
		obs:       c.obs,
		at:        time.Now(),
		// Two intervals of margin: fence_after may be set shorter than
		// the probe interval that drives the steps.
		life: c.p.FenceAfter + 2*f.mc.Interval,
	}
	f.pubMu.Lock()
	old := f.pub
	f.pub = v
	var closeCh chan struct{}
	if old.key != v.key {
		closeCh = f.pubCh
		f.pubCh = make(chan struct{})
	}
	f.pubMu.Unlock()
	if closeCh != nil {
		close(closeCh)
	}
}

// appendTopologyKey appends to b what Watch compares: the parts of a
// snapshot clients act on, without the timestamps that change with every
// report. The text is fmt's "%d|%s|%s|%v|..." of the same fields, built
// without fmt because it runs on every step.
func appendTopologyKey(b []byte, s Snapshot) []byte {
	b = strconv.AppendUint(b, s.Epoch, 10)
	for _, v := range []string{s.Primary.Name, s.Primary.Addr} {
		b = append(append(b, '|'), v...)
	}
	for _, v := range []bool{s.Writable, s.Fenced, s.Paused, s.InFailover, s.Primary.SDown} {
		b = strconv.AppendBool(append(b, '|'), v)
	}
	for _, v := range []string{s.FlapPaused, s.WhyNot, s.Conflict} {
		b = append(append(b, '|'), v...)
	}
	b = strconv.AppendBool(append(b, '|'), s.Primary.ODown)
	b = strconv.AppendInt(append(b, '|'), int64(s.Quorum), 10)
	b = strconv.AppendBool(append(b, '|'), s.Isolated)
	b = strconv.AppendBool(append(b, '|'), s.Lagging)
	b = append(b, '|')
	for _, n := range s.Replicas {
		b = append(b, n.Name...)
		for _, v := range []string{n.Addr, string(n.Role)} {
			b = append(append(b, ','), v...)
		}
		for _, v := range []bool{n.Reachable, n.SDown, n.LinkUp} {
			b = strconv.AppendBool(append(b, ','), v)
		}
		b = append(b, ';')
	}
	for _, n := range s.Sentinels {
		b = append(b, n.Name...)
		for _, v := range []string{n.SentinelAddr, n.Member} {
			b = append(append(b, ','), v...)
		}
		b = append(b, ';')
	}
	return b
}

func configuration(st authority.State, addr string) Configuration {
	return Configuration{Epoch: st.Epoch, Primary: st.Primary, PrimaryAddr: addr, Promoted: st.Promoted, Paused: st.Paused,
		FlapPaused: st.FlapPaused, Reason: st.Reason, Previous: st.Previous, Started: st.Started}
}

func (f *Failover) current() *view {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	return f.pub
}

// Snapshot returns the group as this sidecar currently believes it to be.
// A view the loop has not renewed for fence_after plus two intervals
// (expired) says so: it counts as cut off, and nothing is writable
// through it. Watch's channel closes only on a publish, so a watcher of a
// stalled loop learns of the expiry at its next read (the proxy re-reads
// every proxy.check_interval).
func (f *Failover) Snapshot() Snapshot {
	return viewSnapshot(f.current(), time.Now())
}

// viewSnapshot is v's snapshot as of now (Snapshot).
func viewSnapshot(v *view, now time.Time) Snapshot {
	s := cloneSnapshot(v.snap)
	if v.expired(now) {
		s.Isolated, s.Writable = true, false
	}
	return s
}

func cloneSnapshot(s Snapshot) Snapshot {
	s.Replicas = slices.Clone(s.Replicas)
	s.Sentinels = slices.Clone(s.Sentinels)
	return s
}

// Watch returns the current topology and a channel closed when it next
// changes (primary, epoch, writability, fencing, replicas, sentinels), for
// consumers that wait for a change instead of polling.
func (f *Failover) Watch() (Snapshot, <-chan struct{}) {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	return viewSnapshot(f.pub, time.Now()), f.pubCh
}

// IsPrimary reports whether the newest committed state names this node as
// the promoted primary, a Verify confirmed it since start, and its Redis is
// a reachable primary that is not fenced: the node clients may write to.
func (f *Failover) IsPrimary() bool {
	v := f.current()
	return v.isPrimary && !v.expired(time.Now())
}

// Ready reports whether the authority has a group, this sidecar applied its
// log and confirmed it with the leader, and the local Redis was probed;
// before that it does not act on its Redis.
func (f *Failover) Ready() bool { return f.current().ready }

// History returns the recent failovers, oldest first.
func (f *Failover) History() []HistoryEntry {
	h := f.current().state.History
	if len(h) == 0 {
		return []HistoryEntry{}
	}
	return slices.Clone(h)
}

// Configuration returns the committed configuration this sidecar follows.
func (f *Failover) Configuration() Configuration { return f.current().conf }

// Settings returns the group-wide settings of the committed state (zero
// fields: the file's values apply).
func (f *Failover) Settings() authority.Settings { return f.current().state.Settings.Clone() }

// parseOffset reads the replication offset from INFO replication: the
// replica's processed offset on a replica, master_repl_offset on a primary.
func parseOffset(txt string) (int64, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			fields[k] = v
		}
	}
	key := "master_repl_offset"
	if fields["role"] == "slave" {
		key = "slave_repl_offset"
	}
	v, ok := fields[key]
	if !ok {
		return 0, fmt.Errorf("info replication has no %s", key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("info replication %s %q: %w", key, v, err)
	}
	return n, nil
}

// CanVote reports whether member name may become a Raft voter: its sidecar
// reports fresh and its Redis answers as the primary, or as a replica with
// its link up after a completed sync. The authority's leader asks it before
// it makes a joiner a voter.
func (f *Failover) CanVote(name string) bool {
	v := f.current()
	p, ok := v.peers[name]
	if !ok || !p.fresh(time.Now(), f.fresh) {
		return false
	}
	o := p.Rep.Obs
	return o.Reachable && (o.Role == monitor.RolePrimary || (o.Role == monitor.RoleReplica && o.LinkUp && o.Synced))
}

// lagging reports whether this sidecar's state names its own node the
// primary while its Redis (up: observed and fresh) answers as a replica:
// of another, when the group has moved on and the log has not reached this
// sidecar yet, or of itself, when it was detached. Chaos seed
// 12806 (N=3): a's sidecar, restarted with a wiped data dir, held epoch 1
// (a the primary) while epoch 2 promoted b and demoted a's Redis into it;
// from the heal of a gossip-only partition at 50.27 s it was no longer cut
// off, and until the log reached it at 51.03 s its Sentinel endpoint named
// a: clients read epoch 1's values from a's Redis, a replica that had none
// of epoch 2's writes.
//
// A Redis pointing at itself takes no writes either, and what it serves
// may be just as stale: chaos seed 16132 (N=3, shipped defaults): b's
// sidecar, stopped for 11 s while c was promoted, resumed with epoch 7 (b
// the primary); c had meanwhile demoted b's Redis, restarted from its AOF,
// to point at itself (its sidecar silent, nobody to re-point it), and a
// stale Raft message from c, which had just died, counted as contact. For
// 0.6 s b's Sentinel endpoint named b, and two register clients read
// values of 6 s before from its Redis. The same holds for a Redis its own
// sidecar detached as empty or while it judges a restart: an empty one
// answers every read with nothing.
//
// Nor does a sidecar name its own Redis while it has no fresh observation
// of it (up false): it cannot tell whether the group moved on. Chaos seed
// 14914 (N=3, shipped defaults): b's sidecar, stopped for 8.8 s while c
// was promoted and b's Redis demoted into it, resumed with epoch 2 (b the
// primary); Raft contact came back in the same millisecond as its first
// probe, and in between its Sentinel endpoint named b. Two register
// clients connected to b's Redis, a replica with the values of 5.7 s
// before, and read them for 0.9 s.
//
// The same before the promotion is confirmed: until its Redis answers as
// a primary, naming it sends clients to a replica, whose writes fail and
// whose reads may be stale; the other sidecars name it meanwhile. Chaos
// seed 16634's replay (N=3, shipped defaults): b, named at epoch 9 and
// SIGSTOPped as the election winner before it promoted, resumed 7 s later
// still at epoch 9 while epoch 10 had promoted c; until the log reached it
// 0.12 s later its endpoint named b, and a register client read from b's
// Redis, a replica of a's killed one, a value 9 s old.
func lagging(up bool, role monitor.Role) bool {
	return !up || role == monitor.RoleReplica
}
