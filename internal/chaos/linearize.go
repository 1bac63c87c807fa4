package chaos

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// regInput is one register operation as porcupine sees it.
type regInput struct {
	key   string
	write bool
	value string
}

// registerModel is a set of independent registers (one per key, initially
// absent: ""), partitioned by key.
func registerModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, o := range history {
				k := o.Input.(regInput).key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], o)
			}
			sort.Strings(keys)
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() interface{} { return "" },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			in := input.(regInput)
			if in.write {
				return true, in.value
			}
			return output.(string) == state.(string), state
		},
		DescribeOperation: func(input, output interface{}) string {
			in := input.(regInput)
			if in.write {
				return fmt.Sprintf("set(%s, %s)", in.key, in.value)
			}
			return fmt.Sprintf("get(%s) -> %q", in.key, output)
		},
	}
}

// notApplied reports whether a write that failed with err certainly did
// not reach Redis's data set: refused by a replica or a loading or
// fenced-off server, or never sent because no connection could be made.
// Any other failure (a timeout after sending, a reset) may or may not have
// been applied.
func notApplied(err string) bool {
	for _, p := range []string{"READONLY", "LOADING", "MASTERDOWN", "NOREPLICAS", "redis: connection pool timeout", "redis: all sentinels"} {
		if strings.HasPrefix(err, p) {
			return true
		}
	}
	return strings.Contains(err, "dial tcp") || strings.Contains(err, "connect: connection refused")
}

// registerOps turns the register workload into porcupine operations. A
// failed GET had no effect and is dropped, as is a SET that certainly
// failed (notApplied); any other failed SET may or may not have been
// applied, so it stays open until after the end of the history. So does
// an acknowledged SET within the documented loss bound (lossExcused), or
// acknowledged before enough nodes lost their Redis data at once, or under
// a primary whose naming the group may have forgotten (dataGoneUntil,
// forgottenSpans: the excuses CheckLostWrites makes): such a write may
// vanish, which a read after a failover then shows; a read that returned
// such a value is dropped.
func registerOps(h *History, p Params) []porcupine.Operation {
	var end time.Duration
	for _, o := range h.Ops {
		end = max(end, o.Complete)
	}
	// Values whose SET is within the loss bound: a read of one (say from
	// an isolated primary before its fence) is not judged either, as the
	// write it shows may vanish.
	gone, forgot := dataGoneUntil(h, p), forgottenSpans(h, p)
	starts := failoverStarts(h)
	vanishes := func(o Op) bool {
		return lossExcused(h, p, o.Complete) || replayedLate(h, p, o.Complete, starts) || o.Complete <= gone || inSpans(forgot, o.Complete)
	}
	mayVanish := map[[2]string]bool{}
	for _, o := range h.Ops {
		// A SET of unknown outcome to a primary cut off from its
		// replicas may have been applied there as well, and vanish and
		// come back with the replay the same way. Chaos seed 12803 (N=3):
		// a SET to b, cut off by a Redis-only partition, timed out at
		// 32.76 s; b had applied it, served it to reads until its demotion
		// at 41.95 s, and the replay of b's divergent writes put it back
		// over the new primary's newer value at 42.40 s.
		unknown := o.Kind == OpSet && !o.OK && !notApplied(o.Err) && replayedLate(h, p, o.Complete, starts)
		if o.Kind == OpSet && o.OK && vanishes(o) || unknown {
			mayVanish[[2]string{o.Key, o.Value}] = true
		}
	}
	judged := func(o Op) bool {
		return o.Kind == OpGet && o.OK && !mayVanish[[2]string{o.Key, o.Value}] && !emptyServing(h, p, o, starts)
	}
	read := map[[2]string]bool{}
	for _, o := range h.Ops {
		if judged(o) {
			read[[2]string{o.Key, o.Value}] = true
		}
	}
	var out []porcupine.Operation
	for _, o := range h.Ops {
		switch {
		case judged(o):
			out = append(out, porcupine.Operation{ClientId: o.Client, Input: regInput{key: o.Key}, Output: o.Value,
				Call: int64(o.Invoke), Return: int64(o.Complete)})
		case o.Kind == OpSet && (o.OK || !notApplied(o.Err)):
			ret := o.Complete
			if !o.OK || vanishes(o) {
				// Open to the end. One whose value no judged read
				// returned is left out: it can always take effect
				// after every other operation, and each such write
				// multiplies the search (chaos seed 12123, N=3: 13 on
				// one key, and porcupine gave up after 5 minutes).
				if !read[[2]string{o.Key, o.Value}] {
					continue
				}
				ret = end + time.Second
			}
			out = append(out, porcupine.Operation{ClientId: o.Client, Input: regInput{key: o.Key, write: true, value: o.Value}, Output: "",
				Call: int64(o.Invoke), Return: int64(ret)})
		}
	}
	return out
}

