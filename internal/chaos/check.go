package chaos

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rule names a promise the checker holds a run to.
type Rule string

// The rules.
const (
	RuleLostWrite    Rule = "lost-write"
	RuleDualPrimary  Rule = "dual-primary"
	RuleLinearizable Rule = "linearizable"
	RuleRetryQueue   Rule = "retryq-exactly-once"
	RuleAvailability Rule = "availability"
	RuleSidecar      Rule = "sidecar-crash"
	RuleLeak         Rule = "goroutine-leak"
	RuleFinalRead    Rule = "final-read"
	RuleCommandLoop  Rule = "command-loop"
)

// Violation is one broken promise.
type Violation struct {
	Rule Rule
	At   time.Duration // where in the run to look
	Msg  string
}

// Stats are the figures of a run's summary table.
type Stats struct {
	Faults       int
	Ops          int
	Acknowledged int // acknowledged unique-key writes (failover client and proxy)
	Lost         int // of those, missing or changed at the end (excused ones included)
	LostExcused  int // of the lost, within the documented bound
	DualPrimary  time.Duration
	Unavailable  time.Duration // total time without a successful failover-client write, gaps over 250 ms
	RQEnqueued   int
	RQTwice      int
	RQNever      int
	Linearizable string // "ok", "violation", "unknown (search timed out)" or "n/a"
}

// Report is Check's verdict.
type Report struct {
	Violations []Violation
	Stats      Stats
}

// OK reports whether no rule was broken.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Check runs every rule over h. It is pure: no I/O, no clock.
func Check(h *History, p Params) Report {
	var r Report
	r.Stats.Faults = len(h.Faults)
	r.Stats.Ops = len(h.Ops)
	if h.FinalErr != "" {
		if authorityLostAt(h, p) < 0 {
			r.Violations = append(r.Violations, Violation{RuleFinalRead, h.WorkEnd, "no final read: " + h.FinalErr})
		}
	} else {
		v, s := CheckLostWrites(h, p)
		r.Violations = append(r.Violations, v...)
		r.Stats.Acknowledged, r.Stats.Lost, r.Stats.LostExcused = s.Acknowledged, s.Lost, s.LostExcused
		v, s = CheckRetryQueue(h, p)
		if s.RQNever > 0 && r.Stats.Lost > r.Stats.LostExcused {
			// The counters may have gone with the data set rather than
			// never been applied: say so.
			for i := range v {
				v[i].Msg = strings.Replace(v[i].Msg, "never applied", "never applied or lost with the data set (acknowledged writes were lost too)", 1)
			}
		}
		r.Violations = append(r.Violations, v...)
		r.Stats.RQEnqueued, r.Stats.RQTwice, r.Stats.RQNever = s.RQEnqueued, s.RQTwice, s.RQNever
	}
	v, dual := CheckDualPrimary(h, p)
	r.Violations = append(r.Violations, v...)
	r.Stats.DualPrimary = dual
	v, res := CheckLinearizable(h, p)
	r.Violations = append(r.Violations, v...)
	r.Stats.Linearizable = res
	v, unavail := CheckAvailability(h, p)
	r.Violations = append(r.Violations, v...)
	r.Stats.Unavailable = unavail
	r.Violations = append(r.Violations, CheckSidecars(h)...)
	r.Violations = append(r.Violations, CheckGoroutines(h)...)
	r.Violations = append(r.Violations, CheckCommandRates(h)...)
	sort.SliceStable(r.Violations, func(i, j int) bool { return r.Violations[i].At < r.Violations[j].At })
	return r
}

// lossExcused reports whether an acknowledged write completed at t falls
// within the documented loss bound. Without min_replicas: the unreplicated
// stream (one interval before a fault) plus the writes an isolated or
// failing primary takes during fence_after and one interval after it. With
// min_replicas (and divergent_writes replay) the same window, but reaching
// back redisLagBound before the fault (what min-replicas-max-lag lets a
// replica miss), and only when another fault later restarted a Redis: the
// old primary kept those writes, and a primary cut off from its
// replicas still acknowledges writes until its fence or, after a network
// fault that left its sidecar the majority, until Redis's own lag check
// refuses them (redisLagBound), and those come back through the
// divergent-write replay unless it lost its data or its replication
// position (any restart, persistence or not) before it rejoins. A primary
// killed without its replication cut first loses nothing. Only faults that
// hit the primary, span several nodes, or cut the primary's last replica
// (writerCutOff) open that window: one on a replica while the primary
// streams to another takes nothing the primary acknowledged. In both modes, a
// Redis restarted without its data answers before its sidecar can pause
// it: writes it acknowledges within fence_after and one interval after the
// restart are lost when the group fails over to a replica that kept the
// data (seed 3: the whole primary node was killed without persistence; a
// replica resynced from the empty restart at once, so min-replicas-to-write
// let three writes through before the restarted sidecar paused it). So
// is a primary's Redis restarted from its AOF: Redis 7.0 gives it no
// replication position (a new replication id, offset 0), its sidecar
// judges it empty against a replica on its old history, and what it
// acknowledged before the pause is lost the same way (chaos seed 1412,
// N=5: e's node killed with AOF; b's Redis, still following e, full-synced
// it 70 ms after it came back, and e took four writes before its
// restarted sidecar paused it 0.23 s after the restart).
func lossExcused(h *History, p Params, t time.Duration) bool {
	if inSpans(unfencedSpans(h, p), t) || unreplicated(h, p, t) || promotedWithout(h, p, t) {
		return true
	}
	for _, f := range h.Faults {
		if f.Class == ClassAdmin || f.Failed != "" {
			continue // a fault not carried out took nothing away
		}
		start, end := f.Start-p.Interval, f.Start+p.FenceAfter+p.Interval
		if p.MinReplicas >= 1 {
			// min-replicas-to-write lets a primary acknowledge while its
			// replica's last ack is up to max-lag whole seconds old: the
			// stream a replica had not received when the primary died
			// reaches back that far (seed 115, N=5: 103 ms; seed 102:
			// 340 ms, where one interval was allowed).
			start = min(start, f.Start-redisLagBound(p))
			if f.Class == ClassNetwork {
				end = max(end, f.Start+redisLagBound(p))
			}
		}
		// With min_replicas, a fault on one replica that left the primary another to stream
		// to takes none of its acknowledged writes (with
		// min-replicas-to-write each reached a second Redis). Chaos seed
		// 11670 (N=5): a one-way cut of c, a replica, excused writes lost
		// 10 s later in a wipe it had no part in.
		if t >= start && t <= end &&
			(p.MinReplicas < 1 || dataLostAfter(h, t, f.ID) && mayCutPrimary(h, p, f)) {
			return true
		}
		if f.RedisRestart && (f.DataLost || f.OnPrimary) && t >= f.End && t <= f.End+p.FenceAfter+p.Interval {
			return true
		}
	}
	return false
}

// unfencedSpans are, without min_replicas, the spans in which a Redis cut
// off by a network fault had its own sidecar down (killed or stopped) or
// cut from it before its fence was due (PartLocal; seed 15318: b's
// sidecar, stopped, came back cut from its Redis 0.3 s before a partition
// cut b off, and b's Redis took writes beside a, epoch 5's primary, for
// 1.3 s; cut later, the fence's hold stops them, seed 15205): no
// sidecar can pause a Redis nobody reaches, and without
// min-replicas-to-write Redis itself refuses nothing, so it takes writes
// until its sidecar is back or the cut heals — the README's "How much can
// be lost". Each runs from one interval before the overlap began to
// fence_after plus one interval after it ended. Chaos seed 14101 (N=3,
// shipped defaults): b, the primary, had its sidecar killed at 16.8 s and
// was cut off at 26.3 s; its Redis took writes until the sidecar, back at
// 28.7 s, paused it (1.4 s past the fault's allowance). Seed 14002: a's
// sidecar stopped, then killed, while a could not send to b and c; b was
// promoted and a's Redis took writes beside it for 1.6 s.
func unfencedSpans(h *History, p Params) [][2]time.Duration {
	if p.MinReplicas >= 1 {
		return nil
	}
	var out [][2]time.Duration
	for _, f := range h.Faults {
		if f.Class != ClassNetwork || f.Failed != "" || f.Kind == PartLocal {
			continue
		}
		for _, g := range h.Faults {
			if g.Failed != "" || g.Kind != KillSidecar && g.Kind != KillBoth && g.Kind != StopSidecar && g.Kind != PartLocal {
				continue
			}
			if !slices.ContainsFunc(f.Nodes, func(n string) bool { return slices.Contains(g.Nodes, n) }) {
				continue
			}
			if g.Kind == PartLocal && (g.Start >= f.Start+p.FenceAfter && f.Kind != PartRedis || !cutsAlone(f)) {
				// Its sidecar fenced it first, and the fence's hold of
				// one replica outlasts the pause (seed 15205); or another
				// sidecar reaches it and demotes it (seed 6821's case
				// with a side of two). A Redis-only partition does not cut
				// the sidecar off: it fences nothing, and its reports
				// that the Redis takes writes keep the others from
				// judging it down until it is cut from it too (chaos seed
				// 16603's replay, N=3: b's Redis, epoch 7's primary, cut
				// from a's and c's at 55.9 s and from its own sidecar at
				// 60.3 s, took writes beside a, promoted at 61.44 s).
				continue
			}
			if s, e := max(f.Start, g.Start), min(f.End, g.End); s < e {
				out = append(out, [2]time.Duration{s - p.Interval, e + p.FenceAfter + p.Interval})
			}
		}
	}
	return out
}

// unreplicated reports, without min_replicas, whether the Redis that took
// the last probe write by t had no other Redis to stream to at t: every
// one killed, stopped or cut from it (keepsRedisApart). Redis acknowledges
// such a write with no copy anywhere, and a failover before a replica
// syncs loses it — the README's "How much can be lost". Chaos seed 14010
// (N=3, shipped defaults): b, promoted at 49.56 s while c's Redis was
// stopped and a's cut from b's, took writes and retry-queue INCRs until
// its node was cut off 0.3 s later; the group failed over to a.
func unreplicated(h *History, p Params, t time.Duration) bool {
	w := lastProbeWriter(h, t)
	if p.MinReplicas >= 1 || w == "" {
		return false
	}
	for _, z := range h.Nodes {
		if z != w && !slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
			return f.Start <= t && t <= f.End && keepsRedisApart(f, w, z)
		}) {
			return false
		}
	}
	return true
}

