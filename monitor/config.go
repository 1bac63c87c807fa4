package monitor

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// RedisConfig says which Redis this sidecar guards and how to reach it.
type RedisConfig struct {
	// Addr is the "host:port" of the local Redis.
	Addr string `koanf:"addr"`
	// AnnounceAddr is the "host:port" peers and clients should use to reach
	// this Redis. Empty means Addr. Set it when Addr is a loopback or
	// container-private address.
	AnnounceAddr string `koanf:"announce_addr"`
	// Username for Redis ACL authentication; empty uses "default".
	Username string `koanf:"username"`
	// Password for AUTH; empty disables authentication.
	Password string `koanf:"password"`
	// PasswordFile is read at start-up when Password is empty, so the secret
	// can come from a mounted file instead of the command line.
	PasswordFile string `koanf:"password_file"`
	// Priority is the promotion preference: lower is preferred, as Redis's
	// replica-priority; 0 means this node is never promoted.
	Priority int `koanf:"priority"`
	// TLS configures connections to a TLS-only Redis (tls-port); see
	// tlsconfig.ClientConfig. It applies to every Redis vigil dials.
	TLS tlsconfig.ClientConfig `koanf:"tls"`
	// TLSClient is TLS loaded (cmd/vigil does it at start and reloads it
	// on SIGHUP). When nil and TLS.Enabled, each dial reads the files.
	TLSClient *tlsconfig.Client `koanf:"-"`
}

// Config controls how often and how patiently Redis is probed.
type Config struct {
	// Interval between probes. Smaller detects failure sooner at the cost
	// of a PING and an INFO per interval.
	Interval time.Duration `koanf:"interval"`
	// Timeout for one probe (dial, PING and INFO together). A probe that
	// takes longer counts as no reply. When the interval is no longer than
	// the timeout, a probe's deadline is rounded up to the next probe
	// instant (250-350 ms at the defaults), so an idle sidecar wakes only
	// at probe instants.
	Timeout time.Duration `koanf:"timeout"`
}

// DefaultRedisConfig returns the defaults for a Redis on localhost.
func DefaultRedisConfig() RedisConfig {
	return RedisConfig{Addr: "127.0.0.1:6379", Priority: 100}
}

// DefaultConfig returns probe timings suited to a LAN.
func DefaultConfig() Config {
	return Config{Interval: 100 * time.Millisecond, Timeout: 250 * time.Millisecond}
}

// Announce is the address others should use for this Redis.
func (c RedisConfig) Announce() string {
	if c.AnnounceAddr != "" {
		return c.AnnounceAddr
	}
	return c.Addr
}

// Validate reports every problem, each naming its key and value.
func (c RedisConfig) Validate() error {
	var errs []error
	if err := checkHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("redis.addr (%q): %w", c.Addr, err))
	}
	if c.AnnounceAddr != "" {
		if err := checkHostPort(c.AnnounceAddr); err != nil {
			errs = append(errs, fmt.Errorf("redis.announce_addr (%q): %w", c.AnnounceAddr, err))
		}
	}
	if c.Priority < 0 {
		errs = append(errs, fmt.Errorf("redis.priority (%d) must be 0 or more", c.Priority))
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, fmt.Errorf("redis.password and redis.password_file (%q) are both set; use one", c.PasswordFile))
	}
	errs = append(errs, c.TLS.Validate("redis.tls"))
	return errors.Join(errs...)
}

// Validate reports every problem, each naming its key and value.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("monitor.interval (%s) must be positive", c.Interval))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("monitor.timeout (%s) must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("host is empty")
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p == 0 {
		return errors.New("port must be 1-65535")
	}
	return nil
}