// replayedLate reports whether, with min_replicas (and divergent_writes
// replay), a write acknowledged at t may be one a primary cut off from its
// replicas by a network fault took before its fence, or Redis's lag check,
// stopped it: from one interval before the fault started to fence_after
// plus one interval, or max-lag + 2 s, after (the window lossExcused uses).
// Such a write is not lost, so the lost-write rule rightly holds it, but
// the new primary lacks it until the old one rejoins and the replay lands:
// meanwhile reads return the value before it, and then it comes back
// (seed 502, N=3: b, cut off by a one-way fault, acknowledged 0.6 s of
// writes; c, promoted, served the older values for 10 s until b rejoined
// and the replay put them back). For the register history it may vanish,
// as within the loss bound without min_replicas.
//
// A primary that cannot send to its replicas while its own sidecar cannot
// reach it before its fence is due (unwatchedSpans) is stopped by
// neither: the fence needs the sidecar, and Redis's lag check counts the
// replicas' acknowledgements, which still arrive. Only the failover stops
// it, as it re-points those replicas; the window then runs to down_after
// after the first failover that started after the cut (starts). Chaos
// seed 11442 (N=5): e's sidecar was cut from its Redis from 49.5 s and e
// could send to nobody from 52.6 s; epoch 6 (54.5 s) re-pointed b, c and
// d from 55.3 s to 55.7 s, e's Redis acknowledged writes to 55.64 s and
// refused them (NOREPLICAS) from 56.0 s, and a's, the new primary, served
// the values before them.
//
// The primary's side does not matter when the fault completes its cut
// from every other Redis (writerCutOff): it then acknowledges on Redis's
// lag allowance alone, whichever side its sidecar is on. Chaos seed
// 12522 (N=3): c's Redis, the primary, had one replica, a's, attached
// 0.2 s before a partition isolated a's node (b's was isolated by an
// earlier fault); c acknowledged 10 register writes in the next 0.93 s,
// a was promoted 21 s later without them, and the replay of c's
// divergent writes put the older values back over a's newer ones.
func replayedLate(h *History, p Params, t time.Duration, starts []time.Duration) bool {
	if p.MinReplicas < 1 {
		return false // lossExcused already lets the whole window vanish
	}
	for _, f := range h.Faults {
		// The primary is on the cut side when it was the focus, or may be
		// among a side of several nodes (N=5 halves).
		if f.Class != ClassNetwork || f.Failed != "" {
			continue
		}
		end := f.Start + max(p.FenceAfter+p.Interval, redisLagBound(p))
		if f.Kind == PartOneWay && f.OnPrimary && unwatchedDuring(h, f.Nodes[0], f.Start, f.Start+p.FenceAfter+p.Interval) {
			if at, ok := firstFailover(starts, f.Start); ok {
				end = max(end, at+p.DownAfter)
			}
		}
		// The window first: mayCutPrimary scans the history.
		if t >= f.Start-p.Interval && t <= end && mayCutPrimary(h, p, f) {
			return true
		}
	}
	return false
}

