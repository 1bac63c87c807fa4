package failover

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Results and failure reasons of failovers (bounded label values).
const (
	resultSuccess = "success"
	resultFailure = "failure"

	failPromote    = "promote_error"    // REPLICAOF NO ONE, the ROLE check or the promoted entry failed
	failVetoed     = "vetoed"           // the pre-promotion gate refused
	failSwitchover = "switchover_error" // a planned switchover was abandoned
)

var failReasons = []string{failPromote, failVetoed, failSwitchover}

// Reasons a received message was dropped.
const (
	dropMalformed = "malformed"
	dropVersion   = "version"
	dropUnknown   = "unknown_kind"
	dropQueue     = "queue_full"
)

var kindNames = map[byte]string{
	kindReport: "report",
}

type metrics struct {
	epoch         prometheus.Gauge
	failovers     *prometheus.CounterVec
	failures      *prometheus.CounterVec
	duration      prometheus.Histogram
	sdown         prometheus.Gauge
	odown         prometheus.Gauge
	fenced        prometheus.Gauge
	paused        prometheus.Gauge
	majority      prometheus.Gauge
	peers         *prometheus.GaugeVec
	noCandidate   *prometheus.GaugeVec
	conflict      prometheus.Gauge
	received      *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	eventsDropped prometheus.Counter
	commandErrors *prometheus.CounterVec

	flapPaused       prometheus.Gauge
	flapPauses       prometheus.Counter
	handOvers        prometheus.Counter
	emptyRestarts    prometheus.Counter
	foreignDemotions prometheus.Counter

	// The series the loop sets on every step, looked up once:
	// noCandidateBy[i] is noCandidate's for whyReasons[i].
	peersFresh, peersStale prometheus.Gauge
	noCandidateBy          []prometheus.Gauge
}

// Redis commands whose failures are counted.
var commandNames = []string{"replicaof", "client_pause", "client_unpause", "client_kill", "role", "config_set"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_epoch",
			Help: "Epoch of the committed configuration this sidecar follows.",
		}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failovers_total",
			Help: "Promotions of this sidecar's Redis (failovers and switchovers), by result.",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_failures_total",
			Help: "Failed promotion attempts on this sidecar, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_failover_duration_seconds",
			Help:    "Time from the start of a failover to the new primary releasing writes.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		sdown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_primary_sdown",
			Help: "1 while this sidecar sees the primary subjectively down.",
		}),
		odown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_primary_odown",
			Help: "1 while a quorum of fresh opinions sees the primary down.",
		}),
		fenced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_fenced",
			Help: "1 while this sidecar pauses writes on its Redis (isolated, not named by the committed state, or empty).",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_paused",
			Help: "1 while automatic failover is paused by an operator.",
		}),
		majority: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_majority_reachable",
			Help: "1 while this sidecar's last acknowledged Raft contact (majority or leader) is within fence_after.",
		}),
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_failover_peer_reports",
			Help: "Other sidecars by the freshness of their last failover report.",
		}, []string{"state"}),
		noCandidate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_failover_no_candidate",
			Help: "1 for each reason that excluded a replica while no replica qualifies for promotion.",
		}, []string{"reason"}),
		conflict: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_discovery_conflict",
			Help: "1 while discovery cannot tell which node is primary (see /v1/status).",
		}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_messages_received_total",
			Help: "Failover messages received from peers, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_messages_dropped_total",
			Help: "Received failover messages that were dropped, by reason.",
		}, []string{"reason"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_events_dropped_total",
			Help: "Topology events dropped because a subscriber was not reading.",
		}),
		commandErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_redis_command_errors_total",
			Help: "Failed commands failover sent to its local Redis, by command.",
		}, []string{"command"}),
		flapPaused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_flap_paused",
			Help: "1 while anti-flap has paused automatic failover (failover.max_failovers within failover.flap_window).",
		}),
		flapPauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_flap_pauses_total",
			Help: "Times this sidecar, as the Raft leader, paused automatic failover for anti-flap.",
		}),
		handOvers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_leadership_handovers_total",
			Help: "Times this sidecar, as the Raft leader with a failover due and no replica it could promote, handed Raft leadership to a voter that hears members it does not.",
		}),
		emptyRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_empty_restarts_total",
			Help: "Times this sidecar's primary came back empty (new run id, new replication id, less data than a replica).",
		}),
		foreignDemotions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_foreign_demotions_total",
			Help: "Stale primaries of other nodes this sidecar paused and demoted.",
		}),
	}
	for _, r := range []string{resultSuccess, resultFailure} {
		m.failovers.WithLabelValues(r)
	}
	for _, r := range failReasons {
		m.failures.WithLabelValues(r)
	}
	m.peersFresh, m.peersStale = m.peers.WithLabelValues("fresh"), m.peers.WithLabelValues("stale")
	for _, r := range whyReasons {
		m.noCandidateBy = append(m.noCandidateBy, m.noCandidate.WithLabelValues(r))
	}
	for _, k := range kindNames {
		m.received.WithLabelValues(k)
	}
	for _, r := range []string{dropMalformed, dropVersion, dropUnknown, dropQueue} {
		m.dropped.WithLabelValues(r)
	}
	for _, c := range commandNames {
		m.commandErrors.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.epoch, m.failovers, m.failures, m.duration, m.sdown, m.odown,
		m.fenced, m.paused, m.majority, m.peers, m.noCandidate, m.conflict, m.received, m.dropped,
		m.eventsDropped, m.commandErrors, m.flapPaused, m.flapPauses, m.handOvers, m.emptyRestarts, m.foreignDemotions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
