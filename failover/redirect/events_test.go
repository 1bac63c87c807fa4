package redirect

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

func TestFormatEvent(t *testing.T) {
	a := node("a", "10.0.0.1:6379", monitor.RolePrimary)
	b := node("b", "10.0.0.2:6379", monitor.RoleReplica)
	c := node("c", "10.0.0.3:6379", monitor.RoleReplica)
	snap := snapshotOf(a, b, c)
	tests := []struct {
		name    string
		ev      failover.Event
		channel string
		msg     string
	}{
		{"switch", failover.Event{Kind: failover.EventSwitchPrimary, OldPrimary: a, NewPrimary: b},
			"+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"},
		{"switch without old primary keeps five fields", failover.Event{Kind: failover.EventSwitchPrimary, NewPrimary: b},
			"+switch-master", "mymaster 10.0.0.2 6379 10.0.0.2 6379"},
		{"sdown master", failover.Event{Kind: failover.EventSDown, Node: a}, "+sdown", "master mymaster 10.0.0.1 6379"},
		{"sdown cleared", failover.Event{Kind: failover.EventSDownCleared, Node: a}, "-sdown", "master mymaster 10.0.0.1 6379"},
		{"sdown replica", failover.Event{Kind: failover.EventSDown, Node: c}, "+sdown", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379"},
		{"odown", failover.Event{Kind: failover.EventODown, Node: a, Votes: 2, Quorum: 2}, "+odown", "master mymaster 10.0.0.1 6379 #quorum 2/2"},
		{"odown quorum from snapshot", failover.Event{Kind: failover.EventODown, Node: a, Votes: 3}, "+odown", "master mymaster 10.0.0.1 6379 #quorum 3/2"},
		{"odown cleared", failover.Event{Kind: failover.EventODownCleared, Node: a}, "-odown", "master mymaster 10.0.0.1 6379"},
		{"promoted", failover.Event{Kind: failover.EventPromotedReplica, Node: b, OldPrimary: a},
			"+promoted-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"},
		{"failover end", failover.Event{Kind: failover.EventFailoverEnd, OldPrimary: a, NewPrimary: b},
			"+failover-end", "master mymaster 10.0.0.1 6379"},
		{"convert to replica", failover.Event{Kind: failover.EventConvertToReplica, Node: a, NewPrimary: b},
			"+convert-to-slave", "slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379"},
		{"replica added", failover.Event{Kind: failover.EventReplicaAdded, Node: c},
			"+slave", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379"},
		{"role change", failover.Event{Kind: failover.EventRoleChange, Node: node("c", "10.0.0.3:6379", monitor.RolePrimary)},
			"+role-change", "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379 new reported role is master"},
		{"fenced", failover.Event{Kind: failover.EventFenced, Node: a}, "+fenced", "master mymaster 10.0.0.1 6379"},
		{"no address", failover.Event{Kind: failover.EventSDown, Node: failover.Node{Name: "z"}}, "", ""},
		{"switch without new address", failover.Event{Kind: failover.EventSwitchPrimary, OldPrimary: a}, "", ""},
		{"bad kind", failover.Event{Kind: "two words", Node: a}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channel, msg, ok := formatEvent("mymaster", snap, tt.ev)
			if ok != (tt.channel != "") {
				t.Fatalf("ok = %v, want %v (%q %q)", ok, tt.channel != "", channel, msg)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff([]string{channel, msg}, []string{tt.channel, tt.msg}); diff != "" {
				t.Errorf("event (-got +want):\n%s", diff)
			}
			if tt.channel == "+switch-master" {
				if n := len(strings.Split(msg, " ")); n != 5 {
					t.Errorf("+switch-master has %d fields, want 5", n)
				}
			}
		})
	}
}

// switchEvent moves the primary of snap to its first replica.
func switchEvent(snap failover.Snapshot) failover.Event {
	return failover.Event{Kind: failover.EventSwitchPrimary, Epoch: snap.Epoch + 1,
		OldPrimary: snap.Primary, NewPrimary: snap.Replicas[0]}
}

// failoverSequence is a whole failover of primary a to replica b with a
// second replica c, as the failover package reports it, and the messages
// redis-sentinel 7.0 publishes for the same failover (captured with
// `redis-cli PSUBSCRIBE '*'` around `SENTINEL FAILOVER`, addresses
// replaced; +slave-reconf-* added in the same format for the replica c
// that the two-node capture lacked). The snapshot switches at
// +switch-master.
func failoverSequence() (a, b, c failover.Node, evs []failover.Event, want [][2]string) {
	a = node("a", "10.0.0.1:6379", monitor.RolePrimary)
	b = node("b", "10.0.0.2:6379", monitor.RoleReplica)
	c = node("c", "10.0.0.3:6379", monitor.RoleReplica)
	bp := b
	bp.Role = monitor.RolePrimary
	ar := a
	ar.Role = monitor.RoleReplica
	ap := a // a, restarted, still reports master
	peer := failover.Node{Name: "c", SentinelAddr: "10.0.0.3:26379"}
	ev := func(k failover.EventKind, n failover.Node) failover.Event {
		return failover.Event{Kind: k, Epoch: 4, Node: n, OldPrimary: a, NewPrimary: bp}
	}
	evs = []failover.Event{
		{Kind: failover.EventNewEpoch, Epoch: 4},
		ev(failover.EventTryFailover, a),
		ev(failover.EventElectedLeader, a),
		ev(failover.EventStateSelectReplica, a),
		ev(failover.EventSelectedReplica, b),
		ev(failover.EventStateSendNoOne, b),
		ev(failover.EventStateWaitPromotion, b),
		{Kind: failover.EventRoleMismatch, Epoch: 4, Node: bp, OldPrimary: a},
		ev(failover.EventPromotedReplica, b),
		ev(failover.EventStateReconfReplicas, a),
		ev(failover.EventReplicaReconfSent, c),
		ev(failover.EventReplicaReconfInProg, c),
		ev(failover.EventReplicaReconfDone, c),
		ev(failover.EventFailoverEnd, a),
		ev(failover.EventSwitchPrimary, bp),
		// After the switch: the snapshot has b as primary.
		{Kind: failover.EventReplicaAdded, Epoch: 4, Node: ar, NewPrimary: bp},
		{Kind: failover.EventRoleMismatch, Epoch: 4, Node: ap},
		{Kind: failover.EventConvertToReplica, Epoch: 4, Node: ar, NewPrimary: bp},
		{Kind: failover.EventConfigUpdateFrom, Epoch: 4, Node: peer, OldPrimary: a},
		{Kind: failover.EventODownCleared, Epoch: 4, Node: ar, OldPrimary: ar},
		{Kind: failover.EventSDownCleared, Epoch: 4, Node: ar},
	}
	const (
		A = "master mymaster 10.0.0.1 6379"
		B = "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379"
		C = "slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379"
		D = "slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379"
	)
	want = [][2]string{
		{"+new-epoch", "4"},
		{"+try-failover", A},
		{"+elected-leader", A},
		{"+failover-state-select-slave", A},
		{"+selected-slave", B},
		{"+failover-state-send-slaveof-noone", B},
		{"+failover-state-wait-promotion", B},
		{"-role-change", B + " new reported role is master"},
		{"+promoted-slave", B},
		{"+failover-state-reconf-slaves", A},
		{"+slave-reconf-sent", C},
		{"+slave-reconf-inprog", C},
		{"+slave-reconf-done", C},
		{"+failover-end", A},
		{"+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6379"},
		{"+slave", D},
		{"-role-change", D + " new reported role is master"},
		{"+convert-to-slave", D},
		{"+config-update-from", "sentinel " + SentinelID("c") + " 10.0.0.3 26379 @ mymaster 10.0.0.1 6379"},
		{"-odown", "master mymaster 10.0.0.1 6379"},
		{"-sdown", D},
	}
	return a, b, c, evs, want
}

func TestFormatEventFailoverSequence(t *testing.T) {
	a, b, c, evs, want := failoverSequence()
	snap := snapshotOf(a, b, c)
	var got [][2]string
	for _, ev := range evs {
		if ev.Kind == failover.EventReplicaAdded {
			bp := b
			bp.Role = monitor.RolePrimary
			snap = snapshotOf(bp, a, c)
		}
		ch, msg, ok := formatEvent("mymaster", snap, ev)
		if !ok {
			t.Errorf("%s not publishable", ev.Kind)
			continue
		}
		got = append(got, [2]string{ch, msg})
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("messages (-got +want):\n%s", diff)
	}
}

// TestSentinelPublishesFailoverSequence publishes a whole failover from a
// test Source and reads it from the endpoint with PSUBSCRIBE '*', in RESP2
// and in RESP3, in Sentinel's formats and order.
func TestSentinelPublishesFailoverSequence(t *testing.T) {
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			a, b, c, evs, want := failoverSequence()
			src := newTestSource(snapshotOf(a, b, c))
			s, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
			conn := dialRESP(t, addr)
			conn.do("HELLO", proto)
			conn.do("PSUBSCRIBE", "*")
			redistest.Eventually(t, 5*time.Second, func() error {
				if _, n := s.pubsubCounts(); n == 0 {
					return errors.New("not subscribed yet")
				}
				return nil
			})
			read := func() [2]string {
				t.Helper()
				v := conn.read()
				var f []any
				switch x := v.(type) {
				case respPush:
					if proto != "3" {
						t.Fatalf("push frame on RESP2: %v", v)
					}
					f = x
				case []any:
					if proto != "2" {
						t.Fatalf("array frame on RESP3: %v", v)
					}
					f = x
				}
				if len(f) != 4 || f[0] != "pmessage" || f[1] != "*" {
					t.Fatalf("not a pmessage: %#v", v)
				}
				return [2]string{f[2].(string), f[3].(string)}
			}
			var got [][2]string
			for _, ev := range evs {
				if ev.Kind == failover.EventReplicaAdded {
					// Everything up to +switch-master is out: switch the snapshot.
					for len(got) == 0 || got[len(got)-1][0] != "+switch-master" {
						got = append(got, read())
					}
					bp := b
					bp.Role = monitor.RolePrimary
					src.Set(func(sn *failover.Snapshot) { *sn = snapshotOf(bp, a, c) })
				}
				src.Publish(ev)
			}
			for len(got) < len(want) {
				got = append(got, read())
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("messages (-got +want):\n%s", diff)
			}
		})
	}
}
