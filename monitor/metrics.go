package monitor

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// failureReasons lists every failure Reason, each a pre-created series of
// vigil_redis_probe_errors_total.
func failureReasons() []Reason {
	return []Reason{ReasonRefused, ReasonTimeout, ReasonLoading, ReasonBusy, ReasonAuth, ReasonError}
}

// metrics are the Prober's series. Gauges derive from the latest
// observation at scrape time, so they can never disagree with Last.
type metrics struct {
	duration prometheus.Histogram
	errors   *prometheus.CounterVec
}

// view is what the gauges read: the latest observation and the last
// replication offset a probe saw.
type view interface {
	Last() Observation
	lastOffset() int64
}

func newMetrics(reg prometheus.Registerer, v view) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_redis_probe_duration_seconds",
			Help: "Time one probe of the local Redis took, including the INFO on its primary for lag.",
			// 0.1ms (loopback) to 1s (far past any sane monitor.timeout).
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_redis_probe_errors_total",
			Help: "Probes of the local Redis that got no valid reply, by reason (refused, timeout, loading, busy, auth, error).",
		}, []string{"reason"}),
	}
	for _, r := range failureReasons() {
		m.errors.WithLabelValues(string(r))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	cs := []prometheus.Collector{
		m.duration,
		m.errors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_redis_up",
			Help: "1 when the last probe of the local Redis got a valid reply, 0 otherwise.",
		}, func() float64 { return b2f(v.Last().Reachable()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_redis_replication_offset_bytes",
			Help: "Replication offset of the local Redis (master_repl_offset on a primary and on a replica whose link is down, slave_repl_offset on a replica whose link is up); the last one seen while it does not answer INFO.",
		}, func() float64 { return float64(v.lastOffset()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_redis_replication_lag_bytes",
			Help: "Bytes the local replica is behind its primary; 0 on a primary; -1 when unknown (link down, primary or local Redis not answering).",
		}, func() float64 {
			o := v.Last()
			if o.Time.IsZero() {
				return -1
			}
			return float64(o.LagBytes)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_redis_master_link_up",
			Help: "1 when the local Redis is a replica with its link to the primary up, 0 otherwise (also on a primary).",
		}, func() float64 { return b2f(v.Last().LinkUp) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_redis_connected_replicas",
			Help: "Replicas connected to the local Redis, as its INFO reports them.",
		}, func() float64 { return float64(v.Last().ConnectedReplicas) }),
	}
	for _, role := range []Role{RolePrimary, RoleReplica} {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "vigil_redis_role",
			Help:        "1 on the replication role the local Redis reports (master or slave); both 0 while it is unknown.",
			ConstLabels: prometheus.Labels{"role": string(role)},
		}, func() float64 { return b2f(v.Last().Role == role) }))
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("monitor: register metrics: %w", err)
	}
	return m, nil
}
