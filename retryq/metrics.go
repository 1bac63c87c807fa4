package retryq

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	enqueued     prometheus.Counter
	replayed     prometheus.Counter
	failed       prometheus.Counter
	deadLettered *prometheus.CounterVec // reason: permanent, exhausted, policy
	rejected     *prometheus.CounterVec // reason: full, invalid
	primaryErrs  prometheus.Counter
	commitDur    prometheus.Histogram
	commitBatch  prometheus.Histogram
}

// newMetrics registers the queue's metrics; gauges derived from the queue
// itself are registered by Queue.registerGauges.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		enqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_retryq_enqueued_total",
			Help: "Items accepted into the retry queue (after fsync).",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_retryq_replayed_total",
			Help: "Items applied to the primary (or found already applied) and removed from the queue.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_retryq_failed_total",
			Help: "Replay attempts that failed for an item-specific reason and spent an attempt.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_retryq_dead_lettered_total",
			Help: "Items moved to the dead-letter set, by reason (permanent error, attempts exhausted, or refused at replay by retryq.allowed_commands: policy).",
		}, []string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_retryq_rejected_total",
			Help: "Items refused at enqueue, by reason (queue full or invalid request).",
		}, []string{"reason"}),
		primaryErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_retryq_primary_errors_total",
			Help: "Replay batches that failed because the primary was unreachable or not writable, or no replica acknowledged the applied writes in time (no attempts spent).",
		}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_retryq_commit_duration_seconds",
			Help:    "Duration of one enqueue group commit, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_retryq_commit_batch_items",
			Help:    "Items written by one enqueue group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
	}
	for _, r := range []string{reasonPermanent, reasonExhausted, reasonPolicy} {
		m.deadLettered.WithLabelValues(r)
	}
	for _, r := range []string{reasonFull, reasonInvalid} {
		m.rejected.WithLabelValues(r)
	}
	reg.MustRegister(m.enqueued, m.replayed, m.failed, m.deadLettered, m.rejected, m.primaryErrs, m.commitDur, m.commitBatch)
	return m
}

const (
	reasonPermanent = "permanent"
	reasonExhausted = "exhausted"
	reasonPolicy    = "policy" // refused by retryq.allowed_commands at replay
	reasonFull      = "full"
	reasonInvalid   = "invalid"
)

// gauges reports values derived from the queue at scrape time.
type gauges struct {
	q                                   *Queue
	items, oldest, fileBytes, liveBytes *prometheus.Desc
}

func newGauges(q *Queue) *gauges {
	return &gauges{
		q: q,
		items: prometheus.NewDesc("vigil_retryq_items",
			"Items in the retry queue by state (ready includes items in backoff).", []string{"state"}, nil),
		oldest: prometheus.NewDesc("vigil_retryq_oldest_item_timestamp_seconds",
			"Enqueue time of the oldest ready or in-flight item, as a Unix timestamp; 0 when there is none.", nil, nil),
		fileBytes: prometheus.NewDesc("vigil_retryq_db_size_bytes",
			"Size of the retry queue's database file on disk.", nil, nil),
		liveBytes: prometheus.NewDesc("vigil_retryq_items_bytes",
			"Encoded size of all queued items, the quantity retryq.max_bytes limits.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.items
	ch <- g.oldest
	ch <- g.fileBytes
	ch <- g.liveBytes
}

// Collect implements prometheus.Collector.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	s := g.q.snapshot()
	ch <- prometheus.MustNewConstMetric(g.items, prometheus.GaugeValue, float64(s.ready), "ready")
	ch <- prometheus.MustNewConstMetric(g.items, prometheus.GaugeValue, float64(s.inflight), "inflight")
	ch <- prometheus.MustNewConstMetric(g.items, prometheus.GaugeValue, float64(s.dead), "dead")
	var oldest float64
	if s.oldest > 0 {
		oldest = float64(s.oldest) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(g.oldest, prometheus.GaugeValue, oldest)
	ch <- prometheus.MustNewConstMetric(g.fileBytes, prometheus.GaugeValue, float64(g.q.fileSize()))
	ch <- prometheus.MustNewConstMetric(g.liveBytes, prometheus.GaugeValue, float64(s.bytes))
}
