package retryq

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"max_items", func(c *Config) { c.MaxItems = -1 }, "retryq.max_items (-1) must be positive"},
		{"max_bytes", func(c *Config) { c.MaxBytes = 0 }, "retryq.max_bytes (0) must be positive"},
		{"drain_rate", func(c *Config) { c.DrainRate = -5 }, "retryq.drain_rate (-5)"},
		{"drain_concurrency", func(c *Config) { c.DrainConcurrency = 0 }, "retryq.drain_concurrency (0)"},
		{"batch_size", func(c *Config) { c.BatchSize = 0 }, "retryq.batch_size (0)"},
		{"default_max_attempts", func(c *Config) { c.DefaultMaxAttempts = 0 }, "retryq.default_max_attempts (0)"},
		{"backoff", func(c *Config) { c.BackoffMax = time.Millisecond }, "retryq.backoff_max (1ms) must not be shorter than retryq.backoff_base (100ms)"},
		{"done_ttl", func(c *Config) { c.DoneTTL = time.Minute }, "retryq.done_ttl (1m0s) must not be shorter than retryq.backoff_max (5m0s)"},
		{"primary_retry", func(c *Config) { c.PrimaryRetry = 0 }, "retryq.primary_retry (0s)"},
		{"redis_timeout", func(c *Config) { c.RedisTimeout = 0 }, "retryq.redis_timeout (0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	c := DefaultConfig()
	c.MaxItems, c.BatchSize = 0, 0
	if err := c.Validate(); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("two problems: got %v, want both joined", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := &record{seq: 7, state: "dead", id: "abc", key: []byte{0, 1}, priority: -3, enqueued: 123, attempts: 2,
		maxAttempts: 9, next: 456, lastErr: "ERR x", args: [][]byte{[]byte("SET"), {}, {0xff}}}
	v := r.encode(nil)
	if len(v) > r.encodedSize() {
		t.Fatalf("encoded %d bytes, size estimate %d", len(v), r.encodedSize())
	}
	got, err := decodeRecord(7, v)
	if err != nil {
		t.Fatal(err)
	}
	if got.id != r.id || got.state != r.state || got.priority != r.priority || got.attempts != 2 || len(got.args) != 3 || got.args[2][0] != 0xff {
		t.Fatalf("round trip: %+v", got)
	}
	for i := range v { // every truncation is an error, never a panic
		if _, err := decodeRecord(7, v[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", i)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(100, 50) // burst: a tenth of a second = 10
	t0 := time.Unix(0, 0)
	if n, _ := l.take(50, t0); n != 10 {
		t.Fatalf("first take %d, want the burst 10", n)
	}
	if n, wait := l.take(50, t0); n != 0 || wait != 10*time.Millisecond {
		t.Fatalf("empty bucket: %d %v, want 0 10ms", n, wait)
	}
	if n, _ := l.take(50, t0.Add(50*time.Millisecond)); n != 5 {
		t.Fatalf("after 50ms: %d, want 5", n)
	}
	if n, _ := newLimiter(0, 50).take(50, t0); n != 50 {
		t.Fatalf("unlimited: %d, want 50", n)
	}
}

func TestConfirmPlan(t *testing.T) {
	replica := []any{"127.0.0.1", "7001", "1234"}
	for _, tc := range []struct {
		name        string
		role        []any
		minReplicas int
		replicated  bool
		wait        bool
		err         error
	}{
		{"a primary with a replica waits for it", []any{"master", int64(1234), []any{replica}}, 1, true, true, nil},
		{"also when it may run alone", []any{"master", int64(1234), []any{replica}}, 0, false, true, nil},
		{"a lone primary meant to be alone confirms", []any{"master", int64(1234), []any{}}, 0, false, false, nil},
		{"CONFIG refused: as before, a lone primary confirms", []any{"master", int64(1234), []any{}}, -1, false, false, nil},
		// Chaos seed 4705: the only copy would be deleted from the queue.
		{"a lone primary that should have a replica does not", []any{"master", int64(1234), []any{}}, 1, false, false, errNoReplica},
		// Chaos seed 14010: nor one whose group has other members.
		{"a lone primary of a group does not", []any{"master", int64(1234), []any{}}, 0, true, false, errNoReplica},
		{"a lone primary of a group, CONFIG refused, does not", []any{"master", int64(1234), []any{}}, -1, true, false, errNoReplica},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, err := confirmPlan(tc.role, tc.minReplicas, tc.replicated)
			if wait != tc.wait || !errors.Is(err, tc.err) {
				t.Errorf("confirmPlan = %v, %v; want %v, %v", wait, err, tc.wait, tc.err)
			}
		})
	}
	if _, err := confirmPlan([]any{"slave", "127.0.0.1", int64(7000), "connected", int64(1)}, 0, false); err == nil {
		t.Error("a replica confirmed")
	}
}
