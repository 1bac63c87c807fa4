package monitor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestInfoApplyTestdata parses INFO replication + INFO server captured from
// redis-server 7 (see TestCaptureInfo) in the four states that matter.
func TestInfoApplyTestdata(t *testing.T) {
	tests := []struct {
		file string
		want Observation
	}{
		{
			file: "primary_with_replicas",
			want: Observation{
				Role:                       RolePrimary,
				RunID:                      "2055035b2a686a9b8d8c720fb36963c54dad8571",
				Version:                    "7.0.15",
				ReplID:                     "e9f48a838611a6c20c2e6448c1369747083cf69a",
				Offset:                     3003,
				Priority:                   -1,
				MasterLinkDownSinceSeconds: -1,
				ConnectedReplicas:          2,
				Replicas: []Replica{
					{Addr: "127.0.0.1:37373", State: "online", Offset: 3003, Lag: 0},
					{Addr: "127.0.0.1:44803", State: "online", Offset: 3003, Lag: 0},
				},
			},
		},
		{
			file: "replica_in_sync",
			want: Observation{
				Role:                       RoleReplica,
				RunID:                      "8113b9123f6e6e52461db6f7470be38e7c61b09e",
				Version:                    "7.0.15",
				ReplID:                     "e9f48a838611a6c20c2e6448c1369747083cf69a",
				Offset:                     3003,
				Priority:                   50,
				MasterHost:                 "127.0.0.1",
				MasterPort:                 40023,
				LinkUp:                     true,
				MasterLinkDownSinceSeconds: -1,
				Synced:                     true,
				LagBytes:                   -1, // needs the primary: the Prober's job
			},
		},
		{
			file: "replica_initial_sync",
			want: Observation{
				Role:                       RoleReplica,
				RunID:                      "50256c49db8a7714b8ddc991d44b84229dc00211",
				Version:                    "7.0.15",
				ReplID:                     "0d73b7615c1f7335b709d0e07de5fee5b64077b9",
				Offset:                     0, // master_repl_offset: slave_repl_offset 1 is a placeholder
				Priority:                   100,
				MasterHost:                 "127.0.0.1",
				MasterPort:                 35005,
				MasterLinkDownSinceSeconds: -1,
				SyncInProgress:             true,
				LagBytes:                   -1,
			},
		},
		{
			file: "replica_primary_gone",
			want: Observation{
				Role:                       RoleReplica,
				RunID:                      "05f787394df6a410da9597be874cef5d8da482de",
				Version:                    "7.0.15",
				ReplID:                     "e9f48a838611a6c20c2e6448c1369747083cf69a",
				Offset:                     3003,
				Priority:                   100,
				MasterHost:                 "127.0.0.1",
				MasterPort:                 40023,
				LinkDownFor:                time.Second,
				MasterLinkDownSinceSeconds: 1,
				Synced:                     true,
				LagBytes:                   -1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file+".info"))
			if err != nil {
				t.Fatal(err)
			}
			var got Observation
			if err := parseInfo(string(b), nil).apply(&got); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("observation (-got +want):\n%s", diff)
			}
			// Line ends must not matter.
			var lf Observation
			if err := parseInfo(strings.ReplaceAll(string(b), "\r\n", "\n"), nil).apply(&lf); err != nil {
				t.Fatalf("apply LF: %v", err)
			}
			if diff := cmp.Diff(lf, got); diff != "" {
				t.Errorf("LF observation differs from CRLF (-lf +crlf):\n%s", diff)
			}
		})
	}
}

