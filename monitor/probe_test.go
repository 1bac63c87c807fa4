package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// testConfig is DefaultConfig made patient enough for a loaded test
// machine under -race.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Interval = 20 * time.Millisecond // tests drive most probes with ProbeNow
	cfg.Timeout = time.Second            // no false timeouts on a busy 2-core box
	return cfg
}

// newTestProber returns a Prober of addr with its own registry, closed when
// the test ends.
func newTestProber(t *testing.T, addr string, rc RedisConfig, cfg Config) (*Prober, *prometheus.Registry) {
	t.Helper()
	rc.Addr = addr
	reg := prometheus.NewRegistry()
	p, err := New(rc, cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, reg
}

// runProber runs p until the test ends.
func runProber(t *testing.T, p *Prober) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// probeUntil probes with p until check accepts the observation.
func probeUntil(t *testing.T, p *Prober, timeout time.Duration, check func(Observation) error) Observation {
	t.Helper()
	var o Observation
	redistest.Eventually(t, timeout, func() error {
		o = p.ProbeNow(context.Background())
		if err := check(o); err != nil {
			return fmt.Errorf("%w (observation %+v)", err, o)
		}
		return nil
	})
	return o
}

func reachable(o Observation) error {
	if !o.Reachable() {
		return fmt.Errorf("unreachable: %s", o.Reason)
	}
	return nil
}

// TestProbeReplication covers a primary with replicas, an in-sync replica,
// and the same replica after its primary was killed.
func TestProbeReplication(t *testing.T) {
	ctx := context.Background()
	prim := redistest.Start(t, redistest.Options{})
	r1 := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr(), Args: []string{"--replica-priority", "50"}})
	r2 := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr()})
	r1.WaitSynced(t)
	r2.WaitSynced(t)
	if err := prim.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// The primary, through Probe alone.
	pc := NewClient(prim.Addr(), RedisConfig{}, time.Second)
	defer pc.Close()
	var po Observation
	redistest.Eventually(t, 5*time.Second, func() error {
		po = Probe(ctx, pc)
		if err := reachable(po); err != nil {
			return err
		}
		if len(po.Replicas) != 2 || po.Replicas[0].State != "online" || po.Replicas[1].State != "online" {
			return fmt.Errorf("replicas %+v", po.Replicas)
		}
		return nil
	})
	if po.Role != RolePrimary || po.ConnectedReplicas != 2 || po.LagBytes != 0 || po.Priority != -1 ||
		po.RunID == "" || po.Version == "" || po.ReplID == "" || po.RTT <= 0 || po.Synced {
		t.Errorf("primary observation %+v", po)
	}
	got := map[string]bool{po.Replicas[0].Addr: true, po.Replicas[1].Addr: true}
	if !got[r1.Addr()] || !got[r2.Addr()] {
		t.Errorf("replicas %+v, want %s and %s", po.Replicas, r1.Addr(), r2.Addr())
	}

	// The primary's own Prober knows its replica-priority from CONFIG GET.
	pp, _ := newTestProber(t, prim.Addr(), RedisConfig{}, testConfig())
	if o := pp.ProbeNow(ctx); o.Priority != 100 || o.Role != RolePrimary {
		t.Errorf("primary prober: role %q priority %d, want master 100", o.Role, o.Priority)
	}
	// It counts the keys: a Redis restarted from its AOF has no
	// replication position, and the count tells it from an empty one.
	if err := prim.Client().Set(ctx, "probe-keys", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want, err := prim.Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if o := pp.ProbeNow(ctx); o.Keys != want || want < 1 {
		t.Errorf("primary prober: keys %d, want %d", o.Keys, want)
	}

	// An in-sync replica: link up, synced, lag known (Run reads it).
	rp, _ := newTestProber(t, r1.Addr(), RedisConfig{}, testConfig())
	runProber(t, rp)
	o := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if err := reachable(o); err != nil {
			return err
		}
		if !o.LinkUp || !o.Synced || o.LagBytes < 0 {
			return errors.New("not in sync yet")
		}
		return nil
	})
	if o.Role != RoleReplica || o.MasterAddr() != prim.Addr() || o.SyncInProgress || o.Priority != 50 ||
		o.ReplID != po.ReplID || o.LinkDownFor != 0 || o.MasterLinkDownSinceSeconds != -1 {
		t.Errorf("replica observation %+v", o)
	}
	// Probe alone cannot know the lag.
	if o := Probe(ctx, rp.Client()); o.LagBytes != -1 || !o.Synced {
		t.Errorf("Probe of a replica: lag %d synced %v, want -1 true", o.LagBytes, o.Synced)
	}

	// The primary dies: the link goes down, stays synced, and the
	// down-time grows.
	prim.Kill(t)
	down := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if o.LinkUp {
			return errors.New("link still up")
		}
		return nil
	})
	if !down.Synced || !down.Reachable() || down.LagBytes != -1 {
		t.Errorf("after primary died: %+v", down)
	}
	later := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if o.LinkDownFor <= down.LinkDownFor {
			return fmt.Errorf("link down for %v, was %v", o.LinkDownFor, down.LinkDownFor)
		}
		return nil
	})
	if !later.Synced {
		t.Errorf("replica lost Synced while its primary is gone: %+v", later)
	}
}

