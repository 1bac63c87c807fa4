package monitor

import (
	"context"
	"fmt"
	"net"
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
	return newClient(addr, rc, timeout, 0)
}

// NewProbeClient is NewClient for a client that probes every cfg.Interval:
// its connections' deadlines land on the wall-clock grid the probes tick
// on (GridDeadline), so a deadline each probe moves later does not wake an
// idle sidecar off the grid.
func NewProbeClient(addr string, rc RedisConfig, cfg Config) *redis.Client {
	return newClient(addr, rc, cfg.Timeout, cfg.Interval)
}

func newClient(addr string, rc RedisConfig, timeout, grid time.Duration) *redis.Client {
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
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := rc.Dial(ctx, &net.Dialer{}, network, addr)
		if err != nil {
			// go-redis opens a circuit after PoolSize failed dials and
			// then answers with the old error, re-dialling only once a
			// second: a restarted Redis would look dead for up to a
			// second more. A connection that fails on first use reports
			// the same error without counting as a failed dial.
			// Wrapped so go-redis keeps the whole message.
			return failedConn{fmt.Errorf("%w", err)}, nil
		}
		if grid > 0 {
			c = onGrid(c, timeout, grid)
		}
		return c, nil
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

// failedConn is a connection whose dial failed: every use returns that error.
type failedConn struct{ err error }

func (c failedConn) Read([]byte) (int, error)         { return 0, c.err }
func (c failedConn) Write([]byte) (int, error)        { return 0, c.err }
func (c failedConn) Close() error                     { return nil }
func (c failedConn) LocalAddr() net.Addr              { return nil }
func (c failedConn) RemoteAddr() net.Addr             { return nil }
func (c failedConn) SetDeadline(time.Time) error      { return nil }
func (c failedConn) SetReadDeadline(time.Time) error  { return nil }
func (c failedConn) SetWriteDeadline(time.Time) error { return nil }
