package failover

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// This file is the decision core: pure functions from what a sidecar knows
// (the committed group state, the latest reports, its own observation and
// the time, passed in) to what it should do. They do no I/O and read no
// clock; the effect shell in failover.go runs what they decide.

// params are the timings and limits one decision uses: the file's values
// overlaid with the group-wide settings of the replicated state.
type params struct {
	Quorum        int
	DownAfter     time.Duration
	FenceAfter    time.Duration
	MaxLagBytes   int64
	ParallelSyncs int
	MaxFailovers  int
	FlapWindow    time.Duration
	MinReplicas   int
	// FailoverTimeout bounds how long a promotion or a switchover may hold
	// writes paused (Sentinel's failover-timeout): the group-wide setting
	// when an operator set one, failover.switchover_timeout otherwise.
	FailoverTimeout time.Duration
	// Fresh is how long a report counts as current.
	Fresh time.Duration
}

// groupState is the part of the committed state decisions read.
type groupState struct {
	Epoch    uint64
	Primary  string    // node name; "" while none
	Promoted bool      // the primary confirmed its promotion at Epoch
	Started  time.Time // when the failover that installed Primary started
	// OpinionsFrom: an interval after this sidecar applied the promotion
	// at Epoch, as it followed the log; zero when it did not see it happen
	// (it started with it, or caught up). Opinions of the promoted primary
	// count from reports received since (opinionsSince).
	OpinionsFrom time.Time
	Paused       bool   // operator pause
	FlapPaused   string // anti-flap paused automatic failover, and why
	// Failovers are the start times of recent automatic failovers.
	Failovers []time.Time
	// FlapSince is when anti-flap last paused automatic failover: the
	// count restarts there, so a resume is not paused again at once.
	FlapSince time.Time
	// Switchover is an operator switchover under way, nil if none.
	Switchover *switchoverIntent
	// Members are the registered sidecars by name.
	Members map[string]memberAddrs
	// Fork is the replication offset the primary was promoted at (its
	// failover's history entry), 0 when not recorded, and ForkReplID the
	// history it left there.
	Fork       int64
	ForkReplID string
	// NewReplID is the history the primary's promotion began ("" when
	// not recorded, or not promoted).
	NewReplID string
	// Resumed: NewReplID began at 0, not at Fork (HistoryEntry.Resumed).
	Resumed bool
	// PastForks are the forks recorded by earlier epochs' promotions.
	PastForks []pastFork
	// Previous is the primary Primary replaced.
	Previous string
}

// pastFork is where an earlier epoch's promotion left the history before
// it.
type pastFork struct {
	Epoch  uint64
	New    string // the primary it promoted
	ReplID string // the history it left
	Offset int64  // where it left it
	Start  time.Time
	// NewReplID is the history it began ("" when not recorded).
	NewReplID string
	// Resumed: NewReplID began at 0, not at Offset (HistoryEntry.Resumed).
	Resumed bool
}

// newFrom is the offset the history p's promotion began (NewReplID)
// starts at: the fork, or 0 for a Redis that came back from its AOF since
// the leader chose it (Resumed).
func (p pastFork) newFrom() int64 {
	if p.Resumed {
		return 0
	}
	return p.Offset
}

// switchoverIntent is a committed switchover: From hands over to To.
type switchoverIntent struct {
	From, To string
	Epoch    uint64
	Deadline time.Time
}

// memberAddrs are a member's announced addresses as committed.
type memberAddrs struct {
	Redis    string
	Priority int
	// Forgotten marks the primary's record kept after an operator's
	// forget (authority.Member.Removed).
	Forgotten bool
	// Voter: the member votes in Raft (authority.Member.Voter).
	Voter bool
}

// active reports whether the switchover still runs at now.
func (s *switchoverIntent) active(epoch uint64, now time.Time) bool {
	return s != nil && s.Epoch == epoch && now.Before(s.Deadline)
}

// handoverLapsed reports whether the old primary's handover h, which its
// reports carry, outlived the switchover it was made for (ended, failed,
// overtaken or past its deadline). Peers count a primary whose report
// carries a handover as not writable (publish), so a stale one keeps their
// retry queues and proxies from a primary that released its writes. Chaos
// seed 9414 (N=5): a switchover to b at epoch 9 failed when its HTTP
// client gave up; a released its writes, but its reports kept the
// handover for the rest of the run (only a new epoch cleared it), and 41
// retry-queue INCRs enqueued at b, c, d and e never drained into a.
func handoverLapsed(h *handover, sw *switchoverIntent, now time.Time) bool {
	return h != nil && !sw.active(h.Epoch, now)
}

// primaryAddr is the Redis address of the committed primary: its own
// sidecar's announcement when a fresh report carries one, else the
// committed address. A persisted address is never probed while its owner
// announces another (a restarted pod with a new IP).
func primaryAddr(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) string {
	if st.Primary == "" {
		return ""
	}
	p, ok := peers[st.Primary]
	if ok && now.Sub(p.Received) < fresh && p.Rep.Addr != "" {
		return p.Rep.Addr
	}
	if a := st.Members[st.Primary].Redis; a != "" {
		return a
	}
	// Never registered (its sidecar died first): its last announcement.
	return p.Rep.Addr
}

// peerView is a sidecar's latest report and when it arrived (by this
// sidecar's clock).
type peerView struct {
	Rep      report
	Received time.Time
	// UpAt is when the last report saying its Redis answered arrived, and
	// UpKeys the keys that report counted (-1: unknown).
	UpAt   time.Time
	UpKeys int64
	// Uncut is when the last report not saying CutOff arrived.
	Uncut time.Time
	// First is when this sidecar first heard it.
	First time.Time
	// Known is the last offset its Redis was seen at as a synced replica.
	Known knownOffset
	// AsPrimary is the history its Redis was last seen leading as a
	// primary (nextAsPrimary).
	AsPrimary primaryMark
	// Links are the primaries its Redis was recently seen linked to, as a
	// replica (nextLinks).
	Links []linkMark
	// Stall is since when its Redis has been seen, report after report, as
	// a replica of one address with its link down and no transfer under
	// way while its sidecar had valid replies from the primary's (nextStall).
	Stall stallMark
	// Follows is the last time its Redis was seen synced and linked, as a
	// replica, to a primary (nextFollows).
	Follows followMark
}

// followMark is a Redis last seen synced and linked to the primary at
// Master, on history ReplID with Keys keys, by a report of Epoch that
// arrived at At.
type followMark struct {
	Epoch  uint64
	Master string
	ReplID string
	Keys   int64
	At     time.Time
}

// nextFollows is a peer's followMark after report r, received at at.
func nextFollows(m followMark, r report, at time.Time) followMark {
	o := r.Obs
	if !o.Reachable || o.Role != monitor.RoleReplica || !o.LinkUp || !o.Synced || o.MasterAddr == "" || o.ReplID == "" {
		return m
	}
	return followMark{Epoch: r.Epoch, Master: o.MasterAddr, ReplID: o.ReplID, Keys: o.Keys, At: at}
}

// stallMark is since when a Redis has been seen as a replica of Addr with
// its link down and no transfer under way, while its sidecar had valid
// replies from Primary's Redis. Zero when it was not.
type stallMark struct {
	Addr, Primary string
	At            time.Time
}

// stallGrace is how long a replica's link may stay down with no transfer
// under way, its sidecar reaching the primary's Redis, before mayResync
// stops holding a parallel_syncs slot for it. A replica links within a few
// round trips of REPLICAOF; a refused connect is tried again by Redis's
// replication cron within a second. Past that its connect hangs (on the
// kernel's SYN back-off after a cut, until repl-timeout), and nothing is
// gained by making the others wait.
const stallGrace = 2 * time.Second

// nextStall is a Redis's stall mark after its sidecar's report rep
// arrived at time at.
func nextStall(prev stallMark, rep report, at time.Time) stallMark {
	o := rep.Obs
	if !o.Reachable || o.Role != monitor.RoleReplica || o.LinkUp || o.SyncInProgress || rep.SDownPrimary == "" || rep.PrimaryDownMs > 0 {
		return stallMark{}
	}
	if !prev.At.IsZero() && prev.Addr == o.MasterAddr && prev.Primary == rep.SDownPrimary {
		return prev
	}
	return stallMark{Addr: o.MasterAddr, Primary: rep.SDownPrimary, At: at}
}

// linkMark is when a Redis was last seen linked, as a replica, to the
// primary at Addr: that primary may count its acknowledgements for
// ackLagBound after the link ended.
type linkMark struct {
	Addr string
	At   time.Time
}

// nextLinks is a Redis's recent links after it was seen at time at with
// its link to the primary at master up or not (a replica's; "" for a
// primary): the mark of the primary it is linked to moves to at, and marks
// older than keep, which no primary counts any more, are dropped.
func nextLinks(links []linkMark, master string, linkUp bool, at time.Time, keep time.Duration) []linkMark {
	addr := ""
	if linkUp {
		addr = master
	}
	out := make([]linkMark, 0, len(links)+1)
	for _, l := range links {
		if l.Addr != addr && at.Sub(l.At) <= keep {
			out = append(out, l)
		}
	}
	if addr != "" {
		out = append(out, linkMark{Addr: addr, At: at})
	}
	return out
}

// linkKeep is how long a link mark can matter to oldPrimaryHold.
func linkKeep(p params) time.Duration {
	return p.Fresh + p.FenceAfter + ackLagBound(p)
}

// lastLink is when links last showed a link to one of addrs; zero if
// never.
func lastLink(links []linkMark, addrs []string) time.Time {
	var last time.Time
	for _, l := range links {
		if slices.Contains(addrs, l.Addr) && l.At.After(last) {
			last = l.At
		}
	}
	return last
}

// primaryMark is the replication id a Redis was seen at as a primary, the
// epoch of the report that said so, and when that report arrived.
type primaryMark struct {
	Epoch  uint64
	ReplID string
	At     time.Time
}

// nextAsPrimary is a peer's primaryMark after report r, received at at:
// its Redis's history if it answers as a primary its sidecar has judged
// and found not empty, else the last one.
func nextAsPrimary(m primaryMark, r report, at time.Time) primaryMark {
	if r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && !r.Empty && !r.Unsure {
		return primaryMark{Epoch: r.Epoch, ReplID: r.Obs.ReplID, At: at}
	}
	return m
}

// knownOffset is an offset a replica reported, at an epoch.
type knownOffset struct {
	Epoch  uint64
	Offset int64
	At     time.Time
	// ReplID and Keys are the history and key count its Redis had at that
	// offset ("" when not reported): a replica out of reach, last seen on
	// the history the primary's promotion began with no more keys than
	// the primary's AOF restart, holds nothing it lost
	// (aofKeptPromotedHistory, chaos seed 4902).
	ReplID string
	Keys   int64
}

// nextKnown is a peer's known offset after report r, received at at: the
// report's offset when it shows a synced replica, else the last one. A
// Redis that answers without a replication position it can prove (restarted
// from an AOF, which keeps no offset, or resyncing) may still hold the data
// it had: chaos seed 5 promoted a replica restarted from a 24 s old RDB
// while the one restarted from its AOF, with every write, was waiting for
// its primary.
//
// So is the offset of the committed primary's own Redis, in its own
// sidecar's report, once that sidecar has judged it (not empty, not
// unsure): the writes it took are acknowledged, and once the next epoch
// names another node, a leader that was cut off while they were taken
// knows of them only from this (chaos seed 2507, N=3: b's Redis, epoch 4's
// primary, took retry-queue INCRs up to 99840 and was killed; epoch 5's c
// was stopped right after its REPLICAOF NO ONE; a, cut off at 90002 while
// they were taken, became leader and promoted itself, and both copies
// full-synced from it).
func nextKnown(k knownOffset, r report, at time.Time) knownOffset {
	if r.Obs.Reachable && r.Obs.Role == monitor.RoleReplica && r.Obs.Synced && !r.Obs.SyncInProgress {
		return knownOffset{Epoch: r.Epoch, Offset: r.Obs.Offset, At: at, ReplID: r.Obs.ReplID, Keys: r.Obs.Keys}
	}
	if r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && r.Epoch > 0 && r.Name != "" && r.SDownPrimary == r.Name &&
		!r.Empty && !r.Unsure {
		return knownOffset{Epoch: r.Epoch, Offset: r.Obs.Offset, At: at, ReplID: r.Obs.ReplID, Keys: r.Obs.Keys}
	}
	return k
}

// mergeKnown is a peer's known offset after its report r, received at at:
// what the report shows of its Redis now (nextKnown), or what its sidecar
// says it last saw (r.Known*), whichever was seen later.
func mergeKnown(k knownOffset, r report, at time.Time) knownOffset {
	k = nextKnown(k, r, at)
	if r.KnownEpoch == 0 {
		return k
	}
	own := knownOffset{Epoch: r.KnownEpoch, Offset: r.KnownOffset, At: at.Add(-time.Duration(r.KnownAgoMs) * time.Millisecond),
		ReplID: r.KnownReplID, Keys: r.KnownKeys}
	if k.At.IsZero() || own.Epoch > k.Epoch || own.Epoch == k.Epoch && own.At.After(k.At) {
		return own
	}
	return k
}

// isolated reports whether a sidecar whose last acknowledged Raft contact
// was at lastContact is cut off from the group at now.
func isolated(lastContact, now time.Time, p params) bool {
	return now.Sub(lastContact) >= p.FenceAfter
}

// leaderSettled reports whether a leader that took over at since may
// choose a replica to promote now. With min_replicas it first gathers the
// members' reports for two Fresh periods: a leader that was cut off holds
// stale ones, and chose a replica behind another whose newer reports it
// had missed (chaos seed 3). Without min_replicas the choice is at once.
func leaderSettled(since, now time.Time, p params) bool {
	return p.MinReplicas < 1 || !since.IsZero() && now.Sub(since) >= 2*p.Fresh
}

// durableWait is how long, with min_replicas, the leader waits for a
// replica that is out of reach but held more data than every candidate
// (ten down_after, as Sentinel's limit on a replica's disconnection).
func durableWait(p params) time.Duration { return 10 * p.DownAfter }

// emptyLift is how long a promoted primary judged empty (judgeRestart)
// waits before its data stands after all, when no member can replace it
// (replaceable false: no synced replica, and no answering Redis with more
// keys, which the leader's fallback would choose); 0: it does not. With
// every other member's Redis answering, none holds a position it can
// prove, and one down_after is enough; with some out of reach, one may
// come back synced, and it waits as long as the durable floor does.
func emptyLift(promoted, replaceable, allAnswer bool, p params) time.Duration {
	switch {
	case !promoted || replaceable:
		return 0
	case allAnswer:
		return p.DownAfter
	}
	return durableWait(p)
}

// membersAnswer reports whether every member other than self has a fresh
// report saying its Redis answers (all), and whether one of those holds
// more keys than keys, the local count (richer; never when keys is
// unknown).
func membersAnswer(self string, st groupState, peers map[string]peerView, keys int64, now time.Time, fresh time.Duration) (all, richer bool) {
	all = true
	for name := range st.Members {
		if name == self {
			continue
		}
		pv, ok := peers[name]
		if !ok || !pv.fresh(now, fresh) || !pv.Rep.Obs.Reachable {
			all = false
			continue
		}
		if keys >= 0 && pv.Rep.Obs.Keys > keys {
			richer = true
		}
	}
	return all, richer
}

// noneHolds reports whether every member other than self has a fresh
// report saying its Redis answers holding no key: nothing in the group
// that an empty restart of self's Redis could replace.
func noneHolds(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	for name := range st.Members {
		if name == self {
			continue
		}
		if pv, ok := peers[name]; !ok || !pv.fresh(now, fresh) || !pv.Rep.Obs.Reachable || pv.Rep.Obs.Keys != 0 {
			return false
		}
	}
	return true
}

// othersAnswer reports whether every registered member but exclude has a
// fresh report saying its Redis answers.
func othersAnswer(st groupState, peers map[string]peerView, exclude string, now time.Time, fresh time.Duration) bool {
	all, _ := membersAnswer(exclude, st, peers, -1, now, fresh)
	return all
}

// holderWaitOver reports, with min_replicas, whether a holder may replace
// the primary although members other than holder have no fresh report of
// their Redis answering: no more of them than min_replicas (a write
// acknowledged under min-replicas-to-write reached that many Redis besides
// the one that took it, so one in reach received it), and each was last
// heard answering, and the failover started, at least durableWait ago —
// the bound of every other wait for an out-of-reach Redis in the durable
// mode (durableFloor, forkFloor, primaryHolds, emptyLift). One this
// sidecar never heard answering still holds the holder back, as do more
// than min_replicas out of reach (chaos seed 12, N=3: two). Without the
// bound the wait had none: chaos seed 1308 (N=3) named c at epoch 4, its
// promotion was refused (its Redis restarted empty), and the leader waited
// 20.3 s for c's Redis to answer again — killed, partitioned, its node
// killed and forgotten — with a, holding the same 725 keys, ready as a
// holder; the group failed over only when c came back.
//
// Without min_replicas a failover already gives up the writes the
// promoted Redis lacks (How much can be lost), and a Redis out of reach
// that was last heard answering with no more keys than the holder holds
// holds the holder back as long as a primary holds back its replacement:
// down_after after it was last heard answering and after the failover
// started. One last heard with more keys, or an unknown count, holds it
// back for the durable wait, as with min_replicas: its report may only be
// late (chaos seed 16131, N=3: with down_after alone, a leader that a
// gossip-only partition had kept from c's reports for 3.9 s promoted a, a
// holder with 33 keys, 0.17 s after the heal, over c's Redis with 1158,
// and every Redis full-synced a's 33). One the operator forgot does not
// hold it back at all; one this sidecar never heard answering does, as
// with min_replicas. Before, the shipped defaults waited with no bound for
// every member: chaos seed 15501 (N=3) forgot c, the named primary,
// killed with its data, and the leader kept a, a holder with every write
// but c's last few, waiting for c's Redis; seed 15505 (N=3) waited 10 s
// for the named primary's stopped Redis (574 keys) with c, a holder with
// 755, ready.
func holderWaitOver(st groupState, peers map[string]peerView, holder string, now time.Time, p params) bool {
	if p.MinReplicas < 1 {
		return shippedHolderWaitOver(st, peers, holder, now, p)
	}
	out, mayHold := 0, false
	for name := range st.Members {
		if name == holder {
			continue
		}
		pv, ok := peers[name]
		if ok && copyLost(pv, now, p.Fresh) {
			// Its Redis answers but without its copies (found empty, or
			// no key): they are gone, as if out of reach for good. Counted as in reach, a
			// promoted primary killed without persistence left one Redis
			// out of reach, "within min_replicas", though it held the only
			// other copy. Chaos seed 5507 (N=3): epoch 4's INCRs were on
			// a's Redis (epoch 5's primary, back empty) and b's (stopped);
			// 20.08 s after epoch 5 began the leader promoted c, a holder at
			// epoch 4's fork, and b's Redis full-synced them away.
			out++
			continue
		}
		if ok && pv.fresh(now, p.Fresh) && pv.Rep.Obs.Reachable {
			continue
		}
		if st.Members[name].Forgotten && now.Sub(st.Started) >= durableWait(p) {
			// A primary the operator declared gone (vigil forget), out
			// of reach, once the failover is a durable wait old: the way
			// out when, with a member found empty, more are out of reach
			// than min_replicas and the wait would not end.
			continue
		}
		if !ok || pv.UpAt.IsZero() || now.Sub(later(pv.UpAt, st.Started)) < durableWait(p) {
			return false
		}
		out++
		// One last reported found empty holds no copy to wait for: when
		// every Redis out of reach is such, the copies are gone whatever
		// the count (chaos seed 1308, N=3: c, judged empty, then cut off).
		mayHold = mayHold || !pv.Rep.Empty
	}
	return out <= minReplicasFor(p.MinReplicas, len(st.Members)) || !mayHold
}

// shippedHolderWaitOver is holderWaitOver without min_replicas: every
// member but holder answers, was forgotten, or was last heard answering,
// and the failover started, at least down_after ago — the durable wait
// ago if its Redis then held more keys than the holder's, or an unknown
// count.
func shippedHolderWaitOver(st groupState, peers map[string]peerView, holder string, now time.Time, p params) bool {
	keys := peers[holder].Rep.Obs.Keys
	for name, m := range st.Members {
		if name == holder || m.Forgotten {
			continue
		}
		pv, ok := peers[name]
		if ok && pv.fresh(now, p.Fresh) && pv.Rep.Obs.Reachable {
			continue
		}
		wait := p.DownAfter
		if pv.UpKeys < 0 || pv.UpKeys > keys {
			wait = durableWait(p)
		}
		if !ok || pv.UpAt.IsZero() || now.Sub(later(pv.UpAt, st.Started)) < wait {
			return false
		}
	}
	return true
}

// copyLost reports whether a member's Redis answers without any copy of
// acknowledged writes it may have held: its sidecar found it empty, or it
// holds no key.
func copyLost(pv peerView, now time.Time, fresh time.Duration) bool {
	return pv.fresh(now, fresh) && pv.Rep.Obs.Reachable && (pv.Rep.Empty || pv.Rep.Obs.Keys == 0)
}

// primaryLastCopy reports, with min_replicas, whether the promoted
// primary's Redis, out of reach and not found empty, may hold the last
// copy of writes it acknowledged: a write reached min_replicas Redis
// besides it, and with the primary's, more Redis than that lost theirs
// (copyLost, the holder aside). A holder then waits for the primary, with
// no bound but the operator's: once forgotten (vigil forget), it does not.
// Chaos seed 6106 (N=3): epoch 4's primary a took 79 writes and 15
// retry-queue INCRs that b's Redis acknowledged; a's Redis was killed
// without persistence and came back with no key; b, epoch 5's primary,
// was cut off and its Redis stopped. 20 s after b's last report (the
// durable wait of primaryHolds) the leader promoted c, a holder back from
// its AOF with epoch 3's data, every other Redis answering, and b's
// full-synced from c when it resumed.
func primaryLastCopy(st groupState, peers map[string]peerView, holder string, now time.Time, p params) bool {
	if p.MinReplicas < 1 || st.Primary == "" || !st.Promoted || st.Members[st.Primary].Forgotten {
		return false
	}
	if pv, ok := peers[st.Primary]; ok && (pv.Rep.Empty || pv.fresh(now, p.Fresh) && pv.Rep.Obs.Reachable) {
		return false
	}
	lost := 1
	for name := range st.Members {
		if pv, ok := peers[name]; name != st.Primary && name != holder && ok && copyLost(pv, now, p.Fresh) {
			lost++
		}
	}
	return lost > minReplicasFor(p.MinReplicas, len(st.Members))
}

