package failover

import "time"

// Raft's calm timings (authority.Config.RaftCalmHeartbeatTimeout): while a
// sidecar sees nothing a failover may follow, it asks raft for fewer
// heartbeats; the moment it sees a sign of trouble it asks for the
// failover timings again, and a follower whose leader has already been
// silent longer than those calls an election at once. Each sidecar
// decides for itself: a follower in a hurry under a calm leader still
// hears heartbeats well within its heartbeat timeout (half of it apart at
// most with the derived calm timeout, two thirds with any valid one).

// calmInput is what troubleInSight reads of one step.
type calmInput struct {
	Now  time.Time
	Self string
	St   groupState
	// Peers are the members' latest reports, this sidecar's own included.
	Peers map[string]peerView
	P     params
	// Interval is monitor.interval, the probes' period.
	Interval time.Duration
	// Answered is when the primary last gave this sidecar a valid reply
	// (its own Redis, when that is the primary), or when watching it
	// began, whichever is later.
	Answered     time.Time
	SDown, ODown bool
	// Leader names the Raft leader; "" while none is known.
	Leader string
	// Busy: a promotion, demotion, re-point, switchover step or fence runs
	// on this sidecar, or its Redis is fenced.
	Busy bool
}

// troubleInSight says why, in one step's view, a failover may follow
// soon, or returns "" when nothing does.
func troubleInSight(in calmInput) string {
	switch {
	case in.St.Primary == "":
		return "no primary"
	case in.Leader == "":
		return "no raft leader"
	case in.SDown || in.ODown:
		return "primary down"
	case in.Now.Sub(in.Answered) > 2*in.Interval:
		return "primary probe unanswered"
	case in.Busy:
		return "failover work under way"
	case in.St.Switchover != nil:
		return "switchover under way"
	case opinions(in.Peers, in.St.Primary, in.St.Epoch, in.Now, in.P.Fresh, time.Time{}) > 0:
		return "a peer holds the primary down"
	}
	for name := range in.St.Members {
		if pv, ok := in.Peers[name]; name != in.Self && (!ok || !pv.fresh(in.Now, in.P.Fresh)) {
			return "a member's sidecar is silent"
		}
	}
	return ""
}

// calmAfter is how long a sidecar must see no trouble, and its group's
// epoch stay the same, before it asks raft for calm timings.
func calmAfter(p params) time.Duration { return max(2*p.DownAfter, 4*p.Fresh) }
