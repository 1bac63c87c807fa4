package gossip

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons for vigil_gossip_messages_dropped_total.
const (
	dropMalformed     = "malformed"      // truncated or garbage envelope
	dropVersion       = "version"        // envelope version this build does not speak
	dropUnknownSender = "unknown_sender" // sender is not an alive member
	dropReplay        = "replay"         // (incarnation, seq) already seen or too old
	dropQueueFull     = "queue_full"     // the consumer of Messages is behind
)

var dropReasons = []string{dropMalformed, dropVersion, dropUnknownSender, dropReplay, dropQueueFull}

// memberStates lists every state, for pre-created series.
var memberStates = []string{StateAlive, StateSuspect, StateDead, StateLeft}

// metrics are the peer's Prometheus metrics. memberlist's own go-metrics
// calls go to go-metrics' default blackhole sink; nothing bridges them here,
// so they never reach vigil's registry.
type metrics struct {
	sent            *prometheus.CounterVec
	received        prometheus.Counter
	dropped         *prometheus.CounterVec
	knownWriteFails prometheus.Counter
	streamsRefused  *prometheus.CounterVec
}

// newMetrics builds the metrics and registers them, with derived gauges read
// from p at scrape time. A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, p *Peer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_gossip_messages_sent_total",
			Help: "Direct messages sent to one peer, by result.",
		}, []string{"result"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_gossip_messages_received_total",
			Help: "Direct messages received from peers, before validation.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_gossip_messages_dropped_total",
			Help: "Received direct messages that were dropped, by reason.",
		}, []string{"reason"}),
		knownWriteFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_gossip_known_peers_write_failures_total",
			Help: "Failed writes of the known peer set to node.data_dir.",
		}),
		streamsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_gossip_streams_refused_total",
			Help: "Streams of a channel multiplexed on the gossip port (Raft, authority RPC) refused before reaching their user, by reason; dialled and accepted streams both count.",
		}, []string{"reason"}),
	}
	for _, r := range refusedReasons {
		m.streamsRefused.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.sent.WithLabelValues(r)
	}
	for _, r := range dropReasons {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}

	cs := []prometheus.Collector{m.sent, m.received, m.dropped, m.knownWriteFails, m.streamsRefused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_gossip_known_peers",
			Help: "Peers in the persisted known set, including this node and dead peers.",
		}, func() float64 { return float64(len(p.Known())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_gossip_majority_reachable",
			Help: "1 if this node sees a majority of the known set alive (itself included), else 0.",
		}, func() float64 { return boolFloat(p.MajorityReachable()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_gossip_health_score",
			Help: "memberlist awareness score; 0 is healthy, higher means this node is slow to answer probes.",
		}, func() float64 { return float64(p.healthScore()) }),
	}
	for _, s := range memberStates {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "vigil_gossip_members",
			Help:        "Members as seen by this node, including itself and known but absent peers, by state.",
			ConstLabels: prometheus.Labels{"state": s},
		}, func() float64 { return float64(p.countState(s)) }))
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