// promotedWithout reports, without min_replicas, whether the write the
// primary acknowledged at t was lost by a promotion of a Redis that never
// received it, with no Redis that had it within reach: the README's "a
// failover loses the writes the promoted replica had not received".
//
// The Redis that had it are the writer at t (the last probe write's
// node), the online replicas its last links sample by t listed, and, from
// then on, every online replica a links sample of one of those listed,
// each unless faults kept the two Redis apart then. One whose Redis was
// killed no longer has it: its data lost, or back from its AOF without a
// replication position, which no candidate ranking of the shipped mode
// takes for a copy (seed 14915's replay: c's Redis came back from its AOF
// with the writes, and b was promoted without them).
//
// The first promotion after t of a Redis that does not have it loses it
// when every one that does was hit by a fault then, or came back from one
// less than a report lifetime before (reportGrace); one in reach passed
// over is not excused (the candidate ranking prefers it). Chaos seed
// 14915 (N=3, shipped defaults): a, the writer from 6.9 s, streamed to c;
// c was promoted at 15.2 s and took writes with a's Redis following it;
// c's Redis was wiped at 17.0 s and a was cut off from 20.3 s, and b,
// partitioned from 6.9 s and stopped to 19.1 s, was promoted at 22.6 s
// without 16 s of writes.
func promotedWithout(h *History, p Params, t time.Duration) bool {
	if p.MinReplicas >= 1 || h.Started.IsZero() {
		return false
	}
	w := writerAt(h, t)
	if w == "" {
		return false
	}
	// A Redis lists a replica online until repl-timeout notices a silent
	// cut: one that faults keep apart from it at the moment receives
	// nothing (seed 15315: b listed c for 20 s after a Redis-only cut).
	receives := func(from, to string, at time.Duration) bool {
		return !slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
			return f.Start <= at && at < f.End && keepsRedisApart(f, from, to)
		})
	}
	// A replica linked after t synced from a snapshot that may predate
	// the write, and Redis streams to it only from its first REPLCONF
	// ACK after a diskless full sync, sent once a second: it holds the
	// write only if the Redis it synced from kept streaming to it that
	// long. Chaos seed 16206 (N=5, shipped defaults): d, promoted at 13.7
	// s, full-synced a from a snapshot at 13.90 s, acknowledged writes
	// from 13.93 s, and its Redis was killed at 14.16 s, before a's first
	// acknowledgement; a, promoted, never had them.
	// So does one linked less than that before t: the sample at since
	// lists it, and the write at or after at reaches it only if the
	// stream lasted to since plus a second.
	streams := func(from, to string, since, at time.Duration) bool {
		return !slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
			if f.Failed != "" || f.Start <= at || f.Start > since+time.Second || len(f.Nodes) == 0 {
				return false
			}
			if (f.RedisRestart || f.Kind == StopRedis) && f.Nodes[0] == from {
				return true // killed (a pause-winner's too: seed 16131's replay) or stopped
			}
			return keepsRedisApart(f, from, to)
		})
	}
	has := map[string]bool{w: true}
	if s, ok := linksSample(h, w, t); ok && s.Value != "" {
		for _, n := range strings.Split(s.Value, ",") {
			if receives(w, n, t) && streams(w, n, s.Complete, t) {
				has[n] = true
			}
		}
	}
	type event struct {
		at    time.Duration
		links *Op          // a links sample
		lost  *FaultRecord // a Redis killed
		node  string       // promoted
	}
	var events []event
	for i := range h.Ops {
		if o := &h.Ops[i]; o.Kind == OpLinks && o.OK && o.Complete > t {
			events = append(events, event{at: o.Complete, links: o})
		}
	}
	for i := range h.Faults {
		if f := &h.Faults[i]; f.Failed == "" && (f.DataLost || f.RedisRestart) && len(f.Nodes) > 0 && f.Start > t {
			events = append(events, event{at: f.Start, lost: f})
		}
	}
	for _, f := range promotions(h) {
		if f.at > t && f.node != "" {
			events = append(events, event{at: f.at, node: f.node})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	for _, e := range events {
		switch {
		case e.links != nil:
			if has[e.links.Node] && e.links.Value != "" {
				for _, n := range strings.Split(e.links.Value, ",") {
					if !has[n] && receives(e.links.Node, n, e.at) && streams(e.links.Node, n, e.at, e.at) {
						has[n] = true
					}
				}
			}
		case e.lost != nil:
			delete(has, e.lost.Nodes[0])
		case has[e.node]:
		default:
			for n := range has {
				if !slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
					return f.Failed == "" && f.Class != ClassAdmin && f.Start <= e.at && e.at < f.End+reportGrace(p) && slices.Contains(f.Nodes, n)
				}) {
					return false // a Redis that had it, in reach, passed over
				}
			}
			return true
		}
	}
	return false
}

// cutsAlone reports whether f cuts its one node's Redis off from every
// other node's sidecar: an isolating partition (Redis port included; a
// halves partition whose minority is that node, as at N=3, seed 16127) or
// a one-way cut, not a gossip-only one, a lossy link, a bridge or a side
// of several nodes.
func cutsAlone(f FaultRecord) bool {
	switch f.Kind {
	case PartIsolate, PartHalves, WipeIsolated, PartOneWay, PartRedis:
		return len(f.Nodes) == 1
	}
	return false
}

// reportGrace is how long after a fault on a node ended the group may
// still not know it in reach: its sidecar probes within an interval and
// a report counts as fresh for three intervals, at least 500 ms (as
// failover's own freshness). Chaos seed 15309 (N=3, shipped defaults):
// a's Redis, holding writes c lacked, resumed from SIGSTOP 30 ms before
// the failover that promoted c started.
func reportGrace(p Params) time.Duration {
	return p.Interval + max(3*p.Interval, 500*time.Millisecond)
}

// redisLagBound is how long after its replication links were cut a primary
// whose sidecar kept the Raft majority (so nothing fences it) still
// acknowledges writes under min-replicas-to-write: Redis counts a replica
// good while its last ack (sent once a second) is at most
// min-replicas-max-lag whole seconds old, and recounts once a second, so up
// to max-lag + 2 s (seed 107, N=5: 1.67 s after a Redis-only partition).
func redisLagBound(p Params) time.Duration {
	lag := max(1, math.Ceil(p.FenceAfter.Seconds())) // as failover sets it
	return time.Duration(lag)*time.Second + 2*time.Second
}

// dataLostAfter reports whether a fault other than id restarted a Redis
// (its data, or at least its replication position, gone) after t.
func dataLostAfter(h *History, t time.Duration, id int) bool {
	for _, f := range h.Faults {
		if (f.DataLost || f.RedisRestart) && f.Start >= t && f.ID != id {
			return true
		}
	}
	return false
}

// resyncGrace is how long after a Redis that lost its data restarted it
// still counts as without the data (it needs a full sync first).
const resyncGrace = 5 * time.Second

// dataGoneUntil returns the latest moment u at which at least
// max(2, min_replicas+1) nodes had lost their Redis data at the same time
// (killed without persistence or wiped, until resyncGrace after the
// restart), or -1. Writes acknowledged before u may be gone from every
// copy a correct system kept; they are not held against it.
//
// With two copies (min_replicas at most 1), a loss also counts as at the
// same time as a later one on another node whose Redis took the last probe
// write before the earlier loss (it was the primary) and could send to no
// other Redis from the earlier loss to its own (redisCutOff): the
// restarted Redis had nothing to resync from and no other copy could be
// made, so the resyncGrace after the restart does not end it. u is then
// the earlier loss's start: writes acknowledged after it were not on both
// (chaos seed 6311, N=3: INCRs applied on c, the primary, and acknowledged
// by a's Redis, which was wiped at 31.5 s; c's Redis, cut from a's and b's
// by partitions and a SIGSTOP without a gap, was killed without
// persistence at 56.5 s). With more copies the others could have been
// passed on meanwhile, which one cut-off node does not rule out. Moments in
// which no Raft leader could exist (leaderlessSpans) count as cut off too:
// no sidecar re-points or demotes a Redis without a Verify through the
// leader, so no copy could be made (chaos seed 8314, N=3: INCRs applied on
// c and acknowledged by a's Redis, wiped with a's sidecar at 27.4 s; a,
// back without Raft state, refused its vote while b's or c's sidecar was
// out, and b's and c's never reached each other, but for 0.23 s and
// 0.29 s, until c's Redis was killed without persistence at 61.1 s).
//
// The later loss's Redis may also be the replica that acknowledged the
// earlier one's writes: the earlier loss then hit the primary (it took
// the last probe write), and no fault kept the two Redis apart during its
// run as the writer (copyBefore). And once faults had kept it from
// another Redis, the moments in which its own sidecar could not watch it
// count as cut off from that Redis too (unwatchedSpans): no sidecar
// vouches for it then, so none demotes or re-points a Redis to it where
// only a full sync would follow, and a replica of it whose link is down
// points at itself (the README's "Only a primary its sidecar vouches for
// is a sync source", seeds 10, 19 and 6021). Chaos seed 10306 (N=3):
// INCRs applied on b, epoch 3's primary, from 34.07 s and acknowledged
// (WAIT 1) by a's Redis; b's node was killed without persistence at
// 45.0 s and a's, epoch 4's primary, at 59.4 s. A Redis-only partition
// [a] | [b c] held to 51.7 s, a's sidecar was cut from its own Redis from
// 48.3 s to 59.0 s (c's and b's Redis, on another history and restarted
// empty, were refused: "only a full sync would follow the primary"), and
// a was partitioned off from 57.9 s: no copy of a's Redis could be made.
func dataGoneUntil(h *History, p Params) time.Duration {
	need := max(2, p.MinReplicas+1)
	u := time.Duration(-1)
	leaderless := leaderlessSpans(h, p)
	for _, f := range h.Faults {
		if !f.DataLost {
			continue
		}
		nodes := map[string]bool{}
		for _, g := range h.Faults {
			if g.DataLost && g.Start <= f.Start && f.Start <= g.End+resyncGrace {
				for _, n := range g.Nodes[:min(1, len(g.Nodes))] {
					nodes[n] = true
				}
			}
			if need == 2 && g.DataLost && g.Start <= f.Start && len(f.Nodes) > 0 && len(g.Nodes) > 0 &&
				g.Nodes[0] != f.Nodes[0] && copyBefore(h, f.Nodes[0], g.Nodes[0], g.Start) &&
				redisCutOff(h, f.Nodes[0], g.Start, f.Start, leaderless) {
				u = max(u, g.Start)
			}
		}
		if len(nodes) >= need {
			u = max(u, f.Start)
		}
	}
	return u
}

// lastProbeWriter returns the node whose Redis acknowledged the last probe
// write completed by t, or "".
func lastProbeWriter(h *History, t time.Duration) string {
	node, _ := lastProbe(h, t)
	return node
}

// lastProbe returns the node whose Redis acknowledged the last probe write
// completed by t and when, or "" and -1.
func lastProbe(h *History, t time.Duration) (string, time.Duration) {
	node, at := "", time.Duration(-1)
	for _, o := range h.Ops {
		if o.Kind == OpProbe && o.OK && o.Complete <= t && o.Complete > at {
			node, at = o.Node, o.Complete
		}
	}
	return node, at
}

// probeGap bounds the time from a primary taking writes to its Redis
// acknowledging its first probe write: the prober writes to each node
// every 50 ms.
const probeGap = 100 * time.Millisecond

// writerAt returns the node whose Redis acknowledged a client write at t:
// the last probe writer by t (lastProbeWriter), unless the group promoted
// another node after that writer's last acknowledged probe and by t, and
// that node's Redis acknowledged a probe within probeGap after t: the
// failover clients follow a promotion at once, the prober only at its
// next write. Chaos seed 16137 (N=3, shipped defaults): b, promoted at
// 38.28 s, acknowledged a write at 38.311 s and its first probe at
// 38.319 s, and the write was judged as a's.
func writerAt(h *History, t time.Duration) string {
	last, at := lastProbe(h, t)
	next, nextAt := "", time.Duration(-1)
	for _, o := range h.Ops {
		if o.Kind == OpProbe && o.OK && o.Complete > t && o.Complete <= t+probeGap && (nextAt < 0 || o.Complete < nextAt) {
			next, nextAt = o.Node, o.Complete
		}
	}
	if next == "" || next == last {
		return last
	}
	for _, f := range promotions(h) {
		if f.node == next && f.at > at && f.at <= t {
			return next
		}
	}
	return last
}

// copyBefore reports whether node's Redis may hold, as one of two copies,
// the writes acknowledged before t, when lost's Redis lost its data at t:
// node's Redis took the last probe write before t (the primary), or
// lost's did and faults did not keep node's from it during that run as
// the writer (node's may be the replica that acknowledged them).
func copyBefore(h *History, node, lost string, t time.Duration) bool {
	switch lastProbeWriter(h, t) {
	case node:
		return true
	case lost:
		return !redisApart(h, lost, node, writerSince(h, lost, t), t, nil)
	}
	return false
}

// redisCutOff reports whether, throughout [from, to], faults kept node's
// Redis from every other node's Redis (keepsRedisApart), or no Raft
// leader could order a copy (the spans in leaderless), so nothing it held
// could reach another copy. Where one of those holds at from, the spans
// in which node's own sidecar could not watch its Redis (unwatchedSpans)
// count too: only a full sync, which waits for that sidecar's vouch,
// could bring the other Redis back to it.
func redisCutOff(h *History, node string, from, to time.Duration, leaderless [][2]time.Duration) bool {
	unwatched := append(slices.Clone(leaderless), unwatchedSpans(h, node)...)
	for _, z := range h.Nodes {
		if z == node || redisApart(h, node, z, from, to, leaderless) {
			continue
		}
		if !redisApart(h, node, z, from, from+1, leaderless) || !redisApart(h, node, z, from, to, unwatched) {
			return false
		}
	}
	return true
}

