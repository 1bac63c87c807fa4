package failover

import "testing"

func TestReplPositionContinues(t *testing.T) {
	info := "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:new\r\nmaster_replid2:old\r\n" +
		"master_repl_offset:5000\r\nsecond_repl_offset:3001\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n" +
		"repl_backlog_first_byte_offset:1001\r\nrepl_backlog_histlen:4000\r\n"
	p := parseReplPosition(info)
	if p != (replPosition{ReplID: "new", ReplID2: "old", Offset: 5000, Second: 3001, Backlog: true, First: 1001, Histlen: 4000}) {
		t.Fatalf("parsed %+v", p)
	}
	for _, tt := range []struct {
		name   string
		replID string
		offset int64
		want   bool
	}{
		{"current history, in the backlog", "new", 4500, true},
		{"current history, at its end", "new", 5000, true},
		{"current history, ahead of it (it lost data)", "new", 5200, false},
		{"current history, before the backlog", "new", 500, false},
		{"previous history before the fork", "old", 2900, true},
		{"previous history at the fork", "old", 3000, true},
		{"previous history past the fork (diverged)", "old", 3100, false},
		{"another history", "other", 4000, false},
		{"no position (restarted from an AOF)", "x", 0, false},
	} {
		if got := p.continues(tt.replID, tt.offset); got != tt.want {
			t.Errorf("%s: continues = %v, want %v", tt.name, got, tt.want)
		}
	}
	if (replPosition{ReplID: "new", Offset: 5000}).continues("new", 4000) {
		t.Error("continues without a backlog")
	}
}

// A full sync follows only the process the primary's sidecar vouched for
// (chaos seed 2505, N=3: vouched for when the demotion began, b's Redis
// restarted empty during the 4.4 s the divergent replay blocked, and the
// deposed primary holding every write full-synced it).
func TestReplPositionFollows(t *testing.T) {
	deposed := replPosition{ReplID: "045963", Offset: 58497}
	for _, tt := range []struct {
		name    string
		primary replPosition
		vouched string
		want    bool
	}{
		{"the vouched process, a full sync", replPosition{ReplID: "25ac89", ReplID2: "c82ff4", Offset: 57400, Second: 57362}, "25ac89", true},
		{"restarted since it was vouched for", replPosition{ReplID: "c38b3f", ReplID2: "045963", Offset: 0, Second: 2, Backlog: true, First: 1}, "25ac89", false},
		{"nobody vouches, only a full sync", replPosition{ReplID: "25ac89", Offset: 57400}, "", false},
		{"nobody vouches, a partial resync", replPosition{ReplID: "045963", Offset: 60000, Backlog: true, First: 1000, Histlen: 59000}, "", true},
		{"restarted, but it continues the stream", replPosition{ReplID: "045963", Offset: 60000, Backlog: true, First: 1000, Histlen: 59000}, "25ac89", true},
	} {
		if got := tt.primary.follows(deposed, tt.vouched); got != tt.want {
			t.Errorf("%s: follows = %v, want %v", tt.name, got, tt.want)
		}
	}
}
