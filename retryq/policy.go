package retryq

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultAllowedCommands is the default retryq.allowed_commands: the
// data-writing commands whose replay later is meaningful — strings, hashes,
// lists, sets, sorted sets, streams, HyperLogLogs, bitmaps, geo, key expiry
// and renames, and RedisJSON's writes. Reads, blocking commands, scripts,
// transactions, pub/sub and everything administrative are left out.
func DefaultAllowedCommands() []string {
	return strings.Fields(`
		set setex psetex setnx setrange append incr incrby incrbyfloat decr decrby getset getdel getex
		mset msetnx del unlink expire pexpire expireat pexpireat persist rename renamenx copy
		hset hsetnx hmset hdel hincrby hincrbyfloat
		lpush rpush lpushx rpushx lpop rpop linsert lset lrem ltrim lmove rpoplpush
		sadd srem spop smove sinterstore sunionstore sdiffstore
		zadd zincrby zrem zremrangebyscore zremrangebyrank zremrangebylex zpopmin zpopmax
		zunionstore zinterstore zdiffstore zrangestore
		xadd xdel xtrim xack xgroup xclaim xautoclaim
		pfadd pfmerge setbit bitop bitfield geoadd geosearchstore
		json.set json.del json.arrappend json.numincrby`)
}

// deniedCommand reports whether name (lower case) may never be queued,
// whatever retryq.allowed_commands says: commands that administer,
// reconfigure, stop or empty the server, change replication, run arbitrary
// code, or scan the whole keyspace. Anyone who may enqueue must not gain
// these through the sidecar's own Redis credentials.
func deniedCommand(name string) bool {
	switch name {
	case "flushall", "flushdb", "swapdb", "select", "move",
		"config", "script", "function", "module", "acl", "client", "debug", "shutdown",
		"replicaof", "slaveof", "sync", "psync", "replconf", "failover", "cluster", "readonly", "readwrite",
		"migrate", "restore", "restore-asking", "dump", "keys", "scan", "monitor",
		"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
		"save", "bgsave", "bgrewriteaof", "lastsave", "latency", "memory", "slowlog", "info", "object",
		"multi", "exec", "discard", "watch", "unwatch",
		"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "publish", "spublish", "pubsub",
		"auth", "hello", "reset", "quit", "wait", "waitaof", "command", "sort", "sort_ro":
		return true
	}
	return false
}

// Policy decides which commands the retry queue accepts. The zero value
// accepts nothing; build one with NewPolicy.
type Policy struct {
	allowed map[string]bool
}

// NewPolicy returns the policy accepting exactly names (case-insensitive).
// It fails, naming each, on a name that is empty or always denied.
func NewPolicy(names []string) (Policy, error) {
	p := Policy{allowed: make(map[string]bool, len(names))}
	var errs []error
	for _, n := range names {
		l := strings.ToLower(strings.TrimSpace(n))
		switch {
		case l == "":
			errs = append(errs, errors.New("retryq.allowed_commands: an entry is empty"))
		case deniedCommand(l):
			errs = append(errs, fmt.Errorf("retryq.allowed_commands: %s is administrative or destructive and can never be queued", strings.ToUpper(l)))
		default:
			p.allowed[l] = true
		}
	}
	if len(names) == 0 {
		errs = append(errs, errors.New("retryq.allowed_commands is empty: the queue would refuse every item"))
	}
	return p, errors.Join(errs...)
}

// Allows reports whether the command named name may be queued.
func (p Policy) Allows(name string) bool {
	l := strings.ToLower(name)
	return p.allowed[l] && !deniedCommand(l)
}

// Check returns nil when command (name and arguments) may be queued, else
// an error naming the command and why.
func (p Policy) Check(command [][]byte) error {
	if len(command) == 0 {
		return errors.New("command is empty")
	}
	name := strings.ToLower(string(command[0]))
	if p.Allows(name) {
		return nil
	}
	up := strings.ToUpper(name)
	if len(up) > 64 {
		up = up[:64] + "..."
	}
	if deniedCommand(name) {
		return fmt.Errorf("command %q is administrative or destructive and is never queued", up)
	}
	return fmt.Errorf("command %q is not in retryq.allowed_commands", up)
}

// Names returns the accepted command names, sorted.
func (p Policy) Names() []string {
	out := make([]string, 0, len(p.allowed))
	for n := range p.allowed {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