// unwatchedSpans returns the spans in which node's own sidecar could not
// watch its Redis: stopped or killed (no report) or cut from it
// (part-local; it reports its Redis down), or stopped as a pause-winner
// fault's election winner (winnerStop). Its peers then take that Redis
// as one no sidecar vouches for (sourceUnvouched).
func unwatchedSpans(h *History, node string) [][2]time.Duration {
	var out [][2]time.Duration
	for _, f := range h.Faults {
		if f.Failed == "" && len(f.Nodes) > 0 && f.Nodes[0] == node &&
			(f.Kind == PartLocal || f.Kind == StopSidecar || f.Kind == KillSidecar) {
			out = append(out, [2]time.Duration{f.Start, f.End})
		}
		if w, s, e, ok := winnerStop(f); ok && w == node {
			out = append(out, [2]time.Duration{s, e})
		}
	}
	return out
}

// winnerStop returns, for a pause-winner fault that stopped an election
// winner, the winner and the span its sidecar was stopped (SIGSTOP): from
// the "won, stopped at" its record notes (the nemesis appends the winner
// to its Nodes) to the "resumed at" it notes on the heal, or, in histories
// written before the nemesis noted that, winnerWatch before the fault's
// end (the heal resumes the winner and watches it that long before it
// restarts the old primary's Redis and the fault ends, so that bound is
// late by the Redis restart alone). The record's own Start and End are
// those of the old primary's Redis kill, and its first node that Redis's:
// the winner's stop is in no other fault's span.
func winnerStop(f FaultRecord) (node string, from, to time.Duration, ok bool) {
	if f.Kind != PauseWinner || f.Failed != "" || len(f.Nodes) < 2 {
		return "", 0, 0, false
	}
	node = f.Nodes[1]
	at := func(marker string) (time.Duration, bool) {
		i := strings.Index(f.Desc, marker)
		if i < 0 {
			return 0, false
		}
		v := f.Desc[i+len(marker):]
		if j := strings.IndexAny(v, ";,"); j >= 0 {
			v = v[:j]
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		return d, err == nil
	}
	from, ok = at("; " + node + " won, stopped at ")
	if !ok {
		return "", 0, 0, false
	}
	to, ok = at("; " + node + " resumed at ")
	if !ok {
		to = f.End - winnerWatch
	}
	if to < from {
		to = from
	}
	return node, from, to, true
}

// leaderChance is how long a moment in which a Raft leader could be
// elected must last before the checker holds its absence against vigil: a
// leaderless candidate's timer fires once per one to two election
// timeouts, which the harness leaves derived from down_after (a fifth of
// it, within [200 ms, 1 s]; authority.Config.Timed), so a shorter moment
// may see no election at all, and a copy needs more after it (the log
// passed on, a re-point, a sync).
func leaderChance(p Params) time.Duration {
	return 2 * min(max(p.DownAfter/5, 200*time.Millisecond), time.Second)
}

// leaderOut reports whether fault f, while active, keeps the sidecars of
// its nodes from voting with the others: killed, stopped or cut off
// (sidecarOut). A bridge node reaches both sides, so a bridge partition
// leaves every side a majority's path.
func leaderOut(f FaultRecord) bool {
	return f.Failed == "" && len(f.Nodes) > 0 && sidecarOut(f.Kind) && f.Kind != PartBridge
}

// leaderlessSpans returns the spans in which no Raft leader could exist:
// fewer sidecars than a majority could vote. A sidecar cannot while a
// fault takes it out (leaderOut) or holds it stopped as a pause-winner's
// election winner (winnerStop); one whose data dir a fault wiped refuses
// its vote while another member's sidecar is out, from the wipe's end
// until it has had every sidecar reachable for leaderChance (the README's
// documented cost of the 1505 and 1907 rule, as amnesiacHolds). Gaps
// shorter than leaderChance between such spans are closed. Every re-point
// and demotion waits for a Verify through the leader, so no sidecar moves
// a Redis meanwhile; a Redis that its own configuration leaves following
// another can still resync by itself, which the schedule cannot show.
func leaderlessSpans(h *History, p Params) [][2]time.Duration {
	n := len(h.Nodes)
	if n == 0 {
		return nil
	}
	chance := leaderChance(p)
	var cuts []time.Duration
	for _, f := range h.Faults {
		if leaderOut(f) || f.SidecarWiped && f.Failed == "" {
			cuts = append(cuts, f.Start, f.End)
		}
		if _, s, e, ok := winnerStop(f); ok {
			cuts = append(cuts, s, e)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	out := func(t time.Duration) map[string]bool {
		m := map[string]bool{}
		for _, f := range h.Faults {
			if leaderOut(f) && f.Start <= t && t < f.End {
				for _, x := range f.Nodes {
					m[x] = true
				}
			}
			if w, s, e, ok := winnerStop(f); ok && s <= t && t < e {
				m[w] = true
			}
		}
		return m
	}
	// The elementary pieces between consecutive cuts, each with the
	// sidecars out throughout it.
	type piece struct {
		s, e time.Duration
		out  map[string]bool
	}
	var pieces []piece
	for i := 0; i+1 < len(cuts); i++ {
		pieces = append(pieces, piece{cuts[i], cuts[i+1], out(cuts[i])})
	}
	// amnesiac[x]: the spans in which x's sidecar, wiped, has not yet had
	// every sidecar reachable for chance.
	amnesiac := map[string][][2]time.Duration{}
	for _, w := range h.Faults {
		if !w.SidecarWiped || w.Failed != "" || len(w.Nodes) == 0 {
			continue
		}
		end, all := time.Duration(math.MaxInt64), time.Duration(-1)
		for _, pc := range pieces {
			if pc.e <= w.End {
				continue
			}
			if len(pc.out) > 0 {
				all = -1
				continue
			}
			if all < 0 {
				all = max(pc.s, w.End)
			}
			if pc.e-all >= chance {
				end = all
				break
			}
		}
		amnesiac[w.Nodes[0]] = append(amnesiac[w.Nodes[0]], [2]time.Duration{w.End, end})
	}
	var spans [][2]time.Duration
	for _, pc := range pieces {
		down := len(pc.out)
		for x, ss := range amnesiac {
			if pc.out[x] || len(pc.out) == 0 {
				continue
			}
			if slices.ContainsFunc(ss, func(s [2]time.Duration) bool { return s[0] <= pc.s && pc.s < s[1] }) {
				down++
			}
		}
		if n-down >= n/2+1 {
			continue
		}
		if k := len(spans) - 1; k >= 0 && pc.s-spans[k][1] < chance {
			spans[k][1] = pc.e
		} else {
			spans = append(spans, [2]time.Duration{pc.s, pc.e})
		}
	}
	return spans
}

// redisApart reports whether, throughout [from, to], faults kept the Redis
// of y and z from replicating either way (keepsRedisApart) or the spans in
// also (no leader to order a copy) cover it.
func redisApart(h *History, y, z string, from, to time.Duration, also [][2]time.Duration) bool {
	spans := slices.Clone(also)
	for _, f := range h.Faults {
		if keepsRedisApart(f, y, z) {
			spans = append(spans, [2]time.Duration{f.Start, f.End})
		}
	}
	slices.SortFunc(spans, func(a, b [2]time.Duration) int { return cmp.Compare(a[0], b[0]) })
	cur := from
	for _, s := range spans {
		if s[0] > cur {
			break
		}
		cur = max(cur, s[1])
	}
	return cur >= to
}

// keepsRedisApart reports whether fault f, while active, kept the Redis
// of y and z from replicating either way: one of them killed or stopped,
// or the two on different sides of a partition that cuts the Redis port.
// A one-way cut counts: a TCP connection needs both directions. So does a
// wipe-isolated fault, which cuts its node off as an isolating partition
// does (chaos seed 12113, N=3: a's node, cut off from 28.8 s to 40.9 s, was
// taken to reach b's Redis, the last copy once c's was killed without
// persistence at 31.3 s, and the loss at b's wipe at 53.7 s was held
// against vigil). A bridge node reaches both sides; gossip-only, lossy and
// local cuts, and faults that were not carried out, do not count.
func keepsRedisApart(f FaultRecord, y, z string) bool {
	if f.Failed != "" || len(f.Nodes) == 0 {
		return false
	}
	split := slices.Contains(f.Nodes, y) != slices.Contains(f.Nodes, z)
	switch f.Kind {
	case KillRedis, KillBoth, StopRedis:
		return f.Nodes[0] == y || f.Nodes[0] == z
	case PartHalves, PartIsolate, PartRedis, PartOneWay, WipeIsolated:
		return split
	case PartBridge:
		b := bridgeNode(f.Desc)
		return split && b != "" && b != y && b != z
	}
	return false
}

// bridgeNode returns the node a bridge partition's description names as
// reaching both sides ("bridge partition [c] | [b], a reaches both"), or
// "".
func bridgeNode(desc string) string {
	i := strings.LastIndex(desc, ", ")
	if i < 0 || !strings.HasSuffix(desc, " reaches both") {
		return ""
	}
	return strings.TrimSuffix(desc[i+2:], " reaches both")
}

// authorityLostAt returns the first moment every node's sidecar had come
// back with its data dir wiped, each wipe starting at most resyncGrace
// after an earlier one's end, or -1. A wiped sidecar gets the Raft log back
// only from a leader, which needs a majority that remembers; wiped one
// after the other before that could happen, no member holds the log and
// bootstrap_expect sidecars without Raft state form a new group (the
// README's "Voters are explicit"). It knows no epoch and no primary, and
// with several standalone primaries (a Redis pointed at itself among them)
// discovery by design waits for failover.initial_primary, an operator's
// choice (chaos seed 5718, N=3). Writes and the final read are not judged
// from then on; lost writes cannot be judged without a final read anyway.
//
// A member forgotten (vigil forget) before the wipes and not yet re-added
// when they end (forgetHolds) is no voter: its log elects nobody, so it
// counts as wiped here (chaos seed 11818, N=3: c forgotten at 48.5 s while
// cut off, then b's and a's sidecars wiped one after the other, 56.7 s to
// 70.1 s; c alone kept the log, and a's and b's discovery found several
// primaries and waited for an operator).
func authorityLostAt(h *History, p Params) time.Duration {
	at := time.Duration(-1)
	forgotten := forgetHolds(h, p)
	for _, f := range h.Faults {
		if !f.SidecarWiped || len(f.Nodes) == 0 {
			continue
		}
		nodes, back := map[string]bool{}, f.End
		for _, g := range h.Faults {
			if g.SidecarWiped && len(g.Nodes) > 0 && g.Start <= f.Start && f.Start <= g.End+resyncGrace {
				nodes[g.Nodes[0]], back = true, max(back, g.End)
			}
		}
		for _, g := range forgotten {
			if g.Start <= f.Start && g.End >= back {
				nodes[g.Nodes[0]] = true
			}
		}
		if len(nodes) >= p.Nodes && (at < 0 || back < at) {
			at = back
		}
	}
	if re := rebootstrappedAt(h, p); re >= 0 && (at < 0 || re < at) {
		at = re
	}
	return at
}

// forgottenSpans returns the spans of acknowledged writes whose primary's
// Raft entry the group may have forgotten: from a naming (namings) to the
// first of the wipes that then took the sidecar state of a majority of the
// nodes, chained as authorityLostAt chains them
// (each began before the node wiped before it had been back for
// resyncGrace), while each other node's sidecar stayed out of their reach
// (killed, stopped, or on the other side of a partition that cuts the
// gossip port, which Raft rides) from the naming to the last of those
// wipes. The entry reached only logs that were then wiped, and a member
// without it may lead again (the amnesiac vote of seed 1703, which the
// README calls not safe in general): the group names an older primary,
// and what the forgotten one acknowledged goes with the Redis that
// full-syncs from it. Chaos seed 13619 (N=3): a cut off by a gossip-only
// partition from 51.26 s to 62.47 s; epoch 6 named b at 54.26 s, whose
// Redis took writes until b's node was killed with its sidecar wiped at
// 54.43 s; c's sidecar was wiped at 60.86 s; a, leading again with epoch
// 5 in its log, made its Redis the primary and c's Redis, which held b's
// writes, full-synced from it.
func forgottenSpans(h *History, p Params) [][2]time.Duration {
	var wipes []FaultRecord
	for _, f := range h.Faults {
		if f.SidecarWiped && f.Failed == "" && len(f.Nodes) > 0 {
			wipes = append(wipes, f)
		}
	}
	if len(wipes) == 0 {
		return nil
	}
	slices.SortFunc(wipes, func(x, y FaultRecord) int { return cmp.Compare(x.Start, y.Start) })
	var out [][2]time.Duration
	for _, s := range namings(h) {
		chain, end := map[string]bool{}, time.Duration(0)
		var first, last time.Duration
		for _, f := range wipes {
			if f.Start < s {
				continue
			}
			if len(chain) > 0 && f.Start > end+resyncGrace {
				break
			}
			if len(chain) == 0 {
				first = f.Start
			}
			chain[f.Nodes[0]], end, last = true, max(end, f.End), f.Start
			if len(chain) > p.Nodes/2 {
				break
			}
		}
		if len(chain) <= p.Nodes/2 {
			continue
		}
		apart := true
		for _, x := range h.Nodes {
			if !chain[x] && heldUntil(h, s, func(g FaultRecord) bool { return keepsSidecarApart(g, x, chain) }) < last {
				apart = false
			}
		}
		if apart {
			out = append(out, [2]time.Duration{s, first})
		}
	}
	return out
}

// keepsSidecarApart reports whether fault f keeps node x's sidecar from
// every node in others: x's sidecar killed or stopped, or x on one side of
// a partition of the gossip port and all of others on the other.
func keepsSidecarApart(f FaultRecord, x string, others map[string]bool) bool {
	switch f.Kind {
	case KillSidecar, KillBoth, StopSidecar:
		return slices.Contains(f.Nodes, x)
	case PartIsolate, PartHalves, PartGossip, WipeIsolated:
		in := slices.Contains(f.Nodes, x)
		for y := range others {
			if slices.Contains(f.Nodes, y) == in {
				return false
			}
		}
		return true
	}
	return false
}

// inSpans reports whether t lies in one of spans.
func inSpans(spans [][2]time.Duration, t time.Duration) bool {
	return slices.ContainsFunc(spans, func(s [2]time.Duration) bool { return t >= s[0] && t <= s[1] })
}

// namings returns, sorted, when each epoch's primary was first named: the
// earliest "new primary" line any sidecar logged for it, as an offset
// from the run's start (a sidecar that learns of it late logs it late).
func namings(h *History) []time.Duration {
	first := map[uint64]time.Duration{}
	eachLogLine(h, `"msg":"new primary"`, func(line []byte, at time.Duration) {
		var e struct{ Epoch uint64 }
		if json.Unmarshal(line, &e) != nil {
			return
		}
		if t, ok := first[e.Epoch]; !ok || at < t {
			first[e.Epoch] = at
		}
	})
	out := slices.Collect(maps.Values(first))
	slices.Sort(out)
	return out
}

// eachLogLine calls fn with every sidecar log line that contains match and
// carries a time, and that time as an offset from the run's start.
func eachLogLine(h *History, match string, fn func(line []byte, at time.Duration)) {
	if h.Started.IsZero() {
		return
	}
	for _, s := range h.Sidecars {
		for _, line := range strings.Split(s.Log, "\n") {
			if !strings.Contains(line, match) {
				continue
			}
			var e struct{ Time time.Time }
			if json.Unmarshal([]byte(line), &e) == nil {
				fn([]byte(line), e.Time.Sub(h.Started))
			}
		}
	}
}

// rebootstrappedAt returns, when a sidecar logged "group bootstrapped"
// after every node's sidecar had been wiped, the end of the last wipe
// before it, else -1. A new group forms only once bootstrap_expect
// sidecars without Raft state see each other (the README's "Voters are
// explicit"), so no member held the log then, however long the wipes lay
// apart: a's and b's sidecars wiped, a refused its vote to c, the one
// member left with the log, for 21 s while b, cut off all that time but
// 0.24 s, was down (the documented cost of the 1505 and 1907 rule), then c
// was wiped too (chaos seed 5915, N=3). Only wipes the nemesis did count: a
// new group formed while a member it never wiped kept its state is still
// judged.
func rebootstrappedAt(h *History, p Params) time.Duration {
	at := time.Duration(-1)
	eachLogLine(h, `"msg":"group bootstrapped"`, func(_ []byte, t time.Duration) {
		wiped, back := map[string]bool{}, time.Duration(-1)
		for _, f := range h.Faults {
			if f.SidecarWiped && len(f.Nodes) > 0 && f.End <= t {
				wiped[f.Nodes[0]], back = true, max(back, f.End)
			}
		}
		if len(wiped) >= p.Nodes && (at < 0 || back < at) {
			at = back
		}
	})
	return at
}

// CheckLostWrites finds acknowledged unique-key writes (failover client
// and proxy) whose key is missing or holds another value at the end. Those
// within the documented bound (lossExcused), acknowledged before enough
// nodes lost their Redis data at once (dataGoneUntil), or under a primary
// whose naming the group may have forgotten (forgottenSpans), are counted
// but not violations.
func CheckLostWrites(h *History, p Params) ([]Violation, Stats) {
	var s Stats
	var out []Violation
	var lost []Op
	gone := dataGoneUntil(h, p)
	forgot := forgottenSpans(h, p)
	for _, o := range h.Ops {
		if (o.Kind != OpWrite && o.Kind != OpProxyWrite) || !o.OK {
			continue
		}
		s.Acknowledged++
		if v, ok := h.Final[o.Key]; ok && v == o.Value {
			continue
		}
		s.Lost++
		if lossExcused(h, p, o.Complete) || o.Complete <= gone || inSpans(forgot, o.Complete) {
			s.LostExcused++
			continue
		}
		lost = append(lost, o)
	}
	if len(lost) > 0 {
		var b strings.Builder
		first, last := lost[0].Complete, lost[0].Complete
		beforeFaults := 0
		firstFault := time.Duration(-1)
		for _, f := range h.Faults {
			if firstFault < 0 || f.Start < firstFault {
				firstFault = f.Start
			}
		}
		for _, o := range lost {
			first, last = min(first, o.Complete), max(last, o.Complete)
			if firstFault >= 0 && o.Complete < firstFault {
				beforeFaults++
			}
		}
		fmt.Fprintf(&b, "%d acknowledged writes missing at the end (beyond the bound; %d more within it), acknowledged from %s to %s",
			len(lost), s.LostExcused, fmtDur(first), fmtDur(last))
		if beforeFaults > 0 {
			fmt.Fprintf(&b, "; %d of them before the first fault: the data set itself was replaced", beforeFaults)
		}
		b.WriteString("; first:")
		for _, o := range lost[:min(len(lost), 5)] {
			fmt.Fprintf(&b, "\n  %v (final %q)", o, h.Final[o.Key])
		}
		out = append(out, Violation{RuleLostWrite, lost[0].Complete, b.String()})
	}
	return out, s
}

// window is a span in which one node accepted every write sent to it.
type window struct {
	node       string
	start, end time.Duration
}

// acceptWindows derives, from the probe ops, the spans in which each node
// certainly accepted writes: within a run of consecutive acknowledged
// probes of one node, from the first one's completion to the last one's
// invocation (the node took a write before and after, and refused none in
// between). A probe that took longer than blocked was held, not refused:
// a paused Redis (CLIENT PAUSE WRITE) applies it when the pause ends, so
// the run breaks there, from its invocation to its completion. Chaos seed
// 16132 (N=3): c's sidecar paused its Redis, cut off, and released it 11
// ms after it demoted b's; the one probe c held across the pause made c's
// run span b's last writes, 24 ms of dual primary that never were.
func acceptWindows(h *History, blocked time.Duration) []window {
	byNode := map[string][]Op{}
	for _, o := range h.Ops {
		if o.Kind == OpProbe {
			byNode[o.Node] = append(byNode[o.Node], o)
		}
	}
	var out []window
	add := func(node string, s, e time.Duration) {
		if e > s {
			out = append(out, window{node, s, e})
		}
	}
	for _, node := range h.Nodes {
		ops := byNode[node]
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
		start := time.Duration(-1)
		for i, o := range ops {
			switch {
			case !o.OK:
				if start >= 0 {
					add(node, start, ops[i-1].Invoke)
				}
				start = -1
			case start < 0:
				start = o.Complete
			case o.Complete-o.Invoke > blocked:
				add(node, start, o.Invoke)
				start = o.Complete
			}
		}
		if start >= 0 {
			add(node, start, ops[len(ops)-1].Invoke)
		}
	}
	return out
}

// dualExcused are the spans in which two writable nodes are allowed: from
// each network or process fault's start, and from each Redis restart or
// resume, to fence_after plus one interval later (after the first moment
// a sidecar could reach that Redis and a Raft leader could exist, when
// none could at once).
func dualExcused(h *History, p Params) [][2]time.Duration {
	out := unfencedSpans(h, p)
	down := sidecarsDownSpans(h)
	for _, f := range h.Faults {
		if f.Class == ClassAdmin {
			continue
		}
		out = append(out, [2]time.Duration{f.Start, f.Start + p.FenceAfter + p.Interval})
		// A Redis resumed from SIGSTOP is, like a restarted one, a
		// process nobody could pause while it was away: it comes back a
		// primary, still linked to any replica whose link outlived the
		// freeze (repl-timeout, 60 s), so min-replicas-to-write lets it
		// take writes until a sidecar sees it answer and pauses it
		// (chaos seed 5803, N=5: 92 ms after SIGCONT, its divergent
		// writes replayed, none lost).
		if f.RedisRestart || f.Kind == StopRedis {
			// The allowance runs from when a sidecar can first reach
			// the Redis: one that comes back while its own sidecar is
			// cut from it and every other node is cut from it takes
			// writes that no sidecar could stop (chaos seed 6821, N=5:
			// a's Redis restarted empty at 53.8 s from its initial
			// configuration, a primary, its sidecar cut from it until
			// 57.0 s and a cut off until 58.1 s; it took probe writes
			// until its sidecar paused it 52 ms after the local cut
			// healed).
			back := f.End
			for _, n := range f.Nodes {
				back = max(back, sidecarReachesAt(h, n, f.End))
			}
			// And a sidecar that reaches it pauses and demotes it only
			// after a Verify through a Raft leader: none can exist while
			// too few sidecars run to elect one (chaos seed 16651, N=3:
			// a's Redis came back from its AOF, a primary, at 44.85 s with
			// a's and b's sidecars stopped; c's reached it and could
			// verify nothing, and it took writes beside b's, epoch 8's
			// primary, until it was stopped at 47.3 s).
			for _, l := range down {
				if l[0] <= back && back < l[1] {
					back = l[1]
				}
			}
			out = append(out, [2]time.Duration{f.End, back + p.FenceAfter + p.Interval})
		}
	}
	return out
}

// sidecarsDownSpans returns the spans in which so many sidecars are not
// running (killed, stopped, or held stopped as a pause-winner's election
// winner) that the rest are no majority: no Raft leader can exist. Unlike
// leaderlessSpans it leaves network faults out, whose listed side may be
// the majority.
func sidecarsDownSpans(h *History) [][2]time.Duration {
	type span struct {
		node string
		s, e time.Duration
	}
	var spans []span
	for _, f := range h.Faults {
		if f.Failed == "" && len(f.Nodes) > 0 && (f.Kind == KillSidecar || f.Kind == StopSidecar || f.Kind == KillBoth) {
			for _, n := range f.Nodes {
				spans = append(spans, span{n, f.Start, f.End})
			}
		}
		if w, s, e, ok := winnerStop(f); ok {
			spans = append(spans, span{w, s, e})
		}
	}
	var cuts []time.Duration
	for _, sp := range spans {
		cuts = append(cuts, sp.s, sp.e)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out [][2]time.Duration
	for i := 0; i+1 < len(cuts); i++ {
		downs := map[string]bool{}
		for _, sp := range spans {
			if sp.s <= cuts[i] && cuts[i] < sp.e {
				downs[sp.node] = true
			}
		}
		if 2*(len(h.Nodes)-len(downs)) > len(h.Nodes) {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k][1] == cuts[i] {
			out[k][1] = cuts[i+1]
		} else {
			out = append(out, [2]time.Duration{cuts[i], cuts[i+1]})
		}
	}
	return out
}

// sidecarReachesAt returns the first moment from t on at which some
// sidecar could reach node's Redis: its own once no local cut
// (part-local) holds, another once no single partition keeps node apart
// from every other node on the Redis port (a process fault elsewhere
// leaves the other sidecars' paths open). t when one could at t.
func sidecarReachesAt(h *History, node string, t time.Duration) time.Duration {
	own := heldUntil(h, t, func(f FaultRecord) bool {
		return f.Kind == PartLocal && slices.Contains(f.Nodes, node)
	})
	others := heldUntil(h, t, func(f FaultRecord) bool {
		if f.Class != ClassNetwork || len(f.Nodes) == 0 {
			return false
		}
		if f.Kind == WipeIsolated {
			// Cut off as a part-isolate is (nemesis_linux.go).
			return f.Nodes[0] == node
		}
		for _, z := range h.Nodes {
			if z != node && !keepsRedisApart(f, node, z) {
				return false
			}
		}
		return true
	})
	return min(own, others)
}

// heldUntil returns the end of the chain of faults matching cut that
// hold, one after another, from t on; t when none holds at t.
func heldUntil(h *History, t time.Duration, cut func(FaultRecord) bool) time.Duration {
	return heldAcross(h, t, 0, cut)
}

// heldAcross is heldUntil with breaks in the chain shorter than gap
// bridged: a fault matching cut that starts within gap of the chain's end
// extends it.
func heldAcross(h *History, t, gap time.Duration, cut func(FaultRecord) bool) time.Duration {
	for changed := true; changed; {
		changed = false
		for _, f := range h.Faults {
			if f.Failed == "" && cut(f) && f.Start <= t+gap && t < f.End {
				t, changed = f.End, true
			}
		}
	}
	return t
}

// subtract returns [s, e) minus the spans in ex, as disjoint pieces.
func subtract(s, e time.Duration, ex [][2]time.Duration) [][2]time.Duration {
	pieces := [][2]time.Duration{{s, e}}
	for _, x := range ex {
		var next [][2]time.Duration
		for _, pc := range pieces {
			if x[1] <= pc[0] || x[0] >= pc[1] {
				next = append(next, pc)
				continue
			}
			if x[0] > pc[0] {
				next = append(next, [2]time.Duration{pc[0], x[0]})
			}
			if x[1] < pc[1] {
				next = append(next, [2]time.Duration{x[1], pc[1]})
			}
		}
		pieces = next
	}
	return pieces
}

// CheckDualPrimary finds moments at which two nodes both accepted writes
// (by the probe workload), outside fence_after plus one interval after a
// fault started or a Redis restarted. It returns the total of such time.
func CheckDualPrimary(h *History, p Params) ([]Violation, time.Duration) {
	ws := acceptWindows(h, p.Interval)
	ex := dualExcused(h, p)
	var total time.Duration
	var first *Violation
	// Overlaps are counted once per moment: merge them first.
	var overlaps [][2]time.Duration
	var who []string
	for i := range ws {
		for j := i + 1; j < len(ws); j++ {
			a, b := ws[i], ws[j]
			if a.node == b.node {
				continue
			}
			s, e := max(a.start, b.start), min(a.end, b.end)
			if e <= s {
				continue
			}
			for _, pc := range subtract(s, e, ex) {
				overlaps = append(overlaps, pc)
				who = append(who, a.node+"+"+b.node)
			}
		}
	}
	idx := make([]int, len(overlaps))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool { return overlaps[idx[x]][0] < overlaps[idx[y]][0] })
	var curS, curE time.Duration = -1, -1
	for _, i := range idx {
		o := overlaps[i]
		if first == nil {
			first = &Violation{RuleDualPrimary, o[0], fmt.Sprintf("%s both accepted writes from %s to %s", who[i], fmtDur(o[0]), fmtDur(o[1]))}
		}
		if o[0] > curE {
			total += curE - curS
			curS, curE = o[0], o[1]
		} else {
			curE = max(curE, o[1])
		}
	}
	total += curE - curS
	if first == nil {
		return nil, 0
	}
	first.Msg = fmt.Sprintf("%s; %s of dual-primary time in all (beyond fence_after + interval after each fault)", first.Msg, total)
	return []Violation{*first}, total
}

// CheckRetryQueue holds the retry queue to exactly-once: every INCR it
// acknowledged must have left its counter at exactly 1. Items enqueued on
// a sidecar whose data dir was wiped later, or before enough Redis data
// sets were lost at once (dataGoneUntil), are excused if never applied.
// So are items never applied once the authority was lost
// (authorityLostAt), while no more were never applied than were still
// queued at the drain deadline: a new group waits for
// failover.initial_primary, so no primary ever drains them, but the
// queues still hold them (chaos seed 11101, N=3: every sidecar wiped
// within 12 s, 418 INCRs never applied, 439 items queued at the end).
// So are they, on the same condition, when automatic failover stayed
// paused to the end (pausedUnwritable): the queues drain only into a
// writable primary, and an operator's pause leaves none after the
// primary failed.
func CheckRetryQueue(h *History, p Params) ([]Violation, Stats) {
	var s Stats
	var twice, never []Op
	gone := dataGoneUntil(h, p)
	at := applyInstants(h, p, gone)
	for _, o := range h.Ops {
		if o.Kind != OpEnqueue || !o.OK {
			continue
		}
		s.RQEnqueued++
		switch v, ok := h.Final[o.Key]; {
		case ok && v == "1":
		case ok:
			twice = append(twice, o)
		case wipedAfter(h, o.Node, o.Complete), o.Complete <= gone, drainedLost(h, p, o, at):
		default:
			never = append(never, o)
		}
	}
	s.RQTwice, s.RQNever = len(twice), len(never)
	if len(never) > 0 && len(never) <= h.Undrained && (authorityLostAt(h, p) >= 0 || pausedUnwritable(h)) {
		never = nil
	}
	var out []Violation
	list := func(ops []Op) string {
		var b strings.Builder
		for _, o := range ops[:min(len(ops), 5)] {
			fmt.Fprintf(&b, "\n  %v (final %q)", o, h.Final[o.Key])
		}
		return b.String()
	}
	if len(twice) > 0 {
		out = append(out, Violation{RuleRetryQueue, twice[0].Complete, fmt.Sprintf("%d retry-queue INCRs applied more than once:%s", len(twice), list(twice))})
	}
	if len(never) > 0 {
		msg := fmt.Sprintf("%d retry-queue INCRs never applied", len(never))
		if h.Undrained > 0 {
			msg += fmt.Sprintf(" (%d items were still queued at the drain deadline)", h.Undrained)
		}
		out = append(out, Violation{RuleRetryQueue, never[0].Complete, msg + ":" + list(never)})
	}
	return out, s
}

// rqApplyLead is how long before it leaves its queue an item may have
// been applied: the queue deletes a batch once a replica acknowledged it
// (WAIT, bounded by a second), and the batch's own round trip comes first.
const rqApplyLead = 1500 * time.Millisecond

// drainedLost reports, without min_replicas, whether the INCR enq handed
// to a queue left it (the drain watch saw it go: OpDrained) and was then
// lost the way an acknowledged write may be. It was applied at some
// instant of the window from rqApplyLead before it was last seen queued
// (not before it was enqueued: seed 16207) to when it was seen gone, at
// which the writer (writerAt) took writes (a probe write it acknowledged
// within probeGap), and the checker cannot tell which. So every such instant of the window,
// on a rqGrid, must be one whose write a later fault lost within the
// bound (excused: lossExcused and the lost-write rule's other excuses),
// or one whose write would have survived (survivesFrom), which the
// counter's final absence rules out; and at least one must be the first
// kind, or the item left its queue with nowhere it could have gone.
// Without the watch the checker could not tell such an INCR from one the
// queue never applied (seeds 14915 and 14917, N=3, shipped defaults).
//
// Until the twenty-fifth session only the window's two ends were held to
// promotedWithout alone. A window that began while the group still wrote
// to a primary whose writes survived, or while no Redis took writes,
// failed the rule although the item went to the next primary, whose
// writes were lost within the bound: seed 16634 (N=3), c's items drained
// into a 0.1 s after it replaced b and lost with a's writes when b's
// Redis, holding the history a forked from, was promoted at 48.2 s; seed
// 16901 (N=3), items drained into b 0.1 s after its promotion, in a
// window that began while a, the primary before, was paused.
func drainedLost(h *History, p Params, enq Op, at func(time.Duration) applyAt) bool {
	if p.MinReplicas >= 1 {
		return false
	}
	i := slices.IndexFunc(h.Ops, func(o Op) bool { return o.Kind == OpDrained && o.OK && o.Key == enq.Key })
	if i < 0 {
		return false
	}
	d := h.Ops[i]
	lo, hi := max(d.Invoke-rqApplyLead, enq.Invoke), d.Complete
	lost := false
	for t := lo; ; t = min(hi, (t/rqGrid+1)*rqGrid) {
		switch at(t) {
		case applyLost:
			lost = true
		case applyUnexcused:
			return false
		}
		if t == hi {
			return lost
		}
	}
}

// applyAt is what became of a write the writer applied at an instant.
type applyAt int

const (
	applyNone      applyAt = iota // the writer took no write then
	applyLost                     // lost within the bound (the lost-write rule's excuses)
	applySurvived                 // in the final state (survivesFrom)
	applyUnexcused                // lost beyond the bound
)

// applyInstants returns, memoized for every item of a history, what became
// of a write applied at an instant (drainedLost): one the writer
// (writerAt) took, a probe write it acknowledged within probeGap, lost
// within the bound, or surviving, or neither. gone is dataGoneUntil's.
func applyInstants(h *History, p Params, gone time.Duration) func(time.Duration) applyAt {
	forgot := forgottenSpans(h, p)
	took := map[string][]time.Duration{} // acknowledged probe writes by node, sorted
	for _, o := range h.Ops {
		if o.Kind == OpProbe && o.OK {
			took[o.Node] = append(took[o.Node], o.Complete)
		}
	}
	for _, ts := range took {
		slices.Sort(ts)
	}
	memo := map[time.Duration]applyAt{}
	return func(t time.Duration) applyAt {
		if v, ok := memo[t]; ok {
			return v
		}
		ts := took[writerAt(h, t)]
		j, _ := slices.BinarySearch(ts, t-probeGap)
		v := applyNone
		switch {
		case j >= len(ts) || ts[j] > t+probeGap:
		case lossExcused(h, p, t) || t <= gone || inSpans(forgot, t):
			v = applyLost
		case survivesFrom(h, t):
			v = applySurvived
		default:
			v = applyUnexcused
		}
		memo[t] = v
		return v
	}
}

// rqGrid is the step at which drainedLost samples an item's window.
const rqGrid = 10 * time.Millisecond

// survivesFrom reports whether a write applied at t survived: the first
// client write invoked at or after t is in the final state, and only the
// Redis that acknowledged the last probe write by t acknowledged probe
// writes from t to that write's completion, so both went to one Redis, in
// that order (a later write survives only with the earlier ones of its
// stream).
func survivesFrom(h *History, t time.Duration) bool {
	var next *Op
	for i := range h.Ops {
		o := &h.Ops[i]
		if (o.Kind == OpWrite || o.Kind == OpProxyWrite) && o.OK && o.Invoke >= t && (next == nil || o.Invoke < next.Invoke) {
			next = o
		}
	}
	if next == nil {
		return false
	}
	if v, ok := h.Final[next.Key]; !ok || v != next.Value {
		return false
	}
	w := lastProbeWriter(h, t)
	return w != "" && !slices.ContainsFunc(h.Ops, func(o Op) bool {
		return o.Kind == OpProbe && o.OK && o.Complete >= t && o.Complete <= next.Complete && o.Node != w
	})
}

// pauseLeftAt returns when automatic failover was paused for the rest of
// the run, or -1: the start of a pause fault whose end could not resume
// it (its heal failed: every /v1/resume refused or unanswered for
// resumeFor) with no resume that went through after it. Failover then
// stays paused as an operator's pause does until a resume commits, so a
// failed primary is never replaced (chaos seed 11910, N=3: failover
// paused at 13.3 s, a's sidecar wiped at 19.8 s; the nemesis asks a
// first, and a, without Raft state until 62.5 s, refused every resume
// from 23 s to 53.1 s as not ready; a's Redis had restarted empty and no
// node took writes after 15.3 s).
func pauseLeftAt(h *History) time.Duration {
	at := time.Duration(-1)
	for _, f := range h.Faults {
		if f.Kind != Pause || !strings.HasPrefix(f.Failed, "heal: ") {
			continue
		}
		resumed := slices.ContainsFunc(h.Faults, func(g FaultRecord) bool {
			return g.Kind == Pause && g.Failed == "" && g.End > f.End
		})
		if !resumed && (at < 0 || f.Start < at) {
			at = f.Start
		}
	}
	return at
}

// pausedUnwritable reports whether automatic failover stayed paused to the
// end (pauseLeftAt) and no failover-client write was acknowledged after
// the last heal: no primary was writable for the retry queues to drain
// into. With writes back, a primary was writable and the queues must
// drain, paused or not.
func pausedUnwritable(h *History) bool {
	if pauseLeftAt(h) < 0 {
		return false
	}
	return !slices.ContainsFunc(h.Ops, func(o Op) bool {
		return o.Kind == OpWrite && o.OK && o.Complete > h.LastHeal
	})
}

func wipedAfter(h *History, node string, t time.Duration) bool {
	for _, f := range h.Faults {
		if f.SidecarWiped && f.End >= t && slices.Contains(f.Nodes, node) {
			return true
		}
	}
	return false
}

// hitNodes returns the sorted nodes the active faults hit, and false when
// one of them (a pause, a lossy link, a stalled election winner, an
// unknown target) rules out judging availability at all.
func hitNodes(active []FaultRecord) ([]string, bool) {
	var hit []string
	for _, f := range active {
		switch {
		case f.Kind == Pause || f.Kind == Netem || f.Kind == PauseWinner:
			// PauseWinner: how soon the others must give up on a stalled
			// winner is the implementation's choice; the dual-primary
			// rule judges what the winner does when it resumes.
			return nil, false
		case f.Class == ClassAdmin:
			continue
		case len(f.Nodes) == 0:
			return nil, false
		}
		hit = append(hit, f.Nodes...)
	}
	slices.Sort(hit)
	return slices.Compact(hit), true
}

// resyncHolds returns, for every fault that lost a node's Redis data, a
// record that keeps the node hit after the fault ended, until resyncGrace
// after the later of its end and the end of every network fault that
// overlapped it: an empty Redis cut off from the primary could not resync,
// is no candidate for promotion, and so is not part of a healthy majority
// that must restore writes.
func resyncHolds(h *History) []FaultRecord {
	var out []FaultRecord
	for _, f := range h.Faults {
		if !f.DataLost || len(f.Nodes) == 0 {
			continue
		}
		until := f.End
		for _, g := range h.Faults {
			if g.Class == ClassNetwork && g.Start < f.End && g.End > f.Start {
				until = max(until, g.End)
			}
		}
		// OnPrimary carries over: the node that was the primary still
		// counts as hit, and the durable allowance still runs from the
		// same start (chaos seed 702, N=3: b, the primary, killed without
		// persistence from 40.6 s to 45.2 s, was held to 6 s from 39.6 s
		// the moment the kill ended, before its Redis even answered).
		out = append(out, FaultRecord{ID: f.ID, Kind: f.Kind, Class: f.Class, Nodes: f.Nodes[:1], OnPrimary: f.OnPrimary,
			Desc: f.Desc + " (resyncing)", Start: f.End, End: until + resyncGrace})
	}
	return out
}

// amnesiacHolds returns, for every fault that left a node's sidecar
// without Raft state (its data dir wiped), a record that keeps the node
// hit after the fault ended for as long as, without a break, a fault keeps
// another node's sidecar out of reach (killed, stopped, cut off on the
// gossip port): the README's documented cost of the 1505 and 1907 rule, a
// wiped sidecar refuses its vote while another member is down, and gets
// the log back only from a leader, which then needs its vote (chaos seed
// 8310, N=3: c's sidecar wiped and cut off until 29.7 s, b's node killed
// at 28.8 s; a campaigned and c refused it while b was down, so no leader
// and no write, though the faults hit only b). A node that had a moment
// with every other sidecar reachable after its wipe is not held: a leader
// could give it the log then — a moment of leaderChance at least, as in
// leaderlessSpans: a shorter one may see no election at all (chaos seed
// 10306, N=3: c's sidecar wiped and cut off until 18.3 s while a was
// partitioned off and b's sidecar stopped; b's stop ended at 25.086 s and
// the next began at 25.093 s, c voted for b in those 7 ms but b was
// stopped again before it won, and c refused a to 31.7 s).
func amnesiacHolds(h *History, p Params) []FaultRecord {
	var out []FaultRecord
	chance := leaderChance(p)
	for _, f := range h.Faults {
		if !f.SidecarWiped || f.Failed != "" || len(f.Nodes) == 0 {
			continue
		}
		self := f.Nodes[0]
		// Its own sidecar out (killed, stopped, cut off) bridges the
		// chain too: it gets the log from no leader meanwhile either
		// (chaos seed 16655, N=3: b's sidecar, wiped at 10 s, was cut
		// off and then killed with its node until 29.9 s, while c's and
		// a's were out in turn; it refused c's votes until 36 s, though
		// the others' faults alone left gaps).
		until := heldAcross(h, f.End, chance, func(g FaultRecord) bool {
			return sidecarOut(g.Kind) && len(g.Nodes) > 0
		})
		if until > f.End {
			out = append(out, FaultRecord{ID: f.ID, Kind: f.Kind, Class: f.Class, Nodes: []string{self},
				Desc: f.Desc + " (no Raft state while another member is down)", Start: f.End, End: until})
		}
	}
	return out
}

// stabilization is p.Stabilization, or the 2 s every run used before
// it was recorded.
func (p Params) stabilization() time.Duration {
	if p.Stabilization > 0 {
		return p.Stabilization
	}
	return 2 * time.Second
}

// forgetHolds returns, for every node an operator forgot (vigil forget),
// a record that keeps it hit from the forget until a leader made it a
// voter again: forgotten, it is no voter, so the voters that remain need a
// majority among themselves (the README's "vigil forget"). When the
// sidecars' logs are kept, that is the first "promote to voter" of the
// node a leader logged after the forget, or the end of the run if none
// did (chaos seed 11818, N=3: c, forgotten at 28.5 s, never became a
// voter again: its Redis, parked, did not replicate, and the leader
// re-adds a member only once it stayed healthy and replicating for
// failover.stabilization). Without logs (a history written by hand), it
// is for as long as, without a break, a fault keeps some member's sidecar
// out of reach, and a leader's chance and the stabilization time after.
// Chaos seed 11713 (N=3): a forgotten at 10.9 s left b and c the voters;
// a stopped and cut off to 23.2 s, c's sidecar killed from 22.6 s and c
// partitioned off to 38.4 s, so no leader could be elected (b's votes to c
// refused, a's pre-votes refused: "not in configuration") though the
// faults hit only c; b won at 38.7 s, re-added a, failed over from its
// killed Redis, and writes were back at 40.7 s.
func forgetHolds(h *History, p Params) []FaultRecord {
	var out []FaultRecord
	gap := leaderChance(p) + p.stabilization()
	for _, f := range h.Faults {
		if f.Kind != Forget || f.Failed != "" || len(f.Nodes) == 0 {
			continue
		}
		end, ok := voterAgainAt(h, f.Nodes[0], f.End)
		if !ok {
			end = heldAcross(h, f.End, gap, func(g FaultRecord) bool { return sidecarOut(g.Kind) }) + gap
		}
		out = append(out, FaultRecord{ID: f.ID, Kind: f.Kind, Class: ClassProcess, Nodes: f.Nodes[:1],
			Desc: f.Desc + " (no voter until re-added)", Start: f.Start, End: end})
	}
	return out
}

// voterAgainAt returns when, after since, a leader logged making node a
// voter ("membership changed", change "promote to voter"), or the end of
// the run if none did; false when the history keeps no sidecar logs.
func voterAgainAt(h *History, node string, since time.Duration) (time.Duration, bool) {
	if len(h.Sidecars) == 0 || h.Started.IsZero() {
		return 0, false
	}
	at := h.WorkEnd
	eachLogLine(h, `"change":"promote to voter"`, func(line []byte, t time.Duration) {
		var e struct{ Peer string }
		if json.Unmarshal(line, &e) == nil && e.Peer == node && t > since && t < at {
			at = t
		}
	})
	return at, true
}

// lastCopyHit reports, with min_replicas, whether at t, inside a gap
// without writes that began at g0, every surviving copy of the writes
// acknowledged last before it is on a node the faults hit. Those writes
// were taken by the last probe writer before g0, w, in its run as the
// writer (the probe writes it took up to g0 with none elsewhere in
// between); a copy is w's Redis, or another whose Redis faults did not
// keep from w's throughout that run. A copy lost its data if a fault that
// lost it began on its node at or after g0: with no write since, no
// primary took writes that it could have resynced them from. At least
// one copy besides w's must have been made (w's writes alone are an
// isolated primary's, which the loss bound gives up), and one must
// survive. The healthy majority then holds none of those writes, and
// restoring writes would give them up: the README's durable mode waits
// instead, with no time bound, for a Redis holding them ("This trades
// availability for the promise"; the holder rule of chaos seeds 5507 and
// 6106). Chaos seed 8319 (N=3): b's Redis, epoch 2's primary, took writes
// from 9.2 s to 11.97 s that c's Redis acknowledged; a's Redis was killed
// from 7.16 s to 18.6 s, all of b's run; c's was killed with its AOF
// wiped at 29.6 s. From 55.77 s only b was hit (its sidecar stopped, then
// cut off), and a's Redis, back from its AOF with epoch 1's keys only,
// could have been promoted only by giving up every write b took; the
// leader waited for b (holderWaitOver: c's Redis found empty and b's out
// of reach are more than min_replicas) and promoted it 1.3 s after its
// sidecar resumed.
func lastCopyHit(h *History, p Params, g0, t time.Duration, hit []string) bool {
	if p.MinReplicas < 1 || t < g0 {
		return false
	}
	w := lastProbeWriter(h, g0)
	if w == "" {
		return false
	}
	from := writerSince(h, w, g0)
	lost := func(n string) bool {
		return slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
			return f.DataLost && f.Failed == "" && len(f.Nodes) > 0 && f.Nodes[0] == n && f.Start >= g0 && f.Start <= t
		})
	}
	copies, survive := 0, 0
	for _, z := range h.Nodes {
		if z != w && redisApart(h, w, z, from, g0, nil) {
			continue
		}
		copies++
		if lost(z) {
			continue
		}
		if !slices.Contains(hit, z) {
			return false
		}
		survive++
	}
	return copies >= 2 && survive >= 1
}

// holderWaitHit reports, with min_replicas, whether at t, inside a gap
// without writes that began at g0, vigil's holder rule waits with no time
// bound for a hit node's Redis (holderWaitOver, the README's seed 5507
// trade: "with two of three Redis gone at once, one of them without its
// data, writes stay unavailable until the other answers or an operator
// decides"). Every node's Redis that no active fault keeps out of reach was
// killed since g0 (restarted empty or from its files, no write since to
// sync from: no replica is synced, so only a holder can be promoted); at
// least one of them lost its data since g0 (its Redis answers without its
// copies); and those plus the Redis an active fault on a hit node keeps out
// of reach are more than min_replicas. A Redis out of reach may hold a copy
// the others lack, and vigil cannot tell from its last report that it
// does not. Chaos seed 9501 (N=3): a's Redis, the last writer, was killed
// without persistence at 9.0 s, c's killed (AOF) at 11.0 s, b's (epoch 2's
// primary) killed and wiped at 15.9 s; from 36.08 s a's Redis was stopped,
// and c, a holder from its AOF, was promoted 0.9 s after a's resumed at
// 46.20 s.
func holderWaitHit(h *History, p Params, g0, t time.Duration, hit []string) bool {
	if p.MinReplicas < 1 || t < g0 {
		return false
	}
	out := map[string]bool{}
	for _, f := range h.Faults {
		if f.Failed == "" && len(f.Nodes) > 0 && (f.Kind == KillRedis || f.Kind == KillBoth || f.Kind == StopRedis) &&
			f.Start <= t && f.End > t && slices.Contains(hit, f.Nodes[0]) {
			out[f.Nodes[0]] = true
		}
	}
	if len(out) == 0 {
		return false
	}
	lost := 0
	for _, z := range h.Nodes {
		if out[z] {
			continue
		}
		killed, wiped := false, false
		for _, f := range h.Faults {
			if f.Failed != "" || len(f.Nodes) == 0 || f.Nodes[0] != z || f.Start < g0 || f.Start > t ||
				(f.Kind != KillRedis && f.Kind != KillBoth) {
				continue
			}
			killed = true
			wiped = wiped || f.DataLost
		}
		if !killed {
			return false
		}
		if wiped {
			lost++
		}
	}
	return lost >= 1 && len(out)+lost > min(p.MinReplicas, max(len(h.Nodes)-1, 0))
}

// onlyHitHoldData reports whether at t every node the faults do not hit
// has a Redis that lost its data (a fault that lost it on that node) and
// took no write and streamed from no primary since it came back, while
// some hit node's Redis was kept from theirs (down, or cut from each of
// them) without a break since the last of them came back. vigil promotes no Redis holding
// no key while the one that may hold the data is out of reach, and none
// could have copied it: writes wait for that Redis, with no bound but the
// operator's. Chaos seed 15214 (N=3, shipped defaults; and its replay):
// every Redis lost its data in turn, c's, the primary's, last, killed
// without persistence at 25.8 s; a's and b's, back empty, had nothing to
// promote until c's answered again at 36.8 s. A hit node whose Redis was
// in their reach for a moment since is no excuse: an empty replica copies
// the primary's Redis (seeds 16603, 16604).
func onlyHitHoldData(h *History, t time.Duration, hit []string) bool {
	if len(hit) == 0 {
		return false
	}
	var empty []string
	back := time.Duration(0)
	for _, z := range h.Nodes {
		if slices.Contains(hit, z) {
			continue
		}
		lost, end := time.Duration(-1), time.Duration(0)
		for _, f := range h.Faults {
			if f.Failed == "" && f.DataLost && len(f.Nodes) > 0 && f.Nodes[0] == z && f.Start <= t && f.Start > lost {
				lost, end = f.Start, f.End
			}
		}
		// What it took before it came back, the process that died with
		// it took (seed 15214: b's Redis acknowledged a probe 5 ms after
		// its kill began).
		if lost < 0 || end > t || tookData(h, z, end, t) {
			return false
		}
		empty = append(empty, z)
		back = max(back, end)
	}
	if len(empty) == 0 {
		return false
	}
	for _, w := range hit {
		held := heldUntil(h, back, func(f FaultRecord) bool {
			if len(f.Nodes) == 0 {
				return false
			}
			for _, z := range empty {
				if !keepsRedisApart(f, w, z) || (f.Kind == KillRedis || f.Kind == KillBoth || f.Kind == StopRedis) && f.Nodes[0] != w {
					return false
				}
			}
			return true
		})
		if held > t {
			return true
		}
	}
	return false
}

// tookData reports whether node's Redis acknowledged a probe write, or was
// listed by a links sample as an online replica, in (from, t].
func tookData(h *History, node string, from, t time.Duration) bool {
	return slices.ContainsFunc(h.Ops, func(o Op) bool {
		if !o.OK || o.Complete <= from || o.Complete > t {
			return false
		}
		switch o.Kind {
		case OpProbe:
			return o.Node == node
		case OpLinks:
			return slices.Contains(strings.Split(o.Value, ","), node)
		}
		return false
	})
}

// holderWaitsDurably reports, with min_replicas, whether at t, inside a gap
// without writes that began at g0, vigil's holder rule may wait the
// durable wait (ten down_after) for a hit node (holderWaitOver): no Redis
// streams to an online replica (the links samples; unknown for a node
// never sampled), so only a holder can be promoted; a Redis killed
// without its data since g0 answers without its copies; and with the hit
// nodes' Redis, out of reach, more Redis than min_replicas may lack what
// the holder needs, which one out of reach may hold. The wait is bounded,
// unlike holderWaitHit's. Chaos seed 14306 (N=3): b's Redis, epoch 3's
// primary, was killed without persistence at 23.1 s and came back empty;
// from 33.8 s a was cut off, and c, a holder with 933 keys, was promoted
// 50.3 s in, once a was heard again; availLimit's 6 s counted from 36.8 s.
func holderWaitsDurably(h *History, p Params, g0, t time.Duration, hit []string) bool {
	if p.MinReplicas < 1 || t < g0 || len(hit) == 0 {
		return false
	}
	for _, z := range h.Nodes {
		if links, ok := linksAt(h, z, t); !ok || links != "" {
			return false
		}
	}
	short, out := map[string]bool{}, false
	for _, n := range hit {
		if outOfReach(h, n, t) {
			short[n], out = true, true
		}
	}
	lost := false
	for _, f := range h.Faults {
		if f.Failed == "" && f.DataLost && len(f.Nodes) > 0 && f.Start >= g0 && f.Start <= t &&
			(f.Kind == KillRedis || f.Kind == KillBoth) {
			short[f.Nodes[0]], lost = true, true
		}
	}
	return out && lost && len(short) > min(p.MinReplicas, max(len(h.Nodes)-1, 0))
}

// shippedHolderWaits reports, without min_replicas, which hit nodes' data
// vigil's holder rule may wait the durable wait for at t, inside a gap
// without writes that began at g0 (shippedHolderWaitOver: a member out of
// reach whose Redis, when last heard, held more keys than the holder):
// no Redis streams to an online replica (the links samples), so only a
// holder can be promoted, and a hit node, out of reach, held more keys
// by its last keys sample than every Redis the faults leave alone (none
// if a node was never sampled). The wait runs from when such a node was
// last heard. Chaos seed 16956 (N=3): b, epoch 4's named primary,
// its Redis a replica of the killed one with 1133 keys, was stopped and
// then unable to send; a held 452 keys and c's Redis none, and the leader
// promoted a 20 s after the failover started. When every Redis the faults
// leave alone is empty, a synced replica waits as long, so the links do
// not matter (richerUnheard; seed 17143).
func shippedHolderWaits(h *History, p Params, g0, t time.Duration, hit []string) []string {
	if p.MinReplicas >= 1 || t < g0 || len(hit) == 0 {
		return nil
	}
	most := int64(-1)
	for _, z := range h.Nodes {
		if slices.Contains(hit, z) {
			continue
		}
		k, ok := keysAt(h, z, t)
		if !ok {
			return nil
		}
		most = max(most, k)
	}
	// With every Redis the faults leave alone empty, a synced replica
	// waits too (richerUnheard; seed 17143). A Redis a fault kept down
	// since its last links sample streams to nobody the sample names: it
	// is down, or restarted and its replicas not back yet (the next
	// sample, up to 100 ms later, says).
	if most > 0 {
		for _, z := range h.Nodes {
			s, ok := linksSample(h, z, t)
			if !redisDownSince(h, z, s.Complete, t) && (!ok || s.Value != "") {
				return nil
			}
		}
	}
	unhit := map[string]bool{}
	for _, z := range h.Nodes {
		if !slices.Contains(hit, z) {
			unhit[z] = true
		}
	}
	var out []string
	for _, n := range hit {
		if k, ok := keysAt(h, n, t); ok && k > most && outOfReachOf(h, n, t, unhit) {
			out = append(out, n)
		}
	}
	return out
}

// redisDownSince reports whether a fault kept node's Redis down (killed
// or stopped) at some time in [from, t].
func redisDownSince(h *History, node string, from, t time.Duration) bool {
	return slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
		return f.Failed == "" && f.Start <= t && from < f.End && len(f.Nodes) > 0 && f.Nodes[0] == node &&
			(f.Kind == KillRedis || f.Kind == KillBoth || f.Kind == StopRedis)
	})
}

