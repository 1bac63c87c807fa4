package redirect

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/vigil-redis/vigil/failover"
)

// action is what the connection must do after a command's reply is sent.
type action int

const (
	actNone      action = iota
	actSubscribe        // the connection entered subscribed mode: detach it
	actClose            // QUIT: close after the reply
)

// redisVersion is the version HELLO and INFO report. Clients gate features
// on it, and Sentinel reports its Redis version; 7.2 has every command
// this endpoint speaks.
const redisVersion = "7.2.0"

// Error replies, in Redis's and Sentinel's words.
const (
	errNoAuth       = "NOAUTH Authentication required."
	errWrongPass    = "WRONGPASS invalid username-password pair or user is disabled."
	errNoPassword   = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	errNoSuchMaster = "ERR No such master with that name"
	errSyntax       = "ERR syntax error"
)

// exec executes one command for the connection st and appends its reply
// to b. It is the whole command surface of the endpoint: it never panics,
// whatever the arguments, and appends exactly one reply per command, except
// for an empty command (which Redis ignores) and for (P)SUBSCRIBE and
// (P)UNSUBSCRIBE, which answer once per channel as Redis does.
func (s *Sentinel) exec(st *connState, args [][]byte, b []byte) ([]byte, action) {
	if len(args) == 0 {
		return b, actNone
	}
	name := strings.ToLower(string(args[0]))
	s.ncmds.Add(1)
	full := name
	switch name {
	case "client", "sentinel", "command", "acl":
		if len(args) > 1 {
			full = name + "|" + strings.ToLower(clip(string(args[1])))
		}
	}
	st.infoMu.Lock()
	st.lastCmd, st.lastAt = full, time.Now()
	st.infoMu.Unlock()
	start := len(b)
	b, act := s.dispatch(st, name, args, b)
	s.count(name, len(b) > start && b[start] == '-')
	return b, act
}

// count records one command in vigil_sentinel_commands_total.
func (s *Sentinel) count(name string, failed bool) {
	c, ok := s.counters[name]
	if !ok {
		c = s.counters["other"]
	}
	if failed {
		c[1].Inc()
	} else {
		c[0].Inc()
	}
}