// mayCutPrimary reports whether fault f may have cut the primary from
// its replicas: it hit the primary, spans several nodes (the primary may
// be among them), or left the primary no replica to stream to
// (writerCutOff). lossExcused and replayedLate open their windows only
// for such a fault.
func mayCutPrimary(h *History, p Params, f FaultRecord) bool {
	return f.OnPrimary || len(f.Nodes) >= 2 || writerCutOff(h, p, f)
}

// writerCutOff reports whether, once fault f started, the Redis that took
// the last probe write before it (the primary) had no replica left to
// receive what it acknowledges: faults kept it from every other node's
// Redis, or a Redis they did not keep from it was not among its online
// replicas from one interval before the fault to Redis's lag bound after
// (unlinked). Chaos seed 13306 (N=3): a partition cut c, a's only replica,
// off at 33.33 s; b's Redis, a stale primary parked by c's sidecar 0.3 s
// before, followed nobody, so a acknowledged 2.2 s of register writes that
// reached no replica, c was promoted without them when a's Redis was
// stopped, and reads served the values before them until the replay.
func writerCutOff(h *History, p Params, f FaultRecord) bool {
	w := lastProbeWriter(h, f.Start)
	if w == "" {
		return false
	}
	for _, z := range h.Nodes {
		if z != w && !redisApart(h, w, z, f.Start, f.Start+1, nil) &&
			!unlinked(h, w, z, f.Start-p.Interval, f.Start+redisLagBound(p)) {
			return false
		}
	}
	return true
}

// unlinked reports whether the link samples (OpLinks) show w's Redis
// without z's among its online replicas throughout [from, to]: neither
// w's last sample at or before from nor any sample within lists z. False
// where w has no sample by from (histories recorded before the samples).
// One goroutine records each node's samples, so they are in order.
func unlinked(h *History, w, z string, from, to time.Duration) bool {
	known, linked := false, false
	for _, o := range h.Ops {
		if o.Kind != OpLinks || o.Node != w || !o.OK || o.Complete > to {
			continue
		}
		has := slices.Contains(strings.Split(o.Value, ","), z)
		switch {
		case o.Complete <= from:
			known, linked = true, has
		case has:
			return false
		}
	}
	return known && !linked
}

// emptyServing reports whether read o overlaps the documented window in
// which a Redis that restarted without its data answers reads: from its
// restart until its sidecar judged it empty and it resynced. Clients the
// Sentinels had sent to it read an empty data set there, as with Redis
// Sentinel; such reads are not judged (seed 3: a primary's whole node was
// killed without persistence and came back while no majority could fail
// it over). It resyncs down_after plus resyncGrace after the restart, or,
// where other faults held the failover back, resyncGrace after the first
// failover the group started after it (starts, failoverStarts): chaos seed
// 12123 (N=3): a's Redis came back empty at 17.9 s, and with b's sidecar
// stopped and c cut off no failover could start until 26.7 s; reads from
// 24.9 s, 7 s after the restart, were held against vigil.
func emptyServing(h *History, p Params, o Op, starts []time.Duration) bool {
	for _, f := range h.Faults {
		if !f.DataLost || !f.RedisRestart {
			continue
		}
		end := f.End + p.DownAfter + resyncGrace
		if at, ok := firstFailover(starts, f.End); ok {
			end = max(end, at+resyncGrace)
		}
		if o.Complete >= f.End && o.Invoke <= end {
			return true
		}
	}
	return false
}

// firstFailover returns when the first failover that started at or after t
// started (starts in order, failoverStarts).
func firstFailover(starts []time.Duration, t time.Duration) (time.Duration, bool) {
	i, _ := slices.BinarySearch(starts, t)
	if i == len(starts) {
		return 0, false
	}
	return starts[i], true
}

// unwatchedDuring reports whether node's own sidecar could not watch its
// Redis at some moment from from to to (unwatchedSpans): a fence due then
// may not have been applied.
func unwatchedDuring(h *History, node string, from, to time.Duration) bool {
	return slices.ContainsFunc(unwatchedSpans(h, node), func(s [2]time.Duration) bool { return s[0] <= to && from <= s[1] })
}