// keysAt returns the key count in node's last keys sample by t, and
// whether there was one.
func keysAt(h *History, node string, t time.Duration) (int64, bool) {
	o, ok := lastSample(h, OpKeys, node, t)
	if !ok {
		return 0, false
	}
	k, err := strconv.ParseInt(o.Value, 10, 64)
	return k, err == nil
}

// outOfReach reports whether at t an active fault keeps node out of the
// others' reach as vigil's holder rule sees it (holderWaitOver): its
// sidecar killed, stopped or cut off from every other, or unable to send
// to them (no fresh report), or its Redis killed, stopped or cut from its
// own sidecar (reported down).
func outOfReach(h *History, node string, t time.Duration) bool {
	others := map[string]bool{}
	for _, z := range h.Nodes {
		if z != node {
			others[z] = true
		}
	}
	return outOfReachOf(h, node, t, others)
}

// outOfReachOf is outOfReach with others as the nodes node must be cut
// from: a partition that leaves it with other hit nodes only keeps it
// out of the reach of those the faults leave alone.
func outOfReachOf(h *History, node string, t time.Duration, others map[string]bool) bool {
	return slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
		if f.Failed != "" || f.Start > t || t >= f.End || len(f.Nodes) == 0 {
			return false
		}
		switch f.Kind {
		case KillRedis, StopRedis, PartLocal:
			return f.Nodes[0] == node
		case PartOneWay:
			return slices.Contains(f.Nodes, node) // the side that cannot send
		}
		return keepsSidecarApart(f, node, others)
	})
}

