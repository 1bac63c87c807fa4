// Package config assembles vigil's whole configuration from each package's
// Config, loads it (defaults < YAML file < VIGIL_ environment < flags) and
// validates it, naming the key and the value of every problem at once.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/failover/redirect"
	"github.com/vigil-redis/vigil/gossip"
	"github.com/vigil-redis/vigil/monitor"
	"github.com/vigil-redis/vigil/retryq"
)

// Config is everything one sidecar needs. Each top-level key belongs to
// one package, which owns its defaults and validation.
type Config struct {
	Node     NodeConfig          `koanf:"node"`
	Redis    monitor.RedisConfig `koanf:"redis"`
	Monitor  monitor.Config      `koanf:"monitor"`
	Gossip   gossip.Config       `koanf:"gossip"`
	Failover failover.Config     `koanf:"failover"`
	// Divergent holds the failover.* keys of the divergent-writes keeper
	// (failover.divergent_writes, failover.backlog_bytes, ...): they
	// share the failover prefix, decoded from the same section, but
	// belong to package failover/divergent, which the failover core does
	// not need for its own settings.
	Divergent divergent.Config        `koanf:"failover"`
	Sentinel  redirect.SentinelConfig `koanf:"sentinel"`
	Proxy     redirect.ProxyConfig    `koanf:"proxy"`
	Hooks     redirect.HooksConfig    `koanf:"hooks"`
	Retryq    retryq.Config           `koanf:"retryq"`
	HTTP      HTTPConfig              `koanf:"http"`
	Log       LogConfig               `koanf:"log"`
}

// NodeConfig identifies this sidecar.
type NodeConfig struct {
	// Name is the sidecar's unique name in the group. Empty means the
	// host name. It must not change across restarts: votes and the known
	// peer set are keyed by it.
	Name string `koanf:"name"`
	// DataDir holds the epoch and vote state, the known peers and the retry
	// queue. It must survive restarts; losing it lets a node vote twice.
	DataDir string `koanf:"data_dir"`
}

// HTTPConfig is the metrics, health and admin API listener.
type HTTPConfig struct {
	// ListenAddr is "host:port" for /metrics, health checks and the API;
	// empty disables the listener.
	ListenAddr string `koanf:"listen_addr"`
	// AdminToken, when set, must be sent as "Authorization: Bearer TOKEN"
	// on the admin endpoints (/v1/switchover, pause, resume, forget,
	// history), /debug/pprof and every retry-queue route. While it is
	// empty those endpoints answer only clients on loopback (403 otherwise).
	AdminToken string `koanf:"admin_token"`
	// AdminTokenFile is the path of a file holding the admin token (its
	// trailing newline is dropped; an empty file is an error), read at
	// start and on SIGHUP, so the secret can come from a mounted file.
	// Setting it together with http.admin_token is an error. Default
	// empty: no file.
	AdminTokenFile string `koanf:"admin_token_file"`
	// EnqueueToken, when set, opens POST /v1/retryq (enqueue) and nothing
	// else: give it to applications instead of the admin token. With
	// both tokens empty, enqueueing is allowed from loopback only.
	EnqueueToken string `koanf:"enqueue_token"`
	// EnqueueTokenFile is the path of a file holding the enqueue token,
	// read as http.admin_token_file is (not together with
	// http.enqueue_token). Default empty: no file.
	EnqueueTokenFile string `koanf:"enqueue_token_file"`
	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included, so a
	// client trickling a body is disconnected. Default 30s.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its response; it must exceed failover.switchover_timeout and
	// a 30s CPU profile. Default 90s.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Default 2m.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxHeaderBytes bounds a request's headers. Default 65536.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// MaxBodyBytesInFlight bounds the request bodies being received or
	// handled at once across all connections (by Content-Length, or
	// retryq.max_request_bytes when unknown). A request past it gets 503
	// with Retry-After; this caps the memory large POSTs can take.
	// Default 33554432 (32 MiB): one maximal enqueue at a time.
	MaxBodyBytesInFlight int64 `koanf:"max_body_bytes_in_flight"`
	// TLS serves HTTPS when tls.cert_file is set; tls.client_ca_file
	// then requires client certificates (mutual TLS). Reloaded on SIGHUP.
	TLS tlsconfig.ServerConfig `koanf:"tls"`
}

// LogConfig controls logging.
type LogConfig struct {
	// Level is debug, info, warn or error. SIGHUP re-reads it.
	Level string `koanf:"level"`
	// Format is auto (colored text on a terminal, JSON otherwise), text or json.
	Format string `koanf:"format"`
}

// Default returns a complete configuration with every default filled in.
func Default() Config {
	return Config{
		Node:      NodeConfig{DataDir: "/var/lib/vigil"},
		Redis:     monitor.DefaultRedisConfig(),
		Monitor:   monitor.DefaultConfig(),
		Gossip:    gossip.DefaultConfig(),
		Failover:  failover.DefaultConfig(),
		Divergent: divergent.DefaultConfig(),
		Sentinel:  redirect.DefaultSentinelConfig(),
		Proxy:     redirect.DefaultProxyConfig(),
		Hooks:     redirect.DefaultHooksConfig(),
		Retryq:    retryq.DefaultConfig(),
		HTTP:      DefaultHTTPConfig(),
		Log:       LogConfig{Level: "info", Format: "auto"},
	}
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Node.Name == "" {
		errs = append(errs, errors.New("node.name is empty"))
	} else if strings.ContainsAny(c.Node.Name, " \t\n/") {
		errs = append(errs, fmt.Errorf("node.name (%q) must not contain spaces or slashes", c.Node.Name))
	}
	if c.Node.DataDir == "" {
		errs = append(errs, errors.New("node.data_dir is empty"))
	}
	errs = append(errs, listenerProblems(c)...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level (%q) must be debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format (%q) must be auto, text or json", c.Log.Format))
	}
	errs = append(errs, c.HTTP.validate(), c.securityErrors())
	errs = append(errs,
		c.Redis.Validate(),
		c.Monitor.Validate(),
		c.Gossip.Validate(),
		c.Failover.Validate(),
		c.Divergent.Validate(),
		c.Sentinel.Validate(),
		c.Proxy.Validate(),
		c.Hooks.Validate(),
		c.Retryq.Validate(),
	)
	return errors.Join(errs...)
}

// fillDerived sets the defaults that depend on the machine or on other keys.
func (c *Config) fillDerived() {
	if c.Node.Name == "" {
		if h, err := os.Hostname(); err == nil {
			c.Node.Name = h
		}
	}
	if c.Gossip.Label == "" {
		// Sidecars of different groups must never merge: the master name
		// is the natural group identity.
		c.Gossip.Label = c.Failover.MasterName
	}
}
