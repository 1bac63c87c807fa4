package redirect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// The real topology and gate fit the interfaces this package declares.
var (
	_ Source               = (*failover.Failover)(nil)
	_ failover.PromoteGate = (*Hooks)(nil)
)

// testSource stands in for failover's topology only: a snapshot under a
// mutex and a fan-out of events. Redis itself is always real.
type testSource struct {
	mu      sync.Mutex
	snap    failover.Snapshot
	changed chan struct{} // closed and replaced by Set
	subs    map[chan failover.Event]struct{}
}

func newTestSource(snap failover.Snapshot) *testSource {
	return &testSource{snap: snap, changed: make(chan struct{}), subs: make(map[chan failover.Event]struct{})}
}

func (s *testSource) Watch() (failover.Snapshot, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloneLocked(), s.changed
}

func (s *testSource) Snapshot() failover.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloneLocked()
}

// cloneLocked copies the snapshot; s.mu is held.
func (s *testSource) cloneLocked() failover.Snapshot {
	c := s.snap
	c.Replicas = slices.Clone(c.Replicas)
	c.Sentinels = slices.Clone(c.Sentinels)
	return c
}

func (s *testSource) Subscribe() (<-chan failover.Event, func()) {
	ch := make(chan failover.Event, 4096)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

// Set changes the snapshot.
func (s *testSource) Set(f func(*failover.Snapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.snap)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Publish delivers ev to every subscriber.
func (s *testSource) Publish(ev failover.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for ch := range s.subs {
		ch <- ev
	}
}

// waitSubscribers waits until n consumers have subscribed, so that events
// published afterwards reach them.
func (s *testSource) waitSubscribers(t testing.TB, n int) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.subs) < n {
			return fmt.Errorf("%d subscribers, want %d", len(s.subs), n)
		}
		return nil
	})
}

// node describes a reachable, synced node at addr.
func node(name, addr string, role monitor.Role) failover.Node {
	return failover.Node{
		Name: name, Addr: addr, Role: role, Reachable: true, LinkUp: role == monitor.RoleReplica,
		Synced: role == monitor.RoleReplica, Priority: 100, Member: "alive", LastSeen: time.Now(),
	}
}

// snapshotOf is a writable group with primary p and replicas rs, seen from
// sidecar "a", with two other sidecars.
func snapshotOf(p failover.Node, rs ...failover.Node) failover.Snapshot {
	return failover.Snapshot{
		MasterName: "mymaster", Self: "a", Epoch: 3, Primary: p, Replicas: rs,
		Sentinels: []failover.Node{
			{Name: "b", SentinelAddr: "127.0.0.1:1", Member: "alive"},
			{Name: "c", SentinelAddr: "127.0.0.1:2", Member: "alive"},
		},
		Quorum: 2, DownAfter: 5 * time.Second, ParallelSyncs: 1, Writable: p.Addr != "",
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testSentinelConfig listens on a free loopback port.
func testSentinelConfig() SentinelConfig {
	cfg := DefaultSentinelConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	return cfg
}

// startSentinel runs an endpoint until the test ends and returns it, its
// address and its registry.
func startSentinel(t testing.TB, cfg SentinelConfig, masterName string, src *testSource, opts ...SentinelOption) (*Sentinel, string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := NewSentinel(cfg, masterName, "a", src, testLogger(t), reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sentinel run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("sentinel did not stop within 10s")
		}
	})
	src.waitSubscribers(t, 1)
	return s, s.Addr().String(), reg
}

// respConn is a raw RESP client for exact reply shapes.
type respConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
}

func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// do sends a command and reads one reply.
func (r *respConn) do(args ...string) any {
	r.t.Helper()
	r.send(args...)
	return r.read()
}

func (r *respConn) send(args ...string) {
	r.t.Helper()
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.write(b)
}

func (r *respConn) write(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *respConn) read() any {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	v, err := readRESP(r.rd)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return v
}

// respError is an error reply.
type respError string

// nullArray and nullBulk are RESP2's two nulls.
type (
	nullArray struct{}
	nullBulk  struct{}
)

// RESP3 types: a map keeps its pairs in order (key, value, key, value...);
// null is _, a push is >, a set is ~, verbatim is = (its "txt:" prefix
// kept, so a test sees the exact format).
type (
	respMap      []any
	respPush     []any
	respSet      []any
	respNull     struct{}
	respVerbatim string
)

// readRESP parses one RESP2 or RESP3 reply: simple strings as string,
// errors as respError, integers as int64, bulk strings as string, arrays
// as []any, and the RESP3 types above.
func readRESP(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n == -1 {
			return nullBulk{}, nil
		}
		if n < 0 {
			return nil, fmt.Errorf("bad bulk length %d", n)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(buf, []byte("\r\n")) {
			return nil, errors.New("bulk not terminated by CRLF")
		}
		return string(buf[:n]), nil
	case '_':
		if body != "" {
			return nil, fmt.Errorf("bad null %q", line)
		}
		return respNull{}, nil
	case '=':
		n, err := strconv.Atoi(body)
		if err != nil || n < 4 {
			return nil, fmt.Errorf("bad verbatim length %q", body)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(buf, []byte("\r\n")) || buf[3] != ':' {
			return nil, errors.New("bad verbatim string")
		}
		return respVerbatim(buf[:n]), nil
	case '%', '>', '~', '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n == -1 && line[0] == '*' {
			return nullArray{}, nil
		}
		if line[0] == '%' {
			n *= 2
		}
		if n < 0 {
			return nil, fmt.Errorf("bad array length %d", n)
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readRESP(rd)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		switch line[0] {
		case '%':
			return respMap(out), nil
		case '>':
			return respPush(out), nil
		case '~':
			return respSet(out), nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply type %q", line[0])
}

// fieldMap turns a flat key/value array reply into a map.
func fieldMap(t testing.TB, v any) map[string]string {
	t.Helper()
	if m, ok := v.(respMap); ok {
		v = []any(m)
	}
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		t.Fatalf("not a flat key/value array: %#v", v)
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m
}

// counterValue reads a counter or gauge from reg.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// lintMetrics fails the test on any metric lint problem.
func lintMetrics(t testing.TB, reg *prometheus.Registry) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
}

// waitGoroutines polls until the goroutine count is back to at most max.
func waitGoroutines(t testing.TB, max int) {
	t.Helper()
	redistest.Eventually(t, 10*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > max {
			return fmt.Errorf("%d goroutines, want at most %d", n, max)
		}
		return nil
	})
}