// linksAt returns the online replicas node's Redis listed in its last
// links sample by t, and whether there was one.
func linksAt(h *History, node string, t time.Duration) (string, bool) {
	o, ok := linksSample(h, node, t)
	return o.Value, ok
}

// linksSample returns node's last links sample by t, and whether there was
// one.
func linksSample(h *History, node string, t time.Duration) (Op, bool) {
	return lastSample(h, OpLinks, node, t)
}

// lastSample returns node's last successful sample of kind by t, and
// whether there was one.
func lastSample(h *History, kind OpKind, node string, t time.Duration) (Op, bool) {
	var last Op
	ok := false
	for _, o := range h.Ops {
		if o.Kind == kind && o.OK && o.Node == node && o.Complete <= t && (!ok || o.Complete > last.Complete) {
			last, ok = o, true
		}
	}
	return last, ok
}

// writerSince returns when node's run as the writer ending at t began:
// the first of the acknowledged probe writes it took by t with none taken
// by another node after it.
func writerSince(h *History, node string, t time.Duration) time.Duration {
	var acked []Op
	for _, o := range h.Ops {
		if o.Kind == OpProbe && o.OK && o.Complete <= t {
			acked = append(acked, o)
		}
	}
	slices.SortFunc(acked, func(a, b Op) int { return cmp.Compare(a.Complete, b.Complete) })
	since := t
	for i := len(acked) - 1; i >= 0 && acked[i].Node == node; i-- {
		since = acked[i].Complete
	}
	return since
}