// TestProberSyncedSurvivesRestart restarts a replica of a dead primary from
// its RDB: Redis itself says the link never came up since start, but the
// dataset is the one the Prober saw synced on the same history.
func TestProberSyncedSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	prim := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr()})
	rep.WaitSynced(t)
	rp, _ := newTestProber(t, rep.Addr(), RedisConfig{}, testConfig())
	before := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if !o.Synced {
			return errors.New("not synced")
		}
		return nil
	})
	prim.Kill(t)
	if err := rep.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rep.Restart(t)
	after := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if err := reachable(o); err != nil {
			return err
		}
		if o.RunID == before.RunID {
			return errors.New("same run id")
		}
		return nil
	})
	if !after.Synced || after.ReplID != before.ReplID || after.MasterLinkDownSinceSeconds != -1 {
		t.Errorf("after restart: synced %v repl id %s (was %s), down since %d; want synced, same id, -1",
			after.Synced, after.ReplID, before.ReplID, after.MasterLinkDownSinceSeconds)
	}
	if o := Probe(ctx, rp.Client()); o.Synced {
		t.Errorf("Probe alone (no memory) says synced: %+v", o)
	}
}

// TestProbeInitialSync watches a replica whose primary takes seconds to
// produce its RDB.
func TestProbeInitialSync(t *testing.T) {
	ctx := context.Background()
	slow := redistest.Start(t, redistest.Options{})
	fill(t, slow, 200)
	// Sleep 20ms per key in the fork that streams the RDB: about 4s.
	if err := slow.Client().ConfigSet(ctx, "rdb-key-save-delay", "20000").Err(); err != nil {
		t.Fatal(err)
	}
	// SHUTDOWN NOSAVE also stops the forked child.
	t.Cleanup(func() { _ = slow.Client().Shutdown(context.Background()).Err() })
	rep := redistest.Start(t, redistest.Options{ReplicaOf: slow.Addr()})
	rp, _ := newTestProber(t, rep.Addr(), RedisConfig{}, testConfig())
	o := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if err := reachable(o); err != nil {
			return err
		}
		if !o.SyncInProgress {
			return errors.New("sync not in progress")
		}
		return nil
	})
	// A new process holds nothing yet: Redis's placeholder
	// slave_repl_offset 1 is not its position.
	if o.Synced || o.LinkUp || o.LagBytes != -1 || o.Role != RoleReplica || o.MasterAddr() != slow.Addr() || o.Offset != 0 {
		t.Errorf("during initial sync: %+v", o)
	}
}

