package redirect

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingAdmin records the admin calls the endpoint makes. It stands in
// for the group's control plane only; what it records is what the test
// checks.
type recordingAdmin struct {
	mu          sync.Mutex
	switchovers []string
	err         error
}

func (a *recordingAdmin) Switchover(_ context.Context, to string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.switchovers = append(a.switchovers, to)
	return a.err
}

// settingsAdmin adds SENTINEL RESET and the group-wide settings.
type settingsAdmin struct {
	recordingAdmin
	settings map[string]string
	resets   []string
}

func (a *settingsAdmin) Settings() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.settings)
}

func (a *settingsAdmin) SetSettings(_ context.Context, kv map[string]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	maps.Copy(a.settings, kv)
	return nil
}

func (a *settingsAdmin) Reset(_ context.Context, pattern string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resets = append(a.resets, pattern)
	return 2, nil
}

func startAdminSentinel(t *testing.T, password string, admin Admin) *respConn {
	t.Helper()
	cfg := testSentinelConfig()
	cfg.Password = password
	_, addr, _ := startSentinel(t, cfg, "mymaster", shapeSource(), WithAdmin(admin))
	c := dialRESP(t, addr)
	if password != "" {
		if got := c.do("AUTH", password); got != "OK" {
			t.Fatalf("AUTH = %v", got)
		}
	}
	return c
}

func TestSentinelAdminCommands(t *testing.T) {
	t.Run("refused without a password", func(t *testing.T) {
		a := &settingsAdmin{settings: map[string]string{}}
		c := startAdminSentinel(t, "", a)
		for _, cmd := range [][]string{
			{"SENTINEL", "FAILOVER", "mymaster"},
			{"SENTINEL", "SET", "mymaster", "quorum", "2"},
			{"SENTINEL", "CONFIG", "SET", "down-after-milliseconds", "2000"},
			{"SENTINEL", "RESET", "*"},
		} {
			if got, ok := c.do(cmd...).(respError); !ok || !strings.Contains(string(got), "needs sentinel.password") {
				t.Errorf("%v = %v, want a refusal naming sentinel.password", cmd, got)
			}
		}
		if len(a.switchovers) != 0 || len(a.resets) != 0 || len(a.settings) != 0 {
			t.Errorf("refused commands reached the admin: %+v", a)
		}
	})
	t.Run("failover is a switchover", func(t *testing.T) {
		a := &recordingAdmin{}
		c := startAdminSentinel(t, "pw", a)
		if got := c.do("SENTINEL", "FAILOVER", "mymaster"); got != "OK" {
			t.Fatalf("SENTINEL FAILOVER = %v", got)
		}
		if got := c.do("SENTINEL", "FAILOVER", "other"); got != respError(errNoSuchMaster) {
			t.Errorf("SENTINEL FAILOVER other = %v", got)
		}
		a.err = errors.New("failover: no replica can be promoted: b lags")
		if got := c.do("SENTINEL", "FAILOVER", "mymaster"); got != respError("ERR failover: no replica can be promoted: b lags") {
			t.Errorf("failed SENTINEL FAILOVER = %v", got)
		}
		if diff := cmp.Diff(a.switchovers, []string{"", ""}); diff != "" {
			t.Errorf("switchovers (-got +want):\n%s", diff)
		}
	})
	t.Run("settings unwired", func(t *testing.T) {
		c := startAdminSentinel(t, "pw", &recordingAdmin{})
		want := respError("ERR group-wide settings need the replicated configuration, which this build does not wire")
		if got := c.do("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "2000"); got != want {
			t.Errorf("SENTINEL SET = %v", got)
		}
		if got := c.do("SENTINEL", "RESET", "*"); got != respError("ERR SENTINEL RESET needs the replicated group membership, which this build does not wire") {
			t.Errorf("SENTINEL RESET = %v", got)
		}
		// CONFIG GET still answers Sentinel's own keys.
		if got := fieldMap(t, c.do("SENTINEL", "CONFIG", "GET", "announce-*")); len(got) != 3 {
			t.Errorf("CONFIG GET announce-* = %v", got)
		}
	})
	t.Run("settings", func(t *testing.T) {
		a := &settingsAdmin{settings: map[string]string{"down-after-milliseconds": "5000", "quorum": "2", "parallel-syncs": "1", "failover-timeout": "180000", "auth-pass": "secret"}}
		c := startAdminSentinel(t, "pw", a)
		tests := []struct {
			args []string
			want any
		}{
			{[]string{"SENTINEL", "SET", "mymaster", "down-after-milliseconds", "2000", "quorum", "3"}, "OK"},
			{[]string{"SENTINEL", "SET", "mymaster", "quorum", "x"}, respError("ERR Invalid argument 'x' for SENTINEL SET 'quorum'")},
			{[]string{"SENTINEL", "SET", "mymaster", "quorum", "0"}, respError("ERR Invalid argument '0' for SENTINEL SET 'quorum'")},
			{[]string{"SENTINEL", "SET", "mymaster", "bogus", "1"}, respError("ERR Unknown option or number of arguments for SENTINEL SET 'bogus'")},
			{[]string{"SENTINEL", "SET", "mymaster", "notification-script", "/x"}, respError("ERR SENTINEL SET 'notification-script' is not supported by vigil: use hooks.* in vigil's configuration file")},
			{[]string{"SENTINEL", "SET", "other", "quorum", "2"}, respError(errNoSuchMaster)},
			{[]string{"SENTINEL", "SET", "mymaster", "quorum"}, respError("ERR wrong number of arguments for 'sentinel|set' command")},
			{[]string{"SENTINEL", "CONFIG", "SET", "failover-timeout", "60000"}, "OK"},
			{[]string{"SENTINEL", "CONFIG", "SET", "announce-ip", "1.2.3.4"}, respError("ERR SENTINEL CONFIG SET 'announce-ip' is not supported by vigil: set the equivalent in vigil's configuration file")},
			{[]string{"SENTINEL", "CONFIG", "GET", "quorum", "down-after-*", "auth-pass", "failover-timeout"},
				[]any{"down-after-milliseconds", "2000", "quorum", "3", "failover-timeout", "60000", "auth-pass", "*****"}},
			{[]string{"SENTINEL", "RESET", "my*"}, int64(1)},
			{[]string{"SENTINEL", "RESET", "nomatch"}, int64(0)},
		}
		for _, tt := range tests {
			if got := c.do(tt.args...); !cmp.Equal(got, tt.want) {
				t.Errorf("%v = %#v, want %#v", tt.args, got, tt.want)
			}
		}
		if got := fieldMap(t, c.do("SENTINEL", "MASTER", "mymaster"))["failover-timeout"]; got != "60000" {
			t.Errorf("SENTINEL MASTER failover-timeout = %q after CONFIG SET, want 60000", got)
		}
		if diff := cmp.Diff(a.resets, []string{"my*"}); diff != "" {
			t.Errorf("resets (-got +want):\n%s", diff)
		}
		if a.settings["down-after-milliseconds"] != "2000" || a.settings["quorum"] != "3" || a.settings["failover-timeout"] != "60000" {
			t.Errorf("settings after SET = %v", a.settings)
		}
	})
}