// sidecarOut reports whether a fault of kind k takes the sidecars of the
// nodes it acts on out of their peers' reach; faults on Redis alone leave
// them voting.
func sidecarOut(k FaultKind) bool {
	switch k {
	case KillSidecar, KillBoth, StopSidecar, WipeIsolated, PartHalves, PartIsolate, PartBridge, PartOneWay, PartGossip:
		return true
	}
	return false
}

// availLimit is how long after the faults last changed a healthy majority
// has to restore writes: down_after plus the slack; with min_replicas at
// least fence_after plus Redis's lag bound, for which a new primary holds
// its writes while the old one, its sidecar silent, may still have a
// replica acknowledging it (the README's "A primary whose sidecar is
// gone").
func availLimit(p Params) time.Duration {
	d := p.DownAfter
	if p.MinReplicas >= 1 {
		d = max(d, p.FenceAfter+redisLagBound(p))
	}
	return d + p.AvailSlack
}

// durableLimit is, with min_replicas, how long writes may stay away while
// a fault hits the node that was the primary: the durable mode replaces no
// primary with a replica behind data an out-of-reach node may hold (the
// primary named but not yet promoted, a replica it was seen ahead on) for
// up to ten down_after (the README's "How much can be lost"; chaos seed
// 101, N=5, waited 8 s for a named primary cut off before its promotion,
// then killed).
func durableLimit(p Params) time.Duration { return 10*p.DownAfter + p.AvailSlack }

