package main

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// security is what the sidecar loads at start and reloads on SIGHUP:
// certificates and HTTP tokens.
type security struct {
	redisTLS    *tlsconfig.Client // redis.tls; nil is plain TCP
	sentinelTLS *tlsconfig.Server // sentinel.tls; nil is plain TCP
	httpTLS     *tlsconfig.Server // http.tls; nil is plain HTTP
	guard       *accessGuard
}

// loadSecurity reads the certificates and token files, logs a warning for
// each insecure setting and registers vigil_gossip_insecure.
func loadSecurity(cfg config.Config, logger *slog.Logger, reg prometheus.Registerer) (*security, error) {
	var s security
	var errs [4]error
	s.redisTLS, errs[0] = tlsconfig.NewClient("redis.tls", cfg.Redis.TLS)
	s.sentinelTLS, errs[1] = tlsconfig.NewServer("sentinel.tls", cfg.Sentinel.TLS)
	s.httpTLS, errs[2] = tlsconfig.NewServer("http.tls", cfg.HTTP.TLS)
	tokens, err := cfg.HTTP.ReadTokens()
	errs[3] = err
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	s.guard = newAccessGuard(tokens)
	insecure := cfg.Gossip.EncryptionKey == "" && cfg.Gossip.Insecure
	reg.MustRegister(gossipInsecureGauge(insecure))
	for _, w := range config.Warnings(cfg) {
		logger.Warn("insecure configuration", "warning", w)
	}
	return &s, nil
}

// reload re-reads every certificate and token file of next; a file that
// fails keeps the one in use and is logged. Other changes of next need a
// restart.
func (s *security) reload(next config.Config, logger *slog.Logger) {
	for _, r := range []interface{ Reload() error }{s.redisTLS, s.sentinelTLS, s.httpTLS} {
		if err := r.Reload(); err != nil {
			logger.Error("certificate reload failed; keeping the loaded one", "err", err)
		}
	}
	tokens, err := next.HTTP.ReadTokens()
	if err != nil {
		logger.Error("token reload failed; keeping the loaded tokens", "err", err)
		return
	}
	s.guard.set(tokens)
	logger.Info("certificates and tokens reloaded")
}
