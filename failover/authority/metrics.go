package authority

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Results of vigil_raft_applies_total.
const (
	resultOK      = "ok"      // committed and applied
	resultStale   = "stale"   // committed, rejected by the compare-and-set
	resultInvalid = "invalid" // committed or refused as malformed / not allowed
	resultError   = "error"   // not known to be committed (no leader, timeout, lost leadership)
)

var applyResults = []string{resultOK, resultStale, resultInvalid, resultError}

// raftStates lists raft's states for vigil_raft_state.
var raftStates = []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown}

// metrics are the authority's Prometheus metrics; the gauges are read from
// raft at scrape time.
type metrics struct {
	applies *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, a *Authority) (*metrics, error) {
	m := &metrics{
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_raft_applies_total",
			Help: "Commands this sidecar proposed (directly or forwarded to the leader), by result.",
		}, []string{"result"}),
	}
	for _, r := range applyResults {
		m.applies.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{
		m.applies,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_leader",
			Help: "1 if this sidecar is the raft leader, else 0.",
		}, func() float64 {
			if r := a.raft.Load(); r != nil && r.State() == raft.Leader {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_term",
			Help: "Current raft term as this sidecar knows it.",
		}, func() float64 { return float64(a.term()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_applied_index",
			Help: "Raft index of the last entry applied to this sidecar's state.",
		}, func() float64 { return float64(a.fsm.applied().Index) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_last_contact_seconds",
			Help: "Seconds since the last acknowledged contact with a majority (leader) or with the leader (follower); -1 before any.",
		}, func() float64 {
			t := a.LastContact()
			if t.IsZero() {
				return -1
			}
			return time.Since(t).Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_calm",
			Help: "1 while raft runs at its calm (slower) heartbeat timings because the failover core sees no trouble, else 0.",
		}, func() float64 {
			if r := a.raft.Load(); r != nil && a.cfg.RaftCalmHeartbeatTimeout > a.cfg.RaftHeartbeatTimeout &&
				r.ReloadableConfig().HeartbeatTimeout == a.cfg.RaftCalmHeartbeatTimeout {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_raft_ready",
			Help: "1 once a group exists and this sidecar has applied its log, else 0.",
		}, func() float64 {
			if a.Ready() {
				return 1
			}
			return 0
		}),
	}
	for _, s := range raftStates {
		state := s
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "vigil_raft_state",
			Help:        "1 for this sidecar's raft state (follower, candidate, leader, shutdown), 0 for the others.",
			ConstLabels: prometheus.Labels{"state": stateLabel(state)},
		}, func() float64 {
			if r := a.raft.Load(); r != nil && r.State() == state {
				return 1
			}
			return 0
		}))
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func stateLabel(s raft.RaftState) string {
	switch s {
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	case raft.Leader:
		return "leader"
	default:
		return "shutdown"
	}
}

// applyResult classifies an Apply error for vigil_raft_applies_total.
func resultOf(err error) string {
	switch {
	case err == nil:
		return resultOK
	case errors.Is(err, ErrStale):
		return resultStale
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNotMember):
		return resultInvalid
	default:
		return resultError
	}
}