// TestProbeFailures maps real failures to reasons.
func TestProbeFailures(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Timeout = 200 * time.Millisecond

	t.Run("stopped", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{})
		c := NewClient(s.Addr(), RedisConfig{}, cfg.Timeout)
		defer c.Close()
		if o := Probe(ctx, c); !o.Reachable() {
			t.Fatalf("before SIGSTOP: %+v", o)
		}
		s.Stop(t)
		defer s.Cont(t)
		start := time.Now()
		o := Probe(ctx, c)
		if o.Reason != ReasonTimeout || o.Alive() {
			t.Errorf("stopped: reason %q alive %v err %s, want timeout, not alive", o.Reason, o.Alive(), o.Err)
		}
		if took := time.Since(start); took > 10*cfg.Timeout {
			t.Errorf("probe of a stopped server took %v with timeout %v", took, cfg.Timeout)
		}
	})

	t.Run("killed", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{})
		c := NewClient(s.Addr(), RedisConfig{}, cfg.Timeout)
		defer c.Close()
		s.Kill(t)
		// The pooled connection may first fail with EOF; then dials are refused.
		redistest.Eventually(t, 2*time.Second, func() error {
			if o := Probe(ctx, c); o.Reason != ReasonRefused {
				return fmt.Errorf("reason %q (%s), want refused", o.Reason, o.Err)
			}
			return nil
		})
	})

	t.Run("restarted", func(t *testing.T) {
		// After refused dials the next probe must dial again at once:
		// go-redis's dial circuit breaker would delay it by up to a second.
		s := redistest.Start(t, redistest.Options{})
		c := NewClient(s.Addr(), RedisConfig{}, cfg.Timeout)
		defer c.Close()
		s.Kill(t)
		for range 5 {
			if o := Probe(ctx, c); o.Reason != ReasonRefused {
				t.Fatalf("killed: reason %q (%s), want refused", o.Reason, o.Err)
			}
		}
		s.Restart(t)
		if o := Probe(ctx, c); !o.Reachable() {
			t.Errorf("first probe after restart: reason %q (%s)", o.Reason, o.Err)
		}
	})

	s := redistest.Start(t, redistest.Options{Password: "s3cret"})
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Do(ctx, "ACL", "SETUSER", "vigil", "on", ">vpass", "+ping", "+info", "+config|get").Err(); err != nil {
		t.Fatal(err)
	}
	// A user that may not run CONFIG: replica-priority stays unknown, the
	// node is still reachable.
	if err := s.Client().Do(ctx, "ACL", "SETUSER", "noconfig", "on", ">npass", "+ping", "+info").Err(); err != nil {
		t.Fatal(err)
	}
	t.Run("acl user without config", func(t *testing.T) {
		p, _ := newTestProber(t, s.Addr(), RedisConfig{Username: "noconfig", Password: "npass"}, cfg)
		if o := p.ProbeNow(ctx); !o.Reachable() || o.Priority != -1 || o.Keys != -1 {
			t.Errorf("reason %q (%s), priority %d, keys %d; want reachable, -1, -1 (no DBSIZE either)", o.Reason, o.Err, o.Priority, o.Keys)
		}
	})
	tests := []struct {
		name string
		rc   RedisConfig
		want Reason
	}{
		{"no password", RedisConfig{}, ReasonAuth},
		{"wrong password", RedisConfig{Password: "nope"}, ReasonAuth},
		{"wrong user", RedisConfig{Username: "nobody", Password: "s3cret"}, ReasonAuth},
		{"missing password file", RedisConfig{PasswordFile: filepath.Join(t.TempDir(), "missing")}, ReasonAuth},
		{"right password", RedisConfig{Password: "s3cret"}, ReasonNone},
		{"password file", RedisConfig{PasswordFile: pwFile}, ReasonNone},
		{"acl user", RedisConfig{Username: "vigil", Password: "vpass"}, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(s.Addr(), tt.rc, cfg.Timeout)
			defer c.Close()
			o := Probe(ctx, c)
			if o.Reason != tt.want {
				t.Errorf("reason %q (%s), want %q", o.Reason, o.Err, tt.want)
			}
			if tt.want == ReasonNone && o.Role != RolePrimary {
				t.Errorf("role %q, want master", o.Role)
			}
			if tt.want == ReasonAuth && !o.Alive() {
				t.Errorf("auth failure not alive: %+v", o)
			}
		})
	}
}

// TestProbeBusy runs a script that never ends: -BUSY proves the node alive.
func TestProbeBusy(t *testing.T) {
	ctx := context.Background()
	s := redistest.Start(t, redistest.Options{Args: []string{"--busy-reply-threshold", "50"}})
	script := redis.NewClient(&redis.Options{Addr: s.Addr(), ReadTimeout: 30 * time.Second, MaxRetries: -1})
	defer script.Close()
	done := make(chan error, 1)
	go func() { done <- script.Eval(ctx, "while true do end", nil).Err() }()
	// However the test ends, the script must die: SCRIPT KILL is allowed
	// while Redis is busy.
	killed := false
	kill := func() {
		if killed {
			return
		}
		killed = true
		redistest.Eventually(t, 5*time.Second, func() error {
			err := s.Client().ScriptKill(ctx).Err()
			if err != nil && !hasPrefix(err, "NOTBUSY") {
				return err
			}
			return nil
		})
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("script still running after SCRIPT KILL")
		}
	}
	defer kill()

	c := NewClient(s.Addr(), RedisConfig{}, time.Second)
	defer c.Close()
	var o Observation
	redistest.Eventually(t, 5*time.Second, func() error {
		if o = Probe(ctx, c); o.Reason != ReasonBusy {
			return fmt.Errorf("reason %q (%s), want busy", o.Reason, o.Err)
		}
		return nil
	})
	if !o.Alive() || o.Reachable() {
		t.Errorf("busy: alive %v reachable %v, want alive, not reachable", o.Alive(), o.Reachable())
	}
	kill()
	if o := Probe(ctx, c); !o.Reachable() {
		t.Errorf("after SCRIPT KILL: %+v", o)
	}
}

