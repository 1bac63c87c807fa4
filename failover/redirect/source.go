// Package redirect points clients at the current primary: a Sentinel-
// protocol endpoint that every Sentinel-aware client library understands, a
// primary-following TCP proxy for clients without Sentinel support, and the
// operator hooks (commands and a webhook) run around role changes and
// failovers. It only reads the topology that the failover package publishes.
package redirect

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/vigil-redis/vigil/failover"
)

// Source is the topology this package follows. *failover.Failover
// satisfies it.
type Source interface {
	// Snapshot returns a copy of the current topology.
	Snapshot() failover.Snapshot
	// Subscribe returns a channel of topology events and a function that
	// ends the subscription.
	Subscribe() (<-chan failover.Event, func())
	// Watch returns the current topology and a channel closed when it
	// next changes.
	Watch() (failover.Snapshot, <-chan struct{})
}

// checkDeps joins a constructor's configuration error with the
// dependencies every component of this package needs.
func checkDeps(cfgErr error, src Source, logger *slog.Logger) []error {
	errs := []error{cfgErr}
	if src == nil {
		errs = append(errs, errors.New("redirect: source is nil"))
	}
	if logger == nil {
		errs = append(errs, errors.New("redirect: logger is nil"))
	}
	return errs
}

// resubscribeDelay is how long a consumer waits before subscribing again
// when the Source closed its channel (for instance because it dropped a
// slow subscriber), so a closing Source cannot make it spin.
const resubscribeDelay = 100 * time.Millisecond

// follow delivers the Source's events to fn until ctx ends, subscribing
// again whenever the Source closes the channel. fn must not block for long.
func follow(ctx context.Context, src Source, fn func(failover.Event)) {
	for {
		ch, cancel := src.Subscribe()
		closed := false
		for !closed {
			select {
			case <-ctx.Done():
				cancel()
				return
			case ev, ok := <-ch:
				if !ok {
					closed = true
					break
				}
				fn(ev)
			}
		}
		cancel()
		t := time.NewTimer(resubscribeDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// SentinelID is the 40-hex run id the endpoint of the sidecar named node
// reports (SENTINEL myid, INFO run_id). It is derived from the name so that
// it is stable across restarts and every sidecar can compute its peers' ids.
func SentinelID(node string) string {
	sum := sha1.Sum([]byte("vigil-sentinel\x00" + node))
	return hex.EncodeToString(sum[:])
}

// splitAddr splits "ip:port" for replies that want the two apart. A
// missing or malformed address yields ("", "0") so that numeric fields stay
// numeric for clients that parse them.
func splitAddr(addr string) (ip, port string) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil || p == "" {
		return "", "0"
	}
	return host, p
}
