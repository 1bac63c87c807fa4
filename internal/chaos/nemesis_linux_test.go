//go:build linux

package chaos

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPartitionRules(t *testing.T) {
	c := &cluster{}
	for i, name := range []string{"a", "b", "c"} {
		c.nodes = append(c.nodes, &node{idx: i, name: name, addr: "10.0.0." + string(rune('1'+i))})
	}
	m := &nemesis{c: c}
	a, b, cc := "10.0.0.1", "10.0.0.2", "10.0.0.3"
	drop := func(src, dst, match string) string {
		if match != "" {
			match += " "
		}
		return "-A F1 -s " + src + " -d " + dst + " " + match + "-j DROP"
	}
	tests := []struct {
		kind  FaultKind
		focus int
		extra []int
		side  []string
		want  []string
	}{
		{PartIsolate, 0, nil, []string{"a"}, []string{drop(a, b, ""), drop(a, cc, ""), drop(b, a, ""), drop(cc, a, "")}},
		{PartOneWay, 1, nil, []string{"b"}, []string{drop(b, a, ""), drop(b, cc, "")}},
		{PartBridge, 0, []int{2}, []string{"a"}, []string{drop(a, b, ""), drop(b, a, "")}},
		{PartRedis, 2, nil, []string{"c"}, []string{
			drop(a, cc, "-p tcp --dport 6379"), drop(a, cc, "-p tcp --sport 6379"),
			drop(b, cc, "-p tcp --dport 6379"), drop(b, cc, "-p tcp --sport 6379"),
			drop(cc, a, "-p tcp --dport 6379"), drop(cc, a, "-p tcp --sport 6379"),
			drop(cc, b, "-p tcp --dport 6379"), drop(cc, b, "-p tcp --sport 6379"),
		}},
		{PartLocal, 1, nil, []string{"b"}, []string{drop(b, b, "-p tcp --dport 6379"), drop(b, b, "-p tcp --sport 6379")}},
	}
	for _, tt := range tests {
		rules, side, desc := m.partitionRules(Fault{ID: 1, Kind: tt.kind, Extra: tt.extra}, c.nodes[tt.focus])
		got := strings.Split(strings.TrimSpace(rules), "\n")
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (%s): rules (-want +got):\n%s", tt.kind, desc, diff)
		}
		if !cmp.Equal(side, tt.side) {
			t.Errorf("%s: side %v, want %v", tt.kind, side, tt.side)
		}
	}
	// Gossip-only cuts TCP and UDP on the gossip port, both ways.
	rules, _, _ := m.partitionRules(Fault{ID: 1, Kind: PartGossip}, c.nodes[0])
	if n := strings.Count(rules, "7946"); n != 16 {
		t.Errorf("gossip-only: %d rules on port 7946, want 16:\n%s", n, rules)
	}
}

// Chaos seed 713 (N=3): a pause no sidecar answered in time committed
// later; the fault must stay in effect so that its end resumes.
func TestPauseStarted(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"answered", nil, true},
		{"no sidecar answered", fmt.Errorf("%s: %w: %s", "/v1/pause", errNoAnswer, "a: context deadline exceeded"), true},
		{"refused", fmt.Errorf("a /v1/pause: 503 Service Unavailable {}"), false},
		{"refused first", refusedAfter("/v1/pause", "a", "503 Service Unavailable", "{}", nil), false},
		// Chaos seed 9509 (N=3): a and b timed out, c refused; b had
		// appended the pause as the leader and committed it later.
		{"refused after no answer", refusedAfter("/v1/pause", "c", "503 Service Unavailable", "{}",
			[]string{"a: context deadline exceeded", "b: context deadline exceeded"}), true},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pauseStarted(tt.err); got != tt.want {
				t.Errorf("pauseStarted(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// Chaos seed 11910 (N=3): a sidecar that is not ready refused before it
// proposed anything; the next is asked. Other refusals are the answer.
func TestNotReady(t *testing.T) {
	for _, tt := range []struct {
		name string
		code int
		body string
		want bool
	}{
		{"not ready", 503, `{"error":"failover: not ready"}`, true},
		{"not ready: verify failed", 503, `{"error":"failover: not ready: authority: no leader"}`, true},
		{"no leader", 503, `{"error":"authority: no leader (last: no leader known)"}`, false},
		{"no primary", 503, `{"error":"failover: no primary"}`, false},
		{"bad request", 400, `{"error":"failover: bad request: a is already the primary"}`, false},
		{"busy", 409, `{"error":"failover: busy"}`, false},
	} {
		if got := notReady(tt.code, tt.body); got != tt.want {
			t.Errorf("%s: notReady(%d, %s) = %v, want %v", tt.name, tt.code, tt.body, got, tt.want)
		}
	}
}

// The drain watch reports an item gone only when a listing that began
// after its enqueue was answered lacks it, from when it was last listed.
func TestQueuedLeft(t *testing.T) {
	var q queued
	q.add("a", "q:1", Op{Invoke: ms(1000), Complete: ms(1010)})
	q.add("a", "q:2", Op{Invoke: ms(1300), Complete: ms(1400)})
	if gone := q.left("a", map[string]bool{"q:1": true}, ms(1200)); len(gone) != 0 {
		t.Fatalf("listing at 1.2 s: gone %v, want none (q:2 answered after it began)", gone)
	}
	if gone := q.left("a", map[string]bool{"q:2": true}, ms(1500)); len(gone) != 1 || gone["q:1"] != ms(1200) {
		t.Fatalf("listing at 1.5 s: gone %v, want q:1 last listed at 1.2 s", gone)
	}
	if gone := q.left("a", nil, ms(1700)); len(gone) != 1 || gone["q:2"] != ms(1500) {
		t.Fatalf("listing at 1.7 s: gone %v, want q:2 last listed at 1.5 s", gone)
	}
	if gone := q.left("a", nil, ms(1900)); len(gone) != 0 {
		t.Fatalf("listing at 1.9 s: gone %v, want none left", gone)
	}
}
