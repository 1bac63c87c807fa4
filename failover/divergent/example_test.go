package divergent_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/divergent"
)

// Example shows how the failover shell uses the package. It compiles but
// does not run (no Output comment): it needs the group's Redis nodes.
func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := divergent.DefaultConfig() // from failover.divergent_writes, failover.backlog_bytes, ...
	keeper, err := divergent.New(cfg, "/var/lib/vigil", logger, prometheus.NewRegistry(), divergent.Deps{
		Redis:   divergent.RedisOptions{Password: "secret"},
		Primary: func() (string, bool) { return "10.0.0.2:6379", true }, // the topology's writable primary
	})
	if err != nil {
		panic(err)
	}
	// keeper.Run(ctx) runs in the sidecar's run group;
	// keeper.Handler(adminToken) is mounted at /v1/divergent and /v1/divergent/.

	// 1. Every sidecar keeps its local Redis's backlog large enough, at
	// start and after each role change.
	local := redis.NewClient(&redis.Options{Addr: "10.0.0.1:6379", Password: "secret"})
	_ = divergent.EnsureBacklog(ctx, local, cfg.BacklogBytes)

	// 2. The promoted node's sidecar reads the fork point right after
	// REPLICAOF NO ONE and records it with the epoch in the committed
	// configuration (history entry of epoch 7).
	newPrimary := redis.NewClient(&redis.Options{Addr: "10.0.0.2:6379", Password: "secret"})
	info, _ := newPrimary.Info(ctx, "replication").Result()
	fork, err := divergent.ParseFork(info)
	if err != nil {
		panic(err)
	}

	// 3. Whichever sidecar demotes the former primary (still running,
	// writable, not named by the newest configuration) pauses its writes,
	// keeps its divergent writes, then demotes it.
	old := redis.NewClient(&redis.Options{Addr: "10.0.0.1:6379", Password: "secret"})
	pause := cfg.CaptureTimeout + 10*time.Second // covers Keep; REPLICAOF ends the need
	_ = old.Do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(pause.Milliseconds(), 10), "WRITE").Err()
	res, err := keeper.Keep(ctx, divergent.Request{
		Epoch: 7, Node: "a", Addr: "10.0.0.1:6379", Fork: fork, NewPrimary: "10.0.0.2:6379",
	})
	switch {
	case err == nil, errors.Is(err, divergent.ErrBacklogShort), errors.Is(err, divergent.ErrOtherHistory):
		// Kept (or known lost and recorded): demote. res goes into the
		// history entry: res.Archive, res.Commands, res.Bytes, res.Missing.
		logger.Info("divergent writes kept", "archive", res.Archive, "commands", res.Commands,
			"lag_bytes", res.Bytes, "missing_bytes", res.Missing)
		host, port, _ := net.SplitHostPort("10.0.0.2:6379")
		_ = old.ReplicaOf(ctx, host, port).Err()
	case errors.Is(err, divergent.ErrNotPrimary):
		// Someone demoted it already: nothing to keep, nothing to demote.
	default:
		// Unreachable or timed out: try again on the next tick rather than
		// demote and lose the writes.
		logger.Warn("keep divergent writes", "err", err)
	}
}
