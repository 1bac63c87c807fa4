package redirect

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Results for the result labels.
const (
	resultOK      = "ok"      // a command answered without error
	resultError   = "error"   // a command answered with an error reply
	resultSuccess = "success" // a hook ran and succeeded
	resultFailure = "failure" // a hook exited non-zero or a webhook was given up
	resultTimeout = "timeout" // a hook ran past hooks.timeout and was killed
	resultDropped = "dropped" // a hook was skipped because its queue was full
)

// commandLabels is the fixed set of command label values; everything else
// counts as "other", so a client cannot grow the series.
var commandLabels = []string{"ping", "hello", "auth", "client", "role", "info", "sentinel",
	"subscribe", "psubscribe", "unsubscribe", "punsubscribe", "quit", "reset", "command", "acl", "other"}

// Hook names for vigil_hook_runs_total.
const (
	hookPrePromote   = "pre_promote"
	hookOnRoleChange = "on_role_change"
	hookPostFailover = "post_failover"
	hookWebhook      = "webhook"
)

// Proxy refusal reasons for vigil_proxy_refused_total.
const (
	refuseNoPrimary  = "no_primary"  // no writable primary is known
	refuseDialFailed = "dial_failed" // the primary did not accept within proxy.dial_timeout
)

// sentinelMetrics are the endpoint's metrics.
type sentinelMetrics struct {
	connections prometheus.Gauge
	commands    *prometheus.CounterVec
	dropped     prometheus.Counter
	rejected    prometheus.Counter
	subscribers prometheus.Gauge
	published   prometheus.Counter
}

func newSentinelMetrics(reg prometheus.Registerer) (*sentinelMetrics, error) {
	m := &sentinelMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_sentinel_connections",
			Help: "Client connections open on the Sentinel-protocol endpoint, subscribers included.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sentinel_commands_total",
			Help: "Commands answered by the Sentinel-protocol endpoint, by command (fixed set, others are \"other\") and result.",
		}, []string{"command", "result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_sentinel_dropped_subscribers_total",
			Help: "Subscribed clients disconnected because they did not read their messages.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_sentinel_rejected_connections_total",
			Help: "Connections refused because sentinel.max_clients were already open.",
		}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_sentinel_subscribers",
			Help: "Clients currently in subscribed (pub/sub) mode.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_sentinel_events_published_total",
			Help: "Topology events published on the endpoint's pub/sub channels.",
		}),
	}
	for _, c := range commandLabels {
		for _, r := range []string{resultOK, resultError} {
			m.commands.WithLabelValues(c, r)
		}
	}
	return m, register(reg, m.connections, m.commands, m.dropped, m.rejected, m.subscribers, m.published)
}

// proxyMetrics are the proxy's metrics.
type proxyMetrics struct {
	connections prometheus.Gauge
	refused     *prometheus.CounterVec
	switched    prometheus.Counter
}

func newProxyMetrics(reg prometheus.Registerer) (*proxyMetrics, error) {
	m := &proxyMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_proxy_connections",
			Help: "Client connections currently forwarded to the primary.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_proxy_refused_total",
			Help: "Client connections closed at once because no writable primary was known or it could not be reached, by reason.",
		}, []string{"reason"}),
		switched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_proxy_switch_closed_total",
			Help: "Forwarded connections closed because the primary changed.",
		}),
	}
	for _, r := range []string{refuseNoPrimary, refuseDialFailed} {
		m.refused.WithLabelValues(r)
	}
	return m, register(reg, m.connections, m.refused, m.switched)
}

// hookMetrics are the hooks' metrics.
type hookMetrics struct {
	runs *prometheus.CounterVec
}

func newHookMetrics(reg prometheus.Registerer) (*hookMetrics, error) {
	m := &hookMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_hook_runs_total",
			Help: "Hook commands and webhook deliveries, by hook and result.",
		}, []string{"hook", "result"}),
	}
	for _, h := range []string{hookPrePromote, hookOnRoleChange, hookPostFailover, hookWebhook} {
		for _, r := range []string{resultSuccess, resultFailure, resultTimeout, resultDropped} {
			m.runs.WithLabelValues(h, r)
		}
	}
	return m, register(reg, m.runs)
}

// register registers every collector, reporting all failures. A nil reg
// registers nothing.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
