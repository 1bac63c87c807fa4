package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestE2EFailoverEvents: on a real automatic failover (the primary's Redis
// SIGKILLed) and the old primary's return, every sidecar's Sentinel
// endpoint publishes Sentinel's events in Sentinel's formats (as
// redirect's TestFormatEventFailoverSequence pins them); each event below
// must reach a PSUBSCRIBE '*' client of at least one sidecar.
func TestE2EFailoverEvents(t *testing.T) {
	g := newE2EGroup(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	type message struct{ node, channel, payload string }
	var mu sync.Mutex
	var got []message
	for _, n := range g.nodes {
		c := redis.NewClient(&redis.Options{Addr: n.sc.sentinel, Protocol: 2})
		ps := c.PSubscribe(ctx, "*")
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("PSUBSCRIBE on %s: %v", n.name, err)
		}
		t.Cleanup(func() { ps.Close(); c.Close() })
		go func(name string) {
			for m := range ps.Channel() {
				mu.Lock()
				got = append(got, message{name, m.Channel, m.Payload})
				mu.Unlock()
			}
		}(n.name)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			t.Logf("%s: %s %s", m.node, m.channel, m.payload)
		}
	})
	// want is one event and the pattern its payload must match.
	type want struct {
		channel string
		payload *regexp.Regexp
	}
	seen := func(ws []want) error {
		mu.Lock()
		defer mu.Unlock()
		var missing []string
		for _, w := range ws {
			ok := false
			for _, m := range got {
				ok = ok || (m.channel == w.channel && w.payload.MatchString(m.payload))
			}
			if !ok {
				missing = append(missing, w.channel+" "+w.payload.String())
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not published by any sidecar:\n  %s", strings.Join(missing, "\n  "))
		}
		return nil
	}
	split := func(addr string) (string, string) {
		h, p, _ := net.SplitHostPort(addr)
		return regexp.QuoteMeta(h), p
	}
	instance := func(addr, master string) string {
		h, p := split(addr)
		mh, mp := split(master)
		return fmt.Sprintf("slave %s %s %s @ mymaster %s %s", regexp.QuoteMeta(addr), h, p, mh, mp)
	}
	exact := func(s string) *regexp.Regexp { return regexp.MustCompile("^" + s + "$") }

	a := g.node("a").redis.Addr()
	ah, ap := split(a)
	masterA := fmt.Sprintf("master mymaster %s %s", ah, ap)
	g.kill("a")
	st := g.waitConverged(30*time.Second, "a")
	winner := g.node(st.Topology.Primary.Name).redis.Addr()
	other := g.node(map[string]string{"b": "c", "c": "b"}[st.Topology.Primary.Name]).redis.Addr()
	wh, wp := split(winner)
	failoverEvents := []want{
		{"+sdown", exact(masterA)},
		{"+odown", exact(masterA + ` #quorum \d+/\d+`)},
		{"+new-epoch", exact(`\d+`)},
		{"+try-failover", exact(masterA)},
		{"+elected-leader", exact(masterA)},
		{"+failover-state-select-slave", exact(masterA)},
		{"+selected-slave", exact(instance(winner, a))},
		{"+failover-state-send-slaveof-noone", exact(instance(winner, a))},
		{"+failover-state-wait-promotion", exact(instance(winner, a))},
		{"+promoted-slave", exact(instance(winner, a))},
		{"+failover-state-reconf-slaves", exact(masterA)},
		{"+slave-reconf-sent", exact(instance(other, a))},
		{"+slave-reconf-inprog", exact(instance(other, a))},
		{"+slave-reconf-done", exact(instance(other, a))},
		{"+failover-end", exact(masterA)},
		{"+switch-master", exact(fmt.Sprintf("mymaster %s %s %s %s", ah, ap, wh, wp))},
		{"+config-update-from", exact(`sentinel [0-9a-f]{40} \S+ \d+ @ mymaster ` + ah + " " + ap)},
		{"+slave", exact(instance(other, winner))},
		// The failed primary's SDOWN and ODOWN end with the switch; while
		// its Redis stays down it is an SDOWN replica of the new primary.
		{"-odown", exact(masterA)},
		{"-sdown", exact(masterA)},
		{"+sdown", exact(instance(a, winner))},
	}
	redistest.Eventually(t, 15*time.Second, func() error { return seen(failoverEvents) })

	// The old primary's Redis restarts as a master: that contradicts the
	// configuration (-role-change, Sentinel's sign), its SDOWN ends, and
	// vigil converts it.
	g.node("a").redis.Restart(t)
	g.mu.Lock()
	delete(g.killed, "a")
	g.mu.Unlock()
	recovery := []want{
		{"-role-change", exact(instance(a, winner) + " new reported role is master")},
		{"-sdown", exact(instance(a, winner))},
		{"+convert-to-slave", exact(instance(a, winner))},
		{"+slave", exact(instance(a, winner))},
	}
	redistest.Eventually(t, 30*time.Second, func() error { return seen(recovery) })
}
