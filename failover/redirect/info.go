package redirect

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tidwall/redcon"
)

// info renders INFO: the Server, Clients, Stats, CPU and Sentinel sections
// redis-sentinel has, with the fields clients and exporters read (or the
// sections named).
func (s *Sentinel) info(sections [][]byte) string {
	want := map[string]bool{}
	all := len(sections) == 0
	for _, sec := range sections {
		switch n := strings.ToLower(string(sec)); n {
		case "all", "default", "everything":
			all = true
		default:
			want[n] = true
		}
	}
	var sb strings.Builder
	section := func(name string, lines ...string) {
		if !all && !want[strings.ToLower(name)] {
			return
		}
		if sb.Len() > 0 {
			sb.WriteString("\r\n")
		}
		sb.WriteString("# " + name + "\r\n")
		for _, l := range lines {
			sb.WriteString(l + "\r\n")
		}
	}
	now := time.Now()
	var uptime int64
	if !s.started.IsZero() {
		uptime = int64(now.Sub(s.started).Seconds())
	}
	port := "0"
	if a := s.Addr(); a != nil {
		_, port = splitAddr(a.String())
	}
	exe, _ := os.Executable()
	arch := "64"
	if strconv.IntSize == 32 {
		arch = "32"
	}
	section("Server",
		"redis_version:"+redisVersion,
		"redis_git_sha1:00000000",
		"redis_git_dirty:0",
		"redis_build_id:0",
		"redis_mode:sentinel",
		"os:"+runtime.GOOS+" "+runtime.GOARCH,
		"arch_bits:"+arch,
		"multiplexing_api:epoll",
		"gcc_version:0.0.0",
		"process_id:"+strconv.Itoa(os.Getpid()),
		"process_supervised:no",
		"run_id:"+s.myid,
		"tcp_port:"+port,
		"server_time_usec:"+strconv.FormatInt(now.UnixMicro(), 10),
		"uptime_in_seconds:"+strconv.FormatInt(uptime, 10),
		"uptime_in_days:"+strconv.FormatInt(uptime/86400, 10),
		"hz:10",
		"configured_hz:10",
		"executable:"+exe,
		"config_file:",
		"vigil_node:"+s.self,
	)
	section("Clients",
		"connected_clients:"+strconv.FormatInt(s.nconns.Load(), 10),
		"cluster_connections:0",
		"maxclients:"+strconv.Itoa(s.cfg.MaxClients),
		"blocked_clients:0",
		"tracking_clients:0",
		"clients_in_timeout_table:0",
	)
	chans, pats := s.pubsubCounts()
	section("Stats",
		"total_connections_received:"+strconv.FormatInt(s.accepted.Load(), 10),
		"total_commands_processed:"+strconv.FormatInt(s.ncmds.Load(), 10),
		"instantaneous_ops_per_sec:0",
		"rejected_connections:"+strconv.FormatInt(s.refused.Load(), 10),
		"expired_keys:0",
		"evicted_keys:0",
		"keyspace_hits:0",
		"keyspace_misses:0",
		"pubsub_channels:"+strconv.Itoa(chans),
		"pubsub_patterns:"+strconv.Itoa(pats),
		"total_error_replies:0",
	)
	section("CPU", cpuLines()...)

	snap := s.src.Snapshot()
	status := "ok"
	switch {
	case snap.Primary.ODown:
		status = "odown"
	case snap.Primary.SDown || snap.Primary.Addr == "":
		status = "sdown"
	}
	addr := snap.Primary.Addr
	if addr == "" {
		addr = ":0"
	}
	section("Sentinel",
		"sentinel_masters:1",
		"sentinel_tilt:0",
		"sentinel_tilt_since_seconds:-1",
		"sentinel_running_scripts:0",
		"sentinel_scripts_queue_length:0",
		"sentinel_simulate_failure_flags:0",
		fmt.Sprintf("master0:name=%s,status=%s,address=%s,slaves=%d,sentinels=%d",
			s.masterName, status, addr, len(snap.Replicas), len(snap.Sentinels)+1),
	)
	return sb.String()
}

// cpuLines is INFO's CPU section from getrusage. The process has no
// separate "main thread" accounting; the whole process's is reported.
func cpuLines() []string {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	sec := func(t syscall.Timeval) string {
		return strconv.FormatFloat(float64(t.Sec)+float64(t.Usec)/1e6, 'f', 6, 64)
	}
	return []string{
		"used_cpu_sys:" + sec(self.Stime),
		"used_cpu_user:" + sec(self.Utime),
		"used_cpu_sys_children:" + sec(kids.Stime),
		"used_cpu_user_children:" + sec(kids.Utime),
		"used_cpu_sys_main_thread:" + sec(self.Stime),
		"used_cpu_user_main_thread:" + sec(self.Utime),
	}
}

