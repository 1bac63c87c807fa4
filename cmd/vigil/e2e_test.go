package main

// Client-redirect acceptance tests (issue 4): three real redis-server
// processes, three whole in-process `vigil run` sidecars, and the clients
// users run unchanged — go-redis's failover client, redis-py's Sentinel, a
// raw +switch-master subscriber, a plain client through the proxy — around
// a SIGKILL of the primary.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// e2eFlags shortens the timings so that a failover takes a couple of
// seconds, with room for two busy cores under -race.
func e2eFlags() []string {
	return []string{
		"--log.level", "info", // debug logs every probe; info keeps a failure's log tail readable
		"--monitor.timeout", "200ms", // generous for a loaded machine
		"--failover.down_after", "1s", // detect a dead primary within a second
		"--failover.fence_after", "500ms", // must stay below down_after
		"--failover.max_failovers", "0", // tests fail over back to back
		"--failover.stabilization", "1s", // joiners vote soon
		"--failover.raft_heartbeat_timeout", "400ms", // room for two busy cores under -race
		"--failover.raft_election_timeout", "400ms",
		"--failover.raft_leader_lease_timeout", "300ms",
		"--gossip.probe_interval", "100ms",
		"--gossip.probe_timeout", "50ms",
		"--gossip.gossip_interval", "20ms",
		"--gossip.push_pull_interval", "1s",
		"--gossip.tcp_timeout", "1s",
		"--gossip.rejoin_interval", "200ms",
		"--gossip.settle_timeout", "2s", // the default 5s would dominate start-up
	}
}

// e2eNode is one redis-server and the sidecar beside it.
type e2eNode struct {
	name  string
	redis *redistest.Server
	sc    *sidecarUnderTest
}

// e2eGroup is a three-node group: a is the primary, b and c its replicas.
type e2eGroup struct {
	t      *testing.T
	nodes  []*e2eNode
	ports  []int    // the sidecars' gossip ports, by node (newE2EGroup)
	join   []string // gossip.join naming them all
	mu     sync.Mutex
	killed map[string]bool
}

// newE2ERedis starts the group's three redis-servers, a primary and two
// replicas of it, and returns once both replicas acknowledge the
// replication stream; the sidecars are the caller's.
func newE2ERedis(t *testing.T) *e2eGroup {
	t.Helper()
	g := &e2eGroup{t: t, killed: map[string]bool{}}
	for i, name := range []string{"a", "b", "c"} {
		opts := redistest.Options{}
		if i > 0 {
			opts.ReplicaOf = g.nodes[0].redis.Addr()
		}
		g.nodes = append(g.nodes, &e2eNode{name: name, redis: redistest.Start(t, opts)})
	}
	for _, n := range g.nodes[1:] {
		n.redis.WaitSynced(t)
	}
	// Link up is not enough: after a diskless full sync Redis 7.0 starts
	// streaming to a replica only at its next REPLCONF ACK (up to a
	// second later when the first ACK beat the end of the RDB child), and
	// writes acknowledged before that are lost with the primary. WAIT
	// returns once both replicas have acknowledged the stream.
	redistest.Eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c := g.nodes[0].redis.Client()
		if err := c.Set(ctx, "e2e:streaming", "1", 0).Err(); err != nil {
			return err
		}
		n, err := c.Wait(ctx, 2, 2*time.Second).Result()
		if err == nil && n != 2 {
			err = fmt.Errorf("WAIT: %d of 2 replicas acknowledged", n)
		}
		return err
	})
	return g
}

// newE2EGroup starts the three redis-servers and their sidecars (with
// e2eFlags plus flags(name), when flags is not nil) and waits until every
// sidecar follows a as the writable primary.
func newE2EGroup(t *testing.T, flags func(name string) []string) *e2eGroup {
	t.Helper()
	g := newE2ERedis(t)
	g.ports, g.join = gossipPorts(t, len(g.nodes))
	for i, n := range g.nodes {
		extra := e2eFlags()
		if flags != nil {
			extra = append(extra, flags(n.name)...)
		}
		n.sc = startSidecar(t, n.name, n.redis, g.join, g.ports[i], extra...)
	}
	if st := g.waitConverged(20*time.Second, ""); st.Topology.Primary.Name != "a" {
		t.Fatalf("group converged on %s, want a", st.Topology.Primary.Name)
	}
	return g
}

