package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// DefaultHTTPConfig returns the HTTP listener's defaults.
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{
		ListenAddr:           ":9380",
		ReadHeaderTimeout:    5 * time.Second,
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         90 * time.Second,
		IdleTimeout:          2 * time.Minute,
		MaxHeaderBytes:       64 << 10,
		MaxBodyBytesInFlight: 32 << 20,
	}
}

func (h HTTPConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"http.read_header_timeout", h.ReadHeaderTimeout},
		{"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout},
	} {
		if d.v <= 0 {
			bad("%s (%s) must be positive", d.key, d.v)
		}
	}
	if h.MaxHeaderBytes < 4096 {
		bad("http.max_header_bytes (%d) must be at least 4096", h.MaxHeaderBytes)
	}
	if h.MaxBodyBytesInFlight < 1<<20 {
		bad("http.max_body_bytes_in_flight (%d) must be at least 1048576 (1 MiB)", h.MaxBodyBytesInFlight)
	}
	if h.AdminToken != "" && h.AdminTokenFile != "" {
		bad("http.admin_token and http.admin_token_file (%q) are both set; use one", h.AdminTokenFile)
	}
	if h.EnqueueToken != "" && h.EnqueueTokenFile != "" {
		bad("http.enqueue_token and http.enqueue_token_file (%q) are both set; use one", h.EnqueueTokenFile)
	}
	if h.AdminToken != "" && h.AdminToken == h.EnqueueToken {
		bad("http.enqueue_token equals http.admin_token; the enqueue token must not open the admin endpoints")
	}
	errs = append(errs, h.TLS.Validate("http.tls"))
	return errors.Join(errs...)
}

// securityErrors refuses the configurations that leave the control plane
// open to anyone on the network.
func (c Config) securityErrors() error {
	if c.Gossip.EncryptionKey == "" && !c.Gossip.Insecure {
		return errors.New("gossip.encryption_key is empty: anyone reaching the gossip port could join the group; " +
			"set it to a base64 AES key of 16, 24 or 32 bytes (head -c32 /dev/urandom | base64), " +
			"or set gossip.insecure: true to run unencrypted on a trusted network")
	}
	return nil
}

// Tokens are the HTTP bearer tokens in force.
type Tokens struct {
	// Admin opens everything; Enqueue opens POST /v1/retryq only.
	Admin, Enqueue string
}

// ReadTokens returns the HTTP tokens, reading http.admin_token_file and
// http.enqueue_token_file when the inline values are empty. A trailing
// newline in a file is ignored; an empty file is an error, never "no
// token".
func (h HTTPConfig) ReadTokens() (Tokens, error) {
	t := Tokens{Admin: h.AdminToken, Enqueue: h.EnqueueToken}
	read := func(key, path string, dst *string) error {
		if *dst != "" || path == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*dst = strings.TrimRight(string(b), "\r\n")
		if *dst == "" {
			return fmt.Errorf("%s (%q) is empty", key, path)
		}
		return nil
	}
	err := errors.Join(
		read("http.admin_token_file", h.AdminTokenFile, &t.Admin),
		read("http.enqueue_token_file", h.EnqueueTokenFile, &t.Enqueue),
	)
	if err == nil && t.Admin != "" && t.Admin == t.Enqueue {
		err = errors.New("http.enqueue_token equals http.admin_token; the enqueue token must not open the admin endpoints")
	}
	return t, err
}

// Warnings lists what is allowed but insecure in c, for check-config and
// the start-up log: each names its key and the risk.
func Warnings(c Config) []string {
	var w []string
	if c.Gossip.EncryptionKey == "" && c.Gossip.Insecure {
		w = append(w, "gossip.insecure is true and gossip.encryption_key is empty: gossip is unencrypted and anyone reaching "+
			c.Gossip.BindAddr+" can join the group")
	}
	if c.HTTP.ListenAddr != "" && c.HTTP.AdminToken == "" && c.HTTP.AdminTokenFile == "" && !loopbackListen(c.HTTP.ListenAddr) {
		w = append(w, "http.admin_token is empty while http.listen_addr ("+c.HTTP.ListenAddr+
			") is reachable from the network: admin endpoints, pprof and the retry queue answer loopback clients only")
	}
	if c.HTTP.ListenAddr != "" && !c.HTTP.TLS.Enabled() && !loopbackListen(c.HTTP.ListenAddr) &&
		(c.HTTP.AdminToken != "" || c.HTTP.AdminTokenFile != "" || c.HTTP.EnqueueToken != "" || c.HTTP.EnqueueTokenFile != "") {
		w = append(w, "http.tls.cert_file is empty: bearer tokens travel in clear text to "+c.HTTP.ListenAddr)
	}
	if c.Redis.TLS.Enabled && c.Redis.TLS.InsecureSkipVerify {
		w = append(w, "redis.tls.insecure_skip_verify is true: any certificate is accepted, so TLS to Redis does not stop an active attacker")
	}
	if c.Sentinel.ListenAddr != "" && c.Sentinel.Password == "" && !loopbackListen(c.Sentinel.ListenAddr) {
		w = append(w, "sentinel.password is empty while sentinel.listen_addr ("+c.Sentinel.ListenAddr+
			") is reachable from the network: anyone can read the topology and subscribe to events")
	}
	if c.Redis.Password == "" && c.Redis.PasswordFile == "" {
		w = append(w, "redis.password is empty: vigil connects to Redis without authentication")
	}
	return w
}

// loopbackListen reports whether addr binds only a loopback address.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