// TestProbeLoading catches a replica loading the RDB of its initial sync
// slowly (key-load-delay), answering -LOADING to PING but INFO still.
func TestProbeLoading(t *testing.T) {
	ctx := context.Background()
	prim := redistest.Start(t, redistest.Options{})
	fill(t, prim, 1000)
	rep := redistest.Start(t, redistest.Options{Args: []string{
		"--key-load-delay", "5000", // 5ms per key: about 5s of loading
		"--loading-process-events-interval-bytes", "1024", // answer clients while loading
	}})
	// REPLICAOF only now: Start waits for PING, which would wait out the load.
	if err := rep.Client().ReplicaOf(ctx, prim.Host(), strconv.Itoa(prim.Port())).Err(); err != nil {
		t.Fatal(err)
	}
	c := NewClient(rep.Addr(), RedisConfig{}, time.Second)
	defer c.Close()
	var o Observation
	redistest.Eventually(t, 5*time.Second, func() error {
		if o = Probe(ctx, c); o.Reason != ReasonLoading {
			return fmt.Errorf("reason %q (%s), want loading", o.Reason, o.Err)
		}
		return nil
	})
	if !o.Loading || !o.Alive() || o.Reachable() || o.Role != RoleReplica || !o.SyncInProgress || o.Synced {
		t.Errorf("loading: %+v", o)
	}
}

// TakesWrites sees vigil's fence: a Redis under CLIENT PAUSE WRITE still
// answers PING but holds the probe; a replica answers it but takes no
// writes; a user whose ACL lacks PUBLISH gets a reply, which counts.
func TestTakesWrites(t *testing.T) {
	ctx := context.Background()
	s := redistest.Start(t, redistest.Options{})
	c := NewClient(s.Addr(), RedisConfig{}, time.Second)
	defer c.Close()
	probe := func() bool {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		return TakesWrites(pctx, c)
	}
	if !probe() {
		t.Fatal("an unpaused Redis takes no writes")
	}
	if err := s.Client().Do(ctx, "CLIENT", "PAUSE", 5000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	if probe() {
		t.Error("a Redis under CLIENT PAUSE WRITE takes writes")
	}
	if r := Ping(ctx, c); !r.Alive() {
		t.Errorf("PING while paused: %s", r)
	}
	if err := s.Client().Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if !probe() {
		t.Error("no writes after CLIENT UNPAUSE")
	}
	// A replica runs PUBLISH, but takes no writes (seed 16632).
	if err := s.Client().Do(ctx, "REPLICAOF", s.Host(), s.Port()).Err(); err != nil {
		t.Fatal(err)
	}
	if probe() {
		t.Error("a Redis pointing at itself, a replica, takes writes")
	}
	if err := s.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if !probe() {
		t.Error("no writes once a primary again")
	}
	if err := s.Client().Do(ctx, "ACL", "SETUSER", "nopub", "on", ">pw", "~*", "-@all", "+ping").Err(); err != nil {
		t.Fatal(err)
	}
	np := NewClient(s.Addr(), RedisConfig{Username: "nopub", Password: "pw"}, time.Second)
	defer np.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if !TakesWrites(pctx, np) {
		t.Error("a NOPERM reply does not count")
	}
}

// TestRestartsShowWhereTheirHistoryBegan checks what the failover's restart
// judgement reads on real Redis: a primary killed and restarted from its
// AOF has no master_replid2 (its history began at offset 0), and one
// restarted from an RDB keeps the snapshot's history as master_replid2, at
// the snapshot's offset.
func TestRestartsShowWhereTheirHistoryBegan(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		args []string
		rdb  bool
	}{
		// appendfsync always: with everysec Redis may postpone the AOF
		// write behind a slow fsync, and the SIGKILL then loses the keys
		// (CI once found 1 of 5 after the restart).
		{"aof", []string{"--appendonly", "yes", "--appendfsync", "always"}, false},
		{"rdb", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prim := redistest.Start(t, redistest.Options{Args: tt.args})
			rep := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr()})
			rep.WaitSynced(t)
			for i := range 5 {
				if err := prim.Client().Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			c := NewClient(prim.Addr(), RedisConfig{}, time.Second)
			defer c.Close()
			before := Probe(ctx, c)
			if before.Offset <= 0 || before.ReplID2 != "" {
				t.Fatalf("before the kill: %+v, want an offset and no second history", before)
			}
			if tt.rdb {
				if err := prim.Client().Save(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			prim.Restart(t) // SIGKILL, then the same directory
			after := Probe(ctx, c)
			if !after.Reachable() || after.Role != RolePrimary || after.Keys != 5 || after.ReplID == before.ReplID {
				t.Fatalf("after the restart: %+v, want a primary with 5 keys on a new history", after)
			}
			if tt.rdb && (after.ReplID2 != before.ReplID || after.Offset < before.Offset || after.ReplOffset2-1 < before.Offset) {
				t.Errorf("back from an RDB: replid2 %q up to %d, at %d, want %q up to %d or later (the snapshot's)",
					after.ReplID2, after.ReplOffset2-1, after.Offset, before.ReplID, before.Offset)
			}
			if !tt.rdb && (after.ReplID2 != "" || after.ReplOffset2 != 0) {
				t.Errorf("back from its AOF: replid2 %q up to %d, want none", after.ReplID2, after.ReplOffset2-1)
			}
		})
	}
}
