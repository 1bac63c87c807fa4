package failover

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// Snapshot returns the group as this sidecar currently believes it to be.
func (f *Failover) Snapshot() Snapshot {
	alive := f.cluster.Alive()
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conf
	s := Snapshot{
		MasterName: f.cfg.MasterName, Self: f.self.Name, Epoch: c.Epoch,
		Quorum: f.cfg.Quorum, DownAfter: f.cfg.DownAfter, ParallelSyncs: f.cfg.ParallelSyncs,
		Fenced: f.fenced, Paused: c.Paused, InFailover: f.inFailover || f.switchTarget != "",
		WhyNot: f.whyNot, Conflict: f.conflict,
		Replicas: []Node{}, Sentinels: []Node{},
	}
	member := func(n *Node) {
		n.Member = "dead"
		if slices.Contains(alive, n.Name) {
			n.Member = "alive"
		}
	}
	if c.Primary != "" {
		p := f.nodeLocked(c.Primary)
		p.Addr = c.PrimaryAddr
		p.SDown, p.ODown = f.sdown, f.odown
		member(&p)
		s.Primary = p
		if c.Primary == f.self.Name {
			s.Writable = f.localUpLocked(now) && f.obs.Role == monitor.RolePrimary && !f.fenced && f.switchTarget == ""
		} else if ps, ok := f.peers[c.Primary]; ok {
			r := ps.rep
			s.Writable = now.Sub(ps.received) < f.fresh && r.Obs.Reachable && r.Obs.Role == monitor.RolePrimary &&
				!r.Fenced && r.Switching == ""
		}
	}
	names := []string{f.self.Name}
	for n := range f.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		n := f.nodeLocked(name)
		member(&n)
		if name != f.self.Name {
			s.Sentinels = append(s.Sentinels, n)
		}
		if name != c.Primary {
			s.Replicas = append(s.Replicas, n)
		}
	}
	return s
}

// IsPrimary reports whether the newest configuration names this node and
// its Redis is a reachable primary that is not fenced: the node clients may
// write to.
func (f *Failover) IsPrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conf.Primary == f.self.Name && f.localUpLocked(time.Now()) && f.obs.Role == monitor.RolePrimary &&
		!f.fenced && f.switchTarget == ""
}

// Ready reports whether gossip has settled and this sidecar has heard the
// current configuration from a majority of the known set; before that it
// does not act on its Redis.
func (f *Failover) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

// History returns the recent failovers, oldest first.
func (f *Failover) History() []HistoryEntry {
	f.mu.Lock()
	h := f.hist
	f.mu.Unlock()
	if h == nil {
		return []HistoryEntry{}
	}
	return h.entries()
}

// Configuration returns the configuration this sidecar follows.
func (f *Failover) Configuration() Configuration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conf
}

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