// gossipPorts picks n free loopback ports for the sidecars' gossip and
// returns them with the join list naming them all.
func gossipPorts(t *testing.T, n int) (ports []int, join []string) {
	t.Helper()
	for range n {
		p := redistest.FreePort(t, "127.0.0.1")
		ports = append(ports, p)
		join = append(join, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return ports, join
}

func (g *e2eGroup) node(name string) *e2eNode {
	for _, n := range g.nodes {
		if n.name == name {
			return n
		}
	}
	g.t.Fatalf("no node %q", name)
	return nil
}

func (g *e2eGroup) sentinelAddrs() []string {
	var addrs []string
	for _, n := range g.nodes {
		addrs = append(addrs, n.sc.sentinel)
	}
	return addrs
}

// kill SIGKILLs the Redis of node name and returns when it happened.
func (g *e2eGroup) kill(name string) time.Time {
	g.t.Helper()
	n := g.node(name)
	g.mu.Lock()
	g.killed[name] = true
	g.mu.Unlock()
	at := time.Now()
	n.redis.Kill(g.t)
	return at
}

// describe names every node's Redis address, for failure messages.
func (g *e2eGroup) describe() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var parts []string
	for _, n := range g.nodes {
		s := n.name + "=" + n.redis.Addr()
		if g.killed[n.name] {
			s += " (killed)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (g *e2eGroup) alive() []*e2eNode {
	g.mu.Lock()
	defer g.mu.Unlock()
	var live []*e2eNode
	for _, n := range g.nodes {
		if !g.killed[n.name] {
			live = append(live, n)
		}
	}
	return live
}

// status reads GET /v1/status.
func (s *sidecarUnderTest) status() (Status, error) {
	code, body, err := s.do(http.MethodGet, "/v1/status")
	if err != nil {
		return Status{}, err
	}
	if code != http.StatusOK {
		return Status{}, fmt.Errorf("%s /v1/status: %d %s", s.name, code, body)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return Status{}, fmt.Errorf("%s /v1/status: %w", s.name, err)
	}
	return st, nil
}

// redisRole is what ROLE says about one Redis: "master", or "slave" with
// the address it replicates and its link state.
type redisRole struct {
	role, master, state string
}

func roleOf(r *redistest.Server) (redisRole, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := r.Client().Do(ctx, "ROLE").Slice()
	if err != nil {
		return redisRole{}, fmt.Errorf("ROLE %s: %w", r.Addr(), err)
	}
	rr := redisRole{role: fmt.Sprint(v[0])}
	if rr.role == "slave" && len(v) >= 4 {
		rr.master = net.JoinHostPort(fmt.Sprint(v[1]), fmt.Sprint(v[2]))
		rr.state = fmt.Sprint(v[3])
	}
	return rr, nil
}

// realTopology asks every live Redis its ROLE: the primary's address and
// the sorted addresses of the connected replicas following it. It fails
// unless exactly one live Redis is a primary.
func (g *e2eGroup) realTopology() (primary *e2eNode, replicas []string, err error) {
	roles := map[string]redisRole{}
	for _, n := range g.alive() {
		rr, err := roleOf(n.redis)
		if err != nil {
			return nil, nil, err
		}
		roles[n.name] = rr
		if rr.role == "master" {
			if primary != nil {
				return nil, nil, fmt.Errorf("two primaries: %s and %s", primary.name, n.name)
			}
			primary = n
		}
	}
	if primary == nil {
		return nil, nil, fmt.Errorf("no live Redis is a primary: %v", roles)
	}
	for _, n := range g.alive() {
		if rr := roles[n.name]; n != primary {
			if rr.master != primary.redis.Addr() || rr.state != "connected" {
				return nil, nil, fmt.Errorf("%s is %+v, want a connected replica of %s", n.name, rr, primary.redis.Addr())
			}
			replicas = append(replicas, n.redis.Addr())
		}
	}
	slices.Sort(replicas)
	return primary, replicas, nil
}

// waitConverged polls until every sidecar reports the same epoch and the
// same writable primary (not named not), that primary's Redis is the only
// live primary, and every other live Redis follows it. It returns the
// primary's sidecar status.
func (g *e2eGroup) waitConverged(timeout time.Duration, not string) Status {
	g.t.Helper()
	var out Status
	redistest.Eventually(g.t, timeout, func() error {
		var first Status
		for i, n := range g.nodes {
			st, err := n.sc.status()
			if err != nil {
				return err
			}
			tp := st.Topology
			switch {
			case tp.Primary.Name == "" || tp.Primary.Name == not:
				return fmt.Errorf("%s: primary %q", n.name, tp.Primary.Name)
			case !tp.Writable:
				return fmt.Errorf("%s: primary %s not writable", n.name, tp.Primary.Name)
			case tp.InFailover:
				return fmt.Errorf("%s: failover in progress", n.name)
			case i > 0 && (tp.Epoch != first.Topology.Epoch || tp.Primary.Name != first.Topology.Primary.Name):
				return fmt.Errorf("%s: epoch %d primary %s; %s: epoch %d primary %s", n.name, tp.Epoch, tp.Primary.Name,
					g.nodes[0].name, first.Topology.Epoch, first.Topology.Primary.Name)
			}
			if i == 0 {
				first = st
			}
		}
		primary, _, err := g.realTopology()
		if err != nil {
			return err
		}
		if primary.name != first.Topology.Primary.Name {
			return fmt.Errorf("sidecars say %s, ROLE says %s", first.Topology.Primary.Name, primary.name)
		}
		out, err = primary.sc.status()
		return err
	})
	return out
}

// writer writes unique keys every few milliseconds and records every
// acknowledged one.
type writer struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	acked   []ack
	errs    int
	lastErr error
}

type ack struct {
	key, val string
	at       time.Time
}

func startWriter(t *testing.T, c redis.Cmdable, prefix string) *writer {
	return startWriterWith(t, c, prefix, 2*time.Second)
}

// startWriterWith is startWriter with each SET bounded by timeout (a
// writer waiting on a stalled Redis needs longer).
func startWriterWith(t *testing.T, c redis.Cmdable, prefix string, timeout time.Duration) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			key, val := fmt.Sprintf("%s:%06d", prefix, i), strconv.Itoa(i)
			wctx, wcancel := context.WithTimeout(ctx, timeout)
			err := c.Set(wctx, key, val, 0).Err()
			wcancel()
			now := time.Now()
			w.mu.Lock()
			switch {
			case err == nil:
				w.acked = append(w.acked, ack{key: key, val: val, at: now})
			case ctx.Err() == nil:
				w.errs++
				w.lastErr = err
			}
			w.mu.Unlock()
			t := time.NewTimer(3 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// stop ends the writer and waits for it.
func (w *writer) stop() {
	w.cancel()
	<-w.done
}

// stopWriters stops ws and returns every write they had acknowledged.
func stopWriters(ws []*writer) []ack {
	var all []ack
	for _, w := range ws {
		w.stop()
		all = append(all, w.acked...)
	}
	return all
}

// waitAcked polls until n writes were acknowledged after since.
func (w *writer) waitAcked(t *testing.T, timeout time.Duration, since time.Time, n int) {
	t.Helper()
	redistest.Eventually(t, timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		got := 0
		for _, a := range w.acked {
			if a.at.After(since) {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d writes acknowledged since %s, want %d (%d errors, last %v)",
				got, since.Format("15:04:05.000"), n, w.errs, w.lastErr)
		}
		return nil
	})
}

// report returns the acknowledged writes, the errors seen, and the longest
// gap between two consecutive acknowledgements: the window in which the
// client could not write.
func (w *writer) report() (acked []ack, errs int, gap time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 1; i < len(w.acked); i++ {
		gap = max(gap, w.acked[i].at.Sub(w.acked[i-1].at))
	}
	return slices.Clone(w.acked), w.errs, gap
}

// missing returns the acknowledged writes that r does not hold with their
// value.
func missing(t *testing.T, r *redistest.Server, acked []ack) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lost []string
	for chunk := range slices.Chunk(acked, 500) {
		keys := make([]string, len(chunk))
		for i, a := range chunk {
			keys[i] = a.key
		}
		vals, err := r.Client().MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("MGET on %s: %v", r.Addr(), err)
		}
		for i, a := range chunk {
			if s, ok := vals[i].(string); !ok || s != a.val {
				lost = append(lost, fmt.Sprintf("%s=%s (have %v)", a.key, a.val, vals[i]))
			}
		}
	}
	return lost
}