// TestInfoApplyEdges covers states that are awkward to capture and
// malformed input.
func TestInfoApplyEdges(t *testing.T) {
	tests := []struct {
		name       string
		txt        string
		wantErr    bool
		wantSynced bool
		wantDown   int64
		wantOffset int64
	}{
		{
			// A replica that never reached its primary: sync 0 and a
			// non-negative offset prove nothing.
			name: "never connected",
			// Its slave_repl_offset 1 is a placeholder: it holds
			// master_repl_offset.
			txt:      "role:slave\r\nmaster_host:h\r\nmaster_port:1\r\nmaster_link_status:down\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:1\r\nmaster_link_down_since_seconds:-1\r\nuptime_in_seconds:5\r\nmaster_repl_offset:0\r\n",
			wantDown: -1,
		},
		{
			// A demoted primary not synced yet holds its own history.
			name:       "demoted, never synced",
			txt:        "role:slave\nmaster_link_status:down\nmaster_link_down_since_seconds:-1\nslave_repl_offset:5000\nmaster_repl_offset:5000\nuptime_in_seconds:30\n",
			wantDown:   -1,
			wantOffset: 5000,
		},
		{
			name:       "link up",
			txt:        "role:slave\nmaster_link_status:up\nslave_repl_offset:700\nmaster_repl_offset:690\nuptime_in_seconds:30\n",
			wantSynced: true,
			wantDown:   -1,
			wantOffset: 700,
		},
		{
			// Redis < 6.2 reports seconds since the epoch when never connected.
			name:     "old redis never connected",
			txt:      "role:slave\nmaster_link_status:down\nmaster_link_down_since_seconds:1700000000\nuptime_in_seconds:30\n",
			wantDown: -1,
		},
		{
			// Its cached primary dropped after a completed sync (the
			// connection ended while its client was blocked by CLIENT
			// PAUSE WRITE): slave_repl_offset is the placeholder 1.
			name:       "synced, link down, no cached primary",
			txt:        "role:slave\r\nmaster_link_status:down\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:1\r\nslave_repl_offset:1\r\nmaster_link_down_since_seconds:0\r\nuptime_in_seconds:30\r\nmaster_repl_offset:1164\r\n",
			wantSynced: true,
			wantOffset: 1164,
		},
		{
			name:       "synced, link down, cached primary",
			txt:        "role:slave\nmaster_link_status:down\nslave_repl_offset:1311\nmaster_link_down_since_seconds:1\nuptime_in_seconds:30\nmaster_repl_offset:1311\n",
			wantSynced: true,
			wantDown:   1,
			wantOffset: 1311,
		},
		{
			// A re-sync after a completed one keeps the old dataset.
			name:       "resync after completed sync",
			txt:        "role:slave\nmaster_link_status:down\nmaster_sync_in_progress:1\nmaster_link_down_since_seconds:3\nuptime_in_seconds:30\n",
			wantSynced: true,
			wantDown:   3,
		},
		{name: "no role", txt: "# Replication\r\nconnected_slaves:0\r\n", wantErr: true},
		{name: "unknown role", txt: "role:sentinel\n", wantErr: true},
		{name: "empty", txt: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Observation
			err := parseInfo(tt.txt, nil).apply(&o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("apply error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if o.Synced != tt.wantSynced || o.MasterLinkDownSinceSeconds != tt.wantDown || o.Offset != tt.wantOffset {
				t.Errorf("Synced %v, down since %d, offset %d; want %v, %d, %d", o.Synced, o.MasterLinkDownSinceSeconds, o.Offset, tt.wantSynced, tt.wantDown, tt.wantOffset)
			}
		})
	}
}

func TestInfoReplicasChained(t *testing.T) {
	// A replica with replicas of its own lists them; slave_* fields are
	// not replica lines, and a gap in the numbering is tolerated.
	txt := "role:slave\nslave_repl_offset:9\nslave_priority:0\nslave_read_only:1\nconnected_slaves:2\n" +
		"slave0:ip=::1,port=7001,state=online,offset=9,lag=1\nslave2:ip=10.0.0.2,port=7002,state=wait_bgsave,offset=0,lag=0\n"
	var o Observation
	if err := parseInfo(txt, nil).apply(&o); err != nil {
		t.Fatal(err)
	}
	want := []Replica{
		{Addr: "[::1]:7001", State: "online", Offset: 9, Lag: 1},
		{Addr: "10.0.0.2:7002", State: "wait_bgsave", Offset: 0, Lag: 0},
	}
	if diff := cmp.Diff(o.Replicas, want); diff != "" {
		t.Errorf("replicas (-got +want):\n%s", diff)
	}
	if o.Priority != 0 || o.Offset != 9 || o.ConnectedReplicas != 2 {
		t.Errorf("priority %d offset %d connected %d, want 0 9 2", o.Priority, o.Offset, o.ConnectedReplicas)
	}
}
