package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vigil-redis/vigil/internal/redistest"
)

func TestNewValidates(t *testing.T) {
	_, err := New(RedisConfig{Addr: "nohost"}, Config{Interval: 0, Timeout: -time.Second}, nil, nil)
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, key := range []string{"redis.addr", "monitor.interval", "monitor.timeout"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	// Two Probers on one registry collide instead of silently sharing series.
	reg := prometheus.NewRegistry()
	p, err := New(DefaultRedisConfig(), DefaultConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := New(DefaultRedisConfig(), DefaultConfig(), nil, reg); err == nil {
		t.Error("second Prober on the same registry: no error")
	}
	if got := p.Last(); !got.Time.IsZero() {
		t.Errorf("Last before the first probe = %+v, want zero", got)
	}
}

// expectedMetrics renders what the gauges must say for o.
func expectedMetrics(o Observation, offset int64) string {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return fmt.Sprintf(`
# HELP vigil_redis_up 1 when the last probe of the local Redis got a valid reply, 0 otherwise.
# TYPE vigil_redis_up gauge
vigil_redis_up %d
# HELP vigil_redis_role 1 on the replication role the local Redis reports (master or slave); both 0 while it is unknown.
# TYPE vigil_redis_role gauge
vigil_redis_role{role="master"} %d
vigil_redis_role{role="slave"} %d
# HELP vigil_redis_replication_offset_bytes Replication offset of the local Redis (master_repl_offset on a primary and on a replica whose link is down, slave_repl_offset on a replica whose link is up); the last one seen while it does not answer INFO.
# TYPE vigil_redis_replication_offset_bytes gauge
vigil_redis_replication_offset_bytes %d
# HELP vigil_redis_replication_lag_bytes Bytes the local replica is behind its primary; 0 on a primary; -1 when unknown (link down, primary or local Redis not answering).
# TYPE vigil_redis_replication_lag_bytes gauge
vigil_redis_replication_lag_bytes %d
# HELP vigil_redis_master_link_up 1 when the local Redis is a replica with its link to the primary up, 0 otherwise (also on a primary).
# TYPE vigil_redis_master_link_up gauge
vigil_redis_master_link_up %d
# HELP vigil_redis_connected_replicas Replicas connected to the local Redis, as its INFO reports them.
# TYPE vigil_redis_connected_replicas gauge
vigil_redis_connected_replicas %d
`, b2i(o.Reachable()), b2i(o.Role == RolePrimary), b2i(o.Role == RoleReplica), offset, o.LagBytes,
		b2i(o.LinkUp), o.ConnectedReplicas)
}

var gaugeNames = []string{
	"vigil_redis_up", "vigil_redis_role", "vigil_redis_replication_offset_bytes",
	"vigil_redis_replication_lag_bytes", "vigil_redis_master_link_up", "vigil_redis_connected_replicas",
}

// TestProberMetrics checks that the series agree with the observation on a
// primary, a replica, and a dead node, and that they pass the linter.
func TestProberMetrics(t *testing.T) {
	ctx := context.Background()
	prim := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr()})
	rep.WaitSynced(t)
	if err := prim.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	pp, preg := newTestProber(t, prim.Addr(), RedisConfig{}, testConfig())
	rp, rreg := newTestProber(t, rep.Addr(), RedisConfig{}, testConfig())

	// Before any probe: nothing known.
	if err := testutil.GatherAndCompare(rreg, strings.NewReader(expectedMetrics(Observation{LagBytes: -1}, 0)), gaugeNames...); err != nil {
		t.Errorf("before the first probe: %v", err)
	}
	runProber(t, rp) // reads the lag

	po := pp.ProbeNow(ctx)
	if err := testutil.GatherAndCompare(preg, strings.NewReader(expectedMetrics(po, po.Offset)), gaugeNames...); err != nil {
		t.Errorf("primary: %v", err)
	}
	ro := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if o.LagBytes < 0 {
			return errors.New("lag unknown")
		}
		return nil
	})
	if err := testutil.GatherAndCompare(rreg, strings.NewReader(expectedMetrics(ro, ro.Offset)), gaugeNames...); err != nil {
		t.Errorf("replica: %v", err)
	}
	if got := testutil.CollectAndCount(rreg, "vigil_redis_probe_duration_seconds"); got != 1 {
		t.Errorf("probe duration series: %d, want 1", got)
	}

	rep.Kill(t)
	dead := probeUntil(t, rp, 5*time.Second, func(o Observation) error {
		if o.Reason != ReasonRefused {
			return fmt.Errorf("reason %q", o.Reason)
		}
		return nil
	})
	// The offset gauge keeps the last offset seen.
	if err := testutil.GatherAndCompare(rreg, strings.NewReader(expectedMetrics(dead, ro.Offset)), gaugeNames...); err != nil {
		t.Errorf("dead replica: %v", err)
	}
	if got := testutil.ToFloat64(rp.metrics.errors.WithLabelValues("refused")); got < 1 {
		t.Errorf("refused errors = %v, want >= 1", got)
	}
	if got := testutil.ToFloat64(rp.metrics.errors.WithLabelValues("busy")); got != 0 {
		t.Errorf("busy errors = %v, want 0", got)
	}
	// Every reason is pre-created.
	if got := testutil.CollectAndCount(rp.metrics.errors); got != len(failureReasons()) {
		t.Errorf("error series: %d, want %d", got, len(failureReasons()))
	}

	for _, reg := range []*prometheus.Registry{preg, rreg} {
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// syncBuffer is a log sink safe for the Prober's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProberRunUpdates runs the Prober and checks that Updates announces
// the first probe and the changes, not every probe, and that the changes
// are logged at Info.
func TestProberRunUpdates(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rc := RedisConfig{Addr: s.Addr()}
	p, err := New(rc, testConfig(), logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()

	wait := func(what string, cond func(Observation) bool) Observation {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case <-p.Updates():
				if o := p.Last(); cond(o) {
					return o
				}
			case <-deadline:
				t.Fatalf("no update with %s; last %+v", what, p.Last())
			}
		}
	}
	first := wait("first probe", func(o Observation) bool { return o.Reachable() && o.Role == RolePrimary })

	// Steady state: probes continue, but no notification.
	redistest.Eventually(t, 5*time.Second, func() error {
		if o := p.Last(); !o.Time.After(first.Time.Add(5 * testConfig().Interval)) {
			return errors.New("no new probes yet")
		}
		return nil
	})
	select {
	case <-p.Updates():
		t.Errorf("update without a change; last %+v", p.Last())
	default:
	}

	// A change of role is announced...
	other := redistest.Start(t, redistest.Options{})
	if err := s.Client().ReplicaOf(context.Background(), other.Host(), fmt.Sprint(other.Port())).Err(); err != nil {
		t.Fatal(err)
	}
	wait("role slave", func(o Observation) bool { return o.Role == RoleReplica })
	// ...and so is unreachability.
	s.Kill(t)
	wait("unreachable", func(o Observation) bool { return o.Reason == ReasonRefused })

	for _, want := range []string{
		`msg="redis reachable" component=monitor redis_addr=` + s.Addr() + ` role=master`,
		`msg="redis role changed" component=monitor redis_addr=` + s.Addr() + ` role=slave`,
		`msg="redis unreachable" component=monitor redis_addr=` + s.Addr() + ` role="" offset=0 reason=refused err=`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// TestProbesGoOnWhileThePrimaryIsStopped: a replica's lag is read from its
// primary, and a stopped primary delays only that read. Seed 12450 of the
// chaos suite: the primary was cut off while its replica's link still
// looked up, each probe waited out the lag read's timeout, the sidecar's
// own report called its Redis unreachable, and the leader promoted a
// replica with less data.
func TestProbesGoOnWhileThePrimaryIsStopped(t *testing.T) {
	prim := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr()})
	rep.WaitSynced(t)
	cfg := testConfig()
	cfg.Timeout = 8 * time.Second // a lag read on the probe's path would stall probes this long
	rp, _ := newTestProber(t, rep.Addr(), RedisConfig{}, cfg)
	runProber(t, rp)
	redistest.Eventually(t, 5*time.Second, func() error {
		if o := rp.Last(); !o.Reachable() || !o.LinkUp || o.LagBytes < 0 {
			return fmt.Errorf("a replica with its lag known, got %+v", o)
		}
		return nil
	})

	prim.Stop(t)
	defer prim.Cont(t)
	stopped := time.Now()
	// Within two lag refreshes a read of the stopped primary has begun;
	// the probes of the replica go on while it waits.
	redistest.Eventually(t, 5*time.Second, func() error {
		o := rp.Last()
		if !o.Reachable() || o.Role != RoleReplica || !o.LinkUp {
			return fmt.Errorf("replica with its link up, got %+v", o)
		}
		if o.Time.Before(stopped.Add(3 * lagRefresh)) {
			return fmt.Errorf("last probe %v after the stop", o.Time.Sub(stopped))
		}
		return nil
	})
}