// pubsubCounts is the number of distinct channels and patterns subscribed.
func (s *Sentinel) pubsubCounts() (channels, patterns int) {
	chs, ps := map[string]struct{}{}, map[string]struct{}{}
	s.subsMu.RLock()
	for sub := range s.subs {
		for _, c := range sub.names(false) {
			chs[c] = struct{}{}
		}
		for _, p := range sub.names(true) {
			ps[p] = struct{}{}
		}
	}
	s.subsMu.RUnlock()
	return len(chs), len(ps)
}

// clientLine describes one connection as CLIENT INFO and CLIENT LIST do.
// Buffer and memory fields are 0: the endpoint does not track them.
func (s *Sentinel) clientLine(st *connState, now time.Time) string {
	st.infoMu.Lock()
	cmd, at := st.lastCmd, st.lastAt
	st.infoMu.Unlock()
	nsub, npsub := 0, 0
	flags := "N"
	if st.sub != nil {
		nsub, npsub = len(st.sub.names(false)), len(st.sub.names(true))
		if nsub+npsub > 0 {
			flags = "P"
		}
	}
	if cmd == "" {
		cmd = "NULL"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=%d",
		st.id, st.addr, st.laddr, st.name, int64(now.Sub(st.created).Seconds()), int64(now.Sub(at).Seconds()),
		flags, nsub, npsub, cmd, st.proto.Load())
}

