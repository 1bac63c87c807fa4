package redirect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover"
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
