package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

func TestLogConventions(t *testing.T) {
	var buf bytes.Buffer
	var level slog.LevelVar
	logger, err := newLogger(config.LogConfig{Level: "info", Format: "json"}, &buf, &level)
	if err != nil {
		t.Fatal(err)
	}
	l := logger.With("node", "a").With("component", "gossip")
	l.Info("gossip started", "node", "a", "duration", 1200*time.Millisecond)
	l.Info("redis unreachable", "reason", monitor.ReasonAuth, "err", "WRONGPASS invalid username-password pair")
	l.Debug("hidden", "reason", monitor.ReasonAuth) // below the level, not an auth failure to raise
	l.WithGroup("g").Info("grouped", "node", "b")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	if n := strings.Count(lines[0], `"node"`); n != 1 {
		t.Errorf("node appears %d times: %s", n, lines[0])
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["duration"] != "1.2s" {
		t.Errorf("duration = %#v, want \"1.2s\"", first["duration"])
	}
	if !strings.Contains(lines[1], `"level":"ERROR"`) {
		t.Errorf("auth failure not at ERROR: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"g":{"node":"b"}`) {
		t.Errorf("a key inside a group is its own: %s", lines[2])
	}
}

// A sidecar given the wrong Redis password logs the failure at ERROR, and
// its gossip lines name the node once.
func TestWrongPassLoggedAtError(t *testing.T) {
	p := redistest.Start(t, redistest.Options{Password: "right"})
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--redis.password", "wrong", "--failover.quorum", "1")
	redistest.Eventually(t, 15*time.Second, func() error {
		for _, line := range strings.Split(s.log.String(), "\n") {
			if strings.Contains(line, `"reason":"auth"`) && strings.Contains(line, `"level":"ERROR"`) {
				return nil
			}
		}
		return fmt.Errorf("no ERROR line with reason auth yet")
	})
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, `"reason":"auth"`) && strings.Contains(line, `"level":"INFO"`) {
			t.Errorf("auth failure at INFO: %s", line)
		}
		if strings.Count(line, `"node":`) > 1 {
			t.Errorf("node twice: %s", line)
		}
		if strings.Contains(line, `"duration":`) && !strings.Contains(line, `"duration":"`) {
			t.Errorf("duration not a string: %s", line)
		}
	}
}