// lastHeard returns, when node's sidecar is not heard at to, the end of
// the last span in [from, to) in which it was (no fault carried out that
// names node was active but a Redis-only partition, which leaves the
// sidecar its own Redis and its peers), or from. The durable wait for a
// primary's data (primaryHolds: its last report showing its Redis
// answering as a primary, for ten down_after) runs from that report, not
// from when faults first hit it. Chaos seed 12565 (N=3): b, epoch 3's
// primary, never released writes; a's and c's Redis, back from their
// AOFs, were holders only. Faults hit only b from 25.9 s, but its sidecar,
// its Redis cut from the others by a Redis-only partition, reported it
// answering until a gossip-only partition at 36.3 s; its Redis was then
// killed, and the leader promoted c at 49.0 s, once b's report that its
// Redis came back empty reached it: writes were back at 49.44 s, 1.5 s
// past the durable limit counted from 25.9 s. While node is heard at to
// the limit runs from the faults' start: waiting for a primary that is
// heard but cut from every replica has no bound in vigil's rules, and the
// checker holds it to the same limit.
func lastHeard(h *History, events []time.Duration, node string, from, to time.Duration) time.Duration {
	heard := func(t time.Duration) bool {
		return !slices.ContainsFunc(h.Faults, func(f FaultRecord) bool {
			return f.Failed == "" && f.Class != ClassAdmin && f.Kind != PartRedis && f.Start <= t && f.End > t && slices.Contains(f.Nodes, node)
		})
	}
	if heard(to) {
		return from
	}
	last := from
	for k := 0; k+1 < len(events); k++ {
		s, e := events[k], events[k+1]
		if e <= from || s >= to {
			continue
		}
		if heard(max(s, from)) {
			last = max(last, min(e, to))
		}
	}
	return last
}