// clientList answers CLIENT LIST [TYPE normal|pubsub] [ID id ...].
func (s *Sentinel) clientList(st *connState, args [][]byte, b []byte) []byte {
	var (
		typ string
		ids []int64
	)
	for i := 2; i < len(args); i++ {
		switch opt := strings.ToLower(string(args[i])); {
		case opt == "type" && i+1 < len(args):
			typ = strings.ToLower(string(args[i+1]))
			switch typ {
			case "normal", "pubsub", "master", "replica", "slave":
			default:
				return redcon.AppendError(b, fmt.Sprintf("ERR Unknown client type '%s'", clip(typ)))
			}
			i++
		case opt == "id" && i+1 < len(args):
			for i+1 < len(args) {
				id, err := strconv.ParseInt(string(args[i+1]), 10, 64)
				if err != nil || id <= 0 {
					return redcon.AppendError(b, "ERR Invalid client ID")
				}
				ids = append(ids, id)
				i++
			}
		default:
			return redcon.AppendError(b, errSyntax)
		}
	}
	s.connsMu.Lock()
	conns := make([]*connState, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	slices.SortFunc(conns, func(a, b *connState) int { return int(a.id - b.id) })
	now := time.Now()
	var sb strings.Builder
	for _, c := range conns {
		if len(ids) > 0 && !slices.Contains(ids, c.id) {
			continue
		}
		pubsub := c.sub.count() > 0
		if (typ == "normal" && pubsub) || (typ == "pubsub" && !pubsub) || typ == "master" || typ == "replica" || typ == "slave" {
			continue
		}
		sb.WriteString(s.clientLine(c, now))
		sb.WriteString("\n")
	}
	return appendVerbatim(b, int(st.proto.Load()), sb.String())
}

// commandSpec describes one command for COMMAND, in Redis's terms.
type commandSpec struct {
	name       string
	arity      int
	flags      []string
	categories []string
	summary    string
	group      string
}

// commandTable is every command the endpoint answers.
var commandTable = []commandSpec{
	{"acl", -2, nil, []string{"@slow"}, "A container for Access List Control commands.", "server"},
	{"auth", -2, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, []string{"@fast", "@connection"}, "Authenticates the connection.", "connection"},
	{"client", -2, nil, []string{"@slow"}, "A container for client connection commands.", "connection"},
	{"command", -1, []string{"loading", "stale"}, []string{"@slow", "@connection"}, "Returns detailed information about all commands.", "server"},
	{"hello", -1, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, []string{"@fast", "@connection"}, "Handshakes with the Redis server.", "connection"},
	{"info", -1, []string{"loading", "stale"}, []string{"@slow", "@dangerous"}, "Returns information and statistics about the server.", "server"},
	{"ping", -1, []string{"fast"}, []string{"@fast", "@connection"}, "Returns the server's liveliness response.", "connection"},
	{"psubscribe", -2, []string{"pubsub", "noscript", "loading", "stale"}, []string{"@pubsub", "@slow"}, "Listens for messages published to channels that match one or more patterns.", "pubsub"},
	{"punsubscribe", -1, []string{"pubsub", "noscript", "loading", "stale"}, []string{"@pubsub", "@slow"}, "Stops listening to messages published to channels that match one or more patterns.", "pubsub"},
	{"quit", -1, []string{"allow_busy", "noscript", "loading", "stale", "fast", "no_auth"}, []string{"@fast", "@connection"}, "Closes the connection.", "connection"},
	{"reset", 1, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, []string{"@fast", "@connection"}, "Resets the connection.", "connection"},
	{"role", 1, []string{"noscript", "loading", "stale", "fast"}, []string{"@admin", "@fast", "@dangerous"}, "Returns the replication role.", "server"},
	{"sentinel", -2, []string{"admin", "only_sentinel"}, []string{"@admin", "@slow", "@dangerous"}, "A container for Redis Sentinel commands.", "sentinel"},
	{"subscribe", -2, []string{"pubsub", "noscript", "loading", "stale"}, []string{"@pubsub", "@slow"}, "Listens for messages published to channels.", "pubsub"},
	{"unsubscribe", -1, []string{"pubsub", "noscript", "loading", "stale"}, []string{"@pubsub", "@slow"}, "Stops listening to messages posted to channels.", "pubsub"},
}

func lookupCommand(name string) (commandSpec, bool) {
	i := slices.IndexFunc(commandTable, func(c commandSpec) bool { return c.name == name })
	if i < 0 {
		return commandSpec{}, false
	}
	return commandTable[i], true
}

// appendCommandInfo appends one COMMAND INFO entry: name, arity, flags,
// first key, last key, step, ACL categories, tips, key specs, subcommands.
func appendCommandInfo(b []byte, proto int, c commandSpec) []byte {
	b = redcon.AppendArray(b, 10)
	b = redcon.AppendBulkString(b, c.name)
	b = redcon.AppendInt(b, int64(c.arity))
	b = appendSetLen(b, proto, len(c.flags))
	for _, f := range c.flags {
		b = redcon.AppendString(b, f)
	}
	b = redcon.AppendInt(b, 0)
	b = redcon.AppendInt(b, 0)
	b = redcon.AppendInt(b, 0)
	b = appendSetLen(b, proto, len(c.categories))
	for _, f := range c.categories {
		b = redcon.AppendString(b, f)
	}
	// Tips, key specs and subcommands: sets in RESP3, as Redis sends them.
	b = appendSetLen(b, proto, 0)
	b = appendSetLen(b, proto, 0)
	return appendSetLen(b, proto, 0)
}

// command answers COMMAND, COMMAND COUNT|LIST|INFO|DOCS.
func (s *Sentinel) command(proto int, args [][]byte, b []byte) []byte {
	if len(args) == 1 {
		b = redcon.AppendArray(b, len(commandTable))
		for _, c := range commandTable {
			b = appendCommandInfo(b, proto, c)
		}
		return b
	}
	named := func() []string {
		var out []string
		for _, a := range args[2:] {
			out = append(out, strings.ToLower(string(a)))
		}
		if len(out) == 0 {
			for _, c := range commandTable {
				out = append(out, c.name)
			}
		}
		return out
	}
	switch sub := strings.ToLower(string(args[1])); sub {
	case "count":
		if len(args) != 2 {
			return arityError(b, "command|count")
		}
		return redcon.AppendInt(b, int64(len(commandTable)))
	case "list":
		if len(args) != 2 {
			return redcon.AppendError(b, errSyntax)
		}
		b = redcon.AppendArray(b, len(commandTable))
		for _, c := range commandTable {
			b = redcon.AppendBulkString(b, c.name)
		}
		return b
	case "info":
		names := named()
		b = redcon.AppendArray(b, len(names))
		for _, n := range names {
			if c, ok := lookupCommand(n); ok {
				b = appendCommandInfo(b, proto, c)
			} else {
				b = appendNullArray(b, proto)
			}
		}
		return b
	case "docs":
		var found []commandSpec
		for _, n := range named() {
			if c, ok := lookupCommand(n); ok {
				found = append(found, c)
			}
		}
		b = appendMapLen(b, proto, len(found))
		for _, c := range found {
			b = redcon.AppendBulkString(b, c.name)
			b = appendMapLen(b, proto, 3)
			b = redcon.AppendBulkString(b, "summary")
			b = redcon.AppendBulkString(b, c.summary)
			b = redcon.AppendBulkString(b, "since")
			b = redcon.AppendBulkString(b, "1.0.0")
			b = redcon.AppendBulkString(b, "group")
			b = redcon.AppendBulkString(b, c.group)
		}
		return b
	}
	return unknownSubcommand(b, args[1], "COMMAND")
}

// acl answers ACL WHOAMI: the endpoint has one user, "default".
func (s *Sentinel) acl(args [][]byte, b []byte) []byte {
	if len(args) < 2 {
		return arityError(b, "acl")
	}
	if strings.ToLower(string(args[1])) == "whoami" {
		if len(args) != 2 {
			return arityError(b, "acl|whoami")
		}
		return redcon.AppendBulkString(b, "default")
	}
	return unknownSubcommand(b, args[1], "ACL")
}
