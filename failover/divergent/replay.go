package divergent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MarkerPrefix prefixes the at-most-once marker of each replayed unit:
// vigil:divergent:done:<old replid>:<offset of the unit's first byte>.
const MarkerPrefix = "vigil:divergent:done:"

// replayScript applies one unit at most once. KEYS[1] is its marker,
// ARGV[1] the marker TTL in ms, ARGV[2] the database, ARGV[3] the number
// of commands, then for each command its argument count and arguments.
//
// The marker is claimed (SET NX, in database 0, before the SELECT) in the
// same script as the writes, and Redis runs a script without interleaving
// other commands and never half-applies one that has written (it cannot
// be killed then; refusals such as OOM or READONLY happen before the first
// write, and then the marker is not set either). So a unit's writes and
// its marker land together or not at all, and a second replay finds the
// marker and applies nothing: at most once, across crashes of the replayer.
// A script gives a MULTI/EXEC block the same all-together execution the
// transaction had, and a command that fails at run time does not stop the
// others, as in EXEC. The reply is -1 when the unit was applied before,
// else the list of error messages of its commands (empty: all applied).
const replayScript = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return -1 end
redis.call('SELECT', ARGV[2])
local a = 4
local errs = {}
for i = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[a])
  local r = redis.pcall(unpack(ARGV, a + 1, a + n))
  a = a + n + 1
  if type(r) == 'table' and r.err then errs[#errs + 1] = r.err end
end
return errs
`

var replayLua = redis.NewScript(replayScript)

// maxErrors bounds the error messages a ReplayResult keeps.
const maxErrors = 20

// ReplayResult says what a replay did.
type ReplayResult struct {
	// Target is the primary the archive was replayed to.
	Target string    `json:"target"`
	At     time.Time `json:"at"`
	// Units, of which Applied were applied now and Duplicates had been
	// applied before (their marker existed) and were skipped.
	Units      int `json:"units"`
	Applied    int `json:"applied"`
	Duplicates int `json:"duplicates"`
	// Failed units were not applied at all (the script failed: read-only
	// or unreachable primary, a command not allowed in scripts, too many
	// arguments for Lua's unpack); a replay again retries them.
	Failed int `json:"failed"`
	// CommandErrors counts commands of applied units that Redis answered
	// with an error, as EXEC would have (WRONGTYPE against the new
	// primary's data, ...). They are not retried.
	CommandErrors int `json:"command_errors"`
	// Errors holds the first few error messages.
	Errors []string `json:"errors,omitempty"`
	// Duration is the time the replay took.
	Duration time.Duration `json:"duration_ns"`
}

// Complete reports whether every unit is now applied (now or before).
func (r ReplayResult) Complete() bool { return r.Failed == 0 && r.Applied+r.Duplicates == r.Units }

func (r *ReplayResult) note(msg string) {
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, msg)
	}
}

// replayBatch bounds one pipeline of EVALSHA calls.
const (
	replayBatchUnits = 256
	replayBatchBytes = 1 << 20
)

// replayUnits applies units to the primary behind c, in order, each at
// most once. It stops early only when ctx ends or the primary fails as a
// whole; units not reached count as failed.
func replayUnits(ctx context.Context, c *redis.Client, replID string, units []unit, ttl time.Duration) (ReplayResult, error) {
	start := time.Now()
	res := ReplayResult{Target: c.Options().Addr, At: start.UTC(), Units: len(units)}
	defer func() { res.Duration = time.Since(start) }()
	if len(units) == 0 {
		return res, nil
	}
	if err := replayLua.Load(ctx, c).Err(); err != nil {
		res.Failed = len(units)
		return res, fmt.Errorf("divergent: replay to %s: load script: %w", res.Target, err)
	}
	ttlArg := strconv.FormatInt(ttl.Milliseconds(), 10)
	for i := 0; i < len(units); {
		j, size := i, 0
		for j < len(units) && j-i < replayBatchUnits && size < replayBatchBytes {
			for _, cmd := range units[j].cmds {
				for _, a := range cmd {
					size += len(a)
				}
			}
			j++
		}
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, 0, j-i)
		idx := make([]int, 0, j-i) // unit index of each call
		for n, u := range units[i:j] {
			if tooLong(u) {
				res.Failed++
				res.note(fmt.Sprintf("unit at offset %d: a command has more than %d arguments, too many for a script; apply the archive with redis-cli --pipe", u.offset, maxScriptArgs))
				continue
			}
			idx = append(idx, i+n)
			args := make([]any, 0, 3+len(u.cmds)*4)
			args = append(args, ttlArg, u.db, len(u.cmds))
			for _, cmd := range u.cmds {
				args = append(args, len(cmd))
				for _, a := range cmd {
					args = append(args, a)
				}
			}
			key := MarkerPrefix + replID + ":" + strconv.FormatInt(u.offset, 10)
			cmds = append(cmds, replayLua.EvalSha(ctx, pipe, []string{key}, args...))
		}
		if len(cmds) > 0 {
			_, _ = pipe.Exec(ctx)
		}
		var whole error
		for k, cmd := range cmds {
			v, err := cmd.Result()
			if err != nil {
				res.Failed++
				res.note(fmt.Sprintf("unit at offset %d: %v", units[idx[k]].offset, err))
				if whole == nil && primaryFailure(err) {
					whole = err
				}
				continue
			}
			switch v := v.(type) {
			case int64:
				res.Duplicates++
			case []any:
				res.Applied++
				for _, e := range v {
					res.CommandErrors++
					res.note(fmt.Sprintf("unit at offset %d: %v", units[idx[k]].offset, e))
				}
			default:
				res.Failed++
				res.note(fmt.Sprintf("unit at offset %d: unexpected reply %v", units[idx[k]].offset, v))
			}
		}
		i = j
		if whole != nil || ctx.Err() != nil {
			res.Failed += len(units) - j
			if whole == nil {
				whole = ctx.Err()
			}
			return res, fmt.Errorf("divergent: replay to %s stopped at unit %d of %d: %w", res.Target, j, len(units), whole)
		}
	}
	return res, nil
}

// primaryFailure reports whether err is about the primary as a whole
// rather than one unit: then the rest of the replay would fail too.
func primaryFailure(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"READONLY", "LOADING", "MASTERDOWN", "NOSCRIPT", "OOM", "NOAUTH", "WRONGPASS", "BUSY"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return true // network, timeout, context
}

// maxScriptArgs is below what Lua's unpack can return (LUAI_MAXCSTACK is
// 8000), leaving room for the script's own values.
const maxScriptArgs = 7000

func tooLong(u unit) bool {
	for _, c := range u.cmds {
		if len(c) > maxScriptArgs {
			return true
		}
	}
	return false
}