func (s *Sentinel) dispatch(st *connState, name string, args [][]byte, b []byte) ([]byte, action) {
	proto := int(st.proto.Load())
	if !st.authed && name != "auth" && name != "hello" && name != "quit" {
		return redcon.AppendError(b, errNoAuth), actNone
	}
	if st.sub.count() > 0 {
		switch name {
		case "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit", "reset":
		default:
			return redcon.AppendError(b, fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", clip(name))), actNone
		}
	}
	switch name {
	case "ping":
		if len(args) > 2 {
			return arityError(b, name), actNone
		}
		msg := ""
		if len(args) == 2 {
			msg = string(args[1])
		}
		if st.sub.count() > 0 && proto < 3 {
			// RESP2 subscribed mode answers with a push-like array;
			// RESP3 answers as in normal mode.
			b = redcon.AppendArray(b, 2)
			b = redcon.AppendBulkString(b, "pong")
			return redcon.AppendBulkString(b, msg), actNone
		}
		if len(args) == 2 {
			return redcon.AppendBulk(b, args[1]), actNone
		}
		return redcon.AppendString(b, "PONG"), actNone
	case "quit":
		return redcon.AppendOK(b), actClose
	case "reset":
		if len(args) != 1 {
			return arityError(b, name), actNone
		}
		if st.sub != nil {
			for _, p := range []bool{false, true} {
				for _, n := range st.sub.names(p) {
					st.sub.remove(n, p)
				}
			}
		}
		st.name = ""
		st.authed = s.cfg.Password == ""
		st.proto.Store(2) // RESET returns to RESP2, as in Redis
		return redcon.AppendString(b, "RESET"), actNone
	case "auth":
		return s.auth(st, args, b), actNone
	case "hello":
		return s.hello(st, args, b), actNone
	case "client":
		return s.client(st, args, b), actNone
	case "role":
		if len(args) != 1 {
			return arityError(b, name), actNone
		}
		b = redcon.AppendArray(b, 2)
		b = redcon.AppendBulkString(b, "sentinel")
		b = redcon.AppendArray(b, 1)
		return redcon.AppendBulkString(b, s.masterName), actNone
	case "info":
		// A bulk string in RESP3 too: redis-sentinel 7 sends INFO that way.
		return redcon.AppendBulkString(b, s.info(args[1:])), actNone
	case "sentinel":
		return s.sentinel(st, args, b), actNone
	case "command":
		return s.command(proto, args, b), actNone
	case "acl":
		return s.acl(args, b), actNone
	case "subscribe", "psubscribe":
		if len(args) < 2 {
			return arityError(b, name), actNone
		}
		act := actNone
		if st.sub == nil {
			st.sub = newSubscriber(s, st)
			act = actSubscribe
		} else if !st.sub.started {
			// Pipelined SUBSCRIBEs before the detach: one detach is enough.
			act = actSubscribe
		}
		pattern := name == "psubscribe"
		for _, ch := range args[1:] {
			n := st.sub.add(string(ch), pattern)
			b = appendPushLen(b, proto, 3)
			b = redcon.AppendBulkString(b, name)
			b = redcon.AppendBulk(b, ch)
			b = redcon.AppendInt(b, int64(n))
		}
		return b, act
	case "unsubscribe", "punsubscribe":
		pattern := name == "punsubscribe"
		var names []string
		for _, ch := range args[1:] {
			names = append(names, string(ch))
		}
		if len(names) == 0 && st.sub != nil {
			names = st.sub.names(pattern)
		}
		if len(names) == 0 {
			// Redis answers an unsubscribe from nothing with a null channel.
			b = appendPushLen(b, proto, 3)
			b = redcon.AppendBulkString(b, name)
			b = appendNullBulk(b, proto)
			return redcon.AppendInt(b, int64(st.sub.count())), actNone
		}
		for _, ch := range names {
			n := 0
			if st.sub != nil {
				n = st.sub.remove(ch, pattern)
			}
			b = appendPushLen(b, proto, 3)
			b = redcon.AppendBulkString(b, name)
			b = redcon.AppendBulkString(b, ch)
			b = redcon.AppendInt(b, int64(n))
		}
		return b, actNone
	}
	return unknownCommand(b, args), actNone
}

// unknownCommand is Redis's reply to a command it does not know, quoting
// the first arguments (at most about 128 bytes of them).
func unknownCommand(b []byte, args [][]byte) []byte {
	var sb strings.Builder
	for _, a := range args[1:] {
		if sb.Len() >= 128 {
			break
		}
		room := 128 - sb.Len()
		if len(a) > room {
			a = a[:room]
		}
		fmt.Fprintf(&sb, "'%s' ", a)
	}
	return redcon.AppendError(b, fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", clip(string(args[0])), sb.String()))
}

// arityError is Redis's wrong-number-of-arguments reply; name is the
// lower-case command, "cmd|sub" for a subcommand, as Redis 7 spells it.
func arityError(b []byte, name string) []byte {
	return redcon.AppendError(b, fmt.Sprintf("ERR wrong number of arguments for '%s' command", clip(name)))
}

// unknownSubcommand is Redis's reply to an unknown subcommand.
func unknownSubcommand(b []byte, sub []byte, cmd string) []byte {
	return redcon.AppendError(b, fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", clip(string(sub)), cmd))
}

// clip shortens client-supplied text quoted in an error, as Redis does
// (%.128s), so a huge argument cannot make a huge reply.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// checkPassword compares in constant time, as a password check must.
func (s *Sentinel) checkPassword(user, pass []byte) bool {
	okUser := user == nil || string(user) == "default"
	okPass := subtle.ConstantTimeCompare(pass, []byte(s.cfg.Password)) == 1
	return okUser && okPass
}

func (s *Sentinel) auth(st *connState, args [][]byte, b []byte) []byte {
	var user, pass []byte
	switch len(args) {
	case 2:
		pass = args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		return arityError(b, "auth")
	}
	if s.cfg.Password == "" {
		return redcon.AppendError(b, errNoPassword)
	}
	if !s.checkPassword(user, pass) {
		return redcon.AppendError(b, errWrongPass)
	}
	st.authed = true
	return redcon.AppendOK(b)
}

// hello negotiates RESP2 or RESP3 and answers Sentinel's map: server,
// version, proto, id, mode and modules. Sentinel leaves out the role field
// a Redis server sends, and so does this endpoint.
func (s *Sentinel) hello(st *connState, args [][]byte, b []byte) []byte {
	proto := int(st.proto.Load())
	if len(args) >= 2 {
		v, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			return redcon.AppendError(b, "ERR Protocol version is not an integer or out of range")
		}
		if v < 2 || v > 3 {
			return redcon.AppendError(b, "NOPROTO unsupported protocol version")
		}
		proto = int(v)
	}
	var (
		authGiven  bool
		user, pass []byte
		setname    []byte
	)
	for i := 2; i < len(args); i++ {
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "auth" && i+2 < len(args):
			authGiven, user, pass = true, args[i+1], args[i+2]
			i += 2
		case opt == "setname" && i+1 < len(args):
			setname = args[i+1]
			i++
		default:
			return redcon.AppendError(b, fmt.Sprintf("ERR Syntax error in HELLO option '%s'", clip(string(args[i]))))
		}
	}
	if authGiven {
		if s.cfg.Password == "" {
			return redcon.AppendError(b, errNoPassword)
		}
		if !s.checkPassword(user, pass) {
			return redcon.AppendError(b, errWrongPass)
		}
		st.authed = true
	}
	if !st.authed {
		return redcon.AppendError(b, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if setname != nil {
		if !validClientName(setname) {
			return redcon.AppendError(b, "ERR Client names cannot contain spaces, newlines or special characters.")
		}
		st.name = string(setname)
	}
	st.proto.Store(int32(proto))
	b = appendMapLen(b, proto, 6)
	b = redcon.AppendBulkString(b, "server")
	b = redcon.AppendBulkString(b, "redis")
	b = redcon.AppendBulkString(b, "version")
	b = redcon.AppendBulkString(b, redisVersion)
	b = redcon.AppendBulkString(b, "proto")
	b = redcon.AppendInt(b, int64(proto))
	b = redcon.AppendBulkString(b, "id")
	b = redcon.AppendInt(b, st.id)
	b = redcon.AppendBulkString(b, "mode")
	b = redcon.AppendBulkString(b, "sentinel")
	b = redcon.AppendBulkString(b, "modules")
	return redcon.AppendArray(b, 0)
}

// validClientName is Redis's rule: printable ASCII without spaces.
func validClientName(n []byte) bool {
	for _, c := range n {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func (s *Sentinel) client(st *connState, args [][]byte, b []byte) []byte {
	if len(args) < 2 {
		return arityError(b, "client")
	}
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "setname":
		if len(args) != 3 {
			return arityError(b, "client|setname")
		}
		if !validClientName(args[2]) {
			return redcon.AppendError(b, "ERR Client names cannot contain spaces, newlines or special characters.")
		}
		st.name = string(args[2])
		return redcon.AppendOK(b)
	case "getname":
		if len(args) != 2 {
			return arityError(b, "client|getname")
		}
		if st.name == "" {
			return appendNullBulk(b, int(st.proto.Load()))
		}
		return redcon.AppendBulkString(b, st.name)
	case "setinfo":
		if len(args) != 4 {
			return arityError(b, "client|setinfo")
		}
		switch strings.ToLower(string(args[2])) {
		case "lib-name", "lib-ver":
			return redcon.AppendOK(b)
		}
		return redcon.AppendError(b, fmt.Sprintf("ERR Unrecognized option '%s'", clip(string(args[2]))))
	case "id":
		if len(args) != 2 {
			return arityError(b, "client|id")
		}
		return redcon.AppendInt(b, st.id)
	case "info":
		if len(args) != 2 {
			return arityError(b, "client|info")
		}
		return appendVerbatim(b, int(st.proto.Load()), s.clientLine(st, time.Now())+"\n")
	case "list":
		return s.clientList(st, args, b)
	}
	return unknownSubcommand(b, args[1], "CLIENT")
}

// sentinel answers the SENTINEL subcommands clients use. The ones that
// change Sentinel's configuration have no meaning here: vigil is
// configured through its own file and CLI.
func (s *Sentinel) sentinel(st *connState, args [][]byte, b []byte) []byte {
	proto := int(st.proto.Load())
	if len(args) < 2 {
		return arityError(b, "sentinel")
	}
	sub := strings.ToLower(string(args[1]))
	// want checks the arity and, for subcommands naming a master, the name.
	want := func(n int, named bool) ([]byte, bool) {
		if len(args) != n {
			return arityError(b, "sentinel|"+sub), false
		}
		if named && string(args[2]) != s.masterName {
			return redcon.AppendError(b, errNoSuchMaster), false
		}
		return b, true
	}
	switch sub {
	case "get-master-addr-by-name", "get-primary-addr-by-name":
		if len(args) != 3 {
			return arityError(b, "sentinel|"+sub)
		}
		snap := s.src.Snapshot()
		ip, port := splitAddr(snap.Primary.Addr)
		// A sidecar cut off from the group names no primary: the one it
		// knows may have been replaced, and a client that asks another
		// Sentinel learns the current one instead of reading stale data.
		// Nor does one whose state names its own Redis while that Redis
		// follows another (Lagging: the log has not reached it yet).
		if string(args[2]) != s.masterName || ip == "" || snap.Isolated || snap.Lagging {
			// Exactly two elements or a null: go-redis panics on fewer.
			return appendNullArray(b, proto)
		}
		b = redcon.AppendArray(b, 2)
		b = redcon.AppendBulkString(b, ip)
		return redcon.AppendBulkString(b, port)
	case "master", "primary":
		if b, ok := want(3, true); !ok {
			return b
		}
		return appendStringMap(b, proto, s.masterFields(s.src.Snapshot()))
	case "masters", "primaries":
		if b, ok := want(2, false); !ok {
			return b
		}
		b = redcon.AppendArray(b, 1)
		return appendStringMap(b, proto, s.masterFields(s.src.Snapshot()))
	case "replicas", "slaves":
		if b, ok := want(3, true); !ok {
			return b
		}
		snap := s.src.Snapshot()
		b = redcon.AppendArray(b, len(snap.Replicas))
		for _, r := range snap.Replicas {
			b = appendStringMap(b, proto, replicaFields(snap, r))
		}
		return b
	case "sentinels":
		if b, ok := want(3, true); !ok {
			return b
		}
		snap := s.src.Snapshot()
		var list [][]string
		for _, n := range snap.Sentinels {
			if f, ok := sentinelFields(snap, n); ok {
				list = append(list, f)
			}
		}
		b = redcon.AppendArray(b, len(list))
		for _, f := range list {
			b = appendStringMap(b, proto, f)
		}
		return b
	case "myid":
		if b, ok := want(2, false); !ok {
			return b
		}
		return redcon.AppendBulkString(b, s.myid)
	case "ckquorum":
		if b, ok := want(3, true); !ok {
			return b
		}
		return s.ckquorum(s.src.Snapshot(), b)
	case "is-master-down-by-addr":
		if len(args) != 6 {
			return arityError(b, "sentinel|"+sub)
		}
		return s.isMasterDownByAddr(args, b)
	case "info-cache":
		if len(args) < 3 {
			return arityError(b, "sentinel|"+sub)
		}
		return s.infoCache(args[2:], b)
	case "failover":
		if b, ok := want(3, true); !ok {
			return b
		}
		return s.failoverCmd(b)
	case "reset":
		if len(args) != 3 {
			return arityError(b, "sentinel|"+sub)
		}
		return s.resetCmd(args[2], b)
	case "set":
		if len(args) < 5 || len(args)%2 == 0 {
			return arityError(b, "sentinel|"+sub)
		}
		if string(args[2]) != s.masterName {
			return redcon.AppendError(b, errNoSuchMaster)
		}
		return s.setCmd(args[3:], b)
	case "config":
		return s.configCmd(proto, args, b)
	case "monitor", "remove", "flushconfig", "simulate-failure", "debug", "pending-scripts":
		return redcon.AppendError(b, fmt.Sprintf("ERR SENTINEL %s is not supported by vigil: the group is defined by vigil's configuration and its known set (see vigil forget)", sub))
	}
	return unknownSubcommand(b, args[1], "SENTINEL")
}

// ckquorum answers as Sentinel does: usable voters are this sidecar and
// every peer gossip does not consider dead.
func (s *Sentinel) ckquorum(snap failover.Snapshot, b []byte) []byte {
	usable := 1
	for _, n := range snap.Sentinels {
		if sentinelUsable(n) {
			usable++
		}
	}
	voters := len(snap.Sentinels) + 1
	noQuorum := usable < snap.Quorum
	noAuth := usable < voters/2+1
	if !noQuorum && !noAuth {
		return redcon.AppendString(b, fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", usable))
	}
	msg := fmt.Sprintf("NOQUORUM %d usable Sentinels. ", usable)
	if noQuorum {
		msg += "Not enough available Sentinels to reach the specified quorum for this master"
	}
	if noAuth {
		if noQuorum {
			msg += ". "
		}
		msg += "Not enough available Sentinels to reach the majority and authorize a failover"
	}
	return redcon.AppendError(b, msg)
}

// sentinelUsable reports whether a peer counts as an available voter.
func sentinelUsable(n failover.Node) bool {
	return n.Member != "dead" && n.Member != "left"
}

// msSince is milliseconds since t as a numeric string; 0 when t is unknown.
func msSince(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(max(time.Since(t).Milliseconds(), 0), 10)
}

// failoverTimeoutMS is what Sentinel's failover-timeout field reports
// while the group-wide settings do not name one: Sentinel's default.
const failoverTimeoutMS = "180000"

// failoverTimeout is the group-wide failover-timeout when the settings
// store has one, else Sentinel's default.
func (s *Sentinel) failoverTimeout() string {
	if st, ok := s.admin.(SettingsStore); ok {
		if v := st.Settings()["failover-timeout"]; v != "" {
			return v
		}
	}
	return failoverTimeoutMS
}

// masterFields describes the primary as SENTINEL MASTER does. With no known
// primary it still describes the configured master, flagged down so that
// clients checking flags (redis-py) skip it.
func (s *Sentinel) masterFields(snap failover.Snapshot) []string {
	p := snap.Primary
	ip, port := splitAddr(p.Addr)
	flags := []string{"master"}
	if p.SDown || ip == "" {
		flags = append(flags, "s_down")
	}
	if p.ODown {
		flags = append(flags, "o_down")
	}
	if !p.Reachable || ip == "" {
		flags = append(flags, "disconnected")
	}
	if snap.InFailover {
		flags = append(flags, "failover_in_progress")
	}
	kv := instanceFields(s.masterName, ip, port, p.RunID, strings.Join(flags, ","), p, snap)
	kv = append(kv,
		"info-refresh", msSince(p.LastSeen),
		"role-reported", "master",
		"role-reported-time", msSince(p.LastSeen),
		"config-epoch", strconv.FormatUint(snap.Epoch, 10),
		"num-slaves", strconv.Itoa(len(snap.Replicas)),
		"num-other-sentinels", strconv.Itoa(len(snap.Sentinels)),
		"quorum", strconv.Itoa(snap.Quorum),
		"failover-timeout", s.failoverTimeout(),
		"parallel-syncs", strconv.Itoa(snap.ParallelSyncs),
	)
	return kv
}

// replicaFields describes a replica as SENTINEL REPLICAS does: its name is
// its "ip:port".
func replicaFields(snap failover.Snapshot, r failover.Node) []string {
	ip, port := splitAddr(r.Addr)
	flags := []string{"slave"}
	if r.SDown {
		flags = append(flags, "s_down")
	}
	if r.ODown {
		flags = append(flags, "o_down")
	}
	if !r.Reachable {
		flags = append(flags, "disconnected")
	}
	kv := instanceFields(r.Addr, ip, port, r.RunID, strings.Join(flags, ","), r, snap)
	linkStatus, linkDown := "ok", "0"
	if !r.LinkUp {
		linkStatus, linkDown = "err", strconv.FormatInt(snap.DownAfter.Milliseconds(), 10)
	}
	mip, mport := splitAddr(snap.Primary.Addr)
	if mip == "" {
		mip = "?"
	}
	role := roleName(r.Role)
	if role == "" {
		role = "slave"
	}
	kv = append(kv,
		"info-refresh", msSince(r.LastSeen),
		"role-reported", role,
		"role-reported-time", msSince(r.LastSeen),
		"master-link-down-time", linkDown,
		"master-link-status", linkStatus,
		"master-host", mip,
		"master-port", mport,
		"slave-priority", strconv.Itoa(r.Priority),
		"slave-repl-offset", strconv.FormatInt(r.Offset, 10),
		"replica-announced", "1",
	)
	return kv
}

// sentinelFields describes another sidecar as SENTINEL SENTINELS does. A
// sidecar without a Sentinel endpoint is left out: clients would add its
// empty address to their sentinel list.
func sentinelFields(snap failover.Snapshot, n failover.Node) ([]string, bool) {
	ip, port := splitAddr(n.SentinelAddr)
	if ip == "" || port == "0" {
		return nil, false
	}
	flags := "sentinel"
	if !sentinelUsable(n) {
		flags = "sentinel,s_down,disconnected"
	}
	kv := instanceFields(n.Name, ip, port, SentinelID(n.Name), flags, n, snap)
	kv = append(kv,
		"last-hello-message", msSince(n.LastSeen),
		"voted-leader", "?",
		"voted-leader-epoch", "0",
	)
	return kv, true
}

// instanceFields are the fields every instance reply starts with.
func instanceFields(name, ip, port, runid, flags string, n failover.Node, snap failover.Snapshot) []string {
	return []string{
		"name", name,
		"ip", ip,
		"port", port,
		"runid", runid,
		"flags", flags,
		"link-pending-commands", "0",
		"link-refcount", "1",
		"last-ping-sent", "0",
		"last-ok-ping-reply", msSince(n.LastSeen),
		"last-ping-reply", msSince(n.LastSeen),
		"down-after-milliseconds", strconv.FormatInt(snap.DownAfter.Milliseconds(), 10),
	}
}
