package redirect

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// SentinelConfig configures the Sentinel-protocol endpoint that client
// libraries ask for the current primary. The lead composes it under the
// top-level key "sentinel".
type SentinelConfig struct {
	// ListenAddr is the host:port the endpoint listens on, like Sentinel's
	// port 26379. Empty disables the endpoint. Port 0 picks a free port
	// (tests). Default ":26379".
	ListenAddr string `koanf:"listen_addr"`

	// AnnounceAddr is the host:port other sidecars and clients should use to
	// reach this endpoint; it is what `SENTINEL sentinels` on the other
	// sidecars reports for this one. Empty means the listen address, which
	// is only right when it names a routable IP.
	AnnounceAddr string `koanf:"announce_addr"`

	// Password, when set, is required from clients (AUTH <password> or
	// HELLO ... AUTH <user> <password>), as Sentinel's requirepass: until a
	// client authenticates every command but AUTH and HELLO answers
	// -NOAUTH. Empty means no authentication.
	Password string `koanf:"password"`

	// MaxClients caps concurrent client connections, as Redis's maxclients;
	// a client beyond it gets "-ERR max number of clients reached" and is
	// disconnected. Each connection costs a goroutine and a few KiB. Zero
	// means no limit. Default 10000.
	MaxClients int `koanf:"max_clients"`

	// SubscriberQueue is how many outbound messages (events and replies) may
	// wait for one subscribed client. A subscriber whose queue is full is
	// not reading and is disconnected, so it can never slow publishing or
	// other clients. Must be positive. Default 1024.
	SubscriberQueue int `koanf:"subscriber_queue"`

	// HandshakeTimeout bounds the TLS handshake and the first command of a
	// new connection; a client that says nothing within it is
	// disconnected. Must be positive. Default 10s.
	HandshakeTimeout time.Duration `koanf:"handshake_timeout"`

	// IdleTimeout disconnects a client that sent no command for this long,
	// as Redis's timeout; pub/sub subscribers are exempt, as in Redis.
	// Zero means never. Default 5m.
	IdleTimeout time.Duration `koanf:"idle_timeout"`

	// TLS serves the endpoint over TLS, like Sentinel's tls-port, when
	// tls.cert_file is set; tls.client_ca_file then requires client
	// certificates. Certificates are reloaded on SIGHUP.
	TLS tlsconfig.ServerConfig `koanf:"tls"`
}

// ProxyConfig configures the primary-following TCP proxy. The lead
// composes it under the top-level key "proxy".
type ProxyConfig struct {
	// ListenAddr is the host:port of a plain TCP endpoint that forwards each
	// connection to the current writable primary, for clients without
	// Sentinel support. Empty disables the proxy (the default).
	ListenAddr string `koanf:"listen_addr"`

	// DialTimeout bounds connecting to the primary for one client; a client
	// whose primary cannot be reached within it is disconnected. Must be
	// positive. Default 1s.
	DialTimeout time.Duration `koanf:"dial_timeout"`

	// CheckInterval is how often the proxy re-reads the topology besides
	// waking on every change of it, so connections to a replaced primary
	// are closed even if a change was missed. Must be positive. Default 1s.
	CheckInterval time.Duration `koanf:"check_interval"`

	// HandshakeTimeout disconnects a client that sends no byte within
	// this long of connecting (Redis clients always speak first), as
	// sentinel.handshake_timeout does: a connection that says nothing
	// holds a socket and a connection to the primary for nothing. Once a
	// client has sent its first command only IdleTimeout applies. Zero
	// means never. Default 10s.
	HandshakeTimeout time.Duration `koanf:"handshake_timeout"`

	// IdleTimeout closes a proxied connection when no byte moved in
	// either direction for this long. Zero (the default) means never, as
	// Redis's timeout 0: pooled client connections idle legitimately for
	// hours between bursts, and a client blocked in BLPOP is quiet both
	// ways, so a default would break real clients; silent strangers are
	// bounded by HandshakeTimeout instead.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
}

// HooksConfig configures the commands and the webhook run around
// failovers. The lead composes it under the top-level key "hooks". Commands
// run through `/bin/sh -c` with the context in VIGIL_EVENT,
// VIGIL_MASTER_NAME, VIGIL_NODE, VIGIL_ROLE, VIGIL_OLD_PRIMARY,
// VIGIL_NEW_PRIMARY and VIGIL_EPOCH.
type HooksConfig struct {
	// PrePromote runs on the candidate's sidecar before its Redis is
	// promoted. A non-zero exit status or running past Timeout vetoes the
	// candidate. Empty allows every candidate.
	PrePromote string `koanf:"pre_promote"`

	// OnRoleChange runs, asynchronously, when this node's own Redis changes
	// role (promoted, converted to a replica, a role change vigil did not
	// make: +role-change or -role-change).
	OnRoleChange string `koanf:"on_role_change"`

	// PostFailover runs, asynchronously, once per failover (epoch) when it
	// ends or the primary switches.
	PostFailover string `koanf:"post_failover"`

	// WebhookURL receives a POST of every topology event as JSON, retried
	// with backoff up to WebhookAttempts times. Empty disables it.
	WebhookURL string `koanf:"webhook_url"`

	// WebhookAttempts is how many times one event is posted before it is
	// given up (non-2xx answers and network errors are retried). Must be
	// positive. Default 4.
	WebhookAttempts int `koanf:"webhook_attempts"`

	// Timeout bounds each hook command and each webhook attempt; a command
	// still running then is killed with its whole process group. Must be
	// positive. Default 10s.
	Timeout time.Duration `koanf:"timeout"`
}