// An unmodified go-redis failover client, given the three sidecars as its
// sentinels, keeps writing through a SIGKILL of the primary: writes resume
// on the promoted replica and no acknowledged write is lost. Afterwards
// every sidecar reports the same epoch and primary, and `vigil history`
// lists the failover.
func TestE2EFailoverClientKeepsAcknowledgedWrites(t *testing.T) {
	g := newE2EGroup(t, nil)
	before, err := g.node("a").sc.status()
	if err != nil {
		t.Fatal(err)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: g.sentinelAddrs(),
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
	})
	t.Cleanup(func() { fc.Close() })
	w := startWriter(t, fc, "fc")
	w.waitAcked(t, 10*time.Second, time.Time{}, 100)

	killed := g.kill("a")
	w.waitAcked(t, 20*time.Second, killed, 100)
	w.stop()
	acked, errs, gap := w.report()

	after := g.waitConverged(15*time.Second, "a")
	tp := after.Topology
	if tp.Epoch <= before.Topology.Epoch {
		t.Errorf("epoch %d after the failover, %d before", tp.Epoch, before.Topology.Epoch)
	}
	newp := g.node(tp.Primary.Name)
	var afterKill int
	for _, a := range acked {
		if a.at.After(killed) {
			afterKill++
		}
	}
	t.Logf("%d writes acknowledged (%d after the kill), %d client errors; longest client-visible gap %v; new primary %s at epoch %d",
		len(acked), afterKill, errs, gap.Round(time.Millisecond), newp.name, tp.Epoch)
	if lost := missing(t, newp.redis, acked); len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes missing on the new primary %s, e.g. %v",
			len(lost), len(acked), newp.name, lost[:min(5, len(lost))])
	}

	// Every sidecar — the dead primary's too — agrees, and lists the
	// failover in its history.
	want := failover.HistoryEntry{Epoch: tp.Epoch, Old: "a", New: newp.name, Reason: failover.ReasonAuto, Result: "success"}
	for _, n := range g.nodes {
		st, err := n.sc.status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Topology.Epoch != tp.Epoch || st.Topology.Primary.Name != newp.name || st.Topology.Primary.Addr != newp.redis.Addr() {
			t.Errorf("%s /v1/status: epoch %d primary %s %s, want epoch %d primary %s %s", n.name,
				st.Topology.Epoch, st.Topology.Primary.Name, st.Topology.Primary.Addr, tp.Epoch, newp.name, newp.redis.Addr())
		}
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"history", "-o", "json", "--addr", n.sc.http}, nil, &stdout, &stderr); err != nil {
			t.Fatalf("vigil history --addr %s: %v\n%s", n.sc.http, err, stderr.String())
		}
		var h []failover.HistoryEntry
		if err := json.Unmarshal(stdout.Bytes(), &h); err != nil {
			t.Fatalf("vigil history output %q: %v", stdout.String(), err)
		}
		if len(h) == 0 {
			t.Errorf("%s: vigil history is empty", n.name)
			continue
		}
		got := h[len(h)-1]
		got.Start, got.Duration = time.Time{}, 0
		// The fork point is the divergent-writes test's to check.
		got.ForkReplID, got.ForkOffset, got.NewReplID = "", 0, ""
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: last vigil history entry (-got +want):\n%s", n.name, diff)
		}
		// One kill, one failover: a second promotion would have thrown
		// away what the first one's primary acknowledged.
		var auto []string
		for _, e := range h {
			if e.Reason == failover.ReasonAuto {
				auto = append(auto, fmt.Sprintf("epoch %d %s->%s %s", e.Epoch, e.Old, e.New, e.Result))
			}
		}
		if len(auto) != 1 {
			t.Errorf("%s: %d automatic failovers for one kill: %v", n.name, len(auto), auto)
		}
	}
}

