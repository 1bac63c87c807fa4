package divergent

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// EnsureBacklog keeps a node's replication backlog able to serve a
// capture: repl-backlog-size at bytes, and repl-backlog-ttl at 0 so a
// primary that lost all its replicas — cut off from them, or left behind
// by a failover — keeps its backlog until vigil captures from it, however
// long that takes (Redis's default frees it after an hour without
// replicas, and the divergent writes with it). Each setting is written
// only when it differs, so calling it often is cheap. The shell calls it
// on the local Redis at start and after every role change: a replica's
// backlog becomes the primary's when it is promoted.
func EnsureBacklog(ctx context.Context, c *redis.Client, bytes int64) error {
	for _, kv := range [][2]string{
		{"repl-backlog-size", strconv.FormatInt(bytes, 10)},
		{"repl-backlog-ttl", "0"},
	} {
		got, err := c.ConfigGet(ctx, kv[0]).Result()
		if err != nil {
			return fmt.Errorf("divergent: config get %s: %w", kv[0], err)
		}
		if got[kv[0]] == kv[1] {
			continue
		}
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			return fmt.Errorf("divergent: config set %s %s: %w", kv[0], kv[1], err)
		}
	}
	return nil
}