// DefaultSentinelConfig returns Sentinel's usual port and Redis's usual
// client limit.
func DefaultSentinelConfig() SentinelConfig {
	return SentinelConfig{ListenAddr: ":26379", MaxClients: 10000, SubscriberQueue: 1024,
		HandshakeTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
}

// DefaultProxyConfig returns a disabled proxy with LAN timings.
func DefaultProxyConfig() ProxyConfig {
	return ProxyConfig{DialTimeout: time.Second, CheckInterval: time.Second, HandshakeTimeout: 10 * time.Second}
}

// DefaultHooksConfig returns no hooks with a 10 s timeout.
func DefaultHooksConfig() HooksConfig {
	return HooksConfig{WebhookAttempts: 4, Timeout: 10 * time.Second}
}

// Announce is the address other sidecars should publish for this endpoint
// (failover.Node.SentinelAddr): AnnounceAddr when set, else the listen
// address with host standing in for an empty or wildcard listen host
// (typically the host of redis.announce_addr). It is empty when the
// endpoint is disabled.
func (c SentinelConfig) Announce(host string) string {
	if c.AnnounceAddr != "" {
		return c.AnnounceAddr
	}
	if c.ListenAddr == "" {
		return ""
	}
	h, port, err := net.SplitHostPort(c.ListenAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		h = host
	}
	return net.JoinHostPort(h, port)
}

// Validate reports every problem, each naming its key and value. The
// password is never echoed.
func (c SentinelConfig) Validate() error {
	var errs []error
	if c.ListenAddr != "" {
		if err := checkListenAddr(c.ListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("sentinel.listen_addr (%q) %w", c.ListenAddr, err))
		}
	}
	if c.AnnounceAddr != "" {
		if err := checkAnnounceAddr(c.AnnounceAddr); err != nil {
			errs = append(errs, fmt.Errorf("sentinel.announce_addr (%q) %w", c.AnnounceAddr, err))
		}
	}
	if c.MaxClients < 0 {
		errs = append(errs, fmt.Errorf("sentinel.max_clients (%d) must be 0 (no limit) or more", c.MaxClients))
	}
	if c.SubscriberQueue <= 0 {
		errs = append(errs, fmt.Errorf("sentinel.subscriber_queue (%d) must be positive", c.SubscriberQueue))
	}
	if c.HandshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("sentinel.handshake_timeout (%s) must be positive", c.HandshakeTimeout))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("sentinel.idle_timeout (%s) must be 0 (never) or positive", c.IdleTimeout))
	}
	errs = append(errs, c.TLS.Validate("sentinel.tls"))
	return errors.Join(errs...)
}

// Validate reports every problem, each naming its key and value.
func (c ProxyConfig) Validate() error {
	var errs []error
	if c.ListenAddr != "" {
		if err := checkListenAddr(c.ListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("proxy.listen_addr (%q) %w", c.ListenAddr, err))
		}
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("proxy.dial_timeout (%s) must be positive", c.DialTimeout))
	}
	if c.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("proxy.check_interval (%s) must be positive", c.CheckInterval))
	}
	if c.HandshakeTimeout < 0 {
		errs = append(errs, fmt.Errorf("proxy.handshake_timeout (%s) must be 0 (never) or positive", c.HandshakeTimeout))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("proxy.idle_timeout (%s) must be 0 (never) or positive", c.IdleTimeout))
	}
	return errors.Join(errs...)
}

// Validate reports every problem, each naming its key and value. The
// webhook URL is not echoed because it often carries a token.
func (c HooksConfig) Validate() error {
	var errs []error
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("hooks.webhook_url is not a valid URL"))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("hooks.webhook_url scheme (%q) must be http or https", u.Scheme))
		case u.Host == "":
			errs = append(errs, errors.New("hooks.webhook_url has no host"))
		}
	}
	if c.WebhookAttempts <= 0 {
		errs = append(errs, fmt.Errorf("hooks.webhook_attempts (%d) must be positive", c.WebhookAttempts))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("hooks.timeout (%s) must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// checkListenAddr accepts host:port with an empty host (all interfaces)
// and port 0 (any free port).
func checkListenAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return errors.New("must have a port in 0-65535")
	}
	return nil
}

// checkAnnounceAddr wants an address a client can dial: a host and a port
// in 1-65535.
func checkAnnounceAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be host:port")
	}
	if host == "" {
		return errors.New("must name a host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("must have a port in 1-65535")
	}
	return nil
}