// pyDiscoverAll asks each sentinel given on the command line, one at a
// time, for the primary and the replicas, as redis-py applications do.
const pyDiscoverAll = `
import json, sys
from redis.sentinel import Sentinel
out = []
for port in sys.argv[1:]:
    s = Sentinel([('127.0.0.1', int(port))], socket_timeout=1)
    m = s.discover_master('mymaster')
    sl = sorted('%s:%d' % (h, p) for h, p in s.discover_slaves('mymaster'))
    out.append({'sentinel': port, 'master': '%s:%d' % m, 'slaves': sl})
print(json.dumps(out))
`

// systemPython finds a python3 with redis-py (Debian's python3-redis is in
// /usr/bin/python3, which a pyenv shim first on PATH may hide). Without one
// the test is skipped, saying why, except in CI as root, where `make deps`
// installs python3-redis: a missing client there would silently drop the
// redis-py checks, so it fails.
func systemPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import redis.sentinel").Run() == nil {
			return p
		}
	}
	const why = "no python3 with redis-py (Debian package python3-redis; `make deps` installs it)"
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		t.Fatal(why + ": required with CI=true as root")
	}
	t.Skip(why)
	return ""
}

type pyView struct {
	Sentinel string   `json:"sentinel"`
	Master   string   `json:"master"`
	Slaves   []string `json:"slaves"`
}

