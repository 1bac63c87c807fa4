package failover

import (
	"testing"
	"time"
)

func TestTroubleInSight(t *testing.T) {
	p := testParams() // Fresh 500 ms
	interval := 100 * time.Millisecond
	healthy := func() calmInput {
		return calmInput{
			Now: t0, Self: "a", P: p, Interval: interval,
			St:       groupState{Epoch: 3, Primary: "p", Promoted: true, Members: members("a", "b", "p")},
			Peers:    map[string]peerView{"a": rep("a", 10), "b": rep("b", 10), "p": rep("p", 10)},
			Answered: t0.Add(-interval),
			Leader:   "b",
		}
	}
	for _, tt := range []struct {
		name string
		edit func(*calmInput)
		want string
	}{
		{"all well", func(*calmInput) {}, ""},
		{"its own report may be missing: it is this step's", func(in *calmInput) { delete(in.Peers, "a") }, ""},
		{"a member outside the state may be silent", func(in *calmInput) { in.Peers["x"] = peerView{Received: t0.Add(-time.Hour)} }, ""},
		{"another epoch's opinion does not count", func(in *calmInput) { in.Peers["b"] = down(in.Peers["b"], "p", 2) }, ""},
		{"probe answered two intervals ago", func(in *calmInput) { in.Answered = t0.Add(-2 * interval) }, ""},
		{"no primary", func(in *calmInput) { in.St.Primary = "" }, "no primary"},
		{"no raft leader", func(in *calmInput) { in.Leader = "" }, "no raft leader"},
		{"own SDOWN", func(in *calmInput) { in.SDown = true }, "primary down"},
		{"ODOWN", func(in *calmInput) { in.ODown = true }, "primary down"},
		{"probe unanswered for more than two intervals", func(in *calmInput) { in.Answered = t0.Add(-2*interval - time.Millisecond) }, "primary probe unanswered"},
		{"primary's address unknown", func(in *calmInput) { in.Answered = time.Time{} }, "primary probe unanswered"},
		{"work under way", func(in *calmInput) { in.Busy = true }, "failover work under way"},
		{"switchover", func(in *calmInput) { in.St.Switchover = &switchoverIntent{Epoch: 3} }, "switchover under way"},
		{"a peer holds the primary down", func(in *calmInput) { in.Peers["b"] = down(in.Peers["b"], "p", 3) }, "a peer holds the primary down"},
		{"the primary's sidecar is silent", func(in *calmInput) {
			pv := in.Peers["p"]
			pv.Received = t0.Add(-p.Fresh)
			in.Peers["p"] = pv
		}, "a member's sidecar is silent"},
		{"a member never reported", func(in *calmInput) { delete(in.Peers, "b") }, "a member's sidecar is silent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy()
			tt.edit(&in)
			if got := troubleInSight(in); got != tt.want {
				t.Errorf("troubleInSight = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCalmAfter(t *testing.T) {
	for _, tt := range []struct {
		downAfter, fresh, want time.Duration
	}{
		{5 * time.Second, 500 * time.Millisecond, 10 * time.Second},
		{time.Second, 500 * time.Millisecond, 2 * time.Second},
		{time.Second, 3 * time.Second, 12 * time.Second}, // monitor.interval 1 s: reports live 3 s
	} {
		if got := calmAfter(params{DownAfter: tt.downAfter, Fresh: tt.fresh}); got != tt.want {
			t.Errorf("calmAfter(down_after %s, fresh %s) = %s, want %s", tt.downAfter, tt.fresh, got, tt.want)
		}
	}
}
