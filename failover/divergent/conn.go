package divergent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// RedisOptions say how to reach a Redis node of the group.
type RedisOptions struct {
	// Username and Password authenticate (AUTH); both may be empty.
	Username string
	Password string
	// TLS, when not nil, wraps every connection. It is the reloadable
	// redis.tls client: each connection takes the configuration in force
	// when it dials, so certificates rotated by SIGHUP apply to the next
	// capture or replay.
	TLS *tlsconfig.Client
	// DialTimeout bounds connecting; zero means 5s.
	DialTimeout time.Duration
}

// conn is one raw RESP connection: Capture speaks the replica side of the
// replication protocol, which go-redis does not.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	addr string
	stop func() bool
}

func dial(ctx context.Context, addr string, o RedisOptions) (*conn, error) {
	to := o.DialTimeout
	if to <= 0 {
		to = 5 * time.Second
	}
	d := net.Dialer{Timeout: to}
	nc, err := o.TLS.DialContext(ctx, &d, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, 1<<20), addr: addr}
	// A cancelled context unblocks any read or write at once.
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	if o.Password != "" {
		args := [][]byte{[]byte("AUTH"), []byte(o.Password)}
		if o.Username != "" {
			args = [][]byte{[]byte("AUTH"), []byte(o.Username), []byte(o.Password)}
		}
		if _, err := c.do(ctx, args...); err != nil {
			c.close()
			return nil, fmt.Errorf("auth %s: %w", addr, err)
		}
	}
	return c, nil
}

func (c *conn) close() {
	c.stop()
	_ = c.c.Close()
}

// send writes one command.
func (c *conn) send(args ...[]byte) error {
	if _, err := c.c.Write(appendCommand(nil, args...)); err != nil {
		return fmt.Errorf("write to %s: %w", c.addr, err)
	}
	return nil
}

// do sends one command and reads a simple-string, error or bulk reply.
func (c *conn) do(ctx context.Context, args ...[]byte) (string, error) {
	if err := c.send(args...); err != nil {
		return "", err
	}
	return c.reply(ctx)
}

// wrapErr names the context's error when it is why the I/O failed.
func (c *conn) wrapErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("read from %s: %w", c.addr, ctx.Err())
	}
	return fmt.Errorf("read from %s: %w", c.addr, err)
}

func (c *conn) line(ctx context.Context) (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", c.wrapErr(ctx, err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (c *conn) reply(ctx context.Context) (string, error) {
	s, err := c.line(ctx)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("%s: empty reply", c.addr)
	}
	switch s[0] {
	case '+':
		return s[1:], nil
	case '-':
		return "", fmt.Errorf("%s: %w", c.addr, &RedisError{Msg: s[1:]})
	case '$':
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < -1 {
			return "", fmt.Errorf("%s: bad bulk length %q", c.addr, s)
		}
		if n == -1 {
			return "", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return "", c.wrapErr(ctx, err)
		}
		return string(b[:n]), nil
	case ':':
		return s[1:], nil
	}
	return "", fmt.Errorf("%s: unexpected reply %q", c.addr, s)
}

// RedisError is an error reply of Redis.
type RedisError struct{ Msg string }

// Error returns Redis's message.
func (e *RedisError) Error() string { return e.Msg }

// readReplInfo asks c for INFO replication.
func (c *conn) replInfo(ctx context.Context) (replInfo, error) {
	txt, err := c.do(ctx, []byte("INFO"), []byte("replication"))
	if err != nil {
		return replInfo{}, fmt.Errorf("info replication: %w", err)
	}
	return parseReplInfo(txt)
}

// infoOnce reads INFO replication over a connection of its own.
func infoOnce(ctx context.Context, addr string, o RedisOptions) (replInfo, error) {
	c, err := dial(ctx, addr, o)
	if err != nil {
		return replInfo{}, err
	}
	defer c.close()
	return c.replInfo(ctx)
}