// wantPyView polls until redis-py, asking each sidecar, sees the real
// topology (ROLE of every live Redis).
func (g *e2eGroup) wantPyView(t *testing.T, py string) {
	t.Helper()
	var ports []string
	for _, a := range g.sentinelAddrs() {
		_, p, _ := net.SplitHostPort(a)
		ports = append(ports, p)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		primary, replicas, err := g.realTopology()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, append([]string{"-c", pyDiscoverAll}, ports...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("python: %v\n%s", err, out)
		}
		var got []pyView
		if err := json.Unmarshal(out, &got); err != nil {
			return fmt.Errorf("python output %q: %w", out, err)
		}
		var want []pyView
		for _, p := range ports {
			want = append(want, pyView{Sentinel: p, Master: primary.redis.Addr(), Slaves: replicas})
		}
		if diff := cmp.Diff(got, want); diff != "" {
			return fmt.Errorf("redis-py discovery (-got +want):\n%s\nnodes: %s", diff, g.describe())
		}
		return nil
	})
}

// redis-py's Sentinel support finds the primary (SENTINEL MASTERS) and the
// live replicas (SENTINEL SLAVES, without s_down/o_down ones) through every
// sidecar, before and after a failover.
func TestE2ERedisPyDiscovery(t *testing.T) {
	py := systemPython(t)
	g := newE2EGroup(t, nil)
	g.wantPyView(t, py)

	g.kill("a")
	g.waitConverged(15*time.Second, "a")
	g.wantPyView(t, py)
}

// readRESP reads one RESP2 value: strings (simple and bulk) as string,
// integers as int64, arrays as []any, errors as error, nulls as nil.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("resp: empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return errors.New(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("resp: unexpected line %q", line)
}

// message is one pub/sub message payload and when it was read.
type message struct {
	payload string
	at      time.Time
}

// subscribeSwitch subscribes to +switch-master on a Sentinel endpoint with
// raw RESP and delivers each message on the returned channel.
func subscribeSwitch(t *testing.T, addr string) <-chan message {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	v, err := readRESP(r)
	if err != nil {
		t.Fatalf("subscribe on %s: %v", addr, err)
	}
	if diff := cmp.Diff(v, []any{"subscribe", "+switch-master", int64(1)}); diff != "" {
		t.Fatalf("subscribe reply from %s (-got +want):\n%s", addr, diff)
	}
	_ = c.SetReadDeadline(time.Time{})
	msgs := make(chan message, 16)
	go func() {
		defer close(msgs)
		for {
			v, err := readRESP(r)
			if err != nil {
				return
			}
			m := message{payload: fmt.Sprintf("unexpected %#v", v), at: time.Now()}
			if a, ok := v.([]any); ok && len(a) == 3 && a[0] == "message" && a[1] == "+switch-master" {
				if s, ok := a[2].(string); ok {
					m.payload = s
				}
			}
			msgs <- m
		}
	}()
	return msgs
}

