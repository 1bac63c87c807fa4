package authority

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// contacts records, from raft's own heartbeats, when this node was last in
// touch with a majority: as leader, the heartbeats each follower
// acknowledged; as follower, the heartbeats it accepted from a leader.
// raft sends a heartbeat to every follower each tenth of a heartbeat
// timeout anyway, so reading them off the transport costs nothing, where
// a leadership check of its own (VerifyLeader) every third of a timeout
// cost every sidecar of an idle group about a sixth of its wake-ups.
type contacts struct {
	self raft.ServerID

	mu          sync.Mutex
	acks        map[raft.ServerID]ack // per follower, its latest acknowledged heartbeat
	voters      []raft.ServerID       // the configuration this node leads with
	votersTerm  uint64                // the term it was read in; 0 while none
	votersIndex uint64                // its index, so an older read never replaces a newer one
	leader      time.Time             // the latest majority contact seen as leader
	follower    time.Time             // the latest heartbeat accepted from a leader
}

// ack is a heartbeat a follower accepted: the leader's term and when the
// leader sent it.
type ack struct {
	term uint64
	at   time.Time
}

func newContacts(self raft.ServerID) *contacts {
	return &contacts{self: self, acks: make(map[raft.ServerID]ack)}
}

// acked records that follower id accepted, at term, a heartbeat this node
// sent at sent.
func (c *contacts) acked(id raft.ServerID, term uint64, sent time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.acks[id]; !ok || term > cur.term || term == cur.term && sent.After(cur.at) {
		c.acks[id] = ack{term: term, at: sent}
	}
}

// heard records a heartbeat this node accepted from a leader at at.
func (c *contacts) heard(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.follower = later(c.follower, at)
}

// setVoters records the configuration (read at index) this node leads
// with in term. A read older than the one held is ignored.
func (c *contacts) setVoters(term, index uint64, cfg raft.Configuration) {
	var voters []raft.ServerID
	for _, s := range cfg.Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, s.ID)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if term < c.votersTerm || term == c.votersTerm && index < c.votersIndex {
		return
	}
	c.voters, c.votersTerm, c.votersIndex = voters, term, index
	for id := range c.acks {
		if !slices.ContainsFunc(cfg.Servers, func(s raft.Server) bool { return s.ID == id }) {
			delete(c.acks, id)
		}
	}
}

// last returns the latest contact with a majority. leading and term say
// whether this node leads now, and in which term: only then do its
// followers' acknowledgements, against the voters read in that term,
// count.
func (c *contacts) last(leading bool, term uint64, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if leading && term == c.votersTerm {
		if t, ok := quorumContact(c.self, c.voters, term, c.acks, now); ok {
			c.leader = later(c.leader, t)
		}
	}
	return later(c.leader, c.follower)
}

// quorumContact returns the latest time at or after which a majority of
// voters acknowledged self as leader of term: self, a voter, counts at
// now, as raft's own leadership check counts the leader's vote; each
// other voter at its latest heartbeat of that term. False when no
// majority ever did, or self is no voter. A configuration read one change
// behind the latest is still sound: raft changes one server at a time, so
// a majority of the old configuration and one of the new always share a
// member, and that member acknowledged this leader.
func quorumContact(self raft.ServerID, voters []raft.ServerID, term uint64, acks map[raft.ServerID]ack, now time.Time) (time.Time, bool) {
	if !slices.Contains(voters, self) {
		return time.Time{}, false
	}
	need := len(voters)/2 + 1 - 1 // self is one
	if need == 0 {
		return now, true
	}
	var times []time.Time
	for _, v := range voters {
		if a, ok := acks[v]; ok && v != self && a.term == term {
			times = append(times, a.at)
		}
	}
	if len(times) < need {
		return time.Time{}, false
	}
	slices.SortFunc(times, func(x, y time.Time) int { return y.Compare(x) })
	if t := times[need-1]; t.Before(now) {
		return t, true
	}
	return now, true
}
