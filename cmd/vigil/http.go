package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/gossip"
	"github.com/vigil-redis/vigil/monitor"
)

// localView is what the health endpoints need of the local prober.
type localView interface {
	Last() monitor.Observation
}

// topologyView is what the HTTP API needs of the failover component.
type topologyView interface {
	Snapshot() failover.Snapshot
	IsPrimary() bool
	Ready() bool
	Handler(adminToken string) http.Handler
}

// membersView lists gossip members for /v1/status.
type membersView interface {
	Members() []gossip.Member
}

// queueView serves the retry queue's (or the divergent keeper's) routes.
type queueView interface {
	Handler(adminToken string) http.Handler
}

type httpDeps struct {
	reg   *prometheus.Registry
	local localView
	fo    topologyView
	peer  membersView
	queue queueView
	// keeper serves the divergent-writes archives; nil leaves
	// /v1/divergent unrouted.
	keeper queueView
	guard  *accessGuard
	logger *slog.Logger
	// settings backs /v1/config (the replicated group-wide settings);
	// nil, in tests of the other routes, answers 501.
	settings settingsView
}

// Status is the body of GET /v1/status.
type Status struct {
	Node     string              `json:"node"`
	Time     time.Time           `json:"time"`
	Local    monitor.Observation `json:"local"`
	Topology failover.Snapshot   `json:"topology"`
	Members  []statusMember      `json:"members"`
}

type statusMember struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	State string `json:"state"`
}

func newHTTPHandler(d httpDeps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		Registry: d.reg,
		ErrorLog: slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
	}))
	// HAProxy's httpchk and Kubernetes probes use GET, HEAD or OPTIONS;
	// every method answers with the same status, as Patroni does.
	check := func(fn func(*http.Request) (int, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				w.Header().Set("Allow", "GET, HEAD, OPTIONS")
				writeText(w, http.StatusMethodNotAllowed, "method not allowed")
				return
			}
			code, msg := fn(r)
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			writeText(w, code, msg)
		}
	}
	mux.Handle("/-/healthy", check(func(*http.Request) (int, string) {
		return http.StatusOK, "OK"
	}))
	mux.Handle("/-/ready", check(func(*http.Request) (int, string) {
		return readiness(d.local.Last(), d.fo.Ready(), d.fo.Snapshot())
	}))
	mux.Handle("/health", check(func(*http.Request) (int, string) {
		obs := d.local.Last()
		if !obs.Reachable() {
			return http.StatusServiceUnavailable, "redis unreachable: " + string(obs.Reason)
		}
		return http.StatusOK, "redis reachable"
	}))
	mux.Handle("/primary", check(func(*http.Request) (int, string) {
		if d.fo.IsPrimary() {
			return http.StatusOK, "primary"
		}
		return http.StatusServiceUnavailable, "not the writable primary"
	}))
	mux.Handle("/replica", check(func(r *http.Request) (int, string) {
		return replicaCheck(d.local.Last(), r.URL.Query().Get("lag"))
	}))
	addHealthRoutes(mux, d, check)
	configRoutes(mux, d.guard, d.settings)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		snap := d.fo.Snapshot()
		st := Status{Node: snap.Self, Time: time.Now().UTC(), Local: d.local.Last(), Topology: snap}
		for _, m := range d.peer.Members() {
			st.Members = append(st.Members, statusMember{Name: m.Name, Addr: m.Addr, State: m.State})
		}
		writeJSON(w, http.StatusOK, st)
	})
	// Profiles, as Prometheus and Alertmanager expose them, for operators
	// chasing CPU or memory in the field.
	// Admin only (accessGuard): the admin token, or loopback without one.
	mux.Handle("GET /debug/pprof/", d.guard.admin(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", d.guard.admin(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/symbol", d.guard.admin(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("GET /debug/pprof/trace", d.guard.admin(http.HandlerFunc(pprof.Trace)))
	// The guard checks the tokens (reloadable); the handlers get none, so
	// every route of the failover handler must be mounted here behind the
	// guard: its own check does nothing with an empty token.
	foh := d.fo.Handler("")
	fo := d.guard.admin(foh)
	for _, p := range []string{"/v1/switchover", "/v1/handover", "/v1/pause", "/v1/resume", "/v1/forget", "/v1/history"} {
		mux.Handle(p, fo)
	}
	// Reading the group-wide settings is open, as GET /v1/config is;
	// changing them is admin.
	mux.Handle("GET /v1/settings", foh)
	mux.Handle("/v1/settings", fo)
	q := d.queue.Handler("")
	mux.Handle("POST /v1/retryq", d.guard.enqueue(q))
	mux.Handle("/v1/retryq", d.guard.admin(q))
	mux.Handle("/v1/retryq/", d.guard.admin(q))
	// The archives hold application data and a replay writes to the
	// primary: admin only.
	if d.keeper != nil {
		dv := d.guard.admin(d.keeper.Handler(""))
		mux.Handle("/v1/divergent", dv)
		mux.Handle("/v1/divergent/", dv)
	}
	return mux
}

// replicaCheck answers /replica: 200 only for a replica whose link is up
// and, when lag is given, at most lag bytes behind its primary.
func replicaCheck(obs monitor.Observation, lag string) (int, string) {
	if !obs.Reachable() || obs.Role != monitor.RoleReplica {
		return http.StatusServiceUnavailable, "not a replica"
	}
	if !obs.LinkUp {
		return http.StatusServiceUnavailable, "replication link down"
	}
	if lag == "" {
		return http.StatusOK, "replica"
	}
	max, err := parseBytes(lag)
	if err != nil {
		return http.StatusBadRequest, "lag: " + err.Error()
	}
	if obs.LagBytes < 0 {
		return http.StatusServiceUnavailable, "lag unknown"
	}
	if obs.LagBytes > max {
		return http.StatusServiceUnavailable, "lag " + strconv.FormatInt(obs.LagBytes, 10) + " bytes"
	}
	return http.StatusOK, "replica"
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = printJSON(w, v)
}
