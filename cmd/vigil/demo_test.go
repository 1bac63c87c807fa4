package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
)

func demoTopology() failover.Snapshot {
	p := failover.Node{Name: "a", Addr: "127.0.0.1:1", Role: monitor.RolePrimary, Reachable: true}
	r := failover.Node{Name: "b", Addr: "127.0.0.1:2", Role: monitor.RoleReplica, Reachable: true, LinkUp: true, Synced: true}
	return failover.Snapshot{Epoch: 1, Primary: p, Replicas: []failover.Node{r, {Name: "c", Role: monitor.RoleReplica}}, Writable: true}
}

func TestDemoStatusLine(t *testing.T) {
	mod := func(f func(*failover.Snapshot)) demoView {
		s := demoTopology()
		f(&s)
		return demoView{statuses: []Status{{Topology: s}}}
	}
	tests := []struct {
		name string
		v    demoView
		want string
	}{
		{"nothing yet", demoView{}, "starting: waiting for the sidecars to answer"},
		{"healthy", mod(func(*failover.Snapshot) {}), "healthy: primary a, 2 replicas (1 in sync)"},
		{"sdown", mod(func(s *failover.Snapshot) { s.Writable, s.Primary.SDown = false, true }),
			"primary a does not answer: waiting failover.down_after before declaring it down"},
		{"odown", mod(func(s *failover.Snapshot) { s.Writable, s.Primary.ODown = false, true }),
			"primary a is objectively down (a quorum agrees): electing a replica"},
		{"held", mod(func(s *failover.Snapshot) {
			s.Writable, s.Primary.ODown, s.WhyNot = false, true, "b: lag 5 MB > max_lag_bytes"
		}),
			"primary a is down; failover held: b: lag 5 MB > max_lag_bytes"},
		{"paused", mod(func(s *failover.Snapshot) { s.Writable, s.Primary.SDown, s.Paused = false, true, true }),
			"primary a is down and automatic failover is PAUSED (vigil resume)"},
		{"electing", mod(func(s *failover.Snapshot) { s.InFailover = true }), "failover in progress: electing a new primary at epoch 2"},
		{"conflict", mod(func(s *failover.Snapshot) { s.Conflict = "several standalone primaries: a, b" }), "held: several standalone primaries: a, b"},
		{"disagree", demoView{statuses: []Status{{Topology: demoTopology()}, {Topology: failover.Snapshot{Epoch: 2}}}},
			"the sidecars are converging on the newest configuration"},
	}
	for _, tt := range tests {
		if got := demoStatusLine(tt.v); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDemoFailoverLine(t *testing.T) {
	kill := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	v := demoView{killed: "a", killedAt: kill}
	if got := demoFailoverLine(v, kill.Add(1500*time.Millisecond)); got != "primary a killed 1.5s ago; waiting for the failover" {
		t.Errorf("before: %q", got)
	}
	v.history = []failover.HistoryEntry{
		{Epoch: 1, New: "a", Reason: "initial", Start: kill.Add(-time.Hour), Result: "success"},
		{Epoch: 2, Old: "a", New: "b", Reason: "auto", Start: kill.Add(2 * time.Second), Duration: 312 * time.Millisecond, Result: "success"},
	}
	v.resumedAt = kill.Add(2600 * time.Millisecond)
	want := "failover a → b at epoch 2: success, election to announcement 312ms; the client wrote again 2.6s after the kill"
	if got := demoFailoverLine(v, kill.Add(3*time.Second)); got != want {
		t.Errorf("after: %q, want %q", got, want)
	}
	if got := demoFailoverLine(demoView{}, kill); got != "" {
		t.Errorf("no kill: %q", got)
	}
}

// The status header names the Raft leader; without one it says what that
// means and where the way out is.
func TestStatusShowsTheLeader(t *testing.T) {
	for _, tc := range []struct {
		leader, want, hint string
	}{
		{"a", "leader a", ""},
		{"", "leader (none)", "no Raft leader: nothing can commit"},
	} {
		top := demoTopology()
		top.Leader = tc.leader
		var b bytes.Buffer
		if err := printStatus(&b, Status{Node: "a", Topology: top}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		first, _, _ := strings.Cut(out, "\n")
		if !strings.Contains(first, tc.want) {
			t.Errorf("leader %q: header %q, want %q", tc.leader, first, tc.want)
		}
		if got := strings.Contains(out, "no Raft leader"); got != (tc.hint != "") || tc.hint != "" && !strings.Contains(out, tc.hint) {
			t.Errorf("leader %q: hint shown %v in\n%s", tc.leader, got, out)
		}
	}
}

// The status table shows "-" for the primary's SYNCED, as for its LINK.
func TestStatusTablePrimarySynced(t *testing.T) {
	var b bytes.Buffer
	if err := printStatus(&b, Status{Node: "a", Topology: demoTopology()}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[0] == "a" && f[5] != "-" {
			t.Errorf("primary row SYNCED %q, want -: %s", f[5], line)
		}
		if len(f) > 5 && f[0] == "b" && f[5] != "true" {
			t.Errorf("replica row SYNCED %q, want true: %s", f[5], line)
		}
	}
}

// go-redis's own log lines go to the demo's client log, not the screen.
func TestDemoClientLog(t *testing.T) {
	var b bytes.Buffer
	l := &demoClientLog{w: &b}
	// It is what redis.SetLogger takes (not called here: the logger is
	// package-wide and other tests' clients would write to it).
	_ = func() { redis.SetLogger(l) }
	l.Printf(context.Background(), "sentinel: new master=%q", "mymaster")
	if !strings.Contains(b.String(), `sentinel: new master="mymaster"`) || !strings.HasSuffix(b.String(), "\n") {
		t.Errorf("client log %q", b.String())
	}
}
