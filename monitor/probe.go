package monitor

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// errPasswordFile marks a failure to read redis.password_file, which is an
// authentication problem from the operator's point of view.
var errPasswordFile = errors.New("monitor: read redis.password_file")

// Probe sends one probe to the node behind c: PING, INFO replication,
// INFO server and DBSIZE in one pipelined round trip. ctx bounds it. It records no
// metrics and keeps no state, so it suits probing any node; the Prober
// adds lag, replica-priority on primaries and memory across probes.
//
// A node that answers PING with -LOADING or -BUSY is alive but not
// Reachable; whatever INFO it still answered (INFO works while loading) is
// filled in.
func Probe(ctx context.Context, c *redis.Client) Observation {
	o, _ := probe(ctx, c, false, nil)
	return o
}

// Ping checks only that the node behind c answers PING, the way Sentinel
// decides a node is down: it returns ReasonNone, or why not (a -LOADING or
// -BUSY reply still proves the node alive, see Reason.Alive). It is the
// cheap probe for watching a remote primary every interval.
func Ping(ctx context.Context, c *redis.Client) Reason {
	if err := c.Ping(ctx).Err(); err != nil {
		return classify(ctx, err)
	}
	return ReasonNone
}

// WriteProbeChannel is the channel TakesWrites publishes on; an ACL that
// lets vigil's user run PUBLISH needs only this channel.
const WriteProbeChannel = "vigil:write-probe"

// TakesWrites reports whether the node behind c runs a write-class command
// now: it publishes an empty message on WriteProbeChannel, which changes no
// data but which CLIENT PAUSE WRITE (vigil's fence) holds like any write.
// Any reply counts, an error too (a NOPERM where the ACL lacks PUBLISH
// tells nothing, so the node counts as taking writes); only no reply
// before ctx ends does not. A replica runs PUBLISH too, so a node whose
// ROLE says it is one takes no writes (chaos seed 16632, N=3: the
// primary's Redis, back empty and pointing at itself, its sidecar
// stopped, answered the probe for 4.6 s, and nobody judged it down);
// ROLE refused by the ACL tells nothing either.
func TakesWrites(ctx context.Context, c *redis.Client) bool {
	if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] != "master" {
		return false
	}
	err := c.Publish(ctx, WriteProbeChannel, "").Err()
	var reply redis.Error
	return err == nil || errors.As(err, &reply)
}

// probe is Probe, optionally also asking CONFIG GET replica-priority in the
// same pipeline. priority is -1 when it was not asked or not answered.
// scratch, when not nil, is cleared and holds the parsed INFO fields: the
// Prober, probing every interval, keeps one rather than build a map of
// some forty fields (and its growth) for every probe.
func probe(ctx context.Context, c *redis.Client, withPriority bool, scratch info) (o Observation, priority int) {
	o = Observation{
		Addr:                       c.Options().Addr,
		Time:                       time.Now(),
		Priority:                   -1,
		LagBytes:                   -1,
		MasterLinkDownSinceSeconds: -1,
		Keys:                       -1,
	}
	priority = -1

	pipe := c.Pipeline()
	ping := pipe.Ping(ctx)
	repl := pipe.Info(ctx, "replication")
	srv := pipe.Info(ctx, "server")
	// DBSIZE may be denied by ACL: then the key count stays unknown and
	// the probe is still good.
	keys := pipe.DBSize(ctx)
	var cfg *redis.MapStringStringCmd
	if withPriority {
		cfg = pipe.ConfigGet(ctx, "replica-priority")
	}
	start := time.Now()
	_, execErr := pipe.Exec(ctx)
	o.RTT = time.Since(start)

	if cfg != nil && cfg.Err() == nil {
		// CONFIG may be renamed or denied by ACL; then priority stays unknown.
		if n, err := strconv.Atoi(cfg.Val()["replica-priority"]); err == nil {
			priority = n
		}
	}

	// The first error decides the reason: a PING error says most (LOADING,
	// BUSY, NOAUTH); an INFO error after a good PING is still no valid reply.
	var err error
	for _, e := range []error{ping.Err(), repl.Err(), srv.Err()} {
		if e != nil {
			err = e
			break
		}
	}
	if keys.Err() == nil {
		o.Keys = keys.Val()
	}
	if err == nil && execErr != nil && (cfg == nil || cfg.Err() == nil) && keys.Err() == nil {
		// A failed connection set-up (AUTH) fails the pipeline without
		// setting the commands' errors.
		err = execErr
	}
	if err == nil && ping.Val() != "PONG" {
		err = errors.New("monitor: unexpected ping reply " + strconv.Quote(ping.Val()))
	}
	if repl.Err() == nil && repl.Val() != "" {
		clear(scratch)
		m := parseInfo(repl.Val(), scratch)
		if srv.Err() == nil {
			parseInfo(srv.Val(), m)
		}
		if perr := m.apply(&o); perr != nil && err == nil {
			err = perr
		}
	} else if err == nil {
		err = errNoRole
	}
	if err != nil {
		o.Reason = classify(ctx, err)
		o.Err = err.Error()
		o.Loading = o.Reason == ReasonLoading
	}
	return o, priority
}

// classify maps a probe error to the Reason operators and the failover
// logic act on.
func classify(ctx context.Context, err error) Reason {
	switch {
	case err == nil:
		return ReasonNone
	case redis.IsLoadingError(err), hasPrefix(err, "LOADING "):
		return ReasonLoading
	case hasPrefix(err, "BUSY "): // not -BUSYKEY or -BUSYGROUP: plain command errors
		return ReasonBusy
	case redis.IsAuthError(err), redis.IsPermissionError(err), errors.Is(err, errPasswordFile),
		hasPrefix(err, "NOAUTH ", "WRONGPASS ", "NOPERM "), isAuthConfigError(err):
		return ReasonAuth
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		isNetTimeout(err), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonError
}

// hasPrefix reports whether err wraps an error reply from Redis that
// starts with one of prefixes.
func hasPrefix(err error, prefixes ...string) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	for _, p := range prefixes {
		if strings.HasPrefix(re.Error(), p) {
			return true
		}
	}
	return false
}

// isAuthConfigError matches Redis's answer to AUTH when the default user
// has no password: the sidecar is configured with a password the server
// does not expect, which an operator must fix like a wrong password.
func isAuthConfigError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(re.Error(), "without any password configured")
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
