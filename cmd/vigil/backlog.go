package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/monitor"
)

// observer is what keepBacklog needs of the local prober.
type observer interface {
	Last() monitor.Observation
}

// keepBacklog keeps the local Redis's replication backlog able to serve a
// capture of divergent writes (failover.backlog_bytes, repl-backlog-ttl
// 0): once Redis is reachable at start, and again whenever it restarts
// (new run id, which resets CONFIG SET values) or changes role. It reads
// the prober's last observation every interval rather than its update
// channel, which belongs to the failover core. A failure is logged and
// retried at the next interval; it blocks until ctx ends.
func keepBacklog(ctx context.Context, local observer, client *redis.Client, bytes int64, interval time.Duration, logger *slog.Logger) error {
	logger = logger.With("component", "divergent")
	done, failed := "", ""
	check := func() {
		o := local.Last()
		if !o.Reachable() {
			return
		}
		key := o.RunID + "/" + string(o.Role)
		if key == done {
			return
		}
		if err := divergent.EnsureBacklog(ctx, client, bytes); err != nil {
			if key != failed && ctx.Err() == nil {
				logger.Warn("cannot size the replication backlog: set repl-backlog-size and repl-backlog-ttl 0 in redis.conf "+
					"or allow vigil CONFIG SET; divergent writes past the current backlog would be lost",
					"redis_addr", o.Addr, "err", err)
			}
			failed = key
			return
		}
		logger.Info("replication backlog kept for divergent writes", "redis_addr", o.Addr,
			"role", o.Role, "backlog_bytes", bytes)
		done, failed = key, ""
	}
	check()
	// The next checks run on the prober's wall-clock cadence
	// (monitor.NewTicker), sharing its wake-up rather than waking an idle
	// process on their own.
	t := monitor.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			check()
			t.Next()
		}
	}
}