// receiveUntil receives from ch, preferring a waiting message over an
// expired deadline.
func receiveUntil(ch <-chan message, deadline time.Time) (m message, ok, timedOut bool) {
	select {
	case m, ok = <-ch:
		return m, ok, false
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case m, ok = <-ch:
		return m, ok, false
	case <-t.C:
		return message{}, false, true
	}
}

// Every sidecar's endpoint publishes exactly one +switch-master for a
// failover, with Sentinel's five fields naming the old and the new primary.
func TestE2ESwitchMasterMessage(t *testing.T) {
	g := newE2EGroup(t, nil)
	subs := map[string]<-chan message{}
	for _, n := range g.nodes {
		subs[n.name] = subscribeSwitch(t, n.sc.sentinel)
	}
	old := g.node("a").redis
	killed := g.kill("a")
	st := g.waitConverged(15*time.Second, "a")
	converged := time.Since(killed)
	newp := g.node(st.Topology.Primary.Name).redis
	want := []string{fmt.Sprintf("mymaster %s %d %s %d", old.Host(), old.Port(), newp.Host(), newp.Port())}

	// Keep listening past convergence for longer than the cooldown, so a
	// second message for the same failover would be caught.
	hold := time.Now().Add(2 * time.Second)
	got := map[string][]string{}
	for _, n := range g.nodes {
		var first time.Time
		for {
			m, ok, timedOut := receiveUntil(subs[n.name], hold)
			if timedOut {
				break
			}
			if !ok {
				t.Errorf("%s's subscription closed", n.name)
				break
			}
			got[n.name] = append(got[n.name], m.payload)
			if first.IsZero() {
				first = m.at
			}
		}
		if !first.IsZero() {
			t.Logf("%s's endpoint published +switch-master %v after the kill (convergence seen by polling after %v)",
				n.name, first.Sub(killed).Round(time.Millisecond), converged.Round(time.Millisecond))
		}
	}
	for _, n := range g.nodes {
		if diff := cmp.Diff(got[n.name], want); diff != "" {
			t.Errorf("+switch-master messages on %s's endpoint (-got +want):\n%s", n.name, diff)
		}
		for _, m := range got[n.name] {
			if f := strings.Split(m, " "); len(f) != 5 {
				t.Errorf("%s: %q has %d space-separated fields, want 5", n.name, m, len(f))
			}
		}
	}
}

