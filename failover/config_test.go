package failover

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/monitor"
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

// An admin request read after its client's deadline is refused with
// nothing done: the client gave up and may have acted since (chaos seed
// 7306, N=3: a pause read 4 s late, after the operator's resume, kept
// automatic failover paused to the end).
func TestAdminRequestPastItsDeadline(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 10, 23, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		want         int // 0: served
	}{
		{"no deadline", "", 0},
		{"before its deadline", now.Add(time.Second).Format(time.RFC3339Nano), 0},
		{"at its deadline", now.Format(time.RFC3339Nano), 0},
		{"seed 7306: read 2 s after the client gave up", now.Add(-1947 * time.Millisecond).Format(time.RFC3339Nano), http.StatusRequestTimeout},
		{"malformed", "soon", http.StatusBadRequest},
	} {
		err := deadlinePassed(tc.header, now)
		switch got := tc.want != 0; {
		case got != (err != nil):
			t.Errorf("%s: deadlinePassed(%q) = %v, want refused %v", tc.name, tc.header, err, got)
		case tc.want == http.StatusBadRequest && !errors.Is(err, ErrBadRequest):
			t.Errorf("%s: %v, want ErrBadRequest", tc.name, err)
		}
	}

	// The handler refuses it before any command reaches the Raft leader
	// (a zero Failover: reaching Pause would fail).
	srv := httptest.NewServer((&Failover{}).Handler(""))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/pause", strings.NewReader("null"))
	req.Header.Set(DeadlineHeader, time.Now().Add(-2*time.Second).Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/pause past its deadline: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("POST /v1/pause past its deadline: %d, want 408", resp.StatusCode)
	}
}

func TestAuthorityConfigCalm(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tt := range []struct {
		name                    string
		downAfter, fence, calm  time.Duration
		wantHeartbeat, wantCalm time.Duration
	}{
		{"defaults", 5 * time.Second, 2 * time.Second, 0, time.Second, ms(2500)},
		{"down_after 1s: the short lease leaves little calm", time.Second, ms(500), 0, ms(200), ms(250)},
		{"a short fence_after caps calm", 5 * time.Second, ms(1200), 0, time.Second, ms(1500)},
		{"never below the heartbeat timeout", 5 * time.Second, ms(400), 0, time.Second, time.Second},
		{"an explicit value stays", 5 * time.Second, ms(400), ms(2000), time.Second, ms(2000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DownAfter, c.FenceAfter, c.Authority.RaftCalmHeartbeatTimeout = tt.downAfter, tt.fence, tt.calm
			a := c.AuthorityConfig()
			if a.RaftHeartbeatTimeout != tt.wantHeartbeat || a.RaftCalmHeartbeatTimeout != tt.wantCalm {
				t.Errorf("heartbeat %s, calm %s; want %s, %s", a.RaftHeartbeatTimeout, a.RaftCalmHeartbeatTimeout, tt.wantHeartbeat, tt.wantCalm)
			}
		})
	}
}

// A sidecar whose state names its own Redis, promoted, while that Redis
// follows another (chaos seed 12806, N=3) or points at itself (seed
// 16132) lags the group, and so does one that has not observed its Redis
// fresh (seed 14914); a state not promoted yet does not say so.
func TestLagging(t *testing.T) {
	for _, tt := range []struct {
		name string
		up   bool
		role monitor.Role
		want bool
	}{
		{"seed 12806: its Redis follows b", true, monitor.RoleReplica, true},
		{"its Redis a primary", true, monitor.RolePrimary, false},
		{"seed 16132: pointing at itself (detached)", true, monitor.RoleReplica, true},
		{"seed 16634's replay: not promoted, its Redis a replica", true, monitor.RoleReplica, true},
		{"seed 14914: its Redis not observed fresh", false, monitor.RolePrimary, true},
	} {
		if got := lagging(tt.up, tt.role); got != tt.want {
			t.Errorf("%s: lagging = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A sidecar that lost its Raft state names no primary, and takes none for
// writable, until a leader gave it the log up to its commit index: the
// state it applied may stop anywhere short of the group's (chaos seed
// 17035, N=5: a's sidecar, restarted wiped, applied the log to epoch 2 and
// named b, whose Redis had come back empty, while epoch 3 had replaced it).
func TestSnapshotNamesNoPrimaryUntilCaughtUp(t *testing.T) {
	start := time.Now().Add(-time.Minute)
	for _, behind := range []bool{false, true} {
		g := newIdleGroup(t, "n1", start, monitor.DefaultConfig(), benchCluster{alive: []string{"n0", "n1", "n2"}}, nil)
		auth := g.f.auth.(benchAuth)
		auth.behind = behind
		g.f.auth = auth
		now := time.Now()
		g.f.onReport(g.c, peerMsg{from: "n0", rep: benchReport("n0", g.st, now), at: now})
		g.f.publish(g.c, now)
		s := g.f.Snapshot()
		if s.Primary.Name != "n0" || s.Lagging != behind || s.Writable == behind {
			t.Errorf("behind %v: primary %q lagging %v writable %v, want n0, lagging %v", behind, s.Primary.Name, s.Lagging, s.Writable, behind)
		}
	}
}
