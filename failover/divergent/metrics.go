package divergent

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	captures *prometheus.CounterVec
	commands prometheus.Counter
	missing  prometheus.Counter
}

// Results of a capture, the values of the result label.
const (
	resultNone      = "none"      // nothing diverged
	resultArchived  = "archived"  // archived, not replayed
	resultReplayed  = "replayed"  // archived and replayed in full
	resultPartial   = "partial"   // archived, replay incomplete
	resultLost      = "lost"      // the backlog no longer reached the fork
	resultFailed    = "failed"    // capture failed (unreachable, ...)
	resultDiscarded = "discarded" // failover.divergent_writes is discard
)

func newMetrics(reg prometheus.Registerer, pending *atomic.Int64) *metrics {
	m := &metrics{
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_divergent_captures_total",
			Help: "Captures of a former primary's writes after the fork, by result.",
		}, []string{"result"}),
		commands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_divergent_commands_total",
			Help: "Divergent write commands captured from former primaries.",
		}),
		missing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_divergent_missing_bytes_total",
			Help: "Divergent replication bytes former primaries no longer held when captured: lost writes.",
		}),
	}
	for _, r := range []string{resultNone, resultArchived, resultReplayed, resultPartial, resultLost, resultFailed, resultDiscarded} {
		m.captures.WithLabelValues(r)
	}
	reg.MustRegister(m.captures, m.commands, m.missing,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_divergent_archives_pending",
			Help: "Archives of divergent writes (node.data_dir/divergent) neither replayed nor dismissed.",
		}, func() float64 { return float64(pending.Load()) }))
	return m
}
