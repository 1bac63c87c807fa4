package divergent

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// EnsureBacklog sets the primary's repl-backlog-size to bytes unless it is
// set so already, so a former primary still holds its writes after a fork
// when vigil comes to capture them. The shell calls it on the primary
// after each promotion and when it starts as primary; it is idempotent.
func EnsureBacklog(ctx context.Context, c *redis.Client, bytes int64) error {
	got, err := c.ConfigGet(ctx, "repl-backlog-size").Result()
	if err != nil {
		return fmt.Errorf("divergent: config get repl-backlog-size: %w", err)
	}
	if got["repl-backlog-size"] == strconv.FormatInt(bytes, 10) {
		return nil
	}
	if err := c.ConfigSet(ctx, "repl-backlog-size", strconv.FormatInt(bytes, 10)).Err(); err != nil {
		return fmt.Errorf("divergent: config set repl-backlog-size %d: %w", bytes, err)
	}
	return nil
}