// holders are, when no replica qualifies, the replicas whose Redis answers
// with keys but no position it can prove (never synced since it started:
// restarted from its AOF, which Redis 7.0 gives no offset), best first:
// the most keys, then the offset their sidecars last knew. Chaos seed 4 (N=3):
// the one Redis holding the writes had restarted from its AOF, was never
// a candidate, and was wiped by the primary's empty data. led reports
// whether the first one ranks first as a led holder (ledHolders), not for
// its keys.
//
// So is the named primary before its promotion when its sidecar reports
// it empty (its promotion refused, or its restart judged empty): its Redis
// lacks what it was chosen for, not necessarily what a holder holds, and
// it ranks like any other. Chaos seed 13806 (N=3): epoch 5 named a at
// 65089 on 07848b42, the history epoch 4's promotion began at 57923; a's
// Redis came back from an RDB at 57923 with 893 keys, 58 retry-queue INCRs
// among them, and its promotion was refused (on a replay, its restart was
// judged empty, and the leader decided 1 ms before a's sidecar let its
// data stand). Left out, the leader promoted b, epoch 2's deposed primary
// parked past epoch 3's fork with 878 keys and none of them, and a's Redis
// full-synced from it.
func holders(st groupState, peers map[string]peerView, exclude string, now time.Time, p params) (out []candidate, led bool) {
	refused := func(name string) bool { return name == st.Primary && !st.Promoted && peers[name].Rep.Empty }
	for name, pv := range peers {
		r := pv.Rep
		if name == exclude && !refused(name) || st.Members[name].Redis == "" || !pv.fresh(now, p.Fresh) || !r.Obs.Reachable ||
			r.Empty && !refused(name) || r.Obs.Role != monitor.RoleReplica || r.Obs.Synced || r.Obs.Keys <= 0 || r.Priority <= 0 {
			continue
		}
		var known int64
		if k := pv.Known; k.Epoch == st.Epoch || k.Epoch+1 == st.Epoch {
			known = k.Offset
		}
		out = append(out, candidate{Name: name, Addr: r.Addr, Priority: r.Priority, Fresh: true, Reachable: true,
			Role: r.Obs.Role, Offset: known, ReplID: r.Obs.ReplID, ReplID2: r.Obs.ReplID2, Keys: r.Obs.Keys})
	}
	leading := ledHolders(st, peers, out)
	var proven map[string]bool
	if len(leading) == 0 {
		proven = forkHolders(st, peers, out)
	}
	slices.SortFunc(out, func(a, b candidate) int {
		if a, b := leading[a.Name], leading[b.Name]; a != b {
			if a {
				return -1
			}
			return 1
		}
		if a, b := proven[a.Name], proven[b.Name]; a != b {
			if a {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Keys, a.Keys); c != 0 {
			return c
		}
		if ra, rb := refused(a.Name), refused(b.Name); ra != rb {
			// As many keys elsewhere: the one whose sidecar has no
			// doubt about it.
			if rb {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Offset, a.Offset); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, len(out) > 0 && leading[out[0].Name]
}

// ledHolders are the holders that rank before the others whatever their
// keys: those whose Redis stands on the history the newest recorded
// promotion began (the committed primary's own once it has promoted, else
// the last promoted primary's: that Redis is that primary, deposed and
// pointing at itself, or followed it there), at or past where it began and
// at least as far as any other holder's sidecar last knew its Redis on that
// history. Such a Redis proves it holds everything that primary
// acknowledged up to its offset. A holder on a history no recorded
// promotion began proves nothing (an AOF restart begins a new one at 0):
// its keys may be an older data set plus what a deposed primary took past
// the fork, which the documented loss bound gives up, and counted against
// the led primary's data they chose it. Chaos seed 4705 (N=3): epoch 3
// named c, which never promoted; b's Redis, epoch 2's primary, pointed at
// itself at offset 47163 on the history epoch 2 began at 44477, with every
// write epoch 2 acknowledged and 8 retry-queue INCRs; a's, epoch 1's
// deposed primary back from its AOF (a new history at 0), held 720 keys, 54
// of them writes it acknowledged after a partition cut it off, past epoch
// 2's fork. The leader promoted a for its keys, and b's Redis full-synced
// from it: its writes no recorded fork could capture. Holders on histories
// no promotion began (chaos seeds 4, 101, 507) still rank by keys.
//
// The same holds once the primary has promoted and its Redis is gone, but
// for the primary's own Redis among the holders (a restart from its AOF
// holds all it took, on a new history). Chaos seed 11314 (N=5): epoch 9's
// a, promoted at 236017 on e97cca (beginning e47d59), acknowledged 6
// writes that b's Redis alone received before a's Redis was killed; b's
// pointed at itself at 238260 on e47d59. d's Redis held e97cca up to
// 243430, 7.4 KB of c's epoch-8 writes past a's fork, and had begun a
// history of its own there: more keys. The leader promoted d, and the 6
// writes and 13 retry-queue INCRs were lost. A holder's last known offset
// on another history (d's, on e97cca) says nothing of how far it got on
// this one, and does not take the lead from one that stands on it.
func ledHolders(st groupState, peers map[string]peerView, hs []candidate) map[string]bool {
	f, ok := newestPromotion(st, hs)
	if !ok || f.NewReplID == "" {
		return nil
	}
	newReplID, from := f.NewReplID, f.newFrom()
	further := func(x candidate, off int64) bool {
		k := peers[x.Name].Known.ReplID
		return x.Offset > off && (k == "" || k == newReplID)
	}
	var led map[string]bool
	for _, h := range hs {
		o := peers[h.Name].Rep.Obs
		if o.ReplID != newReplID || o.Offset < from ||
			slices.ContainsFunc(hs, func(x candidate) bool { return x.Name != h.Name && further(x, o.Offset) }) {
			continue
		}
		if led == nil {
			led = map[string]bool{}
		}
		led[h.Name] = true
	}
	return led
}

// newestPromotion is the recorded promotion ledHolders and forkHolders
// judge the holders by: the committed primary's once it has promoted,
// else the newest past fork's. ok is false when there is none, and when
// the primary's own Redis is among the holders (a restart from its AOF
// holds all it took, on a new history).
func newestPromotion(st groupState, hs []candidate) (f pastFork, ok bool) {
	if !st.Promoted {
		if len(st.PastForks) == 0 {
			return pastFork{}, false
		}
		return st.PastForks[len(st.PastForks)-1], true
	}
	if slices.ContainsFunc(hs, func(h candidate) bool { return h.Name == st.Primary }) {
		return pastFork{}, false
	}
	return pastFork{Epoch: st.Epoch, New: st.Primary, ReplID: st.ForkReplID, Offset: st.Fork, Start: st.Started,
		NewReplID: st.NewReplID, Resumed: st.Resumed}, true
}

// forkHolders are, when ledHolders names none, the holders that rank
// next whatever their keys: those whose Redis proves it holds the history
// the newest recorded promotion left up to its fork, everything the
// primaries before it acknowledged up to there. It stands on that history
// at or past the fork, on the history the promotion began, or left the
// first at or past the fork for a history of its own (master_replid2 and
// second_repl_offset). The others may hold an older data set: an AOF
// restart begins a new history at 0 and shows no earlier one. No holder
// proves anything when the primary's own Redis is among them (ledHolders),
// or when a holder outside was last known on the history the promotion
// began, or on one its sidecar did not report past the fork: it may hold
// what the newest primary acknowledged past the fork.
//
// Chaos seed 17754 (N=5): after b's node, epoch 6's primary, was killed
// with no replica synced, the leader promoted the holder with the most
// keys, d's Redis, back from its AOF on a history of its own at 0 with 650
// keys of epochs 3 and 4. e's Redis, with 625, stood on the history epoch
// 6's promotion left exactly at its fork, with every write acknowledged up
// to it; 8 of them were lost. In seed 11314's case such a Redis, d's, left
// that history past the fork for its own: it proves as much, and ranks
// with the others by keys.
func forkHolders(st groupState, peers map[string]peerView, hs []candidate) map[string]bool {
	f, ok := newestPromotion(st, hs)
	if !ok || f.ReplID == "" || f.NewReplID == "" {
		return nil
	}
	forkReplID, fork, newReplID, from := f.ReplID, f.Offset, f.NewReplID, f.newFrom()
	var proven map[string]bool
	for _, h := range hs {
		o := peers[h.Name].Rep.Obs
		if o.ReplID == forkReplID && o.Offset >= fork || o.ReplID == newReplID && o.Offset >= from ||
			o.ReplID2 == forkReplID && o.ReplOffset2 > fork {
			if proven == nil {
				proven = map[string]bool{}
			}
			proven[h.Name] = true
		}
	}
	for _, h := range hs {
		k := peers[h.Name].Known
		if !proven[h.Name] && !k.At.IsZero() && (k.ReplID == newReplID || k.ReplID == "" && k.Offset > fork) {
			return nil
		}
	}
	return proven
}

// durableFloor is, with min_replicas, the highest offset a replica other
// than the primary was last seen at in this epoch while it is now out of
// reach (report stale, Redis not answering, or answering without a
// position it can prove), seen within durableWait; -1 when none applies.
// A candidate below it lacks writes that replica had, acknowledged writes
// with min_replicas, and is not promoted while that replica may come
// back. Replicas in reach count through rankCandidates. An offset on the
// history the primary's promotion left counts up to its fork only
// (onPrimaryHistory), here and for the candidates held against the floor.
//
// A primary named but never promoted is still a replica of the one
// before, with no write taken at its epoch: its own last offset counts,
// and so do offsets seen in the epoch before. Leaving them out, the leader
// replaced a named primary whose sidecar had stopped right after the
// commit with a replica 1.7 KB behind it, and the writes only it held were
// lost (chaos seed 102, N=5).
func durableFloor(st groupState, peers map[string]peerView, history string, now time.Time, p params) (floor int64, who string) {
	floor = -1
	if p.MinReplicas < 1 {
		return floor, ""
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		pv := peers[name]
		k := pv.Known
		current := k.Epoch == st.Epoch || !st.Promoted && k.Epoch+1 == st.Epoch
		if name == st.Primary && st.Promoted || k.At.IsZero() || !current ||
			now.Sub(k.At) >= durableWait(p) && !floorLastCopy(st, peers, name, now, p) {
			continue
		}
		if name == st.Primary && pv.fresh(now, p.Fresh) && pv.Rep.Empty && pv.Rep.SDownEpoch == st.Epoch {
			continue // its sidecar says its Redis lost what it held (unpromotable)
		}
		if r := pv.Rep.Obs; pv.fresh(now, p.Fresh) && r.Reachable && r.Role == monitor.RoleReplica && r.Synced &&
			(history == "" || r.ReplID == history) {
			continue // a candidate now, or its data counts through rankCandidates (splitHistory kept it)
		}
		if pv.fresh(now, p.Fresh) && outheldOnHistory(pv.Rep.Obs, st, peers, history, now, p) {
			continue // in reach on a third history: its offset does not compare, and it holds no more keys
		}
		off := max(onPrimaryHistory(pv.Rep.Obs.ReplID, k.Offset, st), silentFollower(st, peers, pv, now, p))
		if off > floor {
			floor, who = off, name
		}
	}
	return floor, who
}

// floorLastCopy reports whether member name, setting a durable floor while
// out of reach and not found empty, may hold the last copy of writes the
// floor stands for: with its Redis, more Redis than min_replicas lost
// theirs (copyLost; a synced replica is a candidate, not counted). Its
// floor then outlasts durableWait, with no bound but the operator's (vigil
// forget), as primaryLastCopy holds a holder back for a promoted primary. Chaos seed 13710 (N=3): epoch 2 named c for the
// writes a's Redis had taken with c's acknowledging them; c's promotion
// never committed (its sidecar stopped, then cut off) and a's Redis came
// back empty; 20 s after c's last sighting the floor lapsed and the leader
// promoted b, 30 KB behind, 1.4 s before c's Redis came back from its AOF
// with every one of those writes.
func floorLastCopy(st groupState, peers map[string]peerView, name string, now time.Time, p params) bool {
	if _, ok := st.Members[name]; !ok || st.Members[name].Forgotten {
		return false
	}
	if pv, ok := peers[name]; !ok || pv.Rep.Empty || pv.fresh(now, p.Fresh) && pv.Rep.Obs.Reachable {
		return false
	}
	lost := 1
	for m := range st.Members {
		// A synced replica is a candidate the floor weighs by its offset.
		if pv, ok := peers[m]; m != name && ok && copyLost(pv, now, p.Fresh) && !(pv.Rep.Obs.Role == monitor.RoleReplica && pv.Rep.Obs.Synced) {
			lost++
		}
	}
	return lost > minReplicasFor(p.MinReplicas, len(st.Members))
}

// outheldOnHistory reports whether r, a synced replica's Redis answering in
// reach that splitHistory set aside on a third history (neither history,
// the primary's, nor the one its promotion left, whose offsets
// onPrimaryHistory relates), holds no more keys than a synced replica's
// Redis in reach on history. Its offset is a position on a history the
// primary's offsets do not continue (historyHeld: offsets of unrelated
// histories do not compare), so it sets no durable floor against them; and
// being in reach, it is heard on every report, so the floor it set never
// lapsed. One holding more keys than each of them still counts (chaos seed
// 11, N=3: the replica set aside held every write, the candidates a copy
// of the empty primary).
//
// Chaos seed 10208 (N=5): d's Redis, killed at 20.8 s, came back from its
// AOF (757 keys, a fresh history at 0) and was promoted at epoch 2, leaving
// d72988de at 0 and, once its first replica asked, leading 03fc7c78; a's,
// b's and e's Redis full-synced from it and acknowledged its writes up to
// 10579. c's, cut off by a Redis-only partition, never followed d: parked
// (pointing at itself) at 51419 on 123ef795, epoch 1's history, with the
// data d's AOF held and none of epoch 2's. d's node was killed and its AOF
// wiped (31.0 s); from 31.39 s to the end the leader c set a, b and e
// aside as "behind" c's 51419, "waiting up to 20s for c" for good, while
// c's reports kept its known offset fresh: no write for 44.7 s, and d's
// Redis, back empty, stayed the primary the final read found, with no key.
func outheldOnHistory(r obsSummary, st groupState, peers map[string]peerView, history string, now time.Time, p params) bool {
	if history == "" || r.ReplID == "" || r.ReplID == history || st.ForkReplID != "" && r.ReplID == st.ForkReplID || r.Keys < 0 ||
		!r.Reachable || r.Role != monitor.RoleReplica || !r.Synced {
		return false
	}
	for name, pv := range peers {
		o := pv.Rep.Obs
		if name != st.Primary && pv.fresh(now, p.Fresh) && o.Reachable && o.Role == monitor.RoleReplica && o.Synced &&
			o.ReplID == history && o.Keys >= r.Keys {
			return true
		}
	}
	return false
}

// historyHeld is, with min_replicas, a replica now out of reach (its
// report stale, or its Redis not answering as a synced replica) last seen
// synced on history, the promoted primary's own, in this epoch and within
// durableWait; "" when none. It holds writes the primary acknowledged on
// that history, which a candidate on a third history (neither the
// primary's nor the one its promotion left, whose offsets compare through
// onPrimaryHistory) cannot hold whatever its offset: offsets of unrelated
// histories do not compare, and durableFloor compares them. Chaos seed
// 6214 (N=5): e's Redis, epoch 5's primary (promoted beginning 557cd95f),
// came back from its AOF on a new history at 0 and, its sidecar vouching
// for it, took writes and retry-queue INCRs on 8d36059c with a's Redis,
// full-synced from it, as its one replica, until it was stopped; d's Redis,
// parked at 62930 on 557cd95f, was promoted over a the moment a's report
// was not fresh (a's 7116 below d's 62930 in durableFloor), and a's Redis
// full-synced from d.
func historyHeld(st groupState, peers map[string]peerView, history string, now time.Time, p params) string {
	if p.MinReplicas < 1 || history == "" || !st.Promoted {
		return ""
	}
	held := "" // the first by name, without sorting on every step
	for name, pv := range peers {
		k, r := pv.Known, pv.Rep.Obs
		if name == st.Primary || k.At.IsZero() || k.Epoch != st.Epoch || k.ReplID != history || now.Sub(k.At) >= durableWait(p) {
			continue
		}
		if pv.fresh(now, p.Fresh) && r.Reachable && r.Role == monitor.RoleReplica && r.Synced && r.ReplID == history {
			continue // a candidate on the primary's history now
		}
		if held == "" || name < held {
			held = name
		}
	}
	return held
}

// silentFollower is how far the Redis of a replica whose sidecar went
// silent may have followed the promoted primary: its last report showed it
// linked to the primary's Redis on the history the primary's own sidecar
// later saw it lead, and a Redis goes on acknowledging the stream with
// nobody watching it, so it may hold up to that later offset; -1 when that
// does not apply. Its own last offset says only where it was when its
// sidecar stopped. Chaos seed 6119 (N=3): c's sidecar was SIGSTOPped while
// c's Redis, a's only linked replica, acknowledged a's writes from about
// 152187 to 156017, a retry-queue INCR among them; a's Redis was killed,
// the leader promoted b, parked at 152187, against c's last report, and
// c's and a's copies full-synced from b.
func silentFollower(st groupState, peers map[string]peerView, pv peerView, now time.Time, p params) int64 {
	r, pk := pv.Rep.Obs, peers[st.Primary].Known
	if !st.Promoted || pv.fresh(now, p.Fresh) || pv.Rep.Epoch != st.Epoch ||
		!r.Reachable || r.Role != monitor.RoleReplica || !r.LinkUp || r.ReplID == "" ||
		r.MasterAddr == "" || r.MasterAddr != st.Members[st.Primary].Redis ||
		pk.Epoch != st.Epoch || pk.ReplID != r.ReplID || !pk.At.After(pv.Received) {
		return -1
	}
	return onPrimaryHistory(r.ReplID, pk.Offset, st)
}

// onPrimaryHistory is how much of the promoted primary's history a Redis
// at offset on replID can hold: one still on the history the promotion
// left (ForkReplID), beyond the fork, holds there what the deposed primary
// took, none of what the new primary took: its offset counts up to the
// fork only. Compared as they were, a replica that had followed the
// deposed primary past the fork outranked the out-of-reach replica that
// alone had acknowledged the new primary's writes, and was promoted; that
// replica then full-synced from it (chaos seed 602, N=5: retry-queue
// INCRs applied on epoch 8's primary a and acknowledged by e were lost
// when c, detached 3.5 KB past epoch 8's fork on b's history, was chosen
// over e's 3.2 KB on a's).
func onPrimaryHistory(replID string, offset int64, st groupState) int64 {
	if st.Promoted && st.Fork > 0 && st.ForkReplID != "" && replID == st.ForkReplID {
		return min(offset, st.Fork)
	}
	return offset
}

// notPrimaryReported reports whether primary's own sidecar says, in a
// fresh report, that its Redis answers as a replica and has for down_after
// (its SDOWN opinion of itself). Peers' probes cannot tell: a replica
// answers PING. A sidecar restarted with an empty data dir found its
// empty-restarted Redis following a replica, could not promote it again
// (the state said promoted), and the group stayed without a writable
// primary (chaos seed 101, five nodes).
func notPrimaryReported(peers map[string]peerView, primary string, epoch uint64, now time.Time, fresh time.Duration) bool {
	pv, ok := peers[primary]
	r := pv.Rep
	return ok && pv.fresh(now, fresh) && r.SDown && r.SDownPrimary == primary && r.SDownEpoch == epoch &&
		r.Obs.Reachable && r.Obs.Role == monitor.RoleReplica
}

// nothingElsewhere reports whether every registered member but self has a
// fresh report saying its Redis answers as a replica holding no key: no
// write is held anywhere but in self's Redis, and none can come back (a
// Redis answers only once it has loaded what its persistence held).
func nothingElsewhere(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	for name := range st.Members {
		if name == self {
			continue
		}
		pv, ok := peers[name]
		r := pv.Rep.Obs
		if !ok || !pv.fresh(now, fresh) || !r.Reachable || r.Role != monitor.RoleReplica || r.Keys != 0 {
			return false
		}
	}
	return true
}

// onlyThePrimaryHolds reports whether every member but self and the
// committed primary has a fresh report saying its Redis answers holding
// no key, or as a replica streaming from the primary's Redis at paddr (a
// copy of what that holds): no data but the primary's is anywhere the
// group can see. A member the operator forgot does not count: declared
// gone, so is what its Redis held.
func onlyThePrimaryHolds(self, paddr string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	for name, m := range st.Members {
		if name == self || name == st.Primary || m.Forgotten {
			continue
		}
		pv, ok := peers[name]
		r := pv.Rep.Obs
		if !ok || !pv.fresh(now, fresh) || !r.Reachable {
			return false
		}
		if r.Keys != 0 && (r.Role != monitor.RoleReplica || r.MasterAddr != paddr || !r.LinkUp) {
			return false
		}
	}
	return true
}

// syncSourceDoubtful reports whether the committed primary's own sidecar
// says, in a fresh report, that its Redis came back empty or is not judged
// yet. No Redis is then demoted or re-pointed to it: a full sync from it
// would replace that Redis's data with nothing (chaos seed 10: a former
// primary restarted from its AOF with every write was demoted to the new
// primary, which had just restarted empty, and the whole data set was
// gone).
func syncSourceDoubtful(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	pv, ok := peers[st.Primary]
	return ok && pv.fresh(now, fresh) && (pv.Rep.Empty || pv.Rep.Unsure)
}

// sourceUnvouched reports whether the committed primary's own sidecar does
// not vouch for its Redis as a primary: no fresh report, or one where it
// does not answer or answers as a replica. A Redis is then demoted or
// re-pointed to it only where that resyncs partially
// (localPlan.PartialOnly). Chaos seeds 10 and 19 (N=3): the demotion or
// re-point came while the primary's sidecar was dead or restarting, and
// the Redis full-synced from it when it came back behind them; in seed 19
// again, the primary's Redis had come back empty as a replica of an older
// node, and a replica re-pointed to it lost the writes only it held.
func sourceUnvouched(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	pv, ok := peers[st.Primary]
	return !ok || !pv.fresh(now, fresh) || !pv.Rep.Obs.Reachable || pv.Rep.Obs.Role != monitor.RolePrimary
}

// vouchedHistory is the history (master_replid) of the committed primary's
// Redis in the fresh report in which its own sidecar vouches for it; ""
// when it does not (sourceUnvouched). A full sync follows only that
// process (replPosition.follows).
func vouchedHistory(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) string {
	if sourceUnvouched(st, peers, now, fresh) {
		return ""
	}
	return peers[st.Primary].Rep.Obs.ReplID
}

// forkFloor is, with min_replicas, the offset the primary was promoted at
// while it was up within durableWait (its own reports, or the failover's
// start when none arrived); 0 when none applies. Everything acknowledged
// before that failover was in the primary's data set then; a replica that
// stopped below it on an older history lacks it. Chaos seed 101 (five
// nodes) promoted a replica stuck 26 KB before the fork while the primary,
// restarting from its AOF, held every write: the group wiped it. A
// candidate on the primary's current history is exempt: it followed the
// primary after any restart that began its offsets again.
func forkFloor(st groupState, peers map[string]peerView, now time.Time, p params) int64 {
	if p.MinReplicas < 1 || st.Fork <= 0 {
		return 0
	}
	pv := peers[st.Primary]
	if r := pv.Rep; r.Empty || r.Obs.Reachable && !atItsPromotion(r, st) && (r.Obs.Role != monitor.RolePrimary || r.Obs.Offset < st.Fork) {
		// Its last report, however old, shows it without that data as
		// a primary (came back empty, restarted and began its offsets
		// again, or answers as a replica, which its next sync wipes):
		// waiting for it gains nothing (chaos seed 5 waited for a
		// primary whose Redis had come back empty, following another
		// node, before it was cut off).
		return 0
	}
	if now.Sub(later(pv.UpAt, st.Started)) >= durableWait(p) {
		return 0
	}
	return st.Fork
}

// belowForkFloor reports whether candidate c cannot show that it holds
// what the primary held at its promotion, floor bytes into forkReplID, the
// history that promotion left (forkFloor): it stands on that history below
// the floor, or on a third history, neither that one nor the primary's
// current one (history). Offsets of unrelated histories do not compare
// (historyHeld), so a third history's offset proves nothing however high:
// a Redis restarted from its AOF begins its offsets again at 0. A candidate
// on the primary's current history followed the primary and is exempt;
// without the left history's id (forkReplID "") or the candidate's, only
// the offsets are compared, as before the id was recorded.
//
// Chaos seed 11208 (N=5, commit timeout 1 s): epoch 3's a, its Redis
// back from its AOF on a new history (7a952d0a, from 0), took writes and
// retry-queue INCRs that c's Redis, full-synced from it, acknowledged;
// epoch 4 promoted c at 9146 on 7a952d0a, and a Redis-only partition cut
// c's Redis from every other. Epoch 5 promoted b, parked at 74902 on
// 4dfbc142 (epoch 2's history, which a's and c's Redis had left), over the
// floor 9146 by number alone: the group forked. Epoch 5's writes and the
// 7 INCRs drained into b were lost when epoch 8 promoted a, back from its
// AOF with epoch 3's data, and d's Redis, holding epoch 5's, full-synced
// from it; promoting d instead would have lost epoch 3's.
func belowForkFloor(c candidate, floor int64, forkReplID, history string) bool {
	switch {
	case history != "" && c.ReplID == history:
		return false
	case forkReplID != "" && c.ReplID != "" && c.ReplID != forkReplID:
		return true
	}
	return c.Offset < floor
}

// behindFork reports, with min_replicas, that candidates still on the
// history the primary's promotion left, below its fork, are not promoted
// even when the primary itself is gone or empty (forkFloor then waits for
// nothing): they lack writes acknowledged before the fork, which another
// member may hold — the old primary restarted from its AOF, a holder
// (chaos seed 10, N=3: a replica 71 KB behind the fork was promoted and
// the old primary, holding every write in its AOF, full-synced from it).
// It holds for durableWait after the failover started or the old primary's
// Redis was last heard answering, whichever is later (chaos seed 8, N=3:
// the old primary came back from its AOF 20.1 s after the failover began,
// 4 s after it was killed).
//
// An old primary whose last report shows its Redis answering with no key
// holds none of those writes (whatever it had, its next load or sync
// replaced), so its answers do not extend the wait, as forkFloor waits
// for no primary last seen without the data. Chaos seed 4516 (N=3): b,
// epoch 4's primary, was wiped; its Redis, back empty on a new history,
// answered every second to the end, and the wait it renewed kept a, the
// one Redis left with data (12 KB before epoch 5's fork: c, epoch 5's
// primary, was wiped too), from ever replacing c: no writable primary for
// the last 45 s and 176 retry-queue INCRs never applied.
func behindFork(st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || st.Fork <= 0 || st.ForkReplID == "" {
		return false
	}
	since := st.Started
	if pv := peers[st.Previous]; !(pv.Rep.Obs.Reachable && pv.Rep.Obs.Keys == 0) {
		since = later(since, pv.UpAt)
	}
	return now.Sub(since) < durableWait(p)
}

// primaryHolds reports, with min_replicas, whether the promoted primary
// was last seen holding its data — its last report, however old, shows its
// Redis answering as a primary its sidecar judged and did not find empty,
// or, sent before its promotion, the replica it made one (atItsPromotion)
// — within durableWait: a holder, which has no position it can prove, does
// not replace it before then. Every write acknowledged up to its
// promotion is in its data set, and so is every write it took since; a
// holder promoted over it becomes the sync source of every other Redis,
// and a capture of the old primary's divergent writes finds none of the
// holder's history in it. One whose last report shows its Redis down,
// answering as a replica, or empty holds nothing the group can wait for.
// Chaos seed 719 (N=3): epoch 5's primary b, the one Redis left with
// every retry-queue INCR of epoch 4 (and c's with those before), was cut
// off with its data 1.1 s before the leader promoted a as a holder: a's
// Redis, killed at epoch 4 without persistence, had come back as a primary
// from the 25 s old RDB of an earlier full sync (414 keys) and pointed at
// itself once its demotion to b was refused; b and c full-synced from it
// and 86 INCRs were lost.
func primaryHolds(st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || !st.Promoted || st.Primary == "" {
		return false
	}
	pv, ok := peers[st.Primary]
	r := pv.Rep
	return ok && !r.Empty && !r.Unsure && r.Obs.Reachable && (r.Obs.Role == monitor.RolePrimary || atItsPromotion(r, st)) &&
		now.Sub(pv.UpAt) < durableWait(p)
}

// primaryUnjudgedHolds reports, with min_replicas, whether holder h waits
// for the primary although its last report shows a restart of
// its Redis that its sidecar had not judged yet (Unsure, which
// primaryHolds sets aside: the restart may have lost the data): that Redis
// answered as a primary with more keys than h holds, within durableWait.
// A restart from the AOF keeps every write the primary acknowledged, at
// offset 0 on a new history, and its sidecar, back, judges it against the
// replicas and lets it stand when none is beyond its promotion; a holder
// with fewer keys proves nothing against it (its offset, an AOF's too,
// says nothing), and promoted over it, it becomes the sync source every
// copy of the primary's writes full-syncs from, and the capture of the
// deposed Redis finds no fork on a history begun at 0. One with no more
// keys than h, found empty, or a replica, holds nothing to wait for.
// Chaos seed 11714 (N=3): epoch 8's primary c, its Redis holding epoch 7's
// writes and 15 retry-queue INCRs it had acknowledged for b's, came back
// from its AOF when its node was killed; its restarted sidecar reported it
// "not judged" (no replica heard yet) and was killed 0.5 s later. Once b's
// Redis, back from a stale RDB, answered, the leader promoted a, back from
// its AOF with epoch 6's data, and c's Redis full-synced from it.
//
// So does the named primary before its promotion, within durableWait of
// the failover's start, when its Redis is a primary with no history before
// its own (master_replid2 zero: restarted, from its AOF when it holds
// keys; namedHolds judges one made a primary from a history): it was
// chosen for the data it held as a replica, which a replica's AOF keeps
// too, and its sidecar, reaching it again, resumes the promotion. Chaos
// seed 13615 (N=3): epoch 7 named b for the INCRs a's Redis had taken and b's
// acknowledged; b's Redis, killed with its AOF, came back with them (1537
// keys on a new history at 0) 8 ms before the leader promoted c, a holder
// with epoch 5's 1326 keys, and full-synced from it.
func primaryUnjudgedHolds(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || st.Primary == "" || h.Name == st.Primary || h.Keys < 0 {
		return false
	}
	pv, ok := peers[st.Primary]
	r := pv.Rep
	if !st.Promoted && (now.Sub(st.Started) >= durableWait(p) || strings.Trim(r.Obs.ReplID2, "0") != "") {
		return false // namedHolds judges a Redis made a primary from a history
	}
	return ok && r.Unsure && !r.Empty && r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && r.Obs.Keys > h.Keys &&
		now.Sub(pv.UpAt) < durableWait(p)
}

// namedHolds reports, with min_replicas, whether holder h waits for the
// named primary that has not confirmed its promotion, within durableWait of
// the failover's start, while its fresh report shows its Redis answering as
// a primary, not found empty, on the history the newest recorded promotion
// began (its master_replid, or its master_replid2 when it was made a
// primary from there: its own promotion, run before its sidecar stopped)
// at or past where that promotion began it. Such a Redis proves it holds
// every write acknowledged on that history up to its offset, and those
// before it; it is neither a candidate nor a holder (a primary), and the
// waits of a promoted primary (primaryHolds, primaryMayHold,
// primaryUnjudgedHolds) do not apply before the promotion is confirmed.
// A holder standing on that history at least as far holds as much; one
// with more keys on a history no recorded promotion left (an AOF restart)
// may hold more; any other lacks writes that Redis holds. Its sidecar,
// back, resumes the promotion (its Redis is already a primary); a failover
// that replaces it goes on once the wait lapses.
// Chaos seed 11816 (N=3): epochs 2 and 3 took 426 writes and 20 retry-queue
// INCRs on 721db52d's successors (4c1bb080 from 63977), b's Redis
// acknowledging them; c's Redis, epoch 3's primary, was killed without
// persistence. Epoch 5 named b, whose sidecar ran REPLICAOF NO ONE at
// 87962 (2c7eaa81, master_replid2 4c1bb080) and was killed before the
// promotion committed. The moment its restarted sidecar reported that Redis
// answering, the leader promoted a, parked past epoch 2's fork on 721db52d
// with none of them, as a holder, and b's Redis full-synced from it.
func namedHolds(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || st.Primary == "" || st.Promoted || len(st.PastForks) == 0 || now.Sub(st.Started) >= durableWait(p) {
		return false
	}
	f := st.PastForks[len(st.PastForks)-1]
	pv, ok := peers[st.Primary]
	r := pv.Rep
	if f.NewReplID == "" || !ok || h.Name == st.Primary || !pv.fresh(now, p.Fresh) || r.Empty || !r.Obs.Reachable ||
		r.Obs.Role != monitor.RolePrimary || r.Obs.ReplID != f.NewReplID && r.Obs.ReplID2 != f.NewReplID || r.Obs.Offset < f.Offset {
		return false
	}
	if ho := peers[h.Name].Rep.Obs; (ho.ReplID == f.NewReplID || ho.ReplID == r.Obs.ReplID) && ho.Offset >= r.Obs.Offset {
		return false // it holds as much
	}
	return !(h.Keys > r.Obs.Keys && !leftByPastFork(h, st) && !belowAFork(h, st))
}

// primaryMayHold reports, with min_replicas, whether holder h, standing on
// a history an earlier epoch's promotion left (PastForks), waits for the
// promoted primary although its last report shows its Redis down or not
// judged yet (primaryHolds waits only for one it saw holding its data): h
// never followed the primary that promotion made, so it lacks every write
// acknowledged since, which the data sets of the primaries after it held,
// the last of them the promoted primary's at its promotion; a Redis killed
// may come back from its AOF with every one. A holder on the history the
// primary's own promotion left (ForkReplID) holds everything acknowledged
// up to that promotion (deposedHolds, chaos seed 2916): only what the
// primary took since can be missing, so it waits only once that is known
// (below). It holds while that Redis was heard answering within durableWait
// and its sidecar has not found it empty nor seen it answer as a replica
// (its next sync wipes it). A holder on a history no promotion left (back
// from its AOF, a new one) proves nothing it lacks and replaces a Redis
// that is down as before.
// Chaos seed 3307 (N=3): epoch 6's primary c, the one Redis left with
// epoch 5's writes and 32 retry-queue INCRs, was killed with its AOF; 5.5 s
// later the leader promoted b, pointing at itself past epoch 5's fork on
// the history that promotion left, 110 ms before c's Redis came back with
// them, and c's Redis full-synced from b.
//
// A holder on the history the primary's own promotion left waits too once
// the primary's sidecar saw it, as this epoch's primary, beyond its fork
// (Known): such a holder never followed it either and lacks every write
// it took since. Heard answering counts from that sighting as well as from
// the last report's arrival: a sidecar cut off from the leader tells what
// it saw only when it is back. Chaos seed 3702 (N=3): epoch 5's primary a
// took 37 INCRs that c's Redis acknowledged; c's was wiped, a's sidecar,
// stopped and then cut off, saw its Redis at 84737 until it was killed (AOF
// on), and 8.9 s later — 22 s after a's last report had arrived — the
// leader promoted b, at epoch 5's fork on the history it left, 1.7 s before
// a's Redis came back with them and full-synced from b.
func primaryMayHold(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || !st.Promoted || st.Primary == "" {
		return false
	}
	pv, ok := peers[st.Primary]
	r := pv.Rep
	seen, took := pv.UpAt, false
	if k := pv.Known; k.Epoch == st.Epoch {
		seen = later(seen, k.At)
		took = st.Fork > 0 && k.Offset > st.Fork
	}
	left := leftByPastFork(h, st) || took && st.ForkReplID != "" && h.ReplID == st.ForkReplID
	if !left || !ok || r.Empty || seen.IsZero() || now.Sub(seen) >= durableWait(p) {
		return false
	}
	return !r.Obs.Reachable || r.Obs.Role == monitor.RolePrimary || atItsPromotion(r, st)
}

// primaryKnownRicher reports, with min_replicas, whether holder h waits
// for the promoted primary because its own sidecar last saw its Redis, as
// this epoch's primary, judged and not empty, with more keys than h holds
// (Known, which its reports carry), within durableWait, whatever its last
// report says of its Redis now: a sidecar cut from its Redis, or a Redis
// stopped or killed with its AOF, reports it down while it still holds
// what it acknowledged, and a holder with fewer keys lacks some of it.
// primaryHolds waits only for a primary last reported answering. Found
// empty since, or answering as a replica (its next sync wipes it), it
// holds nothing to wait for. Chaos seed 12522 (N=3): b's Redis, epoch 4's
// primary, took 20 writes that a's Redis, its one replica, acknowledged
// before it was wiped; b's sidecar was cut from its Redis and then cut
// off, and 5.7 s after b's last sighting the leader promoted c, a holder
// back from its AOF with 461 keys against b's 512; b's Redis later
// full-synced from the next primary and the writes were lost.
func primaryKnownRicher(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) bool {
	if p.MinReplicas < 1 || !st.Promoted || st.Primary == "" || h.Keys < 0 {
		return false
	}
	pv, ok := peers[st.Primary]
	k, r := pv.Known, pv.Rep
	if !ok || k.Epoch != st.Epoch || k.At.IsZero() || k.ReplID == "" || k.Keys <= h.Keys || now.Sub(k.At) >= durableWait(p) || r.Empty {
		return false
	}
	return !r.Obs.Reachable || r.Obs.Role == monitor.RolePrimary || atItsPromotion(r, st)
}

// leftByPastFork reports whether holder h never followed the primary an
// earlier epoch's recorded promotion made (PastForks): its Redis stands on
// the history that promotion left, or was made a primary there.
//
// A holder made a primary on an earlier epoch's left history (its tail
// kept, or pointed at itself) began a history of its own, and its
// master_replid2 is the left one: it never followed the primary that
// promotion made either. Not so a Redis that did, whose master_replid2
// is the left history too: it is on a history a recorded promotion
// began (or one not recorded: it may be). Chaos seed 5306 (N=3): a's
// Redis, stopped through epoch 2's promotion and made a primary at
// 21.2 s on the history it left to keep its tail, was promoted as a
// holder at 48.6 s, 2.8 s after epoch 4's primary b, holding every
// INCR taken since, was stopped; b's Redis resumed 0.7 s later and
// full-synced from it.
func leftByPastFork(h candidate, st groupState) bool {
	pastLeft := func(id string) bool {
		return id != st.ForkReplID && slices.ContainsFunc(st.PastForks, func(f pastFork) bool { return id == f.ReplID })
	}
	return pastLeft(h.ReplID) || h.ReplID2 != "" && !begunByPastFork(st.PastForks, h.ReplID) && pastLeft(h.ReplID2)
}

// deposedHolds is, with min_replicas and within durableWait of the
// failover's start, a member other than the primary whose fresh report
// shows its Redis answering as a primary on the history the primary's
// promotion left (ForkReplID), at or past the fork, not judged empty; ""
// when none. Such a Redis holds every write acknowledged up to the
// promotion (its replid and offset prove it; its sidecar need not have
// judged it yet), and past it what the deposed primary took. A primary is
// neither a candidate nor a holder, so no floor counts it; its sidecar
// soon demotes it or points it at itself, and it becomes a holder. Chaos
// seed 2916 (N=3): epoch 5's primary b, promoted at 197258, was killed
// without persistence; a's Redis, epoch 4's deposed primary, still a
// primary at 199733 on the history b's promotion left, held every
// acknowledged write, and the leader promoted c, a holder back from its
// AOF with only epoch 3's data; a's Redis full-synced from it and 21
// retry-queue INCRs were lost.
func deposedHolds(st groupState, peers map[string]peerView, now time.Time, p params) string {
	if p.MinReplicas < 1 || st.Fork <= 0 || st.ForkReplID == "" || now.Sub(st.Started) >= durableWait(p) {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		pv := peers[name]
		r := pv.Rep
		if name == st.Primary || st.Members[name].Redis == "" || !pv.fresh(now, p.Fresh) || r.Empty || r.Priority <= 0 {
			continue
		}
		if r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && r.Obs.ReplID == st.ForkReplID && r.Obs.Offset >= st.Fork {
			return name
		}
	}
	return ""
}

// richerPrimaryAnswers is, without min_replicas, a member other than
// holder h, not forgotten, whose fresh report shows its Redis answering as
// a primary its sidecar judged, not found empty, with more keys than h
// holds; "" when none. It holds the holder back while the primary has been
// down for less than twice down_after (quorumDownFor: one down_after past
// its judgement), and only when the failover follows such a judgement.
//
// A holder is promoted only when no replica can be, and it becomes the
// source every other Redis full-syncs from: promoted over such a Redis,
// it discards every write that Redis holds beyond the holder's history,
// far more than the unreplicated tail a failover gives up. The promoted
// primary's own sidecar may still see its Redis while the other sidecars
// cannot (a quorum judges it down, and its sidecar fences it), and a
// partition that heals brings it back; a deposed primary's sidecar that
// cannot demote it yet (no leader to verify with) soon points it at
// itself, and then it is a holder, ranked by its keys. A member out of
// reach last heard with more keys already holds the holder back, longer
// (shippedHolderWaitOver). Chaos seed 16630 (N=3, shipped defaults):
// Redis-only partitions cut epoch 8's primary b off from a's and c's
// sidecars, which judged it down; b's own sidecar saw it answering with
// 1641 keys, and the leader promoted a, a holder pointing at itself on
// epoch 6's history with 1246, 0.5 s before the first partition healed:
// 169 writes acknowledged by epoch 7's primary, which b's Redis held,
// were lost. Seed 16634 (N=3): the leader b promoted its own Redis, a
// holder with 2216 keys on epoch 5's history, over a's, epoch 6's deposed
// primary answering with 2360 on the history that followed.
func richerPrimaryAnswers(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) string {
	if p.MinReplicas >= 1 || h.Keys < 0 {
		return ""
	}
	if down := quorumDownFor(peers, st.Primary, st.Epoch, now, p); down <= 0 || down >= 2*p.DownAfter {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		pv := peers[name]
		r := pv.Rep
		m := st.Members[name]
		if name == h.Name || m.Redis == "" || m.Forgotten || !pv.fresh(now, p.Fresh) || r.Empty || r.Unsure || r.Priority <= 0 {
			continue
		}
		if r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && r.Obs.Keys > h.Keys {
			return name
		}
	}
	return ""
}

// quorumDownFor is how long a quorum of fresh reports have had no valid
// reply from primary at epoch: the quorum-th longest PrimaryDownMs, each
// aged by the time since its report arrived; 0 when fewer than a quorum
// report none.
func quorumDownFor(peers map[string]peerView, primary string, epoch uint64, now time.Time, p params) time.Duration {
	var downs []time.Duration
	for _, pv := range peers {
		r := pv.Rep
		if pv.fresh(now, p.Fresh) && r.SDownPrimary == primary && r.SDownEpoch == epoch && r.PrimaryDownMs > 0 {
			downs = append(downs, time.Duration(r.PrimaryDownMs)*time.Millisecond+now.Sub(pv.Received))
		}
	}
	if p.Quorum < 1 || len(downs) < p.Quorum {
		return 0
	}
	slices.SortFunc(downs, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return downs[p.Quorum-1]
}

// unjudgedMemberHolds is, with min_replicas and within durableWait of the
// failover's start, a member other than the promoted primary and holder h
// whose fresh report shows its Redis answering as a primary its sidecar
// has not judged (Unsure: a restarted sidecar knows no identity of it),
// not found empty, with more keys than h; "" when none. It is
// primaryUnjudgedHolds for any other member: such a Redis (a deposed
// primary back from its AOF, a new history at offset 0 that deposedHolds
// cannot place) is neither a candidate nor a holder (a primary), and the
// report that shows it answering is the one that lets othersAnswer pass,
// so the holder was promoted in the very decision that first saw it. Its
// sidecar soon points it at itself, and it becomes a holder ranked by its
// keys like any other. A primary its sidecar judged (a deposed primary
// paused past a fork, chaos seeds 719 and 507) is left to the rules above.
// Chaos seed 11714 (N=3, the third run, on 1c4b6d2): epoch 7's primary a
// took 16 retry-queue INCRs that b's Redis acknowledged; epoch 8 promoted
// b, whose node was killed without persistence (its Redis back from a
// stale RDB, judged empty), and a's Redis, killed with its AOF, came back
// a primary at 0 with every one while its sidecar was down. 90 ms after
// a's restarted sidecar joined, its first report arrived and the leader
// promoted c, a holder back from its AOF with epoch 6's data; a's Redis
// full-synced from it.
func unjudgedMemberHolds(h candidate, st groupState, peers map[string]peerView, now time.Time, p params) string {
	if p.MinReplicas < 1 || h.Keys < 0 || now.Sub(st.Started) >= durableWait(p) {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		pv := peers[name]
		r := pv.Rep
		if name == st.Primary || name == h.Name || st.Members[name].Redis == "" || !pv.fresh(now, p.Fresh) || r.Empty || r.Priority <= 0 {
			continue
		}
		if r.Unsure && r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary && r.Obs.Keys > h.Keys {
			return name
		}
	}
	return ""
}

// atItsPromotion reports whether r, the promoted primary's last report,
// was sent before its promotion: its Redis a replica exactly at the fork
// on the history the promotion left, the data set the promotion made a
// primary, holding everything acknowledged up to the fork. Its role then
// says nothing of a Redis answering as a replica since, whose next sync
// wipes it (forkFloor, primaryHolds). Chaos seed 2702 (N=3): b, holding
// epoch 3's last writes and 21 retry-queue INCRs, was cut off as its Redis
// was promoted (the promoted entry committed, no later report arrived);
// 2 s later the leader promoted c over it as a holder, c's Redis back from
// its AOF without any of them, and b's Redis full-synced from it.
func atItsPromotion(r report, st groupState) bool {
	return st.Fork > 0 && st.ForkReplID != "" && r.Obs.Role == monitor.RoleReplica &&
		r.Obs.ReplID == st.ForkReplID && r.Obs.Offset == st.Fork
}

// pastForkHeld reports, with min_replicas, a recorded fork of an earlier
// epoch, within durableWait of its failover, whose history candidate c
// still stands on: c never followed the primary that promotion made, so it
// lacks everything that primary and the ones after it acknowledged, which
// a replica holds (min_replicas); beyond the fork it holds only what the
// deposed primary took. Chaos seed 216 (N=5): a leader without fresh
// reports promoted its own Redis, parked exactly at epoch 5's fork, over
// writes taken at epochs 5 and 6, and every node holding them full-synced
// from it.
func pastForkHeld(c candidate, st groupState, now time.Time, p params) (pastFork, bool) {
	if p.MinReplicas < 1 {
		return pastFork{}, false
	}
	for _, f := range slices.Backward(st.PastForks) {
		if f.Epoch < st.Epoch && c.ReplID == f.ReplID && now.Sub(f.Start) < durableWait(p) {
			return f, true
		}
	}
	return pastFork{}, false
}

// belowAFork reports whether candidate c stands on a history a recorded
// promotion (the primary's, or an earlier one) left, below where it left it
// or, for an earlier epoch's promotion, exactly there: parked at that fork,
// it holds nothing written since, by that epoch's primary or any later
// one. Chaos seed 7501 (N=3): c's Redis, stopped through epochs 2 and 3,
// pointed at itself exactly at epoch 2's fork on epoch 1's history (434
// keys); once the durable wait for epoch 5's b lapsed it was promoted over
// a, epoch 3's primary back from its AOF with every write of epochs 2 and
// 3 (54 retry-queue INCRs among them), and a's Redis full-synced from it.
func belowAFork(c candidate, st groupState) bool {
	if st.ForkReplID != "" && c.ReplID == st.ForkReplID && c.Offset < st.Fork {
		return true
	}
	return slices.ContainsFunc(st.PastForks, func(f pastFork) bool { return c.ReplID == f.ReplID && c.Offset <= f.Offset })
}

// fresh reports whether p is current at now.
func (p peerView) fresh(now time.Time, d time.Duration) bool { return now.Sub(p.Received) < d }

// sdownAt decides this sidecar's opinion of the primary it probes: no valid
// reply since max(probing started, last valid reply) for downAfter.
func sdownAt(now, probeSince, lastAlive time.Time, downAfter time.Duration) bool {
	if probeSince.IsZero() {
		return false
	}
	last := probeSince
	if lastAlive.After(last) {
		last = lastAlive
	}
	return !now.Before(last.Add(downAfter))
}

// primaryLastGood is the last moment the primary this sidecar probes was
// seen up: the earlier of its last valid reply to PING and its last sign of
// taking writes — a report from its own sidecar that does not say it is
// cut off (peerView.Uncut), or a write probe it ran. PING alone is
// Sentinel's rule, but a primary whose sidecar lost the majority is fenced
// (its writes paused) and still answers PING: judged by PING alone it
// stayed in place, unwritable, for as long as its sidecar was cut off
// (chaos seed 109, N=5). A sidecar that merely died leaves its Redis taking
// writes, so that primary stays (issue 3: no failover when the primary's
// sidecar dies). Nor is a report a sign while it says CutOff: in a bridge
// partition the primary's sidecar, cut from the Raft leader only, kept it
// fenced while its reports still reached the replica in the middle, which
// never judged it down; no write for 5 s until the sidecar was stopped
// (chaos seed 16102, N=3, shipped defaults).
func primaryLastGood(lastAlive, reported, wrote time.Time) time.Time {
	if cared := later(reported, wrote); cared.Before(lastAlive) {
		return cared
	}
	return lastAlive
}

// opinions counts the fresh reports (this sidecar's own included, as a
// peer of itself) that see primary at epoch subjectively down.
func opinions(peers map[string]peerView, primary string, epoch uint64, now time.Time, fresh time.Duration, since time.Time) int {
	n := 0
	for _, p := range peers {
		r := p.Rep
		if p.fresh(now, fresh) && !p.Received.Before(since) && r.SDown && r.SDownPrimary == primary && r.SDownEpoch == epoch {
			n++
		}
	}
	return n
}

// opinionsSince is when the reports that count as opinions of the
// primary begin: an interval after this sidecar applied its promotion
// (OpinionsFrom), zero otherwise. Before its promotion a named primary's Redis
// answers as a replica, or not at all, and every sidecar holds it down;
// each starts judging it afresh when it applies the promotion
// (Failover.onState), and reports sent before then are about the Redis
// before its promotion. Chaos seed 17525 (N=3, shipped defaults): c,
// named at epoch 5 and cut off for 13 s, confirmed its promotion at
// 65.09 s; 4 ms later the leader b, counting opinions formed before it,
// replaced c by a, an unsynced holder, and a write c had taken in
// between was lost. The interval covers the sidecars applying the entry
// a moment apart.
func opinionsSince(st groupState) time.Time {
	if !st.Promoted {
		return time.Time{}
	}
	return st.OpinionsFrom
}

// emptyReported reports whether a fresh report says primary's Redis came
// back empty at epoch.
func emptyReported(peers map[string]peerView, primary string, epoch uint64, now time.Time, fresh time.Duration) bool {
	for _, p := range peers {
		r := p.Rep
		if p.fresh(now, fresh) && r.Empty && r.SDownPrimary == primary && r.SDownEpoch == epoch {
			return true
		}
	}
	return false
}

// recentFailovers counts the automatic failovers that started within
// window before now.
func recentFailovers(starts []time.Time, now time.Time, window time.Duration) int {
	n := 0
	for _, s := range starts {
		if !s.After(now) && now.Sub(s) < window {
			n++
		}
	}
	return n
}

// since keeps the times after t.
func since(times []time.Time, t time.Time) []time.Time {
	var out []time.Time
	for _, s := range times {
		if s.After(t) {
			out = append(out, s)
		}
	}
	return out
}

// redisIdentity is what tells one life of a Redis process from the next.
type redisIdentity struct {
	RunID  string
	ReplID string
	Offset int64
	Keys   int64 // DBSIZE; -1 when not known
	// Moved is how far Offset moved on since this process was first seen,
	// so that Offset-Moved (began) is where it came back after a restart
	// (0 from its AOF or empty). A restarted primary's offset moves on
	// with the replication stream (a replica's sync, pings) while it
	// waits to be judged, which says nothing of what it held. Chaos seed
	// 12031 (N=3): c's Redis, epoch 2's primary, came back from its AOF at
	// 0; a's Redis, still pointing at it, full-synced from it, and 0.7 s
	// later, at 289, c's sidecar judged it as a snapshot taken below its
	// promotion (0 < offset < fork), called it empty against b's fewer
	// keys on the history c's promotion began, and the group failed over
	// to b: two retry-queue INCRs only c's and a's Redis held were lost.
	Moved int64
	// ReplID2 is master_replid2: the history before its last promotion.
	// A promotion of a running process sets it, and so does Redis 7.0
	// for a primary restarted from an RDB: the snapshot's history, valid
	// up to the snapshot's offset. A restart without data and a full sync
	// clear it.
	ReplID2 string
}

// began is the offset the process came back at (Moved).
func (id redisIdentity) began() int64 { return id.Offset - id.Moved }

// identityOf is the identity observation o shows.
func identityOf(o monitor.Observation) redisIdentity {
	return redisIdentity{RunID: o.RunID, ReplID: o.ReplID, Offset: o.Offset, Keys: o.Keys, ReplID2: o.ReplID2}
}

// restartVerdict is what a new identity of the local primary's Redis means.
type restartVerdict int

const (
	// restartNone: the same process, or a restart on the same replication
	// history (from persistence), or one with as much data as any replica.
	restartNone restartVerdict = iota
	// restartEmpty: a new process on a new history with less data than a
	// replica holds. It lost its dataset, and syncing replicas from it
	// would wipe them.
	restartEmpty
	// restartUnknown: a new process on a new history, and no fresh replica
	// report to compare it with yet. The old identity is kept and the
	// question asked again at the next observation: judging once, at a
	// moment when the replicas' reports happened to be late, let a loaded
	// machine take the empty node as a good one for ever.
	restartUnknown
)

// replicaPos is where a fresh report puts a synced replica: the history
// it follows and its offset, and the keys its Redis holds (-1 or 0 when not
// known).
type replicaPos struct {
	ReplID string
	// ReplID2 is the history it led or followed before ReplID
	// (master_replid2; "" when not reported).
	ReplID2 string
	Offset  int64
	Keys    int64
	// Deposed: the Redis answers as a primary the state does not name (a
	// deposed primary not yet demoted); judgeRestart counts it only on the
	// history the promotion left, up to the fork.
	Deposed bool
}

// replicaPositions lists the replicas that recent reports show, synced or
// not: a replica reconnecting to its restarted primary keeps the history
// and offset of the data it holds until a full sync replaces them, and its
// reports then say "not synced" (TestEmptyRestartFailsOver failed one run
// in six when they were left out). A report need not be fresh: one a
// second old still proves the data its replica held then, and on a loaded
// machine the reports of the moment a primary restarts can be late for
// longer than the judgement may wait (CI: both replicas full-synced an
// empty primary). Ten down_after bounds it, as for the durable floor.
//
// A replica whose sidecar reports its Redis out of reach (stopped, killed,
// cut off from it) counts at the offset it was last seen synced at in this
// epoch (Known), on a history not given: its Redis holds that data, and
// follows the restarted primary again the moment it answers. Left out, the
// primary was "not judged" with no replica to compare it with, and after
// down_after its new identity stood (chaos seed 2711, N=3: a's Redis,
// epoch 6's primary, came back empty while b's Redis was down and c's
// stopped, c last seen synced at 158651 five seconds before; b's Redis was
// re-pointed to it 29 ms after its identity stood, and c's, resumed, full-
// synced it by itself: the whole data set was replaced).
func replicaPositions(self string, peers map[string]peerView, epoch uint64, now time.Time, p params) []replicaPos {
	var out []replicaPos
	for name, pv := range peers {
		if name == self || !pv.fresh(now, durableWait(p)) {
			continue
		}
		switch r, k := pv.Rep.Obs, pv.Known; {
		case r.Role == monitor.RoleReplica:
			out = append(out, replicaPos{ReplID: r.ReplID, ReplID2: r.ReplID2, Offset: r.Offset, Keys: r.Keys})
		case r.Reachable && r.Role == monitor.RolePrimary:
			// A deposed primary not yet demoted (its demotion waits for a
			// primary its sidecar vouches for, or a path to it): on the
			// history the promotion left it holds everything the promoted
			// process began with (judgeRestart). Left out, a primary
			// restarted without persistence had nothing to be compared
			// with, its new identity stood after down_after, and the
			// deposed Redis, the last copy, was demoted into it (chaos
			// seed 9909, N=3).
			out = append(out, replicaPos{ReplID: r.ReplID, ReplID2: r.ReplID2, Offset: r.Offset, Keys: r.Keys, Deposed: true})
		case !r.Reachable && k.Epoch == epoch && !k.At.IsZero() && now.Sub(k.At) < durableWait(p):
			// With the history and keys it was last seen with, when
			// reported: known by its offset alone, a stopped replica of
			// the promoted process holding less counted against that
			// primary's AOF restart as one on another history beyond the
			// fork, and the restart was called empty (chaos seed 4902).
			keys := int64(-1)
			if k.ReplID != "" {
				keys = k.Keys
			}
			out = append(out, replicaPos{ReplID: k.ReplID, Offset: k.Offset, Keys: keys})
		}
	}
	return out
}

// promotion is what the committed primary's promotion recorded: the
// offset it was promoted at (Fork; 0 when not known), the history it left
// (ForkReplID) and the one it began (NewReplID); "" when not known.
type promotion struct {
	Fork                  int64
	ForkReplID, NewReplID string
	// Chosen: for a named primary not promoted yet, the offset the
	// leader chose its Redis at (set-primary's ChosenOffset); 0 otherwise.
	Chosen int64
	// ChosenKeys: for a primary the leader chose as a holder, the keys
	// its Redis held then (set-primary's ChosenKeys); 0 otherwise.
	ChosenKeys int64
	// PastForks: where earlier epochs' promotions left the histories
	// before them (groupState.PastForks).
	PastForks []pastFork
}

// leftAt is the offset replica r counts at against an AOF restart of the
// promoted primary: a replica still on a history an earlier epoch's
// promotion left, at or before this promotion's fork, holds beyond that
// earlier fork only what the deposed primary took there, which no primary
// since took and the restarted one never held: its offset counts up to
// that fork only (onPrimaryHistory's rule, one promotion further back).
// Its sidecar keeps that tail as divergent writes before it resyncs. The
// newest recorded fork from r's history counts, as forkFor picks. Chaos
// seed 6813 (N=5): b's Redis, epoch 6's primary (promoted at 61333,
// leaving a's 7352377), came back from its AOF with every retry-queue INCR
// that d's Redis had taken at epoch 4 and a's and b's had acknowledged;
// d's Redis, detached at 63611 on 7b0772, which epoch 5 left at 61333,
// made it "empty", the group promoted e at 54977 on an older history, and
// b's Redis full-synced from it.
//
// The same holds for a replica on the history the current promotion left:
// a replica of the promoted process moves to the history it began, so
// beyond the fork this one holds only the deposed primary's tail. It counts
// up to the fork while it holds no more keys than cur (an AOF begun afresh
// holds fewer than the data before the fork). Chaos seed 12102 (N=3): b's
// Redis, epoch 2's primary (promoted at 29036 on 9f31d978), took 19
// retry-queue INCRs and came back from its AOF at offset 0 with 932 keys;
// a's, epoch 1's primary cut off since before the promotion, sat as a
// replica at 29282 on 9f31d978 with 459 keys. b's sidecar called the
// restart empty against a's tail, epoch 3 promoted a, and b's Redis
// full-synced from it.
//
// So does a Redis made a primary on such a history to keep its tail (its
// master_replid2 that history, its own begun by no recorded promotion),
// as leftByPastFork reads a holder. Chaos seed 12250 (N=3): c's Redis,
// epoch 3's primary, was made a primary at 54344 on 193fe091, which epoch
// 4 left at 48710, and parked; a's, epoch 5's primary (promoted at
// 53635), came back from its AOF with every retry-queue INCR b's queue
// had drained at epoch 4, and its sidecar called it empty against c's
// 54344 on b2730299. Epoch 6 promoted c, and a's and b's Redis
// full-synced from it.
//
// And so does one made a primary on the history this promotion left, as
// one still on it (up to the fork, while it holds no more keys than cur).
// Chaos seed 12269 (N=3): a's Redis, epoch 1's deposed primary, was made
// a primary at 44978 (beginning 442292b5) to keep its tail past epoch 2's
// fork (41011 on ac1ded2a), then pointed at itself, with 664 keys; b's
// Redis, epoch 2's primary, came back from its AOF at 0 with 859 keys and
// 8 retry-queue INCRs c's queue had drained into it. b's restarted sidecar
// called it empty against a's 44978, epoch 3 promoted a, and b's Redis
// full-synced from it.
func leftAt(r replicaPos, p promotion, cur redisIdentity) int64 {
	if p.Fork > 0 && r.ReplID != "" && r.ReplID == p.ForkReplID && r.Keys >= 0 && r.Keys <= cur.Keys {
		return min(r.Offset, p.Fork)
	}
	if r.ReplID == "" || r.ReplID == p.ForkReplID || p.Fork <= 0 {
		return r.Offset
	}
	if f, ok := newestPastFork(p.PastForks, r.ReplID); ok {
		if f.Offset > 0 && f.Offset <= p.Fork {
			return min(r.Offset, f.Offset)
		}
		return r.Offset
	}
	if r.ReplID2 != "" && r.ReplID != p.NewReplID && !begunByPastFork(p.PastForks, r.ReplID) {
		if r.ReplID2 == p.ForkReplID && r.Keys >= 0 && r.Keys <= cur.Keys {
			return min(r.Offset, p.Fork)
		}
		if f, ok := newestPastFork(p.PastForks, r.ReplID2); ok && f.Offset > 0 && f.Offset <= p.Fork {
			return min(r.Offset, f.Offset)
		}
	}
	return r.Offset
}

// newestPastFork is the newest of forks that left history id.
func newestPastFork(forks []pastFork, id string) (pastFork, bool) {
	for _, f := range slices.Backward(forks) {
		if f.ReplID == id {
			return f, true
		}
	}
	return pastFork{}, false
}

// begunByPastFork reports whether history id may be one a recorded
// promotion began: it is one, or some fork's new history was not recorded.
func begunByPastFork(forks []pastFork, id string) bool {
	return slices.ContainsFunc(forks, func(f pastFork) bool { return f.NewReplID == "" || f.NewReplID == id })
}

// promotedProcess reports whether cur is the very process the promotion
// made primary, never restarted since. Only that process has NewReplID as
// its own history: a restart, with data or without, begins a new one.
// Entries without NewReplID fall back to master_replid2, which a
// promotion sets to the history it left, but which Redis 7.0 also gives a
// primary restarted from an RDB written on that history, at the RDB's
// offset: so only past the fork, where the promoted process's offsets go
// on from (replication PINGs alone move them).
func promotedProcess(cur redisIdentity, p promotion) bool {
	if p.NewReplID != "" {
		return cur.ReplID == p.NewReplID
	}
	return p.ForkReplID != "" && cur.ReplID2 == p.ForkReplID && cur.ReplID != p.ForkReplID && cur.Offset > p.Fork
}

// judgeRestart compares the local primary's identity with the last one
// known to hold data (prev; zero when this sidecar never saw one, as after
// its own restart), with its promotion (p) and with the replicas'
// positions. Replicas that resynced from the
// restarted process follow its history at or below its offset and say
// nothing about it; one on another history with a higher offset, or on the
// same history ahead of it, holds data the primary lost, and so does a
// Redis that came back from a snapshot taken before its own promotion
// (0 < offset < fork). A restart from an AOF begins its offsets again at
// 0 and keeps its data: only replicas beyond its promotion can tell about
// it, and not those of the promoted process that hold no more keys
// (aofKeptPromotedHistory). The process promoted then, never restarted
// since, holds everything (promotedProcess).
func judgeRestart(prev, cur redisIdentity, p promotion, replicas []replicaPos) restartVerdict {
	fork := p.Fork
	if cur.RunID == "" || prev.RunID != "" && cur.RunID == prev.RunID {
		return restartNone
	}
	replicas = counted(replicas, p)
	best, left, ahead, richer, promotedRicher := int64(-1), int64(-1), false, false, false
	for _, r := range replicas {
		if aofKeptPromotedHistory(cur, p, r) {
			continue
		}
		if r.ReplID != cur.ReplID {
			best = max(best, r.Offset)
			left = max(left, leftAt(r, p, cur))
			richer = richer || cur.Keys >= 0 && r.Keys > cur.Keys
			// A replica of the promoted process holds a prefix of what
			// it wrote; more keys there than cur holds say cur did not
			// come back from that process's AOF (the rule
			// aofKeptPromotedHistory applies the other way round).
			promotedRicher = promotedRicher || p.NewReplID != "" && r.ReplID == p.NewReplID && cur.Keys >= 0 && r.Keys > cur.Keys
		} else if r.Offset > cur.Offset {
			// Chaos seed 19 (N=3): a primary killed without persistence
			// came back on its history 10 KB behind its replica, which
			// then full-synced from it.
			ahead = true
		}
	}
	switch {
	case ahead:
		return restartEmpty
	case promotedProcess(cur, p):
		// It holds everything it took since, and a replica on another
		// history proves nothing against it, whatever its offset. Offsets
		// of unrelated histories do not compare (chaos seed 710, N=3: a's
		// sidecar, restarted alone, judged a's Redis, promoted at 5871 on
		// d2553… and at 7633 with retry-queue INCRs b had acknowledged,
		// empty against c's 34335 on the stale history cb2095…; the group
		// failed over to c, b full-synced from c, and a, re-pointed as
		// empty, full-synced from b later). A restart from an RDB written
		// on the history it left is not it (chaos seeds 2001 and 2005,
		// N=5: d's Redis, promoted at 206229 on ab7665…, was killed during
		// the promotion's hold and came back from a 21 s old full-sync RDB
		// at 113310 with master_replid2 ab7665…; taken for the promoted
		// process, it was the source a, holding every write, was demoted
		// into, and every Redis full-synced its stale data; seed 2201 the
		// same after a restart of c's sidecar).
		return restartNone
	case best < 0 && len(replicas) > 0 && prev.RunID == "":
		// Every replica follows it, none ahead: whatever it lost, they
		// hold no more, and it may hold writes acknowledged since (chaos
		// seed 9, N=3: its sidecar dead, the restarted Redis took 2 s of
		// writes a replica acknowledged, and judged empty by the rule
		// below they were lost).
		return restartNone
	case cur.began() > 0 && cur.began() < fork:
		// Chaos seed 10 (N=3): the primary came back from an RDB its
		// Redis had written as a replica, 130 KB before its promotion,
		// and a replica restarted from its AOF with every write
		// full-synced from it.
		return restartEmpty
	case prev.RunID != "" && cur.ReplID == prev.ReplID:
		return restartNone // a restart from persistence on the same history
	case best < 0:
		return restartUnknown
	case cur.began() == 0 && cur.Keys > 0 && fork > 0 && left <= fork && !promotedRicher:
		// Restarted from its AOF with its data, and no replica on
		// another history is beyond where this one was promoted: they
		// hold less than it did then (chaos seed 101, N=5: called empty
		// against a replica behind its promotion and one on a deposed
		// history, it full-synced from the first and lost what it held).
		// One on a history an earlier promotion left counts up to that
		// fork (leftAt; chaos seed 6813).
		//
		// Not when a replica of the promoted process, at the fork
		// (nothing passed the promotion's hold), holds more keys: a Redis
		// back empty takes the key of a client's first write as well.
		// Chaos seed 11670 (N=5): a's Redis, promoted at epoch 9 at
		// 178729, was killed and wiped during the hold and came back
		// from its initial config; a probe write gave it 1 key before
		// its sidecar first saw it at offset 0. Let stand, it was
		// released, and c's, d's and e's Redis, at the fork with 2471
		// keys and 41 retry-queue INCRs, full-synced its one key.
		return restartNone
	case cur.began() == 0 && cur.Keys > 0 && fork == 0 && p.Chosen > 0 && best <= p.Chosen && !richer:
		// The same for a named primary never promoted, restarted from its
		// AOF: it held at least what it was chosen at, and no replica on
		// another history is beyond that or holds more keys. Chaos seed
		// 6605 (N=5): d, named at epoch 9 at 83759 on b1dc5bc7 with three
		// retry-queue INCRs only it and e's dead Redis held, was stopped
		// before its promotion, killed and restarted from its AOF; its
		// restarted sidecar called it empty against a's 80143 on b1dc5bc7,
		// the group promoted a and d's Redis full-synced from it.
		return restartNone
	case cur.Keys > 0 && fork == 0 && p.ChosenKeys > 0 && cur.Keys >= p.ChosenKeys && !richer:
		// The same for a holder: the leader chose it, back from its AOF
		// at offset 0, for its keys over every Redis with no position it
		// could prove, and it still holds as many, with no replica on
		// another history holding more. An offset on another history
		// says nothing against offset 0 (the AOF keeps no position), and
		// called empty for it, the holder was replaced by one with fewer
		// keys. Chaos seed 8330 (N=3): c's Redis, epoch 6's primary,
		// took 13 retry-queue INCRs (and 15 writes) that b's Redis
		// acknowledged; b's was killed without persistence and c's came
		// back from its AOF with them. Epoch 8 chose c as the holder with
		// the most keys; c's sidecar, restarted with it, judged it empty
		// against a's 123963 on the history epoch 6 had left at 122485
		// (its deposed tail), epoch 9 promoted a, and c's Redis
		// full-synced from it.
		//
		// Wherever its history began, not only at 0: a holder back from
		// an RDB at an offset (a named primary whose promotion was
		// refused, which the leader names again as a holder: seed 13806)
		// was otherwise judged empty against a higher offset on another
		// history, refused again, and named again, a new epoch each
		// round. A replica ahead on its own history was caught above.
		return restartNone
	case cur.Offset < best:
		return restartEmpty
	case cur.began() == 0 && best == 0 && richer:
		// No offset tells (both restarted from their AOF, which Redis
		// 7.0 gives none, or empty), and a replica on another history
		// holds more keys: it holds data this one lost. Left "not
		// judged", the restart stood after down_after (chaos seed 2714,
		// N=3: a's Redis, back from its AOF with 36 keys, and c's, back
		// from its AOF with the writes and pointing at itself, both at
		// offset 0; a's sidecar vouched for it 2 s later and c's Redis,
		// the last copy of the data, was re-pointed to it and full-synced
		// 36 keys).
		return restartEmpty
	case cur.began() == 0 && best == 0:
		// Nothing to compare yet: the writes and the restart came
		// between two reports, and judging at once took an empty Redis
		// for a good one (the replicas then full-synced it).
		return restartUnknown
	}
	return restartNone
}

// counted is the replicas judgeRestart compares a restarted primary with:
// every replica, and a deposed primary still on the history this promotion
// left, at most at its fork. That one holds what the promoted process held
// at its fork; beyond it only its own tail, which no primary since took and
// its sidecar keeps as divergent writes, so an AOF restart with its keys
// still stands. A deposed primary on any other history proves nothing here
// and is not counted, not even as a replica that follows. Chaos seed 9909
// (N=3): b's Redis, epoch 5's primary (promoted at 128235 leaving
// e8bece), restarted without persistence (0 keys, offset 0) while a's
// Redis was down and c's, epoch 4's primary, was cut off from it, paused
// at 135918 on e8bece with every write. "Not judged" with no replica to
// compare, the restart stood after down_after; once the cut healed b
// demoted c's Redis into it and c's full-synced 0 keys.
func counted(replicas []replicaPos, p promotion) []replicaPos {
	out := make([]replicaPos, 0, len(replicas))
	for _, r := range replicas {
		if r.Deposed {
			if p.Fork <= 0 || r.ReplID != p.ForkReplID {
				continue
			}
			r.Offset = min(r.Offset, p.Fork)
		}
		out = append(out, r)
	}
	return out
}

// judgeHeard is verdict v of judgeRestart for a sidecar that never saw its
// Redis hold data (prev zero, as after its own restart) while a registered
// member has not reported yet (unheard): a verdict that lets the restart
// stand waits for that member, since a restarted sidecar hears the others
// one report at a time and the one still missing may hold what the restart
// lost. The judgement is made once, so deciding on part of the group made
// it for good. Chaos seed 5108 (N=3): a's node, epoch 3's primary
// (promoted at 51307 on 734a956e), had its AOF wiped, then was killed; its
// Redis came back from the fresh AOF with 2 keys at offset 0. Its restarted
// sidecar judged it 70 ms after joining, with c's report alone (c's Redis
// wiped, at 0 with no key): no replica beyond the fork, so the AOF restart
// stood. b's Redis, pointing at itself at 52576 on 734a956e with every
// acknowledged write since the group began, was heard a moment later, too
// late; a's and c's sidecars then demoted it into a's Redis and it
// full-synced 289 keys: the whole data set replaced. An unknown verdict
// keeps asking, and stands after down_after if the member stays silent.
func judgeHeard(prev redisIdentity, v restartVerdict, unheard bool) restartVerdict {
	if v == restartNone && prev.RunID == "" && unheard {
		return restartUnknown
	}
	return v
}

// unheardMember reports whether a registered member other than self has
// no report fresh enough for replicaPositions to count it.
func unheardMember(self string, st groupState, peers map[string]peerView, now time.Time, p params) bool {
	for name := range st.Members {
		if pv, ok := peers[name]; name != self && (!ok || !pv.fresh(now, durableWait(p))) {
			return true
		}
	}
	return false
}

// aofKeptPromotedHistory reports whether replica r, on the history the
// primary's own promotion began (p.NewReplID), says nothing against cur, a
// restart from its AOF (offset 0, keys): only the promoted process wrote
// that history, and its AOF, which a kill does not cut short, holds all it
// wrote, so a replica of it holds a prefix of cur's data whatever its
// offset. The keys guard against an AOF begun afresh since (the Redis
// wiped, or full-synced from less): r then holds more keys than cur. Chaos
// seed 4713 (N=3): c's Redis, epoch 2's primary (promoted at 72029,
// beginning 97d3d587), restarted from its AOF twice; in between it led
// 1c9274 and applied 29 retry-queue INCRs that b's Redis acknowledged.
// After the second restart c's restarted sidecar called it empty against
// a's Redis at 145392 on 97d3d587, beyond the promotion but behind what
// c's Redis had led (154997), and pointed it at a: a full sync erased the
// INCRs, and b's Redis, the last copy, later full-synced from c.
func aofKeptPromotedHistory(cur redisIdentity, p promotion, r replicaPos) bool {
	return cur.began() == 0 && cur.Keys > 0 && p.NewReplID != "" && r.ReplID == p.NewReplID && cur.ReplID != p.NewReplID &&
		r.Keys > 0 && r.Keys <= cur.Keys
}

// leaderAction is what the Raft leader's sidecar decides to commit.
type leaderAction int

const (
	leaderNone      leaderAction = iota
	leaderPromote                // set-primary Target at Epoch+1
	leaderFlapPause              // pause automatic failover: the anti-flap cap is reached
)

// leaderDecision is the outcome of decideLeader.
type leaderDecision struct {
	ODown bool
	Votes int
	Empty bool // the primary came back empty
	// Holder: Target is not a synced replica but a Redis holding keys at
	// a position it cannot prove (holders).
	Holder bool
	// Stuck: the committed primary has not confirmed its promotion within
	// down_after of the failover's start (its sidecar died or stalled).
	Stuck bool
	// NotPrimary: the committed, promoted primary's own sidecar reports
	// its Redis a replica for down_after (Sentinel's rule for a master
	// that reports itself a slave).
	NotPrimary bool
	Action     leaderAction
	Target     string
	Reason     string // for leaderPromote: ReasonAuto or ReasonInitial; for leaderFlapPause: why
	WhyNot     string // no candidate qualifies, and why
	Excluded   map[string]string
	// WaitFor names the out-of-reach replica whose data the durable mode
	// waits for (durableFloor), when it excluded a candidate.
	WaitFor string
	// LastCopy: WaitFor is the primary, whose Redis may hold the last
	// copy of acknowledged writes; the wait has no bound (primaryLastCopy;
	// floorLastCopy's unbounded floor says so in WhyNot too).
	LastCopy bool
	Conflict string // discovery cannot tell the initial primary
	// AwaitGate: Target runs a pre-promotion gate whose verdict about this
	// failover has not arrived yet; nothing is committed before it does.
	AwaitGate bool
	// ChosenReplID and ChosenOffset: the position a synced replica Target
	// was chosen at, committed with it; its promotion is refused if its
	// Redis no longer continues it (leftChosen). Empty for a holder,
	// which has no position it can prove.
	ChosenReplID string
	ChosenOffset int64
	// ChosenKeys: for a holder Target, the keys its report held, committed
	// with it: its own sidecar lets an AOF restart holding as many stand
	// (judgeRestart). 0 for a synced replica.
	ChosenKeys int64
	// Blocked: a failover is due (not paused, no switchover in charge)
	// and no candidate qualifies. A leader that does not hear every
	// member may hand its leadership to a voter that does (handTo).
	Blocked bool
}

// gateVerdict returns the verdict p's report gives about replacing primary
// at epoch, if any.
func gateVerdict(p peerView, primary string, epoch uint64) (allowed, ok bool) {
	v := p.Rep.Verdict
	if v == nil || v.Primary != primary || v.Epoch != epoch {
		return false, false
	}
	return v.Allowed, true
}

// decideLeader is the Raft leader's decision: ODOWN from fresh opinions,
// the initial primary by discovery, anti-flap, and the candidate to
// promote. peers must include this sidecar's own report.
func decideLeader(now time.Time, st groupState, peers map[string]peerView, p params, initialPrimary string) leaderDecision {
	var d leaderDecision
	if st.Primary == "" {
		who, conflict := discover(st, peers, now, p.Fresh, initialPrimary)
		d.Conflict = conflict
		// Only a registered member can be committed: its address must be
		// in the state for everyone to reach it.
		if who != "" && st.Members[who].Redis != "" {
			d.Action, d.Target, d.Reason = leaderPromote, who, ReasonInitial
		}
		return d
	}
	d.Votes = opinions(peers, st.Primary, st.Epoch, now, p.Fresh, opinionsSince(st))
	d.ODown = d.Votes >= p.Quorum
	d.Empty = emptyReported(peers, st.Primary, st.Epoch, now, p.Fresh)
	d.Stuck = !st.Promoted && !st.Started.IsZero() && now.Sub(st.Started) >= p.DownAfter
	d.NotPrimary = st.Promoted && notPrimaryReported(peers, st.Primary, st.Epoch, now, p.Fresh)
	cands := candidatesOf(registered(st, peers), now, p.Fresh)
	vetoed := map[string]bool{}
	for i, c := range cands {
		if allowed, ok := gateVerdict(peers[c.Name], st.Primary, st.Epoch); ok && !allowed {
			// Vetoed: never promoted, but its data still counts for lag.
			cands[i].Priority = 0
			vetoed[c.Name] = true
		}
	}
	history := primaryReplID(peers, st.Primary, st.Epoch, st.Members[st.Primary].Redis, now, p.Fresh)
	cands, other := splitHistory(cands, st.Primary, history)
	// The primary's last offset measures lag only on its own history:
	// replicas that all restarted onto others (their data lost, or their
	// position) were all "lagging" behind a number they cannot be compared
	// with, and a healthy majority waited for the primary until an
	// operator forgot it (chaos seed 5).
	pOff := int64(0)
	if slices.ContainsFunc(cands, func(c candidate) bool { return c.Name != st.Primary && c.ReplID == history }) {
		pOff = primaryOffset(peers, st.Primary)
	}
	// A primary whose own Redis answers as a replica is a candidate for its
	// own replacement: restarted from a rewritten config that follows
	// another node, it can hold the most data, and every other replica can
	// be following it. Left out, a loop (c's Redis following a, a's
	// following c) had no synced candidate and the group stayed without a
	// primary (chaos seed 13, N=3; seed 119, N=5). So is one named but
	// never promoted: still a replica, it may hold the most data, and
	// replaced by a replica on a deposed history the moment its stalled
	// sidecar answered again, it full-synced from it and the writes only
	// it held were lost (chaos seed 114, N=5).
	//
	// Not, though, a named primary whose own sidecar refused its
	// promotion and reports it empty: its Redis no longer holds what it
	// was chosen for (leftChosen, unpromotable). Chaos seed 1906 (N=3): b,
	// named at epoch 2, full-synced the empty restart of the Redis it
	// still followed; chosen again for its offset on that new history, a
	// copy of nothing would have been promoted over c, which held the
	// writes.
	exclude := st.Primary
	if d.NotPrimary || !st.Promoted && !d.Empty {
		exclude = ""
	}
	ranked, excluded := rankCandidates(cands, exclude, p.MaxLagBytes, pOff)
	if !st.Promoted && !d.NotPrimary {
		// The named primary is chosen again only for data no other
		// candidate has: one that holds as much goes first.
		if i := slices.IndexFunc(ranked, func(c candidate) bool { return c.Name == st.Primary }); i >= 0 &&
			slices.ContainsFunc(ranked, func(c candidate) bool { return c.Name != st.Primary && c.Offset >= ranked[i].Offset }) {
			ranked = slices.Delete(ranked, i, i+1)
		}
	}
	for _, n := range other {
		excluded[n] = whyOtherHistory
	}
	for n := range vetoed {
		if excluded[n] == whyPriority {
			excluded[n] = whyVetoed
		}
	}
	durable, floorWho := durableFloor(st, peers, history, now, p)
	if durable >= 0 {
		ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
			if onPrimaryHistory(c.ReplID, c.Offset, st) < durable {
				excluded[c.Name] = whyBehind
				d.WaitFor = floorWho
				return true
			}
			return false
		})
	}
	if floor := forkFloor(st, peers, now, p); floor > 0 {
		ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
			if belowForkFloor(c, floor, st.ForkReplID, history) {
				excluded[c.Name] = whyBeforeFork
				d.WaitFor = st.Primary
				return true
			}
			return false
		})
	}
	if behindFork(st, peers, now, p) {
		ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
			if c.ReplID == st.ForkReplID && c.Offset < st.Fork {
				excluded[c.Name] = whyBeforeFork
				return true
			}
			return false
		})
	}
	if who := historyHeld(st, peers, history, now, p); who != "" {
		ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
			if c.ReplID != history && c.ReplID != st.ForkReplID {
				excluded[c.Name] = whyBehind
				d.WaitFor = who
				return true
			}
			return false
		})
	}
	ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
		if f, ok := pastForkHeld(c, st, now, p); ok {
			excluded[c.Name] = whyBeforeFork
			d.WaitFor = f.New
			return true
		}
		return false
	})
	// Once the time-bounded waits above lapse, a replica still on a
	// history a recorded promotion left, below that fork, does not replace
	// a holder whose Redis holds more keys: it lacks writes acknowledged
	// before the fork, and its offset proves a position, not data. Chaos
	// seed 507 (N=3): c, restarted without persistence from the RDB its
	// first full sync wrote (0 keys, "synced" at offset 0 of epoch 1's
	// history, 45 KB below epoch 2's fork), was promoted the moment epoch
	// 2's failover was 20 s old, and a, holding every write in its AOF,
	// full-synced nothing.
	//
	// So does a candidate on another history than the primary's (left
	// there by splitHistory only because none is on it): its offset is a
	// position on a history the primary's data never reached, not data.
	// Chaos seed 2914 (N=3): epoch 7's primary a came back empty with its
	// sidecar dead; b's Redis, still following it, full-synced the empty
	// restart and was promoted for its 486 bytes on that new history over
	// c, pointing at itself with every acknowledged write, which then
	// full-synced from b.
	//
	// Nor does a candidate behind the holder on the history the holder's
	// Redis stands on: it holds a prefix of what the holder holds. Chaos
	// seed 7302 (N=3): epoch 2's b never promoted, so no fork was
	// recorded; c, restarted without persistence from its first full
	// sync's RDB (0 keys, "synced" at offset 0 of epoch 1's history), was
	// promoted over a, epoch 1's primary pointing at itself at 63023 on
	// that history with every write; a's Redis full-synced nothing.
	//
	// Nor does a holder an earlier promotion left (leftByPastFork) set
	// aside a candidate on the history the primary's own promotion left,
	// at or past its fork: that candidate holds every write acknowledged
	// up to the primary's promotion, the holder none acknowledged since
	// the earlier fork; its extra keys are what a deposed primary took
	// past that fork, which the documented loss bound gives up. Chaos seed
	// 9817 (N=5): a, epoch 9's primary, cut off, took 96 commands past
	// epoch 10's fork (142444 on 5986436b) before it was fenced, and
	// pointed at itself (63600eb3, master_replid2 5986436b). Epoch 11's c
	// applied 11 retry-queue INCRs from c's, d's and e's queues at 62.8 s,
	// acknowledged by d's and e's Redis; epoch 12 promoted d at 144498 on
	// c's 13357cbe, and d's node was killed without persistence before it
	// took a write. e's Redis, parked at exactly 144498 on 13357cbe with
	// all of them, was set aside as "fewer keys" than a's (on another
	// history than d's), a was promoted at 69.48 s, and e's and c's Redis
	// full-synced from it.
	//
	// A holder that ledHolders puts first sets such a candidate aside
	// whatever its keys: it proves it holds what the newest recorded
	// promotion's primary acknowledged up to its offset, and the
	// candidate's keys are an older data set or a deposed primary's tail.
	// In chaos seed 11314 (N=5), a replica synced on e97cca past a's fork
	// with more keys than b would, counted by keys, have been promoted over
	// b and a's last writes once the durable floor b set lapsed.
	h, led := holders(st, peers, exclude, now, p)
	if len(h) > 0 {
		ho := peers[h[0].Name].Rep.Obs
		leftHolder := leftByPastFork(h[0], st)
		ranked = slices.DeleteFunc(ranked, func(c candidate) bool {
			if leftHolder && st.ForkReplID != "" && c.ReplID == st.ForkReplID && c.Offset >= st.Fork {
				return false
			}
			offHistory := history != "" && c.ReplID != history
			behindHolder := c.ReplID != "" && c.ReplID == ho.ReplID && c.Offset < ho.Offset
			if (belowAFork(c, st) || offHistory || behindHolder) && (led || c.Keys >= 0 && c.Keys < h[0].Keys) {
				excluded[c.Name] = whyFewerKeys
				return true
			}
			return false
		})
	}
	// Without min_replicas, a replica synced at offset 0 whose Redis holds
	// no key does not replace the primary within the durable wait of a
	// member out of reach last heard with keys (richerUnheard): it copied
	// an empty Redis, and every other Redis would full-sync from it.
	// Chaos seed 17143 (N=5): b's Redis, restarted without persistence,
	// synced at offset 0 of an old history with no key, was promoted at
	// 60.6 s while c, the named primary stopped before its promotion, and
	// e, cut off 0.8 s earlier, were last heard with 1841 and 1843 keys:
	// 797 acknowledged writes and 62 retry-queue INCRs were lost. A holder
	// with keys may still be promoted below.
	if p.MinReplicas < 1 && len(ranked) > 0 && ranked[0].Keys == 0 && ranked[0].Offset == 0 {
		if who := richerUnheard(st, peers, now, p); who != "" {
			for _, c := range ranked {
				excluded[c.Name] = whyFewerKeys
			}
			ranked, d.WaitFor = nil, who
		}
	}
	if len(ranked) == 0 {
		// No synced replica: one whose Redis holds keys without a
		// position it can prove may have the data (an AOF restart). It
		// is promoted only while every other member's Redis answers:
		// one out of reach may come back with more, and a sidecar's
		// last known offset says nothing of a Redis restarted since
		// (chaos seed 12, N=3: a Redis restarted empty but for a few
		// keys was chosen over two nodes out of reach).
		//
		// While a durable wait runs (WaitFor: a replica was set aside for
		// data another node held), a holder does not cut it short if an
		// answering Redis holds more keys: the wait is for that data, and
		// the wait is bounded (durableWait). Chaos seed 417 (N=5): a,
		// pointing at itself on the history epoch 2 left, 502 keys, was
		// promoted the moment the last sidecar answered, over e (parked at
		// epoch 3's fork, waiting for c) and c and b (primaries with 741
		// and more keys), and every copy of epoch 2's writes full-synced
		// from it.
		//
		// The promoted primary is the one member whose Redis need not
		// answer (it is what the failover replaces), but with
		// min_replicas a holder does not replace it while it may come
		// back with its data (primaryHolds), nor while its Redis, restarted
		// and not judged yet, answered with more keys than the holder
		// (primaryUnjudgedHolds). Nor, before a named primary confirms
		// its promotion, while its Redis answers as a primary that
		// continues the newest recorded history (namedHolds).
		//
		// A member out of reach holds the holder back for the durable
		// wait with min_replicas, for down_after without, not for ever
		// (holderWaitOver).
		//
		// Nor does a holder replace a deposed primary's Redis that still
		// answers as a primary past the fork on the history the
		// promotion left, within the durable wait: it holds every write
		// acknowledged up to the promotion, and becomes a holder itself
		// once its sidecar demotes it or points it at itself
		// (deposedHolds). Nor, within the durable wait, another member's
		// Redis answering as a primary its sidecar has not judged, with
		// more keys than the holder (unjudgedMemberHolds): once its
		// sidecar points it at itself it is a holder, ranked by its keys.
		// Without min_replicas, the same for any member's Redis that
		// answers as a primary with more keys than the holder
		// (richerPrimaryAnswers).
		if len(h) > 0 &&
			(othersAnswer(st, peers, exclude, now, p.Fresh) || holderWaitOver(st, peers, h[0].Name, now, p)) {
			_, richer := membersAnswer(h[0].Name, st, peers, h[0].Keys, now, p.Fresh)
			deposed := deposedHolds(st, peers, now, p)
			unjudged := unjudgedMemberHolds(h[0], st, peers, now, p)
			answers := richerPrimaryAnswers(h[0], st, peers, now, p)
			switch {
			case primaryLastCopy(st, peers, h[0].Name, now, p):
				d.WaitFor, d.LastCopy = st.Primary, true
			case primaryHolds(st, peers, now, p), primaryMayHold(h[0], st, peers, now, p), primaryUnjudgedHolds(h[0], st, peers, now, p),
				namedHolds(h[0], st, peers, now, p), primaryKnownRicher(h[0], st, peers, now, p):
				d.WaitFor = st.Primary
			case deposed != "" && deposed != h[0].Name:
				d.WaitFor = deposed
			case d.WaitFor == "" && unjudged != "":
				d.WaitFor = unjudged
			case d.WaitFor == "" && answers != "":
				d.WaitFor = answers
			case d.WaitFor == "" || !richer:
				ranked, d.Holder = h[:1], true
				d.WaitFor = ""
			}
		}
	}
	// When every member's Redis is empty, a replica that never finished
	// its sync loses nothing: the best one by priority, then name, is
	// promoted as a holder (nothingToLose). Chaos seed 17205 (N=3): c,
	// epoch 2's primary, restarted wiped and pointing at itself while its
	// sidecar judged it, had its sidecar stopped; a's and b's Redis, empty
	// too, never synced from it, and the group had no writable primary for
	// 25 s, until c's sidecar was back and reached its Redis.
	if len(ranked) == 0 && d.WaitFor == "" && nothingToLose(st, peers, now, p.Fresh) {
		var pool []candidate
		for _, c := range cands {
			if c.Name != st.Primary && excluded[c.Name] == whyNotSynced && c.Priority > 0 && !vetoed[c.Name] {
				pool = append(pool, c)
			}
		}
		slices.SortFunc(pool, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
		})
		if len(pool) > 0 {
			ranked, d.Holder = pool[:1], true
		}
	}
	d.Excluded = excluded
	if len(ranked) == 0 {
		d.WhyNot = whyNot(excluded)
		switch {
		case d.LastCopy, durable >= 0 && d.WaitFor == floorWho && floorLastCopy(st, peers, floorWho, now, p):
			d.WhyNot += fmt.Sprintf("; min_replicas: waiting for %s, whose Redis may hold the last copy of acknowledged writes (vigil forget %[1]s gives them up)", d.WaitFor)
		case d.WaitFor != "" && p.MinReplicas < 1:
			d.WhyNot += fmt.Sprintf("; waiting for %s, whose Redis has more data", d.WaitFor)
		case d.WaitFor != "":
			d.WhyNot += fmt.Sprintf("; min_replicas: waiting up to %s for %s, which had more data", durableWait(p), d.WaitFor)
		}
	}
	switch {
	case !d.ODown && !d.Empty && !d.Stuck && !d.NotPrimary:
		return d
	case st.Primary != "" && !st.Promoted && !st.Started.IsZero() && !d.Empty && !d.Stuck:
		// A named primary has down_after from its naming to promote.
		// ODOWN votes carried over from the epoch before do not cut it
		// short: the same node named again (a holder, seed 13806), its
		// peers' down timers still running, was replaced by a third
		// epoch 22 ms after the second, naming it once more.
		return d
	case st.Paused, st.FlapPaused != "":
		return d
	case st.Switchover.active(st.Epoch, now):
		// A switchover is in charge until its deadline.
		return d
	}
	if p.MaxFailovers > 0 && recentFailovers(since(st.Failovers, st.FlapSince), now, p.FlapWindow) >= p.MaxFailovers {
		d.Action = leaderFlapPause
		d.Reason = fmt.Sprintf("anti-flap: %d automatic failovers within failover.flap_window (%s), the limit of failover.max_failovers; resume to re-enable",
			p.MaxFailovers, p.FlapWindow)
		return d
	}
	if len(ranked) == 0 {
		d.Blocked = true
		return d
	}
	d.Target = ranked[0].Name
	if t := peers[d.Target]; t.Rep.Gate {
		if allowed, ok := gateVerdict(t, st.Primary, st.Epoch); !ok || !allowed {
			d.AwaitGate = true
			return d
		}
	}
	d.Action, d.Reason = leaderPromote, ReasonAuto
	if !d.Holder {
		d.ChosenReplID, d.ChosenOffset = ranked[0].ReplID, ranked[0].Offset
	} else {
		d.ChosenKeys = ranked[0].Keys
	}
	return d
}