// promotion is a failover the group recorded: when it started, measured
// from the run's start, and the node it promoted.
type promotion struct {
	at   time.Duration
	node string
}

// promotions returns the failovers the group recorded (h.Failovers: GET
// /v1/history's entries, one a line), in order of their start.
func promotions(h *History) []promotion {
	var out []promotion
	if h.Started.IsZero() {
		return nil
	}
	for _, line := range strings.Split(h.Failovers, "\n") {
		var e struct {
			New   string    `json:"new"`
			Start time.Time `json:"start"`
		}
		if json.Unmarshal([]byte(strings.TrimSpace(line)), &e) != nil || e.Start.IsZero() {
			continue
		}
		out = append(out, promotion{at: e.Start.Sub(h.Started), node: e.New})
	}
	slices.SortStableFunc(out, func(a, b promotion) int { return cmp.Compare(a.at, b.at) })
	return out
}

// failoverStarts returns when each failover the group recorded started,
// in order, measured from the run's start.
func failoverStarts(h *History) []time.Duration {
	var out []time.Duration
	for _, f := range promotions(h) {
		out = append(out, f.at)
	}
	return out
}

// CheckLinearizable checks the register history with porcupine. It
// returns "ok", "violation", "unknown (search timed out)" or "n/a" (no
// register ops). On a violation the message names the key and lists the
// operations on it that porcupine could not order.
func CheckLinearizable(h *History, p Params) ([]Violation, string) {
	ops := registerOps(h, p)
	if len(ops) == 0 {
		return nil, "n/a"
	}
	timeout := p.LinearizeTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	model := registerModel()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	switch res {
	case porcupine.Ok:
		return nil, "ok"
	case porcupine.Unknown:
		return nil, "unknown (search timed out)"
	}
	// Find the partition that failed: the longest partial linearization
	// ends just before the operation that could not be placed.
	var b strings.Builder
	at := time.Duration(-1)
	for _, part := range info.PartialLinearizationsOperations() {
		if len(part) == 0 {
			continue
		}
		var longest []porcupine.Operation
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
		partOps := 0
		for _, o := range ops {
			if len(longest) > 0 && o.Input.(regInput).key == longest[0].Input.(regInput).key {
				partOps++
			}
		}
		if len(longest) == partOps {
			continue // this key linearized fully
		}
		key := ""
		if len(longest) > 0 {
			key = longest[0].Input.(regInput).key
		}
		// The ops on this key not in the longest linearization, earliest
		// first: one of them is the op that broke it.
		placed := map[int64]bool{}
		for _, o := range longest {
			placed[o.Call] = true
		}
		var rest []porcupine.Operation
		for _, o := range ops {
			if o.Input.(regInput).key == key && !placed[o.Call] {
				rest = append(rest, o)
			}
		}
		sort.Slice(rest, func(i, j int) bool { return rest[i].Call < rest[j].Call })
		fmt.Fprintf(&b, "key %s: %d of %d operations linearize; the last placed and the first left over:", key, len(longest), partOps)
		if len(longest) > 0 {
			o := longest[len(longest)-1]
			fmt.Fprintf(&b, "\n  placed [%s %s] %s", fmtDur(time.Duration(o.Call)), fmtDur(time.Duration(o.Return)), model.DescribeOperation(o.Input, o.Output))
		}
		for _, o := range rest[:min(len(rest), 6)] {
			fmt.Fprintf(&b, "\n  left   [%s %s] %s", fmtDur(time.Duration(o.Call)), fmtDur(time.Duration(o.Return)), model.DescribeOperation(o.Input, o.Output))
		}
		if len(rest) > 0 && (at < 0 || time.Duration(rest[0].Call) < at) {
			at = time.Duration(rest[0].Call)
		}
		b.WriteString("\n")
	}
	if at < 0 {
		at = 0
	}
	return []Violation{{RuleLinearizable, at, "register history is not linearizable: " + strings.TrimSpace(b.String())}}, "violation"
}
