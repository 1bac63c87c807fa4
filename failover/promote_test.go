package failover

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Chaos seed 1503 (N=3): c's Redis, a replica until epoch 3 (so with
// min-replicas-to-write 0), was made a primary with its writes paused for
// the promotion; its sidecar was killed during the hold for the old
// primary, before the release that set min-replicas-to-write, and once the
// pause lapsed the Redis took writes with no replica beside a, promoted at
// epoch 4. With min_replicas the promotion transaction sets
// min-replicas-to-write before REPLICAOF NO ONE: the Redis is never a
// primary without it.
func TestPromoteTxSetsMinReplicasFirst(t *testing.T) {
	for _, tt := range []struct {
		name        string
		minReplicas int // min_replicas in the config
		members     int
		want        int // min-replicas-to-write set in the transaction, 0 for none
	}{
		{"durable mode, three members", 1, 3, 1},
		{"durable mode, min_replicas above the other members", 3, 3, 2},
		{"durable mode, a group of one", 1, 1, 0},
		{"without min_replicas: Redis's own settings", 0, 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmds := promoteTxCmds(minReplicasFor(tt.minReplicas, tt.members), maxLagSeconds(1e9))
			str := make([]string, len(cmds))
			for i, c := range cmds {
				str[i] = strings.TrimSpace(fmt.Sprintln(c...))
			}
			noOne := slices.Index(str, "REPLICAOF NO ONE")
			if noOne < 0 {
				t.Fatalf("no REPLICAOF NO ONE in %q", str)
			}
			set := slices.IndexFunc(cmds, func(c []any) bool {
				return len(c) > 3 && c[0] == "CONFIG" && c[1] == "SET" && c[2] == "min-replicas-to-write"
			})
			if tt.want == 0 {
				if set >= 0 {
					t.Fatalf("min-replicas-to-write set: %q", str)
				}
				return
			}
			if set < 0 || set > noOne {
				t.Fatalf("min-replicas-to-write not set before REPLICAOF NO ONE: %q", str)
			}
			if got := cmds[set][3]; got != tt.want {
				t.Fatalf("min-replicas-to-write %v, want %d", got, tt.want)
			}
			if got := cmds[set][5]; got != 1 {
				t.Fatalf("min-replicas-max-lag %v, want 1", got)
			}
		})
	}
}