// CheckAvailability finds spans without a successful failover-client
// write that last more than availLimit past the most recent
// fault event while the group is recoverable (no fault at all, e.g. after
// the last heal, or faults that hit one minority only, and not every
// surviving copy of the last writes: lastCopyHit). It returns the total
// time without writes (gaps over 250 ms).
func CheckAvailability(h *History, p Params) ([]Violation, time.Duration) {
	var oks []time.Duration
	var start time.Duration = -1
	for _, o := range h.Ops {
		if o.Kind != OpWrite {
			continue
		}
		if start < 0 || o.Invoke < start {
			start = o.Invoke
		}
		if o.OK {
			oks = append(oks, o.Complete)
		}
	}
	if start < 0 {
		return nil, 0
	}
	slices.Sort(oks)
	// Gaps between successes, and from the last one to the end.
	var gaps [][2]time.Duration
	prev := start
	for _, t := range oks {
		if t-prev > 250*time.Millisecond {
			gaps = append(gaps, [2]time.Duration{prev, t})
		}
		prev = t
	}
	if h.WorkEnd-prev > 250*time.Millisecond {
		gaps = append(gaps, [2]time.Duration{prev, h.WorkEnd})
	}
	var total time.Duration
	for _, g := range gaps {
		total += g[1] - g[0]
	}
	// Fault events split time into segments with a fixed set of active faults.
	events := []time.Duration{0, h.WorkEnd}
	for _, f := range h.Faults {
		events = append(events, f.Start, f.End)
	}
	held := append(append(resyncHolds(h), amnesiacHolds(h, p)...), forgetHolds(h, p)...)
	for _, f := range held {
		events = append(events, f.End)
	}
	slices.Sort(events)
	events = slices.Compact(events)
	limit := availLimit(p)
	lost := authorityLostAt(h, p)
	if lost >= 0 {
		events = append(events, lost)
		slices.Sort(events)
		events = slices.Compact(events)
	}
	// A pause whose resume never went through lasts to the end: its
	// record ends where the nemesis gave up (pauseLeftAt).
	paused := pauseLeftAt(h)
	for _, g := range gaps {
		// The recovery clock starts when the set of nodes the faults hit
		// last changed: a new fault on a node already down (its Redis
		// killed, then cut off) changes nothing for the healthy majority.
		runStart := time.Duration(-1)
		var prevHit []string
		prevOK := false
		for k := 0; k+1 < len(events); k++ {
			segS, segE := events[k], events[k+1]
			var active []FaultRecord
			for _, f := range h.Faults {
				if f.Start <= segS && f.End > segS {
					active = append(active, f)
				}
			}
			for _, f := range held {
				if f.Start <= segS && f.End > segS {
					active = append(active, f)
				}
			}
			hit, known := hitNodes(active)
			ok := known && 2*len(hit) < p.Nodes && (lost < 0 || segS < lost) && (paused < 0 || segS < paused) &&
				!lastCopyHit(h, p, g[0], segS, hit) && !holderWaitHit(h, p, g[0], segS, hit) && !onlyHitHoldData(h, segS, hit)
			if !ok {
				prevOK = false
				continue
			}
			if !prevOK || !slices.Equal(hit, prevHit) {
				runStart = segS
			}
			prevHit, prevOK = hit, true
			// Writes must be back within limit of the later of the run's
			// start and the gap's.
			lim := limit
			base := max(runStart, g[0])
			if p.MinReplicas >= 1 && slices.ContainsFunc(active, func(f FaultRecord) bool { return f.OnPrimary }) {
				lim = max(lim, durableLimit(p))
				for _, f := range active {
					if f.OnPrimary && len(f.Nodes) > 0 {
						base = max(base, lastHeard(h, events, f.Nodes[0], base, segS))
					}
				}
			}
			if holderWaitsDurably(h, p, g[0], segS, hit) {
				lim = max(lim, durableLimit(p))
			}
			if ns := shippedHolderWaits(h, p, g[0], segS, hit); len(ns) > 0 {
				// vigil waits for each such node from when it was last
				// heard: the allowance runs from the latest.
				lim = max(lim, durableLimit(p))
				from := base
				for _, n := range ns {
					from = max(from, lastHeard(h, events, n, base, segS))
				}
				base = from
			}
			// Only the part of the gap inside this segment counts: a
			// segment that begins after writes came back judges nothing
			// of the gap. Chaos seed 6304 (N=3): writes were back at
			// 32.46 s, within the durable allowance of the faults on c,
			// the primary; at 32.82 s only a fault on c as a replica was
			// left, and its 6 s, counted from 21.30 s, were held against
			// the gap that had ended before it.
			from := max(base+lim, segS)
			to := min(segE, g[1])
			if to > from {
				what := "no fault was active"
				if len(active) > 0 {
					var ds []string
					for _, f := range active {
						ds = append(ds, fmt.Sprintf("#%d %s", f.ID, f.Desc))
					}
					what = "only " + strings.Join(ds, ", ") + " was active"
				}
				return []Violation{{RuleAvailability, from, fmt.Sprintf(
					"no write succeeded from %s to %s (%s); from %s on the faults hit only %v (at %s: %s), and a healthy majority should restore writes within %s",
					fmtDur(g[0]), fmtDur(g[1]), g[1]-g[0], fmtDur(runStart), hit, fmtDur(segS), what, lim)}}, total
			}
		}
	}
	return nil, total
}

// LeakSlack is how many goroutines a sidecar may run at the end beyond the
// most any sidecar ran at the start. At both moments the group is healthy
// and no client is connected, so a sidecar runs the same set: its loops,
// memberlist's, Raft's, and one or two per peer connection. The slack
// absorbs connections being re-established and timers in flight; a
// goroutine left behind by each fault (a watcher, a dial, a stream) grows
// past it within one run.
const LeakSlack = 40

// CheckGoroutines fails a run at whose end a sidecar runs more goroutines
// than any ran at its start plus LeakSlack.
func CheckGoroutines(h *History) []Violation {
	base := -1
	for _, s := range h.Sidecars {
		base = max(base, s.GoroutinesStart)
	}
	if base < 0 {
		return nil // no sample at the start: nothing to compare with
	}
	var out []Violation
	for _, s := range h.Sidecars {
		if s.GoroutinesEnd > base+LeakSlack {
			out = append(out, Violation{RuleLeak, h.WorkEnd, fmt.Sprintf(
				"sidecar %s runs %d goroutines at the end, healed and idle; the sidecars ran at most %d at the start (slack %d)",
				s.Node, s.GoroutinesEnd, base, LeakSlack)})
		}
	}
	return out
}

// LoopRate and LoopCalls bound how often a Redis may have run one command
// the workloads do not send, on average since it last started: an idle
// group's sidecars send each Redis a few dozen a second of any one
// (INFO, HELLO, PING at 100 ms), and a sidecar whose effect starts again
// on its own completion sends thousands (chaos seed 13005: 1.6 million
// CLIENT PAUSE in under two minutes; a sampler found no other).
const (
	LoopRate  = 500 // a second
	LoopCalls = 20000
)

// workloadCommands are the commands the workloads themselves send, at
// rates of their own.
var workloadCommands = []string{"set", "get", "mget", "incr", "eval", "evalsha", "multi", "exec"}

// CheckCommandRates fails a run at whose end a Redis had run a command
// the workloads do not send more than LoopCalls times and LoopRate a
// second since it last started: an effect repeating in a loop.
func CheckCommandRates(h *History) []Violation {
	var out []Violation
	for _, r := range h.Commands {
		if r.Uptime <= 0 {
			continue
		}
		for _, cmd := range slices.Sorted(maps.Keys(r.Calls)) {
			n := r.Calls[cmd]
			if slices.Contains(workloadCommands, cmd) || n <= LoopCalls || float64(n)/r.Uptime.Seconds() <= LoopRate {
				continue
			}
			out = append(out, Violation{RuleCommandLoop, h.WorkEnd, fmt.Sprintf(
				"%s's Redis ran %s %d times in the %s since it last started (%.0f a second; at most %d)",
				r.Node, strings.ToUpper(cmd), n, r.Uptime, float64(n)/r.Uptime.Seconds(), LoopRate)})
		}
	}
	return out
}

// CheckSidecars fails a run in which a sidecar panicked, hit a fatal
// runtime error, or exited without the nemesis killing it.
func CheckSidecars(h *History) []Violation {
	var out []Violation
	for _, s := range h.Sidecars {
		for _, marker := range []string{"panic:", "fatal error:"} {
			if i := strings.Index(s.Log, marker); i >= 0 {
				end := min(len(s.Log), i+2000)
				out = append(out, Violation{RuleSidecar, h.WorkEnd, fmt.Sprintf("sidecar %s: %q in its log:\n%s", s.Node, marker, s.Log[i:end])})
				break
			}
		}
		for _, e := range s.UnexpectedExits {
			out = append(out, Violation{RuleSidecar, h.WorkEnd, fmt.Sprintf("sidecar %s exited unexpectedly: %s", s.Node, e)})
		}
	}
	return out
}
