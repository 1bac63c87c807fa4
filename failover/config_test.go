package failover

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover/authority"
)

// The group-wide settings override the file's values; a zero setting, or
// one the file's values make unsafe, leaves the file's value in force.
func TestParamsOverlaySettings(t *testing.T) {
	file := DefaultConfig() // down_after 5s, fence_after 2s, switchover_timeout 10s
	zero := 0
	for _, tc := range []struct {
		name string
		s    authority.Settings
		want func(*params)
	}{
		{"none", authority.Settings{}, func(*params) {}},
		{"down_after", authority.Settings{DownAfter: 3 * time.Second}, func(p *params) { p.DownAfter = 3 * time.Second }},
		{"down_after not above fence_after", authority.Settings{DownAfter: time.Second}, func(*params) {}},
		{"quorum", authority.Settings{Quorum: 3}, func(p *params) { p.Quorum = 3 }},
		{"parallel_syncs", authority.Settings{ParallelSyncs: 2}, func(p *params) { p.ParallelSyncs = 2 }},
		{"failover_timeout", authority.Settings{FailoverTimeout: 60 * time.Second}, func(p *params) { p.FailoverTimeout = 60 * time.Second }},
		{"min_replicas zero", authority.Settings{MinReplicas: &zero}, func(p *params) { p.MinReplicas = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := params{
				Quorum: 2, DownAfter: 5 * time.Second, FenceAfter: 2 * time.Second, MaxLagBytes: 1 << 20,
				ParallelSyncs: 1, MaxFailovers: 3, FlapWindow: 10 * time.Minute,
				FailoverTimeout: 10 * time.Second, Fresh: time.Second,
			}
			tc.want(&want)
			got := file.params(tc.s, time.Second)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("params (-want +got):\n%s", d)
			}
		})
	}
}