// probeRefused connects to addr, sends PING and reports how long it took
// until the connection was refused, reset or closed, and with what error.
// A reply or a timeout is not a refusal and comes back as an error from
// the second result.
func probeRefused(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			return time.Since(start), nil
		}
		return time.Since(start), fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(3 * time.Second))
	_, _ = io.WriteString(c, "*1\r\n$4\r\nPING\r\n")
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	took := time.Since(start)
	switch {
	case n > 0:
		return took, fmt.Errorf("got a reply %q: the connection was forwarded", buf[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return took, nil
	}
	return took, fmt.Errorf("not refused: %w", err)
}

// A plain client (no Sentinel support) pointed at a sidecar's proxy keeps
// writing across a failover; while no primary is writable a new proxy
// connection is refused at once rather than left hanging.
func TestE2EProxyFollowsPrimary(t *testing.T) {
	proxies := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		proxies[n] = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	}
	g := newE2EGroup(t, func(name string) []string {
		return []string{"--proxy.listen_addr", proxies[name]}
	})
	// The old primary's own sidecar is the hard case: it knows of the new
	// primary only through gossip.
	via := g.node("a").sc
	client := redis.NewClient(&redis.Options{
		Addr:         via.proxy,
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	w := startWriter(t, client, "proxy")
	w.waitAcked(t, 10*time.Second, time.Time{}, 50)

	killed := g.kill("a")
	// Within down_after nothing is writable: a new connection must fail
	// fast (refused because no primary is writable, or because the dead
	// primary refuses the proxy's dial).
	took, err := probeRefused(via.proxy)
	if err != nil {
		t.Errorf("proxy connection right after the kill: %v after %v", err, took)
	}
	t.Logf("proxy connection right after the kill refused in %v", took.Round(time.Microsecond))
	if took > time.Second {
		t.Errorf("refusal took %v, want under 1s", took)
	}

	w.waitAcked(t, 20*time.Second, killed, 50)
	w.stop()
	acked, errs, gap := w.report()
	st := g.waitConverged(15*time.Second, "a")
	newp := g.node(st.Topology.Primary.Name)
	t.Logf("through the proxy: %d writes acknowledged, %d client errors, longest client-visible gap %v; new primary %s",
		len(acked), errs, gap.Round(time.Millisecond), newp.name)
	if lost := missing(t, newp.redis, acked); len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes missing on the new primary %s, e.g. %v",
			len(lost), len(acked), newp.name, lost[:min(5, len(lost))])
	}

	// With failover paused, killing the new primary leaves no writable
	// primary for good: every new connection is refused at once.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"pause", "--addr", via.http}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("vigil pause: %v\n%s", err, stderr.String())
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		for _, n := range g.nodes {
			st, err := n.sc.status()
			if err != nil {
				return err
			}
			if !st.Topology.Paused {
				return fmt.Errorf("%s not paused", n.name)
			}
		}
		return nil
	})
	g.kill(newp.name)
	redistest.Eventually(t, 5*time.Second, func() error {
		st, err := via.status()
		if err != nil {
			return err
		}
		if st.Topology.Writable {
			return fmt.Errorf("%s still believes %s writable", via.name, st.Topology.Primary.Name)
		}
		return nil
	})
	var worst time.Duration
	for i := range 5 {
		took, err := probeRefused(via.proxy)
		if err != nil {
			t.Errorf("probe %d while no primary is writable: %v after %v", i, err, took)
		}
		worst = max(worst, took)
	}
	start := time.Now()
	perr := client.Ping(context.Background()).Err()
	pingTook := time.Since(start)
	t.Logf("no writable primary: raw connections refused within %v (worst of 5); go-redis PING failed in %v with %v",
		worst.Round(time.Microsecond), pingTook.Round(time.Microsecond), perr)
	if worst > time.Second {
		t.Errorf("refusal took %v, want under 1s", worst)
	}
	if perr == nil {
		t.Error("go-redis PING through the proxy succeeded with no writable primary")
	}
}

// hookScript records every hook run as one line, "hook=<name>" then the
// VIGIL_* variables, in the log file given as $2; pre_promote vetoes the
// candidate named $3.
const hookScript = `#!/bin/sh
line="hook=$1 $(env | grep '^VIGIL_' | sort | tr '\n' ' ')"
printf '%s\n' "$line" >> "$2"
if [ "$1" = pre_promote ] && [ "$VIGIL_NODE" = "$3" ]; then
	exit 1
fi
exit 0
`

// poll calls cond every 10ms until it returns nil or timeout has passed,
// and returns its last error: a non-fatal redistest.Eventually.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hookRun is one recorded hook run.
type hookRun map[string]string

