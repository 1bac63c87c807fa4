package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// FaultKind names one kind of fault the nemesis can inject.
type FaultKind string

// The fault kinds.
const (
	KillRedis   FaultKind = "kill-redis"   // SIGKILL Redis, restart it at the end
	KillSidecar FaultKind = "kill-sidecar" // SIGKILL the sidecar, restart it at the end
	KillBoth    FaultKind = "kill-both"    // host crash: both, restarted together
	StopRedis   FaultKind = "stop-redis"   // SIGSTOP Redis, SIGCONT at the end
	StopSidecar FaultKind = "stop-sidecar" // SIGSTOP the sidecar, SIGCONT at the end
	PartHalves  FaultKind = "part-halves"  // the focus and others (a minority) | the rest
	PartIsolate FaultKind = "part-isolate" // the focus | everyone else
	PartBridge  FaultKind = "part-bridge"  // focus | rest, except one bridge node that reaches both
	PartOneWay  FaultKind = "part-oneway"  // packets from the focus to the rest dropped, not the reverse
	PartGossip  FaultKind = "part-gossip"  // focus | rest on the gossip port only
	PartRedis   FaultKind = "part-redis"   // focus | rest on the Redis port only (replication, probes)
	PartLocal   FaultKind = "part-local"   // the focus's sidecar cannot reach its own Redis
	Netem       FaultKind = "netem"        // tc netem latency and loss on what the focus sends
	Switchover  FaultKind = "switchover"   // POST /v1/switchover (to a node, or any)
	Pause       FaultKind = "pause"        // POST /v1/pause, /v1/resume at the end
	Forget      FaultKind = "forget"       // POST /v1/forget of the focus
	// PauseWinner SIGKILLs the primary's Redis, waits for a sidecar to log
	// that it won the election, and SIGSTOPs that sidecar at once, before
	// it promotes; SIGCONT and the Redis restart at the end.
	PauseWinner FaultKind = "pause-winner"
	// WipeIsolated kills the focus's sidecar, wipes its data dir, cuts the
	// focus off and restarts the sidecar alone; the cut heals at the end.
	WipeIsolated FaultKind = "wipe-isolated"
)

// winnerWatch is how long a pause-winner fault's heal watches the resumed
// winner, with the old primary's Redis still down, before it restarts that
// Redis and the fault ends.
const winnerWatch = 3 * time.Second

// Class is the kind's FaultClass.
func (k FaultKind) Class() FaultClass {
	switch k {
	case KillRedis, KillSidecar, KillBoth, StopRedis, StopSidecar, PauseWinner:
		return ClassProcess
	case Switchover, Pause, Forget:
		return ClassAdmin
	}
	return ClassNetwork
}

// Target says whom a fault hits, resolved when it starts: the primary
// the sidecars name then, a replica, or node index Pick.
type Target string

// Targets.
const (
	TargetPrimary Target = "primary"
	TargetReplica Target = "replica"
	TargetNode    Target = "node"
)

// Fault is one scheduled fault.
type Fault struct {
	ID   int
	Kind FaultKind
	At   time.Duration // offset from the start of the fault phase
	For  time.Duration // how long it lasts; 0 for an instant action
	// Focus is the node the fault centres on; Pick resolves it among
	// replicas or nodes (modulo their count).
	Focus Target
	Pick  int
	// Extra are offsets (1..n-1) from the focus's index of further nodes
	// on the focus's side (halves) or the bridge node (bridge).
	Extra []int
	// WipeData: the killed process comes back with its data gone (Redis:
	// dump, AOF and its rewritten config; sidecar: node.data_dir).
	WipeData bool
	// ToAny: a switchover without a target.
	ToAny bool
	// DelayMs, JitterMs and LossPct configure netem.
	DelayMs, JitterMs, LossPct int
}

func (f Fault) String() string {
	s := fmt.Sprintf("#%d %s at %s for %s on %s", f.ID, f.Kind, fmtDur(f.At), fmtDur(f.For), f.Focus)
	if f.Focus != TargetPrimary {
		s += fmt.Sprintf("[%d]", f.Pick)
	}
	if len(f.Extra) > 0 {
		s += fmt.Sprintf(" extra %v", f.Extra)
	}
	if f.WipeData {
		s += " wipe"
	}
	if f.Kind == Netem {
		s += fmt.Sprintf(" delay %dms±%dms loss %d%%", f.DelayMs, f.JitterMs, f.LossPct)
	}
	return s
}

