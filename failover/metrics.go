package failover

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Results and failure reasons of failovers (bounded label values).
const (
	resultSuccess = "success"
	resultFailure = "failure"

	failElection     = "election_lost"    // no majority of votes within election_timeout
	failPrimaryAlive = "primary_alive"    // the re-check before promotion reached the primary
	failPromote      = "promote_error"    // REPLICAOF NO ONE or the ROLE check failed
	failVetoed       = "vetoed"           // the pre-promotion gate refused
	failPersist      = "persist_error"    // the vote or configuration could not be written
	failSwitchover   = "switchover_error" // a planned switchover was abandoned
)

var failReasons = []string{failElection, failPrimaryAlive, failPromote, failVetoed, failPersist, failSwitchover}

// Reasons a received message was dropped.
const (
	dropMalformed = "malformed"
	dropVersion   = "version"
	dropUnknown   = "unknown_kind"
)

var kindNames = map[byte]string{
	kindReport:      "report",
	kindVoteRequest: "vote_request",
	kindVoteReply:   "vote_reply",
	kindConfig:      "config",
	kindCall:        "call",
	kindCallReply:   "call_reply",
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
	votes         *prometheus.CounterVec
	eventsDropped prometheus.Counter
	commandErrors *prometheus.CounterVec
}

// Redis commands whose failures are counted.
var commandNames = []string{"replicaof", "client_pause", "client_unpause", "client_kill", "role"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_epoch",
			Help: "Epoch of the configuration this sidecar follows.",
		}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failovers_total",
			Help: "Failovers and switchovers this sidecar led, by result.",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_failures_total",
			Help: "Failed failover attempts this sidecar led, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_failover_duration_seconds",
			Help:    "Time from the start of an election to the announcement of the new primary.",
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
			Help: "1 while this sidecar pauses writes on its isolated primary.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_paused",
			Help: "1 while automatic failover is paused by an operator.",
		}),
		majority: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_failover_majority_reachable",
			Help: "1 while this sidecar hears from a majority of the known set (itself included).",
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
		votes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_votes_total",
			Help: "Vote requests this sidecar answered, by result.",
		}, []string{"result"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_failover_events_dropped_total",
			Help: "Topology events dropped because a subscriber was not reading.",
		}),
		commandErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_failover_redis_command_errors_total",
			Help: "Failed commands failover sent to its local Redis, by command.",
		}, []string{"command"}),
	}
	for _, r := range []string{resultSuccess, resultFailure} {
		m.failovers.WithLabelValues(r)
	}
	for _, r := range failReasons {
		m.failures.WithLabelValues(r)
	}
	for _, s := range []string{"fresh", "stale"} {
		m.peers.WithLabelValues(s)
	}
	for _, r := range whyReasons {
		m.noCandidate.WithLabelValues(r)
	}
	for _, k := range kindNames {
		m.received.WithLabelValues(k)
	}
	for _, r := range []string{dropMalformed, dropVersion, dropUnknown} {
		m.dropped.WithLabelValues(r)
	}
	for _, r := range []string{"granted", "denied"} {
		m.votes.WithLabelValues(r)
	}
	for _, c := range commandNames {
		m.commandErrors.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.epoch, m.failovers, m.failures, m.duration, m.sdown, m.odown,
		m.fenced, m.paused, m.majority, m.peers, m.noCandidate, m.conflict, m.received, m.dropped, m.votes,
		m.eventsDropped, m.commandErrors} {
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