// hookRuns reads the runs recorded in path.
func hookRuns(path string) ([]hookRun, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []hookRun
	for line := range strings.Lines(string(b)) {
		r := hookRun{}
		for f := range strings.FieldsSeq(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				r[k] = v
			}
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func runsOf(runs []hookRun, hook string) []hookRun {
	var out []hookRun
	for _, r := range runs {
		if r["hook"] == hook {
			out = append(out, r)
		}
	}
	return out
}

// A pre_promote hook that vetoes the best candidate makes vigil promote
// the other replica; on_role_change and post_failover run with the
// failover's VIGIL_* variables.
func TestE2EHooks(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte(hookScript), 0o700); err != nil {
		t.Fatal(err)
	}
	logOf := func(name string) string { return filepath.Join(dir, name+".log") }
	hook := func(name, hook string) string {
		return fmt.Sprintf("/bin/sh '%s' %s '%s' b", script, hook, logOf(name))
	}
	g := newE2EGroup(t, func(name string) []string {
		flags := []string{
			"--hooks.pre_promote", hook(name, "pre_promote"),
			"--hooks.on_role_change", hook(name, "on_role_change"),
			"--hooks.post_failover", hook(name, "post_failover"),
			"--hooks.timeout", "5s",
		}
		if name == "b" {
			// b is the best candidate: only the veto keeps it from
			// being promoted.
			flags = append(flags, "--redis.priority", "10")
		}
		return flags
	})
	a, b, c := g.node("a").redis, g.node("b").redis, g.node("c").redis

	g.kill("a")
	st := g.waitConverged(15*time.Second, "a")
	if got := st.Topology.Primary.Name; got != "c" {
		t.Fatalf("promoted %s, want c (b is vetoed by hooks.pre_promote)", got)
	}
	epoch := strconv.FormatUint(st.Topology.Epoch, 10)

	// post_failover runs once on every sidecar; c's on_role_change says
	// it became the primary.
	want := map[string]map[string][]hookRun{
		"a": {"post_failover": {{"VIGIL_NODE": "a", "VIGIL_ROLE": "slave"}}},
		"b": {"post_failover": {{"VIGIL_NODE": "b", "VIGIL_ROLE": "slave"}}},
		"c": {
			"post_failover":  {{"VIGIL_NODE": "c", "VIGIL_ROLE": "master"}},
			"on_role_change": {{"VIGIL_NODE": "c", "VIGIL_ROLE": "master", "VIGIL_EVENT": "+promoted-slave"}},
		},
	}
	for _, hooks := range want {
		for _, runs := range hooks {
			for _, r := range runs {
				r["VIGIL_MASTER_NAME"] = "mymaster"
				r["VIGIL_OLD_PRIMARY"] = a.Addr()
				r["VIGIL_NEW_PRIMARY"] = c.Addr()
				r["VIGIL_EPOCH"] = epoch
			}
		}
	}
	// Compare only the variables named in want; the event of a
	// post_failover run may be +switch-master or +failover-end.
	pick := func(runs []hookRun, like []hookRun) []hookRun {
		var out []hookRun
		for i, r := range runs {
			keys := like[min(i, len(like)-1)]
			p := hookRun{}
			for k := range keys {
				p[k] = r[k]
			}
			out = append(out, p)
		}
		return out
	}
	var got map[string]map[string][]hookRun
	// Not fatal: the pre_promote checks below are worth reporting too.
	err := poll(10*time.Second, func() error {
		got = map[string]map[string][]hookRun{}
		for name, hooks := range want {
			runs, err := hookRuns(logOf(name))
			if err != nil {
				return err
			}
			got[name] = map[string][]hookRun{}
			for hook, like := range hooks {
				if r := runsOf(runs, hook); len(r) > 0 {
					got[name][hook] = pick(r, like)
				}
			}
		}
		if diff := cmp.Diff(got, want); diff != "" {
			return fmt.Errorf("hook runs (-got +want):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// b's pre_promote ran for b and vetoed it; c's allowed c. a's never
	// ran: a was the primary, not a candidate.
	for name, wantNode := range map[string]string{"a": "", "b": "b", "c": "c"} {
		runs, err := hookRuns(logOf(name))
		if err != nil {
			t.Fatal(err)
		}
		pre := runsOf(runs, "pre_promote")
		if wantNode == "" {
			if len(pre) > 0 {
				t.Errorf("%s ran pre_promote %d times, want none: %v", name, len(pre), pre)
			}
			continue
		}
		if len(pre) == 0 {
			t.Errorf("%s never ran pre_promote", name)
		}
		for _, r := range pre {
			if r["VIGIL_NODE"] != wantNode || r["VIGIL_NEW_PRIMARY"] != g.node(wantNode).redis.Addr() ||
				r["VIGIL_OLD_PRIMARY"] != a.Addr() || r["VIGIL_EVENT"] != "pre-promote" {
				t.Errorf("%s pre_promote run %v, want VIGIL_NODE=%s VIGIL_NEW_PRIMARY=%s VIGIL_OLD_PRIMARY=%s VIGIL_EVENT=pre-promote",
					name, r, wantNode, g.node(wantNode).redis.Addr(), a.Addr())
			}
		}
		t.Logf("%s: pre_promote ran %d times", name, len(pre))
	}
	if rr, err := roleOf(b); err != nil || rr.master != c.Addr() {
		t.Errorf("b after the failover: %+v %v, want a replica of c %s", rr, err, c.Addr())
	}
}