// Plan is a run's schedule: per-node Redis persistence and the faults in
// start order.
type Plan struct {
	Seed     uint64
	Duration time.Duration
	Nodes    int
	// Persist[i]: node i's Redis runs with appendonly (fsync every
	// second); otherwise without any persistence.
	Persist []bool
	Faults  []Fault
}

// kindWeight is a fault kind and how often Schedule picks it.
type kindWeight struct {
	k FaultKind
	w int
}

// kindWeights lists the kinds and their weights: process faults and
// partitions are the most common; admin actions are rarer.
func kindWeights() []kindWeight {
	return []kindWeight{
		{KillRedis, 8}, {KillSidecar, 5}, {KillBoth, 6}, {StopRedis, 6}, {StopSidecar, 6},
		{PartHalves, 5}, {PartIsolate, 6}, {PartBridge, 3}, {PartOneWay, 3}, {PartGossip, 4},
		{PartRedis, 3}, {PartLocal, 3}, {Netem, 3}, {Switchover, 3}, {Pause, 2}, {Forget, 2},
	}
}

// Schedule returns the plan for seed, duration and n nodes. It is a pure
// function: the same arguments give the same plan. Faults start from 2 s
// on, every 1-5 s, last 2-12 s (clipped to the duration), and overlap;
// at most one netem fault runs at a time because the node shares one
// loopback device.
func Schedule(seed uint64, duration time.Duration, n int) Plan {
	r := rand.New(rand.NewPCG(seed, 0x76696769 /* "vigi" */))
	// The compound faults replace some others from a second stream, so
	// adding them left every other draw, and the rest of each schedule,
	// as it was.
	r2 := rand.New(rand.NewPCG(seed, 0x636f6d70 /* "comp" */))
	p := Plan{Seed: seed, Duration: duration, Nodes: n, Persist: make([]bool, n)}
	for i := range p.Persist {
		p.Persist[i] = r.IntN(2) == 0
	}
	weights := kindWeights()
	total := 0
	for _, kw := range weights {
		total += kw.w
	}
	var netemUntil time.Duration
	at := 2 * time.Second
	for id := 1; ; id++ {
		if at >= duration {
			break
		}
		f := Fault{ID: id, At: at}
		x := r.IntN(total)
		for _, kw := range weights {
			if x < kw.w {
				f.Kind = kw.k
				break
			}
			x -= kw.w
		}
		f.For = time.Duration(2000+r.IntN(10_000)) * time.Millisecond
		switch x := r.IntN(10); {
		case x < 6:
			f.Focus = TargetPrimary
		case x < 8:
			f.Focus = TargetReplica
		default:
			f.Focus = TargetNode
		}
		f.Pick = r.IntN(n)
		switch f.Kind {
		case KillRedis, KillSidecar, KillBoth:
			f.WipeData = r.IntN(3) == 0
		case PartHalves:
			// The focus's side is a minority: it and (n-1)/2-1 more.
			for k := 1; k < (n-1)/2; k++ {
				f.Extra = append(f.Extra, k)
			}
		case PartBridge:
			f.Extra = []int{1 + r.IntN(n-1)}
		case Netem:
			if at < netemUntil {
				f.Kind = PartIsolate // one netem at a time
			}
			f.DelayMs, f.JitterMs, f.LossPct = 20+r.IntN(280), r.IntN(50), r.IntN(30)
		case Switchover:
			f.For = 0
			f.ToAny = r.IntN(2) == 0
		case Forget:
			f.For = 0
		}
		if f.Kind == Netem {
			netemUntil = at + f.For
		}
		switch x := r2.IntN(100); {
		case x < 6:
			f.Kind, f.Focus, f.Extra, f.WipeData = PauseWinner, TargetPrimary, nil, false
		case x < 12 && f.Kind != Netem:
			f.Kind, f.Extra, f.WipeData = WipeIsolated, nil, false
		}
		if f.For == 0 && (f.Kind == PauseWinner || f.Kind == WipeIsolated) {
			f.For = time.Duration(2000+r2.IntN(10_000)) * time.Millisecond // replaced an instant action
		}
		if f.At+f.For > duration {
			f.For = duration - f.At
		}
		p.Faults = append(p.Faults, f)
		at += time.Duration(1000+r.IntN(4000)) * time.Millisecond
	}
	return p
}
