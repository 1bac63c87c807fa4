package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// accessGuard decides who may call the admin and enqueue endpoints. The
// tokens are swapped atomically when SIGHUP re-reads their files.
type accessGuard struct {
	tokens atomic.Pointer[config.Tokens]
}

func newAccessGuard(t config.Tokens) *accessGuard {
	g := &accessGuard{}
	g.tokens.Store(&t)
	return g
}

// set replaces the tokens in force.
func (g *accessGuard) set(t config.Tokens) { g.tokens.Store(&t) }

// Refusal texts: each says why and what to configure.
const (
	msgLoopbackOnly = "admin endpoints answer only loopback clients while http.admin_token is empty; " +
		"set http.admin_token (or http.admin_token_file) and send it as a bearer token"
	msgEnqueueLoopbackOnly = "enqueueing answers only loopback clients while http.enqueue_token and http.admin_token are empty; " +
		"set http.enqueue_token (or http.enqueue_token_file)"
	msgEnqueueTokenIsNotAdmin = "the enqueue token (http.enqueue_token) opens only POST /v1/retryq; this endpoint needs http.admin_token"
	msgBadToken               = "missing or wrong bearer token"
)

// admin guards the admin endpoints, pprof and the retry queue's
// administration: the admin token when one is set, else loopback clients
// only.
func (g *accessGuard) admin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := g.tokens.Load()
		switch {
		case t.Admin == "":
			if !fromLoopback(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": msgLoopbackOnly})
				return
			}
		case bearerIs(r, t.Admin):
		case t.Enqueue != "" && bearerIs(r, t.Enqueue):
			writeJSON(w, http.StatusForbidden, map[string]string{"error": msgEnqueueTokenIsNotAdmin})
			return
		default:
			unauthorized(w, "http.admin_token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// enqueue guards POST /v1/retryq: the enqueue or the admin token; with
// neither configured, loopback clients only.
func (g *accessGuard) enqueue(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := g.tokens.Load()
		switch {
		case t.Admin == "" && t.Enqueue == "":
			if !fromLoopback(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": msgEnqueueLoopbackOnly})
				return
			}
		case t.Enqueue != "" && bearerIs(r, t.Enqueue):
		case t.Admin != "" && bearerIs(r, t.Admin):
		default:
			unauthorized(w, "http.enqueue_token or http.admin_token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter, keys string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msgBadToken + " (" + keys + ")"})
}

// bearerIs compares the request's bearer token with want in constant time.
func bearerIs(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// fromLoopback reports whether the client connected from a loopback
// address. A reverse proxy on the same host makes every client look
// local: set http.admin_token behind one.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bodyLimiter bounds the request bodies in flight across all connections:
// a request reserves its Content-Length (or unknown, the largest body
// any handler accepts) before its handler runs and releases it after. A
// request that does not fit is shed with 503 and Retry-After before a byte
// of its body is read, so many large concurrent POSTs cannot exhaust
// memory.
type bodyLimiter struct {
	budget  int64 // http.max_body_bytes_in_flight
	unknown int64 // reserved for a body of unknown length; also its cap
	used    atomic.Int64
	shed    prometheus.Counter
}

func newBodyLimiter(budget, unknown int64, reg prometheus.Registerer) *bodyLimiter {
	l := &bodyLimiter{budget: budget, unknown: min(unknown, budget)}
	l.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_http_requests_shed_total",
		Help: "HTTP requests answered 503 because request bodies in flight reached http.max_body_bytes_in_flight.",
	})
	reg.MustRegister(l.shed)
	return l
}

func (l *bodyLimiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		n := r.ContentLength
		if n < 0 {
			n = l.unknown
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		if n > l.budget {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf(
				"request body of %d bytes is larger than http.max_body_bytes_in_flight (%d)", n, l.budget)})
			return
		}
		if !l.reserve(n) {
			l.shed.Inc()
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": fmt.Sprintf(
				"too many request bodies in flight (http.max_body_bytes_in_flight %d); retry later", l.budget)})
			return
		}
		defer l.used.Add(-n)
		next.ServeHTTP(w, r)
	})
}

func (l *bodyLimiter) reserve(n int64) bool {
	for {
		cur := l.used.Load()
		if cur+n > l.budget {
			return false
		}
		if l.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// newHTTPServer applies the http.* timeouts and limits.
func newHTTPServer(cfg config.HTTPConfig, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serveHTTP serves srv on cfg.ListenAddr (TLS when srvTLS is not nil)
// until ctx ends, then drains it for a moment. The TLS handshake is bounded
// by the server's read timeouts.
func serveHTTP(ctx context.Context, cfg config.HTTPConfig, srvTLS *tlsconfig.Server, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("http.listen_addr: %w", err)
	}
	if tc := srvTLS.Config(); tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	srv := newHTTPServer(cfg, h, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// gossipInsecureGauge is vigil_gossip_insecure: 1 while gossip runs
// without encryption (gossip.insecure), for an alert.
func gossipInsecureGauge(insecure bool) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigil_gossip_insecure",
		Help: "1 when gossip runs without encryption (gossip.insecure true, no gossip.encryption_key), else 0.",
	})
	if insecure {
		g.Set(1)
	}
	return g
}
