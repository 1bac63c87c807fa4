package monitor

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errNoRole is returned for an INFO reply without a role line, which no
// real Redis sends: whatever answered is not a Redis we understand.
var errNoRole = errors.New("monitor: info replication has no role")

// info is INFO output split into field/value pairs. Sections are flattened:
// field names are unique across the sections vigil reads.
type info map[string]string

// parseInfo splits the text of one or more INFO sections into fields.
// Lines are "field:value"; "# Section" headers and blank lines are skipped;
// CRLF and LF line ends are both accepted.
func parseInfo(txt string, into info) info {
	if into == nil {
		into = make(info)
	}
	for line := range strings.Lines(txt) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			into[k] = v
		}
	}
	return into
}

func (m info) int(key string, def int64) int64 {
	v, ok := m[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return def
	}
	return n
}

// apply fills o's replication and server fields from INFO replication and
// INFO server output. It decides Synced from this one reply; the Prober
// refines it across probes.
func (m info) apply(o *Observation) error {
	switch Role(m["role"]) {
	case RolePrimary:
		o.Role = RolePrimary
	case RoleReplica:
		o.Role = RoleReplica
	case "":
		return errNoRole
	default:
		return fmt.Errorf("monitor: unknown role %q", m["role"])
	}
	o.RunID = m["run_id"]
	o.Version = m["redis_version"]
	o.ReplID = m["master_replid"]
	o.ReplID2, o.ReplOffset2 = "", 0
	if id := m["master_replid2"]; id != "" && strings.Trim(id, "0") != "" {
		o.ReplID2, o.ReplOffset2 = id, max(m.int("second_repl_offset", 0), 0)
	}
	o.ConnectedReplicas = int(m.int("connected_slaves", 0))
	o.Replicas = m.replicas()
	o.MasterLinkDownSinceSeconds = -1
	o.LinkDownFor = 0

	if o.Role == RolePrimary {
		o.Offset = m.int("master_repl_offset", 0)
		o.LagBytes = 0
		o.Priority = -1 // INFO does not say; the Prober asks CONFIG GET
		return nil
	}

	o.Offset = m.int("slave_repl_offset", m.int("master_repl_offset", 0))
	o.Priority = int(m.int("slave_priority", -1))
	o.MasterHost = m["master_host"]
	o.MasterPort = int(m.int("master_port", 0))
	o.LinkUp = m["master_link_status"] == "up"
	o.SyncInProgress = m["master_sync_in_progress"] == "1"
	o.LagBytes = -1

	if !o.LinkUp {
		down := m.int("master_link_down_since_seconds", -1)
		// Before Redis 6.2 a replica that never connected reports seconds
		// since the epoch here. The link cannot have been down longer than
		// the process has run, so such a value is "never connected" too.
		if up := m.int("uptime_in_seconds", -1); up >= 0 && down > up+1 {
			down = -1
		}
		o.MasterLinkDownSinceSeconds = down
		if down > 0 {
			o.LinkDownFor = time.Duration(down) * time.Second
		}
	}
	// The link is up only after a full or partial sync completed
	// (REPL_STATE_CONNECTED). While it is down, Redis (>= 6.2) reports
	// master_link_down_since_seconds as -1 when the link never came up
	// since the process started or since it was last a primary, and the
	// time since it broke otherwise: a broken link proves a completed sync.
	// master_sync_in_progress and slave_repl_offset are no evidence either
	// way: a replica that never connected shows sync 0 and a non-negative
	// offset, and a re-sync after a completed one shows sync 1.
	o.Synced = o.LinkUp || o.MasterLinkDownSinceSeconds >= 0
	if !o.LinkUp {
		// With its link down a replica with no cached primary reports
		// slave_repl_offset 1, a placeholder; master_repl_offset is the
		// position of the data it holds. Otherwise the two are equal.
		// Before its first sync that is a new process, or one restarted
		// without an RDB: the placeholder made a new group's primary, at
		// offset 0 while its replicas waited for the diskless sync delay,
		// look restarted empty, and the group failed over at its start.
		// After a completed sync Redis drops the cached primary when the
		// connection ends while its client is blocked, as under CLIENT
		// PAUSE WRITE (a paused replica postpones its primary's stream):
		// chaos seed 11208 (N=5), a's Redis, apparently paused by a
		// foreign demotion, reported offset 1 whenever its link was down
		// from 35.3 s on, at 145134 on its history, and was ranked behind
		// every candidate.
		o.Offset = m.int("master_repl_offset", o.Offset)
	}
	return nil
}

// replicas reads the slaveN lines of INFO replication, in N order:
// "slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0".
func (m info) replicas() []Replica {
	var idx []int
	for k := range m {
		// Only slaveN: Atoi's error for slave_repl_offset, slave_priority
		// and the like costs an allocation each.
		if n, ok := strings.CutPrefix(k, "slave"); ok && n != "" && n[0] >= '0' && n[0] <= '9' {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 {
				idx = append(idx, i)
			}
		}
	}
	slices.Sort(idx)
	var rs []Replica
	for _, i := range idx {
		var r Replica
		var ip, port string
		for kv := range strings.SplitSeq(m["slave"+strconv.Itoa(i)], ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "ip":
				ip = v
			case "port":
				port = v
			case "state":
				r.State = v
			case "offset":
				r.Offset, _ = strconv.ParseInt(v, 10, 64)
			case "lag":
				r.Lag, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		r.Addr = net.JoinHostPort(ip, port)
		rs = append(rs, r)
	}
	return rs
}