// unheardBy lists, sorted and comma-separated, the members whose reports
// have not reached self within fresh: its report tells the Raft leader
// whom it hears (handTo). "" while it hears every member.
func unheardBy(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) string {
	var out []string
	for name, m := range st.Members {
		if name != self && !m.Forgotten && !peers[name].fresh(now, fresh) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// richerUnheard names the first member, by name, whose report no longer
// arrives fresh with its Redis answering, and whose Redis was last heard
// answering with keys less than the durable wait ago (counted from the
// failover's start if later): it may come back with data an empty
// replica lacks. "" if none.
func richerUnheard(st groupState, peers map[string]peerView, now time.Time, p params) string {
	for _, name := range slices.Sorted(maps.Keys(st.Members)) {
		pv, ok := peers[name]
		if !ok || st.Members[name].Forgotten || pv.fresh(now, p.Fresh) && pv.Rep.Obs.Reachable || pv.UpAt.IsZero() {
			continue
		}
		if pv.UpKeys > 0 && now.Sub(later(pv.UpAt, st.Started)) < durableWait(p) {
			return name
		}
	}
	return ""
}

// nothingToLose reports whether every member's Redis is empty: each
// member's but the primary's answers, in a fresh report, with no key and
// no sync under way, and the primary's was last seen by its own sidecar
// with no key and has not been seen since: its sidecar reports it out of
// reach, or, silent, last reported it answering as a replica (a
// restarted primary pointing at itself while its sidecar judges it: it
// takes no writes). What the primary's Redis took after its sidecar last
// saw it is what any failover gives up: its replicas, cut from it as the
// quorum was, lack it too. A forgotten member does not count.
func nothingToLose(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	for name, m := range st.Members {
		if m.Forgotten {
			continue
		}
		pv, ok := peers[name]
		if !ok {
			return false
		}
		r := pv.Rep
		if name == st.Primary {
			unseen := r.Obs.Role == monitor.RoleReplica
			if pv.fresh(now, fresh) {
				unseen = !r.Obs.Reachable
			}
			if !unseen || pv.UpAt.IsZero() || pv.UpKeys != 0 {
				return false
			}
			continue
		}
		if !pv.fresh(now, fresh) || !r.Obs.Reachable || r.Obs.Keys != 0 || r.Obs.SyncInProgress {
			return false
		}
	}
	return true
}

// handTo names the voter a Raft leader that can promote no replica
// should hand its leadership to: one whose fresh report, at the current
// epoch, says it hears members whose reports no longer reach the leader
// (the most of them; by name on a tie). Raft's log reaches a member only
// from the leader, so a member the leader cannot reach can be neither
// judged (its report is stale there) nor told it was named; a voter that
// hears it can do both. "" when the leader hears every member, or no
// voter hears one it does not. Chaos seed 16964 (N=3): a bridge
// partition cut the leader b, whose Redis had died, from a, the one
// synced replica, which c heard; pre-vote kept a from deposing b, and the
// group waited 5 s for the bridge to heal.
func handTo(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) string {
	unheard := unheardBy(self, st, peers, now, fresh)
	if unheard == "" {
		return ""
	}
	best, most := "", 0
	for _, y := range slices.Sorted(maps.Keys(st.Members)) {
		m, pv := st.Members[y], peers[y]
		if y == self || !m.Voter || m.Forgotten || !pv.fresh(now, fresh) || pv.Rep.Epoch != st.Epoch {
			continue
		}
		hears, deaf := 0, strings.Split(pv.Rep.Unheard, ",")
		for x := range strings.SplitSeq(unheard, ",") {
			if x != y && !slices.Contains(deaf, x) {
				hears++
			}
		}
		if hears > most {
			best, most = y, hears
		}
	}
	return best
}

// registered keeps the reports of members whose addresses the committed
// state holds: only they can be committed as the primary. A sidecar
// without the group key never registers, so it is never a candidate.
func registered(st groupState, peers map[string]peerView) map[string]peerView {
	out := make(map[string]peerView, len(peers))
	for name, p := range peers {
		if st.Members[name].Redis != "" {
			out[name] = p
		}
	}
	return out
}

// primaryOffset is the primary's last known replication offset, from its
// own sidecar's last report however old; 0 if it never reported.
func primaryOffset(peers map[string]peerView, primary string) int64 {
	if p, ok := peers[primary]; ok && p.Rep.Obs.Role == monitor.RolePrimary {
		return p.Rep.Obs.Offset
	}
	return 0
}

// primaryReplID is the history the primary leads: the replication id of
// its last report, or, while its Redis does not answer, the one it was last
// seen leading at epoch; "" if neither is known. Forgotten the moment its
// Redis stopped answering, offsets on two histories were compared and a
// replica on a deposed one was promoted over the one holding the
// primary's last writes, which then full-synced them away (chaos seed
// 108, N=5).
//
// A peer's report carries the history it last saw the primary's own
// sidecar vouch for (relayedMark); when that sighting is newer than this
// sidecar's own, the relayed history is the one the primary leads. Chaos
// seed 12161 (N=3): b's Redis, epoch 4's primary, came back from its AOF
// on a new history (1d17dd61) with every write, its sidecar vouched for
// it, and c's Redis full-synced it before b's was killed again; a bridge
// partition kept b's reports from a, the leader, which still knew b on
// e1041530. Epoch 5 set c aside as "other history" and promoted a's Redis,
// back from a 34 s old RDB on e1041530 (842 keys against c's 1489): 107
// acknowledged writes and 42 INCRs were lost when c's full-synced from it.
//
// When nobody saw the primary's sidecar vouch for a history at epoch, the
// history its replicas follow it on is the one it leads: a fresh report of
// a replica synced and linked to the primary's Redis at epoch, all such
// replicas agreeing. Chaos seed 12450 (N=3): a's Redis, epoch 3's primary,
// came back from its AOF on a new history (937dcb49) and c's Redis
// full-synced it and acknowledged retry-queue INCRs; a partition then cut
// a off, and c's sidecar, restarted meanwhile, led the next election
// without ever hearing a. With no history known, offsets on two histories
// were compared and b's Redis, parked at 75549 on the history a left, was
// promoted over c's at 10671 on a's; c's full-synced from it.
func primaryReplID(peers map[string]peerView, primary string, epoch uint64, redis string, now time.Time, fresh time.Duration) string {
	var id string
	var at time.Time
	p, ok := peers[primary]
	switch {
	case !ok:
	case p.Rep.Obs.Role == monitor.RolePrimary && !p.Rep.Empty && !p.Rep.Unsure:
		id, at = p.Rep.Obs.ReplID, p.Received
	case p.AsPrimary.Epoch == epoch:
		// Also while it restarted empty or unjudged: the history it began
		// then holds nothing the group had (chaos seed 11, N=3: the one
		// replica holding every write was set aside as "another history"
		// and a copy of the empty primary promoted).
		id, at = p.AsPrimary.ReplID, p.AsPrimary.At
	}
	for name, q := range peers {
		if m, ok := relayedMark(q, primary); ok && name != primary && m.Epoch == epoch && m.At.After(at) {
			id, at = m.ReplID, m.At
		}
	}
	if redis == "" {
		return id
	}
	if f := followedSince(peers, primary, epoch, redis, id, at); id != "" || f != "" {
		return f
	}
	keys := int64(-1) // the fewest keys a replica on id holds
	for name, q := range peers {
		r := q.Rep.Obs
		if name == primary || q.Rep.Epoch != epoch || !q.fresh(now, fresh) || !r.Reachable ||
			r.Role != monitor.RoleReplica || !r.LinkUp || !r.Synced || r.MasterAddr != redis || r.ReplID == "" {
			continue
		}
		if id != "" && id != r.ReplID {
			return "" // replicas disagree: no history is known
		}
		id = r.ReplID
		if keys < 0 || r.Keys < keys {
			keys = r.Keys
		}
	}
	// Only while they hold at least as many keys as any other Redis: a
	// primary restarted empty without persistence begins a history too,
	// and its replicas follow it on that one with nothing.
	for name, q := range peers {
		r := q.Rep.Obs
		if id != "" && name != primary && q.fresh(now, fresh) && r.Reachable && r.ReplID != id && r.Keys > keys {
			return ""
		}
	}
	return id
}

// followedSince is the history the primary was last seen leading: id,
// sighted at at, unless a replica was seen synced and linked to its Redis
// (at redis) at epoch later on another history (followMark), holding keys,
// and no Redis reported on any other history holds more keys than it did
// then. Only the primary's Redis, restarted, leads a new history at the
// same address; one restarted empty begins it with nothing, which the keys
// tell. Chaos seed 13302 (N=3): a's Redis, epoch 1's primary, came back
// from its AOF on a new history (6ba39b42) with every write, and b's,
// restarted empty, full-synced it (586 keys) before a's was killed again,
// 1.3 s later and before a's sidecar had judged it; c's Redis, cut off
// 16 s before on the history a was last seen leading (8740cdb3, 444 keys),
// was promoted, b's full-synced from it, and four acknowledged INCRs were
// lost.
func followedSince(peers map[string]peerView, primary string, epoch uint64, redis, id string, at time.Time) string {
	var f followMark
	for name, q := range peers {
		m := q.Follows
		if name != primary && m.Epoch == epoch && m.Master == redis && m.ReplID != id && m.Keys > 0 && m.At.After(at) && m.At.After(f.At) {
			f = m
		}
	}
	if f.ReplID == "" {
		return id
	}
	for name, q := range peers {
		if name != primary && q.Rep.Obs.ReplID != f.ReplID && q.Rep.Obs.Keys > f.Keys {
			return id
		}
	}
	return f.ReplID
}

// relayedMark is the primaryMark of primary that p's report relays: the
// last time p's sidecar saw primary's own sidecar vouch for its Redis as a
// primary (report.Led*), dated by this sidecar's clock.
func relayedMark(p peerView, primary string) (primaryMark, bool) {
	r := p.Rep
	if r.LedEpoch == 0 || r.LedReplID == "" || r.SDownPrimary != primary || r.LedAgoMs < 0 {
		return primaryMark{}, false
	}
	return primaryMark{Epoch: r.LedEpoch, ReplID: r.LedReplID, At: p.Received.Add(-time.Duration(r.LedAgoMs) * time.Millisecond)}, true
}

// candidatesOf turns reports into candidates.
func candidatesOf(peers map[string]peerView, now time.Time, fresh time.Duration) []candidate {
	out := make([]candidate, 0, len(peers))
	for name, p := range peers {
		r := p.Rep
		out = append(out, candidate{
			Name: name, Addr: r.Addr, Priority: r.Priority,
			Fresh: p.fresh(now, fresh), Reachable: r.Obs.Reachable,
			Role: r.Obs.Role, Synced: r.Obs.Synced, Offset: r.Obs.Offset, ReplID: r.Obs.ReplID, Keys: r.Obs.Keys,
		})
	}
	return out
}

// discover finds the initial primary from Redis's own replication state as
// the fresh reports describe it: the one node that is a primary, with every
// replica following it. Every registered member must report; with several
// primaries it names initialPrimary if that is one of them, else it
// returns a conflict.
func discover(st groupState, peers map[string]peerView, now time.Time, fresh time.Duration, initialPrimary string) (primary, conflict string) {
	type view struct {
		name, addr string
		role       monitor.Role
		master     string
	}
	var nodes []view
	for name, p := range peers {
		if p.fresh(now, fresh) && p.Rep.Obs.Reachable {
			nodes = append(nodes, view{name, p.Rep.Addr, p.Rep.Obs.Role, p.Rep.Obs.MasterAddr})
		}
	}
	if len(nodes) == 0 {
		return "", ""
	}
	for k := range st.Members {
		if !slices.ContainsFunc(nodes, func(v view) bool { return v.name == k }) {
			return "", ""
		}
	}
	var primaries []view
	var parked []string
	followed := map[string]int{}
	for _, n := range nodes {
		switch n.role {
		case monitor.RolePrimary:
			primaries = append(primaries, n)
		case monitor.RoleReplica:
			followed[n.master]++
			if n.master == n.addr {
				parked = append(parked, n.name)
			}
		}
	}
	slices.SortFunc(primaries, func(a, b view) int { return strings.Compare(a.name, b.name) })
	switch {
	case len(primaries) == 1 && len(parked) == 0:
		p := primaries[0]
		for addr := range followed {
			if addr != p.addr {
				return "", fmt.Sprintf("replicas follow %s, which no sidecar reports, while %s is primary", addr, p.name)
			}
		}
		return p.name, ""
	case len(primaries) == 0 && (len(parked) == 0 || len(st.Members) == 0):
		// A sidecar in no group yet (its Raft state lost, cut off) sees
		// its own parked Redis: nothing to discover from.
		return "", ""
	}
	// Several primaries, or Redis that replicate from their own address:
	// vigil parks a Redis so to keep its data (a cut-off primary, a holder,
	// a restart it judged empty), and a new group formed after every
	// sidecar lost its Raft state can find nothing else (chaos seed 5915,
	// N=3: a's and c's parked, b's following a; the group waited with no
	// log line and no conflict; seed 5718: the parked one held every
	// write). Which holds the writes the lost log knew, and a parked one
	// may be an empty restart: none is guessed, the operator names one.
	slices.Sort(parked)
	if initialPrimary != "" {
		if slices.ContainsFunc(primaries, func(v view) bool { return v.name == initialPrimary }) || slices.Contains(parked, initialPrimary) {
			return initialPrimary, ""
		}
		return "", fmt.Sprintf("failover.initial_primary %q is not among the reporting primaries", initialPrimary)
	}
	var names []string
	for _, p := range primaries {
		names = append(names, fmt.Sprintf("%s (%d replicas)", p.name, followed[p.addr]))
	}
	for _, name := range parked {
		names = append(names, name+" (parked: replicates from itself)")
	}
	what := "several nodes are primaries: "
	if len(primaries) < 2 {
		what = "no single primary: "
	}
	return "", what + strings.Join(names, ", ") + "; set failover.initial_primary to choose"
}

// localObs is what local decisions need of the local observation.
type localObs struct {
	Reachable  bool
	Role       monitor.Role // "" when never seen
	MasterAddr string
	// LinkUp: as a replica, its link to MasterAddr is up
	// (master_link_status).
	LinkUp bool
	Time   time.Time
	// ReplID and Offset are its replication position (master_replid, the
	// history a replica follows, and its offset).
	ReplID string
	Offset int64
	// Replicas are the replicas the local Redis reports, as a primary.
	Replicas []monitor.Replica
	// NoKeys: it holds no key (DBSIZE 0; false when not known).
	NoKeys bool
}

// localInput is everything decideLocal reads.
type localInput struct {
	Now   time.Time
	Self  string
	State groupState
	// Ready: the authority has applied its log and a group exists.
	Ready bool
	Obs   localObs
	// PrimaryAddr is where the committed primary's Redis is (primaryAddr).
	PrimaryAddr string
	// LastContact is this sidecar's last acknowledged contact with a Raft
	// majority (leader) or with the leader (follower), monotonic.
	LastContact time.Time
	// Started is when this sidecar started: one that has had no Raft
	// contact since counts its isolation from then (localPlan.Evict).
	Started time.Time
	// Fenced: this sidecar keeps writes paused on its Redis.
	Fenced bool
	// Busy: a promotion, demotion or switchover effect is running.
	Busy bool
	// Empty: the local Redis is the primary and came back empty.
	Empty bool
	// EmptyTo is the most advanced replica's address, the source the empty
	// primary is pointed at so that no replica syncs from it.
	EmptyTo string
	// AckSince is when this sidecar began waiting for replicas to prove
	// they are live before releasing writes (localPlan.AwaitAcks); zero
	// when it is not waiting.
	AckSince time.Time
	// Unsure: the local Redis is a primary this sidecar has not yet judged
	// against the replicas (judgeRestart said unknown, or it never saw it):
	// its writes are not released before that, as it may have come back
	// empty.
	Unsure bool
	// Judging: the local Redis restarted on a new history that this
	// sidecar is judging (identities.Unsure set), not merely unknown as
	// after this sidecar's own start.
	Judging bool
	// SourceUnvouched: the committed primary's sidecar does not vouch for
	// it (sourceUnvouched).
	SourceUnvouched bool
	// PartialRefused: the last demotion or re-point to the committed
	// primary was refused because only a full sync would follow it
	// (errNoPartial), and none has succeeded since.
	PartialRefused bool
	// SelfAddr is the local Redis's address as this sidecar reaches it:
	// where Detach points it.
	SelfAddr string
	// SelfTLS: the local Redis is TLS-only (redis.tls.enabled), so it
	// replicates over TLS too. Pointed at itself it then stalls: its
	// replication handshake with itself holds its event loop, and it
	// answers no client, the sidecar's probe included (found by
	// TestTLSFailoverThroughSentinelEndpoint when the seed 5120 rule
	// detached a named replica before every promotion).
	SelfTLS bool
	// Keeps: divergent writes are kept (failover.divergent_writes is not
	// off).
	Keeps bool
	// Promoting: the effect under way (Busy) is this node's promotion.
	Promoting bool
	// Restarted: the local Redis is a primary no recorded promotion made
	// (restartedPrimary): restarted as one, its data whatever it loaded.
	Restarted bool
	// Peers are the latest reports, for parallel_syncs and reachability.
	Peers map[string]peerView
	// PrimarySeen is this sidecar's own latest check of the committed
	// primary's Redis (pauseUnjudgedPrimary, while its sidecar cannot
	// watch it): seenOnMark.
	PrimarySeen primarySighting
	P           params
}

// localPlan is what decideLocal asks the shell to do to the local Redis.
type localPlan struct {
	Fence     bool   // (re)issue CLIENT PAUSE WRITE
	Unfence   bool   // after a fresh Verify names this node promoted: CLIENT UNPAUSE
	Promote   bool   // the committed state names this node and it is not promoted yet
	DemoteTo  string // local primary not named: pause, REPLICAOF this, kill clients
	RepointTo string // replica following the wrong primary
	// KeepTail: with RepointTo, the local replica holds writes beyond the
	// new primary's fork on the history it left (aheadOfFork): they are
	// kept first, as a deposed primary's are, and a full sync then
	// follows.
	KeepTail bool
	// PartialOnly: DemoteTo and RepointTo only if the primary would
	// continue the local Redis's stream (a partial resync), never a full
	// sync: nobody vouches for its data (SourceUnvouched).
	PartialOnly bool
	// FullSyncOn: with PartialOnly and RepointTo, a full sync too while
	// the primary's Redis leads this history, the one its sidecar last
	// judged it on: the local Redis holds no key to lose. "" for none.
	FullSyncOn string
	// Detach: the local primary came back empty with no replica to
	// follow, or, with min_replicas, the local Redis is a replica and this
	// sidecar is isolated: point it at itself (REPLICAOF its own address),
	// so that it stops acknowledging a primary the majority may have
	// replaced. Redis's min-replicas-to-write then refuses that primary's
	// writes even when its own sidecar is dead or stopped: the one case
	// where nothing else fences it (chaos seeds 106, 114, N=5: the old
	// primary, its sidecar stopped or dead, was cut off with one replica
	// and took writes beside the new primary for 2.8 s and 0.8 s). The
	// Redis keeps its data and the cached position, and the next re-point
	// resyncs it partially.
	Detach bool
	// Alone: with Promote, the local Redis was refused its promotion
	// (unpromotable, leftChosen), but no other member's Redis holds
	// anything: those checks are waived, as what it holds is all there is.
	Alone bool
	// Undetach: the local Redis is the promoted primary, pointing at
	// itself since it came back empty, and that verdict was lifted:
	// REPLICAOF NO ONE again.
	Undetach bool
	// Isolated: no acknowledged majority contact for fence_after.
	Isolated bool
	// AwaitAcks: writes would be released, but with min_replicas the
	// local Redis's replicas have not yet shown an acknowledgement since
	// AckSince (liveReplicas).
	AwaitAcks bool
	// Evict: with Fence, the local Redis answers as a primary that may
	// have been replaced (isolated, or doomed by a quorum): disconnect its
	// clients too. The pause stops writes, not reads; clients that stay
	// would read stale data once another node is promoted, and only a
	// reconnection makes them ask the Sentinels again.
	Evict bool
}

// cutOff reports whether a sidecar that started at started is isolated
// (lastContact), and has been for fence_after since it started too, so
// that one restarting beside a healthy group, with no Raft contact yet, is
// not taken for cut off (the same as isolated once it has had contact).
func cutOff(lastContact, started, now time.Time, p params) bool {
	return isolated(lastContact, now, p) && isolated(started, now, p)
}

// handingOver reports whether self is the old primary of a switchover
// under way.
func (in localInput) handingOver() bool {
	s := in.State.Switchover
	return s.active(in.State.Epoch, in.Now) && s.From == in.Self && in.State.Primary == in.Self
}

// copiesAnything reports whether the local Redis, a replica holding no
// key, follows the committed primary's Redis whatever that holds: no other
// member's Redis holds a key but a copy of it (onlyThePrimaryHolds). The
// re-point that copies it and the detach that would stop the copy must
// agree, or the Redis flaps between the two.
func (in localInput) copiesAnything() bool {
	return in.Obs.NoKeys && onlyThePrimaryHolds(in.Self, in.PrimaryAddr, in.State, in.Peers, in.Now, in.P.Fresh)
}

// decideLocal decides what to do to the local Redis.
func decideLocal(in localInput) localPlan {
	var p localPlan
	st := in.State
	up := in.Obs.Reachable && in.Now.Sub(in.Obs.Time) < in.P.Fresh
	// A Redis last seen as a primary, or never seen, may be one now: the
	// fence is sent without waiting for a probe, and lands as soon as it
	// answers.
	mayBePrimary := in.Obs.Role != monitor.RoleReplica
	localPrimary := up && in.Obs.Role == monitor.RolePrimary
	p.Isolated = isolated(in.LastContact, in.Now, in.P)
	cutOff := cutOff(in.LastContact, in.Started, in.Now, in.P)
	named := in.Ready && st.Primary == in.Self
	doomed := named && doomedBy(in.Peers, in.Self, st.Epoch, in.Now, in.P)

	switch {
	case in.Busy && in.Promoting && named && in.Empty && localPrimary:
		// Its Redis restarted during the effect and was judged empty
		// (nextIdentity judges every observation, busy or not): the
		// restart dropped the effect's pause, and a promotion's end is
		// seconds away (the old primary's hold). It is paused now, and the
		// promotion, seeing the new run id, releases nothing
		// (promotionLost). Chaos seed 2001 (N=5): d's Redis, killed during
		// the promotion's hold, came back from a stale RDB without the
		// pause, and acknowledged writes for 0.7 s before the promotion's
		// end, once e had full-synced it.
		p.Fence = true
	case in.Busy || in.handingOver():
		// The effect under way, or the switchover, owns the pause.
	case mayBePrimary && (!named || p.Isolated || in.Empty || !st.Promoted || doomed):
		// Not (or not provably) the primary: no write is acknowledged.
		// Before the first answer and while isolated this fences
		// blindly; the pause lapses by itself if it is never renewed.
		p.Fence = mayBePrimary && (localPrimary || p.Isolated || in.Obs.Role == "" || in.Fenced)
		// Cut off, its clients go too, whether or not the state it holds
		// names it: a sidecar that restarted cut off (its data dir
		// perhaps wiped) holds none, and its Redis, still a primary, may
		// have been replaced while it was away. With min_replicas and no
		// replica left, that Redis answers every write at once with
		// NOREPLICAS (Redis checks it before the pause), so no client
		// ever times out and asks the Sentinels again (chaos seed 909,
		// N=3: b's sidecar, killed and wiped, came back cut off; the
		// failover clients, their Sentinel b's, wrote to b's Redis for
		// 4.9 s after c's promotion, until b's sidecar rejoined).
		p.Evict = p.Fence && localPrimary && (cutOff || named && doomed)
	case in.Fenced && localPrimary && !in.Unsure:
		// Not doomed, not isolated, named and promoted: the shell releases
		// writes only after a Verify through the Raft leader confirms it,
		// which also proves Raft contact now. A gossip-only partition
		// (stale reports, Raft fine) does not keep the primary fenced.
		// With min_replicas, replicas must first prove they are live.
		need := minReplicasFor(in.P.MinReplicas, len(st.Members))
		if need > 0 && (in.AckSince.IsZero() || liveReplicas(in.Obs.Replicas, in.Obs.Time.Sub(in.AckSince)) < need) {
			p.AwaitAcks = true
		} else {
			p.Unfence = true
		}
	}
	if in.Fenced && up && in.Obs.Role == monitor.RoleReplica && !in.Busy {
		// A replica refuses writes by itself; the pause would only delay
		// clients' reads.
		p.Unfence = true
	}

	if !in.Ready && up && !in.Busy && cutOff && in.P.MinReplicas > 0 &&
		in.Obs.Role == monitor.RoleReplica && !in.Obs.LinkUp && in.SelfAddr != "" && in.Obs.MasterAddr != "" && in.Obs.MasterAddr != in.SelfAddr {
		// A sidecar that started cut off (no Verify yet, no Raft contact
		// for fence_after since its start) whose replica's link is down:
		// it points at itself, as an isolated ready one does (the
		// "cut off, the committed state may be stale" rule below, which
		// the early return keeps from it), or Redis
		// reconnects by itself to whatever its master restarted with and
		// full-syncs it away (chaos seed 1809, N=5: d's sidecar, restarted
		// in the minority [c d], left d following c, link down, holding
		// c's WAIT-confirmed retry-queue INCR past the coming fork; c's
		// Redis came back from its AOF on a new history, d full-synced it,
		// and no copy of the old history was left to capture).
		p.Detach = true
	}
	if !in.Ready || !up || in.Busy || in.handingOver() || st.Primary == "" {
		return p
	}
	switch {
	case !named && in.Restarted && in.PrimaryAddr == "" && in.SelfAddr != "":
		// A stale primary restarted as one, with no primary to follow
		// that vouches for its data: it points at itself, so no replica
		// full-syncs what it loaded, and it can be chosen as a holder
		// (chaos seed 8, N=3: restarted from its AOF with writes no other
		// node held, it stayed a primary nobody could promote). Also
		// while the named primary has not promoted (restartedPrimary,
		// chaos seed 11208, N=5).
		p.Detach = true
	case !named && p.Isolated && in.P.MinReplicas > 0 && in.Obs.Role == monitor.RoleReplica && in.SelfAddr != "":
		// Cut off, the committed state may be stale: no re-point to it.
		p.Detach = in.Obs.MasterAddr != in.SelfAddr
	case named && in.Empty && !st.Promoted && !p.Isolated && nothingElsewhere(in.Self, st, in.Peers, in.Now, in.P.Fresh):
		// Its promotion was refused (its Redis restarted since the leader
		// chose it) so that the leader fails over to a Redis holding the
		// data; but every other member's Redis answers as a replica
		// holding no key, so none is ever synced or a holder and the
		// leader has nobody to fail over to: the promotion goes ahead,
		// as a promoted primary's Redis is a primary again in that case
		// (seed 702 below). Chaos seed 3706 (N=3): epoch 4 named b, whose
		// Redis was wiped before its promotion; every Redis lost its data
		// by 53.9 s, b's promotion was refused at 52.9 s and again at
		// 60.4 s, a's and c's Redis pointed at themselves with 0 keys, the
		// leader logged "no eligible replica (a: not synced; c: not
		// synced)", and no write or retry-queue INCR was applied from
		// 40.6 s to the end of the run.
		p.Promote, p.Alone = true, true
	case named && in.Empty:
		// Once it follows the best replica there is nothing more to do
		// until the group fails over (the chaos suite caught a loop that
		// demoted it again every few milliseconds).
		switch {
		case in.EmptyTo != "" && in.Obs.Role == monitor.RolePrimary && in.SelfAddr != "":
			// Still a primary: it points at itself first, at once. The
			// demotion to the best replica waits for a Verify (seconds
			// while Raft elects), and meanwhile a replica still
			// configured to follow it reconnects by itself and
			// full-syncs what it restarted with; pointing at itself, it
			// refuses that sync (NOMASTERLINK). The demotion follows on
			// the next pass. Chaos seed 4018 (N=5): b's Redis, epoch 8's
			// primary, restarted from a 26 s old RDB; its sidecar judged
			// it empty at 65.85 s and demoted it to c only at 66.36 s,
			// and at 66.22 s c's Redis, the one replica holding 15
			// WAIT-confirmed retry-queue INCRs, full-synced from it.
			p.Detach = true
		case in.EmptyTo != "":
			if in.Obs.Role != monitor.RoleReplica || in.Obs.MasterAddr != in.EmptyTo {
				p.DemoteTo = in.EmptyTo
			}
		case in.SelfAddr != "" && in.Obs.MasterAddr != in.SelfAddr:
			// No replica to follow: it points at itself, and a replica
			// that connects to it is refused (NOMASTERLINK) instead of
			// full-syncing its data away (chaos seed 10, N=3).
			p.Detach = true
		}
	case named && st.Promoted && in.Judging && in.Obs.Role == monitor.RolePrimary && in.SelfAddr != "" && !in.SelfTLS:
		// Restarted on a new history and not judged yet: it points at
		// itself until judged, as an empty one does, so that a replica
		// still configured to follow it, which reconnects by itself,
		// does not full-sync what it restarted with before the verdict
		// (NOMASTERLINK); judged to hold the data, it is a primary again
		// (Undetach below). Chaos seed 15212 (N=3, shipped defaults):
		// a's Redis, epoch 5's primary, came back empty at 61.87 s; its
		// sidecar compared it with replicas out of reach until 63.9 s,
		// and at 63.64 s b's Redis, cut off until then with its sidecar
		// restarted wiped and holding a's writes of 38.9-50.6 s, reconnected
		// and full-synced 0 keys; b was promoted at 64.1 s without them.
		// Not for a TLS-only Redis (SelfTLS): this fires on every restart
		// on a new history, no rare corner.
		p.Detach = true
	case named && !st.Promoted && in.Obs.Role == monitor.RoleReplica && !in.Obs.LinkUp && in.SelfAddr != "" && !in.SelfTLS &&
		in.Obs.MasterAddr != "" && in.Obs.MasterAddr != in.SelfAddr:
		// Named, not promoted yet, and still configured to follow the
		// deposed Redis with the link down: it points at itself first
		// (data and cached position kept; the promotion follows on the
		// next pass). The promotion's Verify can block for seconds (no
		// Raft leader), and meanwhile Redis reconnects by itself the
		// moment the deposed Redis answers again and full-syncs whatever
		// that one restarted with (chaos seed 5120, N=3: a, named at
		// epoch 4 and holding b's WAIT-confirmed retry-queue INCRs, was
		// stopped, then cut off, its promotions failing to verify for
		// 3 s; b's Redis came back empty and a's full-synced 0 keys
		// 36 ms before its promotion at epoch 6, which was then refused).
		p.Detach = true
	case named && !st.Promoted:
		p.Promote = true
	case named && in.Obs.Role == monitor.RoleReplica && in.SelfAddr != "" && in.Obs.MasterAddr == in.SelfAddr && !in.Unsure && !p.Isolated:
		// Judged first (nextIdentity): a sidecar that lost its memory
		// must not take it for a known one (chaos seed 11, N=3).
		// Isolated, the state naming it may be stale: the majority
		// points a deposed primary's Redis at itself (checkForeign), and
		// a primary again it would only be paused, its writes released
		// on contact at the earliest, when this rule applies anyway.
		// Chaos seed 8405 (N=5): e, epoch 3's primary cut off by a
		// gossip-only partition, made its Redis a primary again after
		// each of the majority's demotions, every 200 ms for seconds
		// after a's promotion at epoch 4.
		p.Undetach = true
	case named && st.Promoted && !p.Isolated && in.Obs.Role == monitor.RoleReplica && in.SelfAddr != "" &&
		in.Obs.MasterAddr != in.SelfAddr && nothingElsewhere(in.Self, st, in.Peers, in.Now, in.P.Fresh):
		// The promoted primary's Redis restarted as a replica of another
		// node (a config that follows it), and every other member's Redis
		// answers as a replica holding no key: no copy of anything is left
		// elsewhere, so it is a primary again, as an empty primary's data
		// stands when no replica can prove it holds more (emptyLift). The
		// leader cannot replace it: with no primary anywhere no replica is
		// ever synced, and none holds keys (holders). Chaos seed 702 (N=3):
		// b's Redis, killed without persistence, came back following a,
		// which pointed at itself, as did c; all three held 0 keys, the
		// leader logged "no eligible replica (a: not synced; b: not
		// synced; c: not synced)", and writes never came back (93
		// retry-queue INCRs never drained).
		p.Undetach = true
	case !named && in.Obs.Role == monitor.RolePrimary && in.SourceUnvouched && (in.PartialRefused || in.PrimaryAddr == "") && in.SelfAddr != "" &&
		(st.Promoted || !st.Started.IsZero() && in.Now.Sub(st.Started) > in.P.DownAfter):
		// A deposed primary (not restarted: it keeps its history) whose
		// demotion only a full sync from an unvouched primary would
		// complete: it points at itself, keeping its data and its cached
		// position, so that the leader can choose it as a holder, and a
		// later re-point resyncs it partially or keeps its tail
		// (aheadOfFork). Left a paused primary it was neither a candidate
		// (not_replica) nor a holder, and the group had no writable
		// primary for good (chaos seed 511, N=3: c, epoch 3's primary and
		// the one Redis holding every acknowledged write, stayed fenced
		// for 96 s while the named primary b came back empty as a replica).
		// So also when the named primary has not promoted within
		// down_after of the failover's start, which the leader takes for
		// stuck: chaos seed 2712 (N=3): c, epoch 4's primary and the one
		// Redis with its writes (retry-queue INCRs among them), stayed a
		// paused primary for 34 s while epoch 5's a, never promoted, came
		// back empty; the leader promoted b, a holder from its AOF without
		// them, and c's Redis full-synced from it.
		//
		// So also when there is no primary to demote it to at all: the
		// committed primary's sidecar reports its Redis empty or not yet
		// judged, and the shell withholds its address (syncSourceDoubtful,
		// PrimaryAddr ""), so no demotion is tried and none is refused.
		// Chaos seed 11706 (N=3): a, epoch 8's primary holding its writes
		// and 31 retry-queue INCRs drained from b's queue, had its sidecar
		// restarted with a wiped data dir while cut off (no refusal
		// remembered); epoch 9's b came back empty. a's Redis stayed a
		// paused primary, the leader waited the durable wait for it
		// (deposedHolds) with no write taken for 23 s after every fault had
		// healed, then promoted c, a holder back from its AOF with epoch
		// 7's data only, and a's Redis full-synced from it.
		p.Detach = true
	case !named && in.Obs.Role == monitor.RoleReplica && !in.Obs.LinkUp && in.SelfAddr != "" && in.PrimaryAddr != "" &&
		in.Obs.MasterAddr != "" && in.Obs.MasterAddr != in.SelfAddr && in.Obs.MasterAddr != in.PrimaryAddr &&
		(!st.Promoted && !st.Started.IsZero() && in.Now.Sub(st.Started) > in.P.DownAfter || in.SourceUnvouched && in.PartialRefused):
		// A replica still configured to follow a Redis the group deposed,
		// whose link is down, with no re-point to the committed primary to
		// come (its promotion has not come within down_after of the
		// failover's start — a failover's ordinary promotion takes
		// milliseconds — or only a full sync from an unvouched primary
		// would follow it): it points at itself, keeping its data
		// and its cached position. Left as it was, Redis reconnects by
		// itself the moment the deposed Redis answers again, whatever that
		// one restarted with, and full-syncs from it without any sidecar
		// judging it (chaos seed 708, N=3: a, restarted from its AOF with
		// retry-queue INCRs acknowledged at epoch 4, was left following c,
		// epoch 6's primary, after c's Redis died; epoch 7's primary b never
		// completed its promotion; 13 s later c came back from a stale
		// snapshot and a full-synced from it, then b, also holding them,
		// was judged empty against a's new offset and full-synced from a).
		// Detached, it stays a holder (keys, no proven position), and a
		// later re-point resyncs it partially or keeps its tail.
		p.Detach = true
	case !named && st.Promoted && in.Obs.Role == monitor.RoleReplica && !in.Obs.LinkUp && in.SelfAddr != "" && !in.SelfTLS &&
		in.PrimaryAddr != "" && in.Obs.MasterAddr == in.PrimaryAddr &&
		unwatchedUnseen(in) && !in.copiesAnything():
		// A replica of the committed, promoted primary whose link is down
		// while that primary's own sidecar cannot watch its Redis (silent,
		// or its Redis does not answer it): it points at itself, keeping
		// its data and cached position. Left as it was, Redis reconnects
		// by itself the moment the primary's Redis answers again, whatever
		// it restarted with, and full-syncs it before any sidecar judges
		// it: the primary's sidecar cannot (seed 4018's rule needs it),
		// and another sidecar's pause (restartedUnjudged) stops writes,
		// not a sync. The re-point below follows a primary nobody vouches
		// for only with a partial resync (PartialOnly). Chaos seed 6021
		// (N=5): b's Redis, epoch 5's primary, was killed without
		// persistence at 36.2 s while b's sidecar was stopped, and came
		// back from a 16 s old RDB at 37.6 s; a's and c's Redis, its only
		// replicas and the last copies of epoch 5's writes (22 retry-queue
		// INCRs confirmed by WAIT 1), full-synced it by themselves at
		// 38.3 s and 38.5 s.
		//
		// Not while this sidecar's own check finds that Redis still the
		// process its sidecar judged (seenOnMark): a restart shows there
		// at the next check, as its sidecar's report would. Chaos seed
		// 11907 (N=3): b's sidecar demoted b's Redis to c, epoch 7's
		// primary and the last copy of 32 retry-queue INCRs, after
		// checking it was on the history c's sidecar had vouched for;
		// c's sidecar was stopped by then, and 8 ms after the full sync began
		// this rule pointed b's Redis at itself. c's Redis was wiped 3 s
		// later, and epoch 8 promoted b without them.
		//
		// Not a replica holding no key while no other member's Redis
		// holds one either but a copy of the primary's
		// (onlyThePrimaryHolds): it copies the primary's Redis whatever
		// that restarted with (the re-point below), and pointed at itself
		// during that sync it would only flap between the two (seed
		// 16603).
		p.Detach = true
	case !named && in.Obs.Role == monitor.RolePrimary && in.PrimaryAddr != "":
		p.DemoteTo, p.PartialOnly = in.PrimaryAddr, in.SourceUnvouched
	case !named && in.Obs.Role == monitor.RoleReplica && st.Promoted && in.PrimaryAddr != "" &&
		in.Obs.MasterAddr != in.PrimaryAddr && mayResync(in.Self, in.Peers, st.Primary, in.PrimaryAddr, in.P.ParallelSyncs, in.Now, in.P.Fresh):
		p.RepointTo, p.PartialOnly = in.PrimaryAddr, in.SourceUnvouched
		// A replica holding no key loses nothing to a full sync: it
		// follows the primary's Redis while that is still the process its
		// sidecar last judged (primaryReplID: a restart begins another
		// history), and is one more copy of its data. Chaos seed 16604
		// (N=3, shipped defaults): a's Redis, killed without persistence,
		// came back empty at 15.2 s and waited for b's sidecar, stopped,
		// then killed and cut off, to vouch for b's Redis, epoch 2's
		// primary; c's Redis came back empty too, and when b's Redis was
		// killed without persistence at 44.4 s the whole data set was
		// gone. Not a restart nobody judged: a replica's acknowledgements
		// let it take writes under min-replicas-to-write on a history the
		// group does not keep (seed 3906, restartedUnjudged).
		switch {
		case !p.PartialOnly || !in.Obs.NoKeys:
		case in.copiesAnything():
			// Unless no other member's Redis holds a key either but a
			// copy of the primary's: what the primary's Redis holds, a
			// restart nobody judged too, is all the group has, and a copy
			// of it loses nothing anywhere. Chaos seed 16603 (N=3,
			// shipped defaults): a's and b's Redis had lost their data;
			// c's, epoch 3's primary, came back from its AOF at 25.7 s
			// while c's sidecar was stopped, was paused as a restart
			// nobody judged, and was killed again at 34.9 s with no copy
			// made: no write from 18.3 s to 57.7 s.
			p.PartialOnly = false
		default:
			p.FullSyncOn = primaryReplID(in.Peers, st.Primary, st.Epoch, "", in.Now, in.P.Fresh)
		}
		p.KeepTail = in.Keeps && !in.SourceUnvouched && aheadOfFork(in.Obs, st)
	}
	if p.Undetach {
		// The replica's release above holds only while it stays a
		// replica: the shell runs it beside the Undetach, and CLIENT
		// UNPAUSE lifts every pause, the one the Undetach issues before
		// its REPLICAOF NO ONE too. The Undetach's pause stands; the
		// usual release follows. Chaos seed 8405 (N=5): e's UNPAUSE
		// landed between its Undetach's CLIENT PAUSE and promotion at
		// 36.312 (25.45 s), and e's Redis, a primary again beside a,
		// took writes at 25.471 s and 25.521 s.
		p.Unfence = false
	}
	return p
}

// aheadOfFork reports whether the local replica, still on the history the
// committed primary's promotion (or an earlier one) left, holds more of it
// than the new primary took: writes the old primary took, acknowledged by this replica
// (WAIT, min-replicas-to-write) while the majority promoted another. A
// re-point full-syncs them away (chaos seed 209, N=5: two retry-queue
// INCRs confirmed by the one replica cut off with the old primary, whose
// Redis was then wiped).
func aheadOfFork(o localObs, st groupState) bool {
	if o.Role != monitor.RoleReplica || o.ReplID == "" {
		return false
	}
	// Where the committed primary's line left o's history, as forkFor
	// finds it for the capture: cut off across several failovers (chaos
	// seed 302, N=5); on the history an earlier promotion began, which
	// the committed primary's line never followed (seed 7021, N=5: d,
	// epoch 9's primary, took 42 writes on its own history while epoch 10
	// promoted b from the history before it; d's Redis, pointed at itself
	// by seed 511's rule, was then re-pointed with a full sync and no copy
	// of them was left).
	history := make([]HistoryEntry, 0, len(st.PastForks)+1)
	for _, f := range st.PastForks {
		history = append(history, HistoryEntry{Epoch: f.Epoch, ForkReplID: f.ReplID, ForkOffset: f.Offset, NewReplID: f.NewReplID})
	}
	if st.ForkReplID != "" {
		history = append(history, HistoryEntry{Epoch: st.Epoch, ForkReplID: st.ForkReplID, ForkOffset: st.Fork})
	}
	// A fork at offset 0 is a position too: the new primary was promoted
	// having received nothing of that history, and everything on it past
	// 0 is the old primary's (chaos seed 12522, N=3: b's Redis, full-synced
	// from c's at offset 0 of the history c's AOF restart began, was
	// promoted there; c's Redis took 27 writes past it, was detached, and
	// a re-point without its tail full-synced them away).
	fork, ok := forkFor(history, o.ReplID, st.Epoch)
	return ok && fork.Offset >= 0 && o.Offset > fork.Offset
}

// liveReplicas counts the replicas that acknowledged the replication
// stream after a moment elapsed before the observation. Redis reports an
// acknowledgement's age in whole seconds of its cached clock (lag: the
// seconds since it, updated ten times a second), and replicas acknowledge
// once a second: lag 0 more than a second (plus the cache's slack) after
// that moment, or lag 1 more than two, can only come from a later one.
//
// Released on Raft contact alone, a primary whose replicas were all cut
// off took writes again, and Redis's own min-replicas check, in whole
// seconds, let 56 acknowledged writes through that no replica ever held
// (chaos seed 6).
func liveReplicas(reps []monitor.Replica, elapsed time.Duration) int {
	n := 0
	for _, r := range reps {
		if r.State == "online" && (r.Lag == 0 && elapsed >= time.Second+ackSlack || r.Lag <= 1 && elapsed >= 2*time.Second+ackSlack) {
			n++
		}
	}
	return n
}

// ackSlack covers Redis's cached clock (updated at hz 10) on top of the
// whole seconds of lag.
const ackSlack = 300 * time.Millisecond

// downThreshold is how long peers must have had no reply from the primary
// for its sidecar to fence: half of down_after - fence_after. Redis links
// cut before gossip: fencing on isolation alone would come after the
// majority promotes; with this rule, gossip cut before the opinions arrive
// means isolation fencing finishes by (down_after - fence_after)/2 +
// fence_after, and gossip cut after they arrive means fencing already
// happened; the other half is slack for delivery and scheduling delays.
func downThreshold(p params) time.Duration { return (p.DownAfter - p.FenceAfter) / 2 }

// doomedBy reports whether at least quorum fresh reports say they cannot
// reach self's Redis (the primary at epoch) for downThreshold: the leader
// can soon judge it down and replace it.
func doomedBy(peers map[string]peerView, self string, epoch uint64, now time.Time, p params) bool {
	th := downThreshold(p).Milliseconds()
	n := 0
	for name, pv := range peers {
		r := pv.Rep
		if name != self && pv.fresh(now, p.Fresh) && r.SDownPrimary == self && r.SDownEpoch == epoch && r.PrimaryDownMs >= th {
			n++
		}
	}
	return n >= p.Quorum
}

// mayResync applies parallel_syncs: replicas that must re-point do so in
// name order, at most parallel of them syncing at a time. Every sidecar
// computes the same order from the shared reports.
//
// A replica whose sidecar has no valid reply from the primary's Redis
// (PrimaryDownMs), with no transfer under way, neither holds a slot nor
// waits ahead of the others: its Redis cannot reach the primary either,
// so its sync never starts, and it would hold the rest back for as long
// as the cut lasts. Chaos seed 6904 (N=3): epoch 4 promoted c, the one
// Redis left with 22 retry-queue INCRs confirmed by WAIT 1 (from its
// AOF); a's Redis, cut from c's by a Redis-only partition, was re-pointed
// to c and never linked, and b, which reached c, waited behind it for the
// 6.1 s until c was killed and wiped, so that b's older data set became
// epoch 5's and the INCRs were gone.
//
// Nor does one that would wait ahead with no replication position (never
// synced since its Redis started, offset 0: restarted empty or from its
// AOF) while the primary's own sidecar does not vouch for its Redis
// (sourceUnvouched): only a full sync would bring it in, and its re-point
// is tried only as a partial resync (PartialOnly), so it waits for as long
// as that sidecar is silent, and would hold back a replica that a partial
// resync brings up to the primary's data. Chaos seed 8902 (N=3): c's
// Redis, epoch 2's primary and the last copy of the 8 s of writes a's
// Redis took while b's was cut off (a's was wiped at 24.3 s), answered
// again at 41.31 s, its sidecar stopped, then cut from the gossip until
// 41.76 s; a's Redis, wiped, pointing at itself, waited for a vouch, and
// b's, which c's backlog would have continued, waited behind it until
// c's Redis was killed and wiped at 41.66 s.
//
// Nor does one whose link has stayed down with no transfer under way for
// stallGrace while its sidecar reached the primary's Redis (peerView.Stall):
// its connect hangs, and Redis gives up on it only at repl-timeout. Chaos
// seed 12014 (N=3): b's Redis, restarted during a partition pointing at a,
// had its TCP connect to a's hang for 19.5 s on the kernel's SYN back-off;
// epoch 6 promoted a, c's re-point waited behind b's link, and a, with
// min_replicas 1, refused writes until b linked 4.6 s later.
func mayResync(self string, peers map[string]peerView, primary, addr string, parallel int, now time.Time, fresh time.Duration) bool {
	syncing := 0
	waiting := []string{self}
	unvouched := sourceUnvouched(groupState{Primary: primary}, peers, now, fresh)
	for name, p := range peers {
		r := p.Rep.Obs
		if name == primary || name == self || !p.fresh(now, fresh) || !r.Reachable || r.Role != monitor.RoleReplica {
			continue
		}
		if !r.SyncInProgress && p.Rep.SDownPrimary == primary && p.Rep.PrimaryDownMs > 0 {
			continue
		}
		if s := p.Stall; !s.At.IsZero() && s.Addr == addr && s.Primary == primary && now.Sub(s.At) >= stallGrace {
			continue
		}
		switch {
		case r.MasterAddr != addr && unvouched && !r.Synced && r.Offset == 0:
			// Only a full sync would bring it in: not waited for.
		case r.MasterAddr != addr:
			waiting = append(waiting, name)
		case !r.LinkUp || r.SyncInProgress:
			syncing++
		}
	}
	slices.Sort(waiting)
	return slices.Index(waiting, self) < parallel-syncing
}

// foreignCheck decides whether a member's Redis, seen acting as a primary,
// must be fenced and demoted by this sidecar: the committed state names
// another node. Its address must be the member's, and the state must have
// a primary to point it at.
func foreignCheck(st groupState, member string, role monitor.Role) bool {
	return st.Primary != "" && member != st.Primary && role == monitor.RolePrimary
}

// foreignTargets lists the members whose Redis this sidecar probes for a
// stale primary: every member other than itself and the primary whose
// sidecar is silent, or says its Redis is a primary.
func foreignTargets(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) map[string]string {
	out := map[string]string{}
	if st.Primary == "" {
		return out
	}
	for name, m := range st.Members {
		if name == self || name == st.Primary || m.Redis == "" {
			continue
		}
		p, ok := peers[name]
		addr := m.Redis
		if ok && p.fresh(now, fresh) && p.Rep.Addr != "" {
			addr = p.Rep.Addr
		}
		// A fresh report of a Redis its own sidecar cannot reach says
		// nothing of it: wiped and restarted from its initial
		// configuration, it took writes as a primary while its sidecar,
		// cut from it, could not pause it (chaos seeds 3002, N=5, and
		// 3103, N=3). checkForeign acts only on a primary the state does
		// not name.
		if !ok || !p.fresh(now, fresh) || !p.Rep.Obs.Reachable || p.Rep.Obs.Role == monitor.RolePrimary {
			out[name] = addr
		}
	}
	return out
}

// strayTargets lists, while the named primary has not promoted, the
// members whose Redis this sidecar pauses if it answers as a primary
// (pauseStray): foreignTargets but for those whose own sidecar reports it
// reachable, which pauses or demotes it itself.
func strayTargets(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) map[string]string {
	out := foreignTargets(self, st, peers, now, fresh)
	for name := range out {
		if p, ok := peers[name]; ok && p.fresh(now, fresh) && p.Rep.Obs.Reachable {
			delete(out, name)
		}
	}
	return out
}

// foreignFollows reports whether a member's stale primary that this
// sidecar demotes (checkForeign) is pointed at the primary, and not at
// itself: only while the member's own sidecar watches it (a fresh report
// of its Redis answering), so that it detaches it once it loses the
// majority (localPlan.Detach). A Redis nobody watches that follows the
// primary acknowledges its stream with no sidecar to detach it, and keeps
// its min-replicas-to-write satisfied once the primary's own sidecar falls
// silent too; it also full-syncs by itself whatever restarts at that
// address. Chaos seed 7119 (N=3): b's sidecar stopped, c and a demoted b's
// Redis into a, epoch 3's primary; a's sidecar was stopped 2.3 s later, c
// (cut off from the majority) detached its own Redis, and a's Redis
// acknowledged 4.4 s of writes with b's as its only replica, until it was
// killed without persistence and b's full-synced its stale restart.
// Pointed at itself, the Redis keeps its data and position (its divergent
// writes are kept first) until its own sidecar re-points it.
func foreignFollows(member string, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	p, ok := peers[member]
	return ok && p.fresh(now, fresh) && p.Rep.Obs.Reachable
}

// ownReplicaTargets lists the members whose Redis this sidecar points at
// itself if it follows the local Redis (followsOwn): with min_replicas,
// while this sidecar is cut off from the majority (no Raft contact for
// fence_after, and as long since it started, as localPlan.Detach's cutOff)
// and its latest probe of its own Redis got no answer, every member whose
// own sidecar does not watch its Redis (foreignFollows: silent, or its
// fresh report says its Redis does not answer it) and did not when the cut
// began (watchedAtCut). Such a sidecar cannot
// renew the pause on its own Redis, which takes writes again once that
// pause lapses for as long as one replica acknowledges it
// (min-replicas-to-write); a replica whose sidecar watches it detaches
// itself once cut off (localPlan.Detach), but one whose sidecar is dead
// or cut from it keeps acknowledging, and only a sidecar on the same side
// of the partition can reach it. Detached, it keeps its data and cached
// position until its own sidecar re-points it. Chaos seed 9806 (N=5): a's
// sidecar, epoch 1's primary, was cut off by the partition [a b] | [c d e]
// (8.87 s), paused its Redis as isolated (9.86 s) and was cut from it
// (9.97 s); b's sidecar had been killed (7.79 s), so b's Redis, in a's
// side, kept acknowledging a's; the pause lapsed at 12.92 s and a's Redis
// took writes to 15.98 s, beside c, epoch 2's primary, from 14.34 s (c's
// hold counted on b's Redis detaching itself within fence_after of its
// sidecar's last report). nil when the rule does not apply.
func ownReplicaTargets(self string, st groupState, peers map[string]peerView, local localObs, lastContact, started, now time.Time, p params) map[string]string {
	if p.MinReplicas < 1 || local.Reachable || local.Time.IsZero() ||
		!isolated(lastContact, now, p) || !isolated(started, now, p) {
		return nil
	}
	var out map[string]string
	for name, m := range st.Members {
		if name == self || m.Redis == "" || foreignFollows(name, peers, now, p.Fresh) || watchedAtCut(peers[name], lastContact, p) {
			continue
		}
		addr := m.Redis
		if pv, ok := peers[name]; ok && pv.fresh(now, p.Fresh) && pv.Rep.Addr != "" {
			addr = pv.Rep.Addr
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = addr
	}
	return out
}

// watchedAtCut reports whether pv, a member's last report, arrived within
// a report lifetime of this sidecar's last Raft contact and showed its
// Redis answering its sidecar: that sidecar was alive when the cut began,
// most likely on the other side of it, and detaches its own Redis once it
// loses the majority, or re-points it if it keeps it. Detaching such a
// Redis from here only made it flap between its sidecar and this one
// while the majority kept the local Redis the primary (a sidecar cut from
// both its Redis and the group, its Redis still in the others' reach).
func watchedAtCut(pv peerView, lastContact time.Time, p params) bool {
	return pv.Rep.Obs.Reachable && !pv.Received.IsZero() && !pv.Received.Before(lastContact.Add(-p.Fresh))
}

// followsOwn reports whether a Redis that answers ROLE as role with master
// (host:port) is a replica configured to follow the local Redis, at one of
// own: ownReplicaTargets points it at itself. One already pointing
// elsewhere, or at itself, is left alone.
func followsOwn(role monitor.Role, master string, own []string) bool {
	return role == monitor.RoleReplica && master != "" && slices.Contains(own, master)
}

// unwatchedPrimaryMark is the history the committed primary's Redis was
// last seen leading, judged by its own sidecar, at this epoch
// (nextAsPrimary), when that sidecar cannot watch it now: silent, or its
// fresh report says its Redis does not answer. "" when the rule does not
// apply: self is the primary, the promotion is not confirmed, its sidecar
// sees its Redis (it judges and pauses a restart itself), or no judged
// sighting of this epoch is known here.
func unwatchedPrimaryMark(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) string {
	pv, ok := peers[st.Primary]
	if st.Primary == "" || st.Primary == self || !st.Promoted || !ok || pv.AsPrimary.Epoch != st.Epoch {
		return ""
	}
	if pv.fresh(now, fresh) && pv.Rep.Obs.Reachable {
		return ""
	}
	return pv.AsPrimary.ReplID
}

// primarySighting is this sidecar's own latest check of the committed
// primary's Redis (pauseUnjudgedPrimary): when it answered, at which
// epoch, and the history it led as a primary ("" when it did not answer,
// or not as a primary).
type primarySighting struct {
	At     time.Time
	Epoch  uint64
	ReplID string
}

// seenOnMark reports whether this sidecar's latest check of the committed
// primary's Redis, within a report's lifetime, found it a primary leading
// mark, the history its own sidecar last judged it on (unwatchedPrimaryMark):
// the process that sidecar vouched for still answers. A restart begins
// another history, and the next check that sees it (or no answer at
// all) ends this.
func seenOnMark(mark string, s primarySighting, st groupState, now time.Time, fresh time.Duration) bool {
	return mark != "" && s.ReplID == mark && s.Epoch == st.Epoch && now.Sub(s.At) < fresh
}

// unwatchedUnseen reports whether the committed primary's own sidecar
// cannot watch its Redis (unwatchedPrimaryMark) and this sidecar has not
// just seen that Redis as the process that sidecar judged (seenOnMark):
// a Redis following it may reconnect to whatever it restarted with.
func unwatchedUnseen(in localInput) bool {
	mark := unwatchedPrimaryMark(in.Self, in.State, in.Peers, in.Now, in.P.Fresh)
	return mark != "" && !seenOnMark(mark, in.PrimarySeen, in.State, in.Now, in.P.Fresh)
}

// restartedUnjudged reports whether the committed primary's Redis, seen
// answering as role on history replID, is not the process its sidecar
// last judged (mark, unwatchedPrimaryMark): a primary leading another
// history restarted since (from its AOF, an RDB or nothing), and nobody
// has judged what it came back with. Another sidecar pauses it. Its
// sidecar, cut from it, can neither judge nor pause it, and a replica
// still configured to follow it reconnects by itself, full-syncs it and
// acknowledges its stream, so min-replicas-to-write lets its writes
// through; the group's rules take the history such a restart began for
// one holding nothing the group had (primaryReplID), and the writes are
// lost. Chaos seed 3906 (N=3): a's Redis, epoch 5's primary on 3ec5b93,
// came back from its AOF at 54.3 s, 0.3 s after its sidecar was cut from
// it for 10 s; b's Redis, restarted without persistence, full-synced it by
// itself at 55.0 s, and a's Redis acknowledged 196 writes on its new
// history a2d3353b until 59.3 s. Epoch 6 promoted c, on 3ec5b93 at
// 129656, and both b's and a's Redis full-synced from it.
func restartedUnjudged(mark string, role monitor.Role, replID string) bool {
	return mark != "" && role == monitor.RolePrimary && replID != "" && replID != mark
}

// unpromotedUnwatched reports whether the committed primary has not
// confirmed its promotion while its own sidecar cannot watch its Redis:
// silent, or its fresh report says its Redis does not answer. Until the
// promotion commits that Redis acknowledges no write (decideLocal fences
// a named primary not yet promoted), but only its own sidecar enforces
// it: a Redis wiped and restarted from its initial configuration comes
// back a primary, empty, with no min-replicas-to-write and no pause.
// Another sidecar pauses it while it answers as one (unwatchedPaused).
// Chaos seed 6110 (N=3): epoch 6 named a, whose Redis was killed and
// wiped before its promotion; a's sidecar was killed at 58.7 s, a's Redis
// came back such a primary at 60.4 s, and, nothing checking the named
// primary before its promotion, it acknowledged 60 writes on a new
// history until 62.1 s, all full-synced away when epoch 7 promoted b,
// which held the data set.
func unpromotedUnwatched(self string, st groupState, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	if st.Primary == "" || st.Primary == self || st.Promoted {
		return false
	}
	pv, ok := peers[st.Primary]
	return !ok || !pv.fresh(now, fresh) || !pv.Rep.Obs.Reachable
}

// unwatchedPaused reports whether the committed primary's Redis, seen
// answering as role on history replID, is paused by another sidecar: a
// restart its sidecar has not judged (restartedUnjudged, mark), or, with
// unpromoted (unpromotedUnwatched), any answer as a primary.
func unwatchedPaused(mark string, unpromoted bool, role monitor.Role, replID string) bool {
	return unpromoted && role == monitor.RolePrimary || restartedUnjudged(mark, role, replID)
}

// unjudgedPauseDue reports whether a restart that restartedUnjudged has
// shown since since (zero: not shown) is paused now: once it has lasted a
// report's lifetime. The primary's running sidecar reports a Redis that
// answers again within an interval, so an ordinary restart beside it is
// judged by that sidecar, not paused from outside for a fence's length.
func unjudgedPauseDue(since, now time.Time, fresh time.Duration) bool {
	return !since.IsZero() && now.Sub(since) >= fresh
}

// unjudgedPauseUnverified reports whether the pause of a restart that
// restartedUnjudged shows (mark set) is sent without a Verify: while this
// sidecar is cut off from the majority (isolated since lastContact) no
// Verify can answer, and the sidecars that could are as likely cut off,
// so the restart would take writes until the primary's own sidecar came
// back. A pause takes nothing away (the pause of an isolated primary's
// own sidecar is not verified either); a state that moved on meanwhile
// costs that Redis writes for the pause at most, and its own sidecar,
// fresh again, clears the mark. Chaos seed 7614 (N=5): a's Redis, epoch
// 3's primary, came back wiped from its initial configuration (a primary
// without min-replicas-to-write, 61.0 s) while a's sidecar was stopped
// and the partition [c d] | [a b e] left no Raft majority; b and e saw it
// answer on a new history at 61.01 s and paused it only at 63.02 s, when
// the Raft leader was back, and it acknowledged a write at 62.29 s that
// the failover to b full-synced away.
func unjudgedPauseUnverified(mark string, lastContact, now time.Time, p params) bool {
	return mark != "" && isolated(lastContact, now, p)
}

// restartedPrimary reports whether o, self's Redis, shows a primary
// restarted as one: no previous history a recorded promotion of self left
// (promotedBefore), and, once the committed primary's promotion is
// confirmed, not the history that promotion left (which the old primary
// still leads, its divergent writes capturable). Before it is confirmed
// that history is not known, and a switchover's old primary, never
// promoted by a failover, has no previous history either: then only a
// Redis that leads none of the histories self's recorded promotions began,
// the newest of which is known, is one (ownHistoriesLeft).
//
// Chaos seed 11208 (N=5, commit timeout = heartbeat timeout, the run that
// lost 25 INCRs): a's, b's and e's retry queues drained into b's Redis,
// epoch 7's primary (promoted at 145134 on a11ab167, beginning 8b0e346d),
// from 50.7 s; e's Redis alone copied them (to 164619). b's Redis was
// killed at 53.9 s and epoch 8 named e, which never promoted; e's Redis was
// killed without persistence at 63.0 s. b's came back from its AOF at
// 66.9 s with every INCR, on a new history at 0 (b576c7a5). Epoch 8 not
// promoted, it was not taken for restarted, so with e's Redis empty (no
// source: syncSourceDoubtful) it stayed a paused primary, neither a
// candidate nor a holder; at 74.06 s the durable wait for b's last known
// offset lapsed and the leader promoted c, parked at 145134 on 8b0e346d,
// and b's Redis full-synced from it.
func restartedPrimary(o monitor.Observation, st groupState, self string) bool {
	if o.Role != monitor.RolePrimary || promotedBefore(o, st.PastForks, self) {
		return false
	}
	if st.Promoted {
		return o.ReplID != st.ForkReplID
	}
	return ownHistoriesLeft(o, st.PastForks, self)
}

// ownHistoriesLeft reports whether o, self's Redis, leads none of the
// histories self's recorded promotions began while the newest of them is
// known: the process they made is gone, since only REPLICAOF NO ONE (a
// recorded promotion) or a restart gives a primary a new history. Unknown
// (no recorded promotion of self, or the newest without the history it
// began, as for entries written before it was recorded, or o's own
// history unknown) is false: the Redis may be the one a promotion made.
func ownHistoriesLeft(o monitor.Observation, forks []pastFork, self string) bool {
	if o.ReplID == "" {
		return false
	}
	newest := ""
	for _, f := range forks { // in epoch order
		if f.New != self {
			continue
		}
		if f.NewReplID == o.ReplID {
			return false
		}
		newest = f.NewReplID
	}
	return newest != ""
}

// promotedBefore reports whether o's master_replid2 is the history a
// recorded promotion of self left, at or below o's offset: the process
// that promotion made. A previous history alone does not tell: Redis 7.0
// gives a primary restarted from an RDB the snapshot's history as
// master_replid2 (valid up to the snapshot's offset), and a no-persistence
// restart keeps the RDB of its last full sync. Such a restart is below the
// fork of a promotion that left that history later, or on a history no
// promotion of self left. Taken for a promoted process, it escaped the
// rules for a stale primary restarted as one (chaos seeds 8 and 10, N=3):
// it stayed a primary that a replica still following it full-synced, and
// that the leader could not choose as a holder.
func promotedBefore(o monitor.Observation, forks []pastFork, self string) bool {
	if noPastHistory(o) {
		return false
	}
	for _, f := range forks {
		if f.New == self && f.ReplID == o.ReplID2 && o.Offset >= f.Offset {
			return true
		}
	}
	return false
}

// oldSilent reports whether prev, the primary self replaces, has a
// sidecar that is silent (dead, stopped or cut off): nothing but Redis's
// min-replicas-to-write, or a fence from elsewhere, stops its Redis.
func oldSilent(prev, self string, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	if prev == "" || prev == self {
		return false
	}
	pv, ok := peers[prev]
	return !ok || !pv.fresh(now, fresh)
}

// oldUnwatched reports whether prev, the primary self replaces, has a
// sidecar that is silent (oldSilent) or reports that it cannot reach its
// Redis: either way that sidecar fences nothing, and a Redis still in
// the clients' reach takes writes until something else does. Chaos seed
// 15102 (N=3, shipped defaults): b's sidecar, cut from its own Redis,
// reported it unreachable while clients still reached it; c, promoted,
// released writes 0.08 s before it demoted b's Redis, which took writes
// beside it meanwhile. Only the fence follows this: the hold of
// oldPrimaryHold, seconds long, stays for a silent sidecar, as a killed
// Redis, the usual failover, is reported unreachable too.
func oldUnwatched(prev, self string, peers map[string]peerView, now time.Time, fresh time.Duration) bool {
	if oldSilent(prev, self, peers, now, fresh) {
		return true
	}
	return prev != "" && prev != self && !peers[prev].Rep.Obs.Reachable
}

// followsOld reports whether observation o shows a replica linked to one
// of addrs, the old primary's addresses.
func followsOld(o monitor.Observation, addrs []string) bool {
	return o.Role == monitor.RoleReplica && o.LinkUp && slices.Contains(addrs, o.MasterAddr())
}

// minReplicasFor is the min-replicas-to-write value the primary keeps:
// failover.min_replicas, but never more than the other members there are.
func minReplicasFor(want int, members int) int {
	if want <= 0 {
		return 0
	}
	return min(want, max(members-1, 0))
}

// fenceMinReplicas is the min-replicas-to-write a sidecar sets on a
// primary's Redis as it pauses its writes, with min_replicas want in a
// group of members (0: not known yet, as before the state arrives); 0
// sets nothing. A pause lapses unless renewed, min-replicas-to-write does
// not: a paused primary whose pausing sidecar loses its reach then still
// acknowledges nothing no replica receives. Chaos seed 12206 (N=3): a's
// Redis, epoch 1's primary, came back from an AOF wiped earlier (0 keys)
// and from a configuration without min-replicas-to-write; its sidecar,
// back without Raft state, paused it, and was cut from it at 55.1 s; c
// paused it as an unjudged restart until a one-way cut at 62.4 s; the
// pause lapsed at 65.23 s and it acknowledged 7 writes, with no replica
// linked, before its sidecar reached it again and judged it empty. The
// failover to c full-synced them away. In a group not known yet the
// configured value is set; the state, once known, sets the group's (the
// release of writes, and setMinReplicas for a promoted primary).
func fenceMinReplicas(want, members int) int {
	if members == 0 {
		return max(want, 0)
	}
	return minReplicasFor(want, members)
}

// ownFenceMinReplicas is the min-replicas-to-write a sidecar sets on its
// own Redis, a primary, as it pauses its writes: fenceMinReplicas, and in
// a group of several members, without min_replicas as well, at least half
// the members (rounded down): with itself, a majority of the Redis.
// The pause lapses unless renewed, and a sidecar cut from its Redis
// cannot renew it: without min-replicas-to-write that Redis then takes
// writes again that no replica receives, beside the primary the group
// promoted meanwhile. Chaos seed 15205 (N=3, shipped defaults): c, epoch
// 3's primary, was cut off at 18.75 s and paused its Redis at 19.75 s;
// its sidecar was cut from that Redis at 20.63 s, the pause lapsed at
// 23.49 s, and c's Redis took writes beside a, epoch 4's primary, for
// 1.3 s. The release of writes sets the group's value again
// (setMinReplicas); a Redis with replicas linked still takes writes
// after a lapse, as without the hold. Before the state is known (members
// 0), failover.bootstrap_expect (expect) tells whether the group has
// several members. Chaos seed 15509 (N=3, shipped defaults): a's sidecar,
// restarted with a wiped data dir while a was cut off, paused a's Redis
// blindly, was cut from it, and the pause lapsed after the heal: a's
// Redis took writes beside b's for 0.7 s. One replica was not enough
// where a minority keeps several members: chaos seed 16203 (N=5, shipped
// defaults): e, epoch 5's primary, cut off with a at 31.5 s, paused its
// Redis at 32.5 s and was cut from it at 33.1 s; the pause lapsed, a's
// Redis, on e's side, was the one replica the hold asked for, and e's
// Redis took writes beside b, the majority's primary, for 1.8 s.
func ownFenceMinReplicas(want, members, expect int) int {
	n := members
	if n == 0 {
		n = expect
	}
	if n > 1 {
		return max(fenceMinReplicas(want, members), n/2)
	}
	return fenceMinReplicas(want, members)
}

// maxLagSeconds is min-replicas-max-lag for fence_after: whole seconds,
// at least one (Redis's unit).
func maxLagSeconds(fenceAfter time.Duration) int {
	return max(1, int(math.Ceil(fenceAfter.Seconds())))
}

// ackLagBound is how long after its replicas' last acknowledgement a
// primary under min-replicas-to-write may still take writes: the ack is up
// to min-replicas-max-lag whole seconds old, replicas send one a second,
// and Redis recounts good replicas once a second.
func ackLagBound(p params) time.Duration {
	return time.Duration(maxLagSeconds(p.FenceAfter))*time.Second + 2*time.Second
}

// oldPrimaryHold is, with min_replicas, until when a newly promoted primary
// keeps its writes paused so that old, a member whose Redis (at addrs) may
// still be a primary, can no longer take any: the primary it replaces, or
// one deposed earlier whose hold ended when the promotion after it fenced
// its own predecessor (chaos seed 305, N=5: a's sidecar was cut from its
// Redis, the next primary b was fenced, and a took writes 281 ms beside
// b's successor). A sidecar in reach fences its own Redis; a silent one
// (dead, stopped or cut off) leaves only Redis's min-replicas-to-write to
// stop it, once no replica acknowledges it, and the old Redis counts a
// replica's last acknowledgement for ackLagBound after it. The zero time
// when there is nothing to wait for.
//
// A replica whose sidecar is silent detaches itself within fence_after of
// losing the majority (localPlan.Detach), and one whose sidecar is dead is
// detached by the old primary's sidecar when that one can no longer pause
// its own Redis (ownReplicaTargets); one report lifetime more covers
// a replica whose Raft contact outlived its last report here. A replica in
// reach acknowledges the old primary until it is re-pointed, which comes
// only after the promotion is committed: a report lifetime for the
// re-point and ackLagBound from now. A replica seen linked to it before
// (Links, selfLinks for this node's own Redis) acknowledged it until up to
// a report lifetime after that. The promoted node's own Redis is such a
// replica until its REPLICAOF NO ONE, and the caller holds ackLagBound
// after that (followsOld; chaos seed 106, N=5: the old primary's sidecar
// dead, a partition healed for 320 ms, and the new primary's Redis's last
// acknowledgements kept the old one writable 0.9 s beside it). A fence the
// caller lands on the old Redis itself ends the hold.
func oldPrimaryHold(old string, addrs []string, self string, selfLinks []linkMark, peers map[string]peerView, now time.Time, p params) (until time.Time, who string) {
	if p.MinReplicas < 1 || !oldSilent(old, self, peers, now, p.Fresh) {
		return time.Time{}, ""
	}
	later := func(t time.Time, name string) {
		if t.After(until) {
			until, who = t, name
		}
	}
	if t := lastLink(selfLinks, addrs); !t.IsZero() {
		later(t.Add(p.Fresh+ackLagBound(p)), self)
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		pv := peers[name]
		if name == self || name == old {
			continue
		}
		if t := lastLink(pv.Links, addrs); !t.IsZero() {
			later(t.Add(p.Fresh+ackLagBound(p)), name)
		}
		if r := pv.Rep.Obs; r.Role != monitor.RoleReplica || !r.LinkUp || !slices.Contains(addrs, r.MasterAddr) {
			continue
		}
		if pv.fresh(now, p.Fresh) {
			later(now.Add(p.Fresh+ackLagBound(p)), name)
		} else {
			later(pv.Received.Add(p.Fresh+p.FenceAfter+ackLagBound(p)), name)
		}
	}
	if !until.After(now) {
		return time.Time{}, ""
	}
	return until, who
}

// positions summarises each member's last report for a log line, by
// name: "role replid@offset keys=N" (the role as INFO names it), with
// " stale" when the report is not fresh at now.
func positions(peers map[string]peerView, now time.Time, fresh time.Duration) map[string]string {
	out := make(map[string]string, len(peers))
	for name, pv := range peers {
		o := pv.Rep.Obs
		s := fmt.Sprintf("%s %s@%d keys=%d", o.Role, shortID(o.ReplID), o.Offset, o.Keys)
		if !o.Reachable {
			s = "unreachable"
		}
		if !pv.fresh(now, fresh) {
			s += " stale"
		}
		out[name] = s
	}
	return out
}

// shortID is the first 8 characters of a replication ID, enough to tell
// histories apart in a log.
func shortID(id string) string { return id[:min(len(id), 8)] }
