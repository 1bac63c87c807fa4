package monitor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewClient returns a go-redis client tuned for probing addr: every dial,
// read and write is bounded by timeout, nothing is retried (a probe that
// fails must say so at once, not after back-offs), and the pool is small
// because one sidecar sends one probe at a time plus the odd failover
// command. When rc.Password is empty and rc.PasswordFile is set, the file
// is read for every new connection, so a rotated secret is picked up
// without a restart; an unreadable file fails the connection (ReasonAuth).
//
// NewClient does no I/O. The caller closes the client.
func NewClient(addr string, rc RedisConfig, timeout time.Duration) *redis.Client {
	opt := &redis.Options{
		Addr:     addr,
		Username: rc.Username,
		Password: rc.Password,
		// RESP2 keeps replies plain and works with any Redis version.
		Protocol: 2,
		// CLIENT SETINFO would add a round trip (and an error on old
		// servers) to every dial.
		DisableIdentity: true,
		MaxRetries:      -1,
		// One dial attempt per probe: go-redis would otherwise retry a
		// refused dial five times with back-off inside one probe.
		DialerRetries: 1,
		DialTimeout:   timeout,
		ReadTimeout:   timeout,
		WriteTimeout:  timeout,
		PoolTimeout:   timeout,
		PoolSize:      2,
		// Pipelines share the one small pool instead of a second one.
		PipelinePoolSize:      -1,
		ContextTimeoutEnabled: true,
	}
	if rc.Password == "" && rc.PasswordFile != "" {
		path, user := rc.PasswordFile, rc.Username
		opt.CredentialsProviderContext = func(context.Context) (string, string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", "", fmt.Errorf("%w: %w", errPasswordFile, err)
			}
			return user, strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	return redis.NewClient(opt)
}
