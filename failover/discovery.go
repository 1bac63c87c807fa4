package failover

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/monitor"
)

// discoverLocked finds the primary from Redis's own replication state, as
// reported by the fresh reports and the local observation: the one node
// that is a primary, with every replica following it. It does not guess:
// when several nodes are primaries it names failover.initial_primary if
// set, and otherwise returns a conflict. An empty name with no conflict
// means "not yet known": some known sidecar has not reported, or no node
// is a primary.
func (f *Failover) discoverLocked(now time.Time) (primary, conflict string) {
	type view struct {
		name, addr string
		role       monitor.Role
		master     string
	}
	var nodes []view
	if f.localUpLocked(now) {
		nodes = append(nodes, view{f.self.Name, f.self.Addr, f.obs.Role, f.obs.MasterAddr()})
	}
	for name, p := range f.peers {
		if now.Sub(p.received) < f.fresh && p.rep.Obs.Reachable {
			nodes = append(nodes, view{name, p.rep.Addr, p.rep.Obs.Role, p.rep.Obs.MasterAddr})
		}
	}
	// Every known sidecar must report: a standalone primary whose sidecar
	// is silent could hold the data, and vigil does not guess.
	for _, k := range f.known() {
		if !slices.ContainsFunc(nodes, func(v view) bool { return v.name == k }) {
			return "", ""
		}
	}
	var primaries []view
	followed := map[string]int{} // primary address -> replicas following it
	for _, n := range nodes {
		switch n.role {
		case monitor.RolePrimary:
			primaries = append(primaries, n)
		case monitor.RoleReplica:
			followed[n.master]++
		}
	}
	slices.SortFunc(primaries, func(a, b view) int { return strings.Compare(a.name, b.name) })
	switch {
	case len(primaries) == 1:
		p := primaries[0]
		for addr := range followed {
			if addr != p.addr {
				return "", fmt.Sprintf("replicas follow %s, which no sidecar reports, while %s is primary", addr, p.name)
			}
		}
		return p.name, ""
	case len(primaries) == 0:
		return "", ""
	}
	if ip := f.cfg.InitialPrimary; ip != "" {
		if slices.ContainsFunc(primaries, func(v view) bool { return v.name == ip }) {
			return ip, ""
		}
		return "", fmt.Sprintf("failover.initial_primary %q is not among the reporting primaries", ip)
	}
	names := make([]string, len(primaries))
	for i, p := range primaries {
		names[i] = fmt.Sprintf("%s (%d replicas)", p.name, followed[p.addr])
	}
	return "", "several nodes are primaries: " + strings.Join(names, ", ") + "; set failover.initial_primary to choose"
}
