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

// RetryQueueMarkerPrefix is retryq.DoneKeyPrefix (a test keeps them equal):
// the done markers the retry queue sets with each item it applies.
const RetryQueueMarkerPrefix = "vigil:retryq:done:"

// replayScript applies units, each at most once, in order. KEYS[i] is
// the marker of unit i. ARGV[1] is the marker TTL in ms and ARGV[2] the
// number of units; then each unit has its database, its number of
// commands, and for each command its argument count and arguments.
//
// Each unit's marker is claimed (SET NX, in database 0, before the unit's
// SELECT) in the same script as the unit's writes, and Redis runs a script
// without interleaving other commands and never half-applies one that has
// written (it cannot be killed then; refusals such as OOM or READONLY
// happen before the first write, and then no marker is set either). So a
// unit's writes and its marker land together or not at all, and a second
// replay finds the marker and applies nothing: at most once, across
// crashes of the replayer. A script also gives a MULTI/EXEC block the
// all-together execution the transaction had, and a command that fails at
// run time does not stop the others, as in EXEC. Several units share one
// call because the cost of a call (parsing, script lookup, reply) is
// larger than a unit's work. The reply has one element per unit: -1 when
// it was applied before, else the list of its commands' error messages
// (empty: all applied).
//
// A unit that sets a retry-queue done marker (RetryQueueMarkerPrefix) the
// target already holds is skipped as applied before: the retry queue wrote
// that item on the old primary, did not hear back, and applied it again on
// the new one, which its marker proves. Replaying the old primary's copy
// would apply the item twice (chaos seed 7: INCRs counted twice); the
// stream holds the script's effects, not the script's check.
const replayScript = `
local ttl = ARGV[1]
local rqPrefix = '` + RetryQueueMarkerPrefix + `'
local function rqApplied(a, n)
  for i = 1, n do
    local argc = tonumber(ARGV[a])
    if argc >= 2 and string.upper(ARGV[a + 1]) == 'SET' and string.sub(ARGV[a + 2], 1, #rqPrefix) == rqPrefix
      and redis.call('EXISTS', ARGV[a + 2]) == 1 then
      return true
    end
    a = a + argc + 1
  end
  return false
end
local out = {}
local a = 3
local cur = '0'
for u = 1, tonumber(ARGV[2]) do
  local db, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  if cur ~= '0' then redis.call('SELECT', 0); cur = '0' end
  if not redis.call('SET', KEYS[u], '1', 'NX', 'PX', ttl) then
    out[u] = -1
  elseif db ~= cur then
    local r = redis.pcall('SELECT', db)
    if type(r) == 'table' and r.err then
      redis.call('DEL', KEYS[u]) -- still in database 0: not applied
      out[u] = r
    else
      cur = db
    end
  end
  if not out[u] and rqApplied(a, n) then out[u] = -1 end
  if out[u] then
    for i = 1, n do a = a + tonumber(ARGV[a]) + 1 end
  else
    local errs = {}
    for i = 1, n do
      local argc = tonumber(ARGV[a])
      local r = redis.pcall(unpack(ARGV, a + 1, a + argc))
      a = a + argc + 1
      if type(r) == 'table' and r.err then errs[#errs + 1] = r.err end
    end
    out[u] = errs
  end
end
return out
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
	// Interrupted means the replay stopped before trying every unit: no
	// writable primary, or it failed as a whole. Only such replays are
	// retried by Run; units that failed on their own need an operator.
	Interrupted bool `json:"interrupted,omitempty"`
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

// Bounds of one script call and of one pipeline of calls. Lua's unpack
// returns a few thousand values at most, hence maxScriptArgs per command.
const (
	callUnits     = 64
	callArgs      = 4096
	callBytes     = 1 << 20
	pipelineCalls = 16
)

type replayCall struct {
	units []int // indices into the replayed units
	cmd   *redis.Cmd
}

// replayUnits applies units to the primary behind c, in order, each at
// most once. It stops early only when ctx ends or the primary fails as a
// whole; units not reached count as failed.
func replayUnits(ctx context.Context, c *redis.Client, replID string, units []unit, ttl time.Duration) (ReplayResult, error) {
	start := time.Now()
	res, err := replayAll(ctx, c, replID, units, ttl)
	res.At, res.Duration = start.UTC(), time.Since(start)
	return res, err
}

func replayAll(ctx context.Context, c *redis.Client, replID string, units []unit, ttl time.Duration) (ReplayResult, error) {
	res := ReplayResult{Target: c.Options().Addr, Units: len(units)}
	if len(units) == 0 {
		return res, nil
	}
	if err := replayLua.Load(ctx, c).Err(); err != nil {
		res.Failed = len(units)
		return res, fmt.Errorf("divergent: replay to %s: load script: %w", res.Target, err)
	}
	ttlArg := strconv.FormatInt(ttl.Milliseconds(), 10)
	next := 0
	// call packs the units from next on into one script call.
	call := func(pipe redis.Pipeliner) *replayCall {
		rc := &replayCall{}
		var keys []string
		args := []any{ttlArg, 0}
		nArgs, nBytes := 0, 0
		for next < len(units) && len(rc.units) < callUnits {
			u := units[next]
			if tooLong(u) {
				if len(rc.units) > 0 {
					break // report it on its own, after this call
				}
				res.Failed++
				res.note(fmt.Sprintf("unit at offset %d: a command has more than %d arguments, too many for a script; apply the archive with redis-cli --pipe", u.offset, maxScriptArgs))
				next++
				continue
			}
			ua, ub := 2, 0
			for _, cmd := range u.cmds {
				ua += 1 + len(cmd)
				for _, a := range cmd {
					ub += len(a)
				}
			}
			if len(rc.units) > 0 && (nArgs+ua > callArgs || nBytes+ub > callBytes) {
				break
			}
			nArgs, nBytes = nArgs+ua, nBytes+ub
			keys = append(keys, u.markerKey(replID))
			args = append(args, u.db, len(u.cmds))
			for _, cmd := range u.cmds {
				args = append(args, len(cmd))
				for _, a := range cmd {
					args = append(args, a)
				}
			}
			rc.units = append(rc.units, next)
			next++
		}
		if len(rc.units) == 0 {
			return nil
		}
		args[1] = len(rc.units)
		rc.cmd = replayLua.EvalSha(ctx, pipe, keys, args...)
		return rc
	}
	for next < len(units) {
		pipe := c.Pipeline()
		var calls []*replayCall
		for len(calls) < pipelineCalls && next < len(units) {
			if rc := call(pipe); rc != nil {
				calls = append(calls, rc)
			}
		}
		if len(calls) > 0 {
			_, _ = pipe.Exec(ctx)
		}
		var whole error
		for _, rc := range calls {
			v, err := rc.cmd.Slice()
			if err == nil && len(v) != len(rc.units) {
				err = fmt.Errorf("script answered %d results for %d units", len(v), len(rc.units))
			}
			if err != nil {
				// A failed call applied nothing, or (a Lua error part way)
				// some units with their markers: a replay again sorts that out.
				res.Failed += len(rc.units)
				res.note(fmt.Sprintf("units at offsets %d-%d: %v", units[rc.units[0]].offset,
					units[rc.units[len(rc.units)-1]].offset, err))
				if whole == nil && primaryFailure(err) {
					whole = err
				}
				continue
			}
			for k, r := range v {
				switch r := r.(type) {
				case int64:
					res.Duplicates++
				case []any:
					res.Applied++
					for _, e := range r {
						res.CommandErrors++
						res.note(fmt.Sprintf("unit at offset %d: %v", units[rc.units[k]].offset, e))
					}
				case error: // its database does not exist here: not applied
					res.Failed++
					res.note(fmt.Sprintf("unit at offset %d: %v", units[rc.units[k]].offset, r))
				default:
					res.Failed++
					res.note(fmt.Sprintf("unit at offset %d: unexpected reply %v", units[rc.units[k]].offset, r))
				}
			}
		}
		if whole != nil || ctx.Err() != nil {
			res.Failed += len(units) - next
			if whole == nil {
				whole = ctx.Err()
			}
			return res, fmt.Errorf("divergent: replay to %s stopped at unit %d of %d: %w", res.Target, next, len(units), whole)
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
		// NOREPLICAS: a new primary refuses writes under
		// min-replicas-to-write until a replica has attached; counted per
		// unit, the replay was never retried and the writes never landed
		// (chaos seeds 12 and 14, N=3: "106 of 106 units failed").
		for _, p := range []string{"READONLY", "LOADING", "MASTERDOWN", "NOSCRIPT", "OOM", "NOAUTH", "WRONGPASS", "BUSY",
			"NOREPLICAS", "MISCONF"} {
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
