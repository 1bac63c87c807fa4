package chaos

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpKind names what an operation did.
type OpKind string

// The operations the workloads record.
const (
	// OpWrite is a SET of a unique key through go-redis's
	// NewFailoverClient, with the sidecars as its Sentinels.
	OpWrite OpKind = "write"
	// OpProxyWrite is a SET of a unique key through a sidecar's TCP proxy.
	OpProxyWrite OpKind = "proxy-write"
	// OpSet and OpGet are the register workload: SET of a unique value
	// and GET of one of a few keys, through the failover client.
	OpSet OpKind = "set"
	OpGet OpKind = "get"
	// OpEnqueue hands "INCR key" to a sidecar's retry queue with an
	// idempotency id; OK means the sidecar stored it.
	OpEnqueue OpKind = "rq-enqueue"
	// OpProbe is a SET sent straight to one node's Redis: it shows which
	// nodes accept writes when.
	OpProbe OpKind = "probe"
	// OpLinks is INFO replication sent straight to one node's Redis
	// every 100 ms: Value lists, sorted and comma-separated, the nodes
	// whose Redis it counts as online replicas. Only a successful sample
	// that differs from the node's last recorded one is recorded.
	OpLinks OpKind = "links"
	// OpKeys is DBSIZE sent straight to one node's Redis with each links
	// sample: Value is the count. Only a successful sample that differs
	// from the node's last recorded one is recorded.
	OpKeys OpKind = "keys"
	// OpDrained is an acknowledged OpEnqueue's item seen gone from its
	// sidecar's retry queue (Node, Key as the enqueue's): it was still
	// queued at Invoke (or enqueued then) and gone by Complete. The queue
	// deletes an item once it applied it and a replica acknowledged that.
	OpDrained OpKind = "rq-drained"
)

// Op is one recorded operation. Times are offsets from the start of the
// run, read from the monotonic clock.
type Op struct {
	Kind   OpKind
	Client int    // which worker issued it
	Node   string // the node addressed (probes, enqueues); "" when a client library chose
	Key    string
	Value  string // written, or read (OpGet)
	Invoke time.Duration
	// Complete is when the answer arrived (or the call failed).
	Complete time.Duration
	OK       bool
	// Err is the error text when !OK. A failed write may still have been
	// applied (a timeout); only acknowledged writes are held to account.
	Err string
}

func (o Op) String() string {
	s := fmt.Sprintf("[%9s %9s] c%-2d %-11s", fmtDur(o.Invoke), fmtDur(o.Complete), o.Client, o.Kind)
	if o.Node != "" {
		s += " @" + o.Node
	}
	s += " " + o.Key
	if o.Value != "" {
		s += "=" + o.Value
	}
	if o.OK {
		return s + " ok"
	}
	return s + " ERR " + o.Err
}

// FaultClass groups fault kinds by what the group should survive.
type FaultClass string

// Fault classes.
const (
	// ClassProcess faults kill or stop processes of one node.
	ClassProcess FaultClass = "process"
	// ClassNetwork faults cut or slow links.
	ClassNetwork FaultClass = "network"
	// ClassAdmin faults are operator actions (switchover, pause, forget).
	ClassAdmin FaultClass = "admin"
)

// FaultRecord is what the nemesis did, as executed: which nodes the
// schedule's targets resolved to, and when it started and ended.
type FaultRecord struct {
	ID    int
	Kind  FaultKind
	Class FaultClass
	// Nodes are the nodes the fault acted on (the side cut off for a
	// partition).
	Nodes []string
	Desc  string
	Start time.Duration
	// End is when the fault was healed (the process restarted or
	// resumed, the rules removed); Start for an instant action.
	End time.Duration
	// RedisRestart is set when End restarted a killed Redis: a Redis that
	// comes back as a primary from its own configuration takes writes
	// until its sidecar demotes it, which the dual-primary rule allows for
	// fence_after plus one interval.
	RedisRestart bool
	// SidecarWiped names the node whose sidecar data dir was wiped at End
	// (its retry queue with it).
	SidecarWiped bool
	// DataLost: a Redis was killed that comes back without its data (no
	// persistence, or its files wiped).
	DataLost bool
	// OnPrimary: the fault acted on the node the sidecars named primary
	// when it started.
	OnPrimary bool
	// Failed is set when the action could not be carried out; the error.
	Failed string
}

// SidecarRecord is what the harness saw of one node's sidecar over the
// run.
type SidecarRecord struct {
	Node string
	// Log is the sidecar's whole output, every incarnation.
	Log string
	// UnexpectedExits lists exits the nemesis did not cause.
	UnexpectedExits []string
	// GoroutinesStart is the sidecar's go_goroutines once the group first
	// converged, before any workload or fault; GoroutinesEnd the same once
	// everything healed, the workloads stopped and the queues drained. -1
	// when the sidecar did not answer.
	GoroutinesStart, GoroutinesEnd int
}

// History is everything a run recorded, the input of Check.
type History struct {
	Seed     uint64
	Nodes    []string
	Ops      []Op
	Faults   []FaultRecord
	LastHeal time.Duration // when the final heal ended
	// WorkEnd is when the workloads stopped.
	WorkEnd time.Duration
	// Final holds each key's value read from the primary at the end
	// (absent: the key does not exist). FinalErr is set when the final
	// read could not be done.
	Final    map[string]string
	FinalErr string
	// Undrained counts retry-queue items still queued when the drain
	// deadline passed.
	Undrained int
	Sidecars  []SidecarRecord
	// Failovers is the group's own failover history (GET /v1/history of
	// the first sidecar that answered at the end), with wall-clock times;
	// Started is the run's wall-clock origin, to line them up.
	Failovers string
	Started   time.Time
	// Commands are each Redis's command counts at the end (INFO
	// commandstats), since its last start (Uptime, INFO server).
	Commands []RedisCommands
}

// RedisCommands is what one node's Redis counted: calls per command
// (commandstats names, "client|pause" for a subcommand) over Uptime.
type RedisCommands struct {
	Node   string
	Uptime time.Duration
	Calls  map[string]int64
}

// Params are the timings and mode the rules are judged against.
type Params struct {
	Nodes       int
	Interval    time.Duration // monitor.interval
	DownAfter   time.Duration // failover.down_after
	FenceAfter  time.Duration // failover.fence_after
	MinReplicas int           // failover.min_replicas (0 where the binary has no such key)
	Divergent   string        // failover.divergent_writes ("" in histories written before it was recorded: replay)
	// Stabilization is failover.stabilization: how long a member the
	// leader re-adds stays a non-voter. 0 in histories written before it
	// was recorded (2 s then).
	Stabilization time.Duration
	// AvailSlack is added to down_after before writes count as
	// unavailable (the 2 s).
	AvailSlack time.Duration
	// LinearizeTimeout bounds the linearizability search.
	LinearizeTimeout time.Duration
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// onlineReplicas lists, sorted and comma-separated, the nodes (byIP maps
// a Redis's IP to its node) that INFO replication's slaveN lines show
// online.
func onlineReplicas(info string, byIP map[string]string) string {
	var out []string
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(k, "slave") || !strings.Contains(v, "state=online") {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			if ip, ok := strings.CutPrefix(f, "ip="); ok && byIP[ip] != "" {
				out = append(out, byIP[ip])
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// commandCalls parses INFO commandstats: calls per command.
func commandCalls(info string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		if v, ok := strings.CutPrefix(calls, "calls="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[name] = n
			}
		}
	}
	return out
}
