// Package tlsconfig turns vigil's TLS settings into crypto/tls
// configurations: a client side for every connection vigil makes to Redis,
// and a server side for the endpoints it serves (Sentinel protocol, HTTP).
// Certificates and CAs are read when loaded and again on Reload (SIGHUP),
// and swapped atomically, so connections made after a reload use the new
// files while established ones keep theirs.
package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
)

// ClientConfig is how vigil reaches a TLS-only Redis (Redis's tls-port).
// The top-level key is "redis.tls".
type ClientConfig struct {
	// Enabled makes every connection to Redis (probes, failover commands,
	// the retry queue's replay, the proxy's upstream) use TLS, for a Redis
	// that listens on its tls-port. Default false: plain TCP.
	Enabled bool `koanf:"enabled"`
	// CAFile is the path of a PEM bundle of the CAs that sign the Redis
	// servers' certificates. Empty (the default) means the system roots.
	CAFile string `koanf:"ca_file"`
	// CertFile is the path of the PEM client certificate (chain) vigil
	// presents, for a Redis with tls-auth-clients yes (Redis's default).
	// Set it together with the key file, or neither. Empty (the default)
	// presents no certificate.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the path of the PEM private key of the client
	// certificate. Set it together with the certificate file, or neither.
	// Default empty.
	KeyFile string `koanf:"key_file"`
	// ServerName is the name checked against the server's certificate.
	// Empty (the default) means the host of the address dialled, an IP
	// address included.
	ServerName string `koanf:"server_name"`
	// InsecureSkipVerify accepts any server certificate. It defeats the
	// point of TLS against an active attacker; check-config warns about
	// it. Default false.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// ServerConfig is a TLS endpoint vigil serves. Setting CertFile enables it.
type ServerConfig struct {
	// CertFile is the path of the PEM certificate (chain) this endpoint
	// serves; setting it turns TLS on. Empty (the default) serves plain
	// TCP. Set it together with the key file.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the path of the PEM private key of the served
	// certificate. Set it together with the certificate file. Default
	// empty.
	KeyFile string `koanf:"key_file"`
	// ClientCAFile is the path of a PEM bundle of CAs; when set, every
	// client must present a certificate signed by one of them (mutual
	// TLS). It needs the certificate file. Empty (the default) asks
	// clients for no certificate.
	ClientCAFile string `koanf:"client_ca_file"`
}

// Enabled reports whether the endpoint serves TLS.
func (c ServerConfig) Enabled() bool { return c.CertFile != "" }

// Validate reports every problem, each naming key (e.g. "redis.tls") plus
// the field and its value. It reads no file.
func (c ClientConfig) Validate(key string) error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.cert_file (%q) and %s.key_file (%q) must be set together", key, c.CertFile, key, c.KeyFile))
	}
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.ServerName != "" || c.InsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("%s.enabled is false but other %s keys are set; set %s.enabled: true", key, key, key))
	}
	return errors.Join(errs...)
}

// Validate reports every problem, each naming key (e.g. "sentinel.tls").
func (c ServerConfig) Validate(key string) error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.cert_file (%q) and %s.key_file (%q) must be set together", key, c.CertFile, key, c.KeyFile))
	}
	if c.CertFile == "" && c.ClientCAFile != "" {
		errs = append(errs, fmt.Errorf("%s.client_ca_file (%q) needs %s.cert_file", key, c.ClientCAFile, key))
	}
	return errors.Join(errs...)
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// Client hands out the current client configuration. A nil *Client means
// TLS is off; its methods then dial plain TCP.
type Client struct {
	key string
	cfg ClientConfig
	cur atomic.Pointer[tls.Config]
}

// NewClient reads the files of cfg, or returns nil when cfg is not
// enabled. key names the configuration in errors ("redis.tls").
func NewClient(key string, cfg ClientConfig) (*Client, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	c := &Client{key: key, cfg: cfg}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the CA and the client certificate. On error the
// previous configuration stays in use.
func (c *Client) Reload() error {
	if c == nil {
		return nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.cfg.ServerName,
		InsecureSkipVerify: c.cfg.InsecureSkipVerify, //nolint:gosec // an explicit, warned-about operator choice
	}
	if c.cfg.CAFile != "" {
		pool, err := loadPool(c.cfg.CAFile)
		if err != nil {
			return fmt.Errorf("tlsconfig: %s.ca_file: %w", c.key, err)
		}
		tc.RootCAs = pool
	}
	if c.cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("tlsconfig: %s.cert_file/key_file: %w", c.key, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	c.cur.Store(tc)
	return nil
}

// Config returns the current configuration for a connection to addr
// ("host:port"), with ServerName defaulted to its host; nil when TLS is off.
func (c *Client) Config(addr string) *tls.Config {
	if c == nil {
		return nil
	}
	tc := c.cur.Load().Clone()
	if tc.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			tc.ServerName = host
		} else {
			tc.ServerName = addr
		}
	}
	return tc
}

// DialContext dials addr with d and, when TLS is on, completes the
// handshake before returning, bounded by ctx and d.Timeout, so a server
// that accepts and never answers cannot hold the caller.
func (c *Client) DialContext(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil || c == nil {
		return raw, err
	}
	tc := tls.Client(raw, c.Config(addr))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// Server serves one endpoint's certificate, swapped atomically on Reload.
// A nil *Server means the endpoint is plain TCP.
type Server struct {
	key  string
	cfg  ServerConfig
	cert atomic.Pointer[tls.Certificate]
	cas  atomic.Pointer[x509.CertPool]
}

// NewServer reads the files of cfg, or returns nil when cfg is not enabled.
// key names the configuration in errors ("sentinel.tls").
func NewServer(key string, cfg ServerConfig) (*Server, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	s := &Server{key: key, cfg: cfg}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the certificate, the key and the client CA. On error
// the previous ones stay in use.
func (s *Server) Reload() error {
	if s == nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tlsconfig: %s.cert_file/key_file: %w", s.key, err)
	}
	var pool *x509.CertPool
	if s.cfg.ClientCAFile != "" {
		if pool, err = loadPool(s.cfg.ClientCAFile); err != nil {
			return fmt.Errorf("tlsconfig: %s.client_ca_file: %w", s.key, err)
		}
	}
	s.cert.Store(&cert)
	s.cas.Store(pool)
	return nil
}

// Config returns the server configuration: each handshake takes the
// certificate and client CAs current at that moment. nil when s is nil.
func (s *Server) Config() *tls.Config {
	if s == nil {
		return nil
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*s.cert.Load()}}
		if pool := s.cas.Load(); pool != nil {
			tc.ClientCAs = pool
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return tc, nil
	}
	return base
}
