//go:build linux

package netpart

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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// The timing the scenario runs with. fence_after < down_after is what lets
// the isolated side stop writes before the majority can promote.
const (
	interval   = 100 * time.Millisecond
	downAfter  = 3 * time.Second
	fenceAfter = 1 * time.Second
	// fenceSlack is what the isolated primary may take beyond fence_after
	// to pause writes: a few ticks, the CLIENT PAUSE round trip, and
	// scheduling on a busy CI machine. It keeps the fence well before
	// down_after, which is what the design promises.
	fenceSlack = time.Second
	// pollEvery is the write poller's period.
	pollEvery = 20 * time.Millisecond
	// writeTimeout bounds each polled write: a paused primary blocks
	// writes, and a write that times out was not accepted.
	writeTimeout = 100 * time.Millisecond
)

// node is one Redis server and its sidecar, all under one uid.
type node struct {
	name  string
	uid   int
	addr  string // 127.0.0.x
	dir   string
	redis string // addr:6379
	http  string // addr:9380
	rdb   *redis.Client
}

func (n *node) logTail(t *testing.T) {
	for _, f := range []string{"redis.log", "vigil.log"} {
		b, err := os.ReadFile(filepath.Join(n.dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		t.Logf("node %s %s (last %d lines):\n%s", n.name, f, len(lines), strings.Join(lines, "\n"))
	}
}

// TestRealPartition is the failover issue's acceptance (d) on a real
// network: partition the primary A from {B, C}; the majority promotes one of
// them, A's sidecar fences A within fence_after, no two nodes take writes at
// the same moment, and after the heal A follows the new primary and all
// three sidecars agree. With failover.divergent_writes replay, the writes A
// acknowledged after the cut are archived in order before its demotion and
// replayed: no acknowledged write is missing at the end.
func TestRealPartition(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install the Debian package redis-server (make deps)")
	}
	testStart := time.Now()

	base := t.TempDir()
	// The nodes run under their own uids: they must reach their
	// directories and the binary.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := buildVigil(t, base)

	names := []string{"a", "b", "c"}
	nodes := make([]*node, len(names))
	var uids []int
	var addrs []string
	for i, name := range names {
		addr := fmt.Sprintf("127.0.0.%d", i+2)
		n := &node{name: name, uid: 61001 + i, addr: addr, dir: filepath.Join(base, name),
			redis: addr + ":6379", http: addr + ":9380"}
		if err := os.Mkdir(n.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(n.dir, n.uid, n.uid); err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		uids = append(uids, n.uid)
		addrs = append(addrs, addr)
	}
	ns := newNetns(t, uids, addrs)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range nodes {
				n.logTail(t)
			}
		}
	})

	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: ns.dial}}
	t.Cleanup(hc.CloseIdleConnections)
	for _, n := range nodes {
		n.rdb = redis.NewClient(&redis.Options{
			Addr:            n.redis,
			Dialer:          ns.dial,
			DialTimeout:     writeTimeout,
			ReadTimeout:     writeTimeout,
			WriteTimeout:    writeTimeout,
			PoolTimeout:     writeTimeout,
			PoolSize:        16,
			MaxRetries:      -1,
			DisableIdentity: true,
		})
		t.Cleanup(func() { n.rdb.Close() })
	}

	// Redis: A primary, B and C its replicas, replicating from their own
	// addresses.
	for i, n := range nodes {
		args := []string{
			"--bind", n.addr, "--port", "6379", "--dir", n.dir,
			"--bind-source-addr", n.addr,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			// Protected mode would refuse replicas connecting from
			// 127.0.0.x other than 127.0.0.1.
			"--protected-mode", "no",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
		}
		if i > 0 {
			args = append(args, "--replicaof", nodes[0].addr, "6379")
		}
		ns.start(t, n.uid, createLog(t, n.dir, "redis.log"), "redis-server", args...)
	}
	eventually(t, 10*time.Second, "replicas synced with A", func() error {
		for _, n := range nodes[1:] {
			info, err := replInfo(n.rdb)
			if err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
				return fmt.Errorf("%s: link %q, sync in progress %q", n.name, info["master_link_status"], info["master_sync_in_progress"])
			}
		}
		return nil
	})

	// Sidecars.
	var join []string
	for _, n := range nodes {
		join = append(join, n.addr+":7946")
	}
	for _, n := range nodes {
		ns.start(t, n.uid, createLog(t, n.dir, "vigil.log"), bin, "run",
			"--node.name", n.name,
			"--node.data_dir", filepath.Join(n.dir, "vigil"),
			"--redis.addr", n.redis,
			"--gossip.bind_addr", n.addr+":7946",
			"--gossip.join", strings.Join(join, ","),
			"--gossip.encryption_key", "bmV0cGFydC10ZXN0LWdvc3NpcC1rZXktMzItYnl0ZXM=", // vigil run requires one
			"--sentinel.listen_addr", n.addr+":26379",
			"--http.listen_addr", n.http,
			"--monitor.interval", interval.String(),
			"--failover.quorum", "2",
			"--failover.down_after", downAfter.String(),
			"--failover.fence_after", fenceAfter.String(),
			// a's writes after the fork are kept and replayed on the
			// new primary (checked at the end).
			"--failover.divergent_writes", "replay",
			"--log.format", "json",
		)
	}
	var epoch0 uint64
	eventually(t, 20*time.Second, "sidecars agree on A as primary", func() error {
		sts, err := statuses(hc, nodes)
		if err != nil {
			return err
		}
		if err := agree(sts, "a", len(nodes)); err != nil {
			return err
		}
		for i, n := range nodes {
			if code, err := get(hc, n, "/-/ready"); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s not ready: %d %v", n.name, code, err)
			}
			if sts[i].Topology.Fenced {
				return fmt.Errorf("%s reports fenced", n.name)
			}
		}
		epoch0 = sts[0].Topology.Epoch
		return nil
	})
	t.Logf("group up after %s: epoch %d, primary a", time.Since(testStart).Round(time.Millisecond), epoch0)

	// The write poller runs until the end of the test.
	p := newPoller(nodes)
	pctx, stopPoll := context.WithCancel(context.Background())
	pollDone := make(chan struct{})
	go func() { p.run(pctx); close(pollDone) }()
	stopPoller := sync.OnceFunc(func() { stopPoll(); <-pollDone })
	t.Cleanup(stopPoller)
	eventually(t, 5*time.Second, "poller sees A take writes and B, C refuse them", func() error {
		return p.expectWritable(time.Time{}, 0)
	})

	// Partition {A} | {B, C}.
	cutStart := time.Now()
	ns.partition(t, 0)
	tPart := time.Now()
	t.Logf("partition {a} | {b, c} in place (iptables-restore took %s)", tPart.Sub(cutStart).Round(time.Millisecond))

	var (
		tFenced   time.Time // A's status first says fenced
		tPromoted time.Time // B's and C's statuses first agree on a new primary
		newIdx    = -1
		epoch1    uint64
	)
	eventually(t, downAfter+15*time.Second, "majority promotes B or C, A fenced", func() error {
		now := time.Now()
		if tFenced.IsZero() {
			if st, err := status(hc, nodes[0]); err == nil && st.Topology.Fenced {
				tFenced = now
			}
		}
		if tPromoted.IsZero() {
			sts, err := statuses(hc, nodes[1:])
			if err != nil {
				return err
			}
			prim := sts[0].Topology.Primary.Name
			if prim != "b" && prim != "c" {
				return fmt.Errorf("b names primary %q", prim)
			}
			if err := agree(sts, prim, 2); err != nil {
				return err
			}
			if sts[0].Topology.Epoch <= epoch0 {
				return fmt.Errorf("epoch %d, not past %d", sts[0].Topology.Epoch, epoch0)
			}
			tPromoted, epoch1 = now, sts[0].Topology.Epoch
			newIdx = slices.IndexFunc(nodes, func(n *node) bool { return n.name == prim })
		}
		if tFenced.IsZero() {
			return fmt.Errorf("a's sidecar does not report fenced")
		}
		// The test must see the new primary take writes: otherwise "no two
		// writable" below would hold vacuously.
		return p.expectWritable(tPromoted, newIdx)
	})
	tPolledNew := p.firstOK(newIdx, tPart)
	t.Logf("after the partition: a fenced (status) at +%s, %s promoted (epoch %d) at +%s, first write taken by %s at +%s",
		tFenced.Sub(tPart).Round(time.Millisecond), nodes[newIdx].name, epoch1,
		tPromoted.Sub(tPart).Round(time.Millisecond), nodes[newIdx].name, tPolledNew.Sub(tPart).Round(time.Millisecond))

	lastA := p.lastOK(0, tPart)
	if lastA.IsZero() {
		t.Logf("a took no write after the partition")
	} else {
		t.Logf("a took its last write at +%s", lastA.Sub(tPart).Round(time.Millisecond))
	}
	if got, limit := tFenced.Sub(tPart), fenceAfter+fenceSlack; got > limit {
		t.Errorf("a fenced %s after the partition, want within fence_after + slack = %s", got, limit)
	}
	if got, limit := lastA.Sub(tPart), fenceAfter+fenceSlack; got > limit {
		t.Errorf("a took a write %s after the partition, want none after fence_after + slack = %s", got, limit)
	}
	if !lastA.IsZero() && !lastA.Before(tPolledNew) {
		t.Errorf("a took a write at +%s, not before %s's first at +%s",
			lastA.Sub(tPart), nodes[newIdx].name, tPolledNew.Sub(tPart))
	}

	// Heal: A must follow the new primary, and all three agree.
	ns.heal(t)
	tHeal := time.Now()
	// While fenced, A blocks writes (CLIENT PAUSE WRITE): they time out.
	t.Logf("a's refused writes from its fence to the heal: %v", p.failures(0, lastA, tHeal))
	newPrim := nodes[newIdx]
	eventually(t, 20*time.Second, "a replicates from the new primary", func() error {
		info, err := replInfo(nodes[0].rdb)
		if err != nil {
			return err
		}
		if info["role"] != "slave" || info["master_host"] != newPrim.addr || info["master_link_status"] != "up" {
			return fmt.Errorf("a: role %q, master %s:%s, link %q", info["role"], info["master_host"], info["master_port"], info["master_link_status"])
		}
		return nil
	})
	tReplica := time.Now()
	eventually(t, 20*time.Second, "all sidecars agree on the new primary", func() error {
		sts, err := statuses(hc, nodes)
		if err != nil {
			return err
		}
		if err := agree(sts, newPrim.name, len(nodes)); err != nil {
			return err
		}
		for i, st := range sts {
			if st.Topology.Epoch < epoch1 {
				return fmt.Errorf("%s at epoch %d, before the failover's %d", nodes[i].name, st.Topology.Epoch, epoch1)
			}
			if st.Topology.Fenced {
				return fmt.Errorf("%s still fenced", nodes[i].name)
			}
		}
		return nil
	})
	tAgree := time.Now()
	eventually(t, 5*time.Second, "poller sees only the new primary take writes", func() error {
		return p.expectWritable(tAgree, newIdx)
	})
	t.Logf("after the heal: a is a replica of %s at +%s, all sidecars agree at +%s",
		newPrim.name, tReplica.Sub(tHeal).Round(time.Millisecond), tAgree.Sub(tHeal).Round(time.Millisecond))

	stopPoller()
	from := tPart.Add(fenceAfter + interval)
	if dual := p.dualWritable(from); len(dual) > 0 {
		for _, d := range dual {
			t.Errorf("two nodes took writes at the same moment, +%s after the partition: %s",
				d.at.Sub(tPart).Round(time.Millisecond), d.who)
		}
	} else {
		t.Logf("no dual-writable moment in %d poll rounds from partition + fence_after + interval to the end",
			p.roundsSince(from))
	}
	checkNothingLost(t, p, nodes, newPrim, tPart)
	t.Logf("total test time %s", time.Since(testStart).Round(time.Millisecond))
}

// checkNothingLost is the divergent-writes issue's acceptance on a real
// partition at min_replicas 0: every write a acknowledged after the cut is
// in an archive, byte for byte and in order, and after the replay no write
// any node acknowledged is missing from the new primary.
func checkNothingLost(t *testing.T, p *poller, nodes []*node, newPrim *node, tPart time.Time) {
	t.Helper()
	afterCut := p.acked(0, tPart)
	var archived []write
	var files []string
	for _, n := range nodes {
		paths, _ := filepath.Glob(filepath.Join(n.dir, "vigil", "divergent", "*.resp"))
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cmds, err := respCommands(b)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, c := range cmds {
				if len(c) == 3 && strings.EqualFold(c[0], "SET") {
					archived = append(archived, write{key: c[1], value: c[2]})
				}
			}
			files = append(files, path)
		}
	}
	// Each acknowledged write appears in the archive, in the order a
	// acknowledged them (archived may hold more: writes a took before the
	// cut that had not reached a replica yet).
	next := 0
	for _, w := range afterCut {
		i := slices.IndexFunc(archived[next:], func(a write) bool { return a.key == w.key })
		if i < 0 {
			t.Errorf("a acknowledged SET %s at +%s after the cut; it is not in the archives %v after the writes before it",
				w.key, w.at.Sub(tPart).Round(time.Millisecond), files)
			continue
		}
		if got := archived[next+i].value; got != w.value {
			t.Errorf("archive holds %s = %q, a acknowledged %q", w.key, got, w.value)
		}
		next += i + 1
	}
	t.Logf("a acknowledged %d writes after the cut; the archives %v hold %d SETs", len(afterCut), files, len(archived))

	all := p.acked(-1, time.Time{})
	eventually(t, 20*time.Second, "every acknowledged write on the new primary", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pipe := newPrim.rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(all))
		for i, w := range all {
			gets[i] = pipe.Get(ctx, w.key)
		}
		_, _ = pipe.Exec(ctx)
		var missing []string
		for i, w := range all {
			if v, err := gets[i].Result(); err != nil || v != w.value {
				missing = append(missing, fmt.Sprintf("%s (+%s)", w.key, w.at.Sub(tPart).Round(time.Millisecond)))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d acknowledged writes missing on %s: %v", len(missing), len(all), newPrim.name, missing[:min(len(missing), 10)])
		}
		return nil
	})
	t.Logf("all %d acknowledged writes are on the new primary %s", len(all), newPrim.name)
}

// respCommands splits an archive (RESP arrays of bulk strings, as
// redis-cli --pipe reads them) into commands.
func respCommands(b []byte) ([][]string, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if !strings.HasSuffix(s, "\r\n") {
			return "", fmt.Errorf("line %q does not end in CRLF", s)
		}
		return s[:len(s)-2], nil
	}
	// header reads a "<kind><n>" line.
	header := func(kind byte) (int, error) {
		h, err := line()
		if err != nil {
			return 0, err
		}
		if len(h) < 2 || h[0] != kind {
			return 0, fmt.Errorf("want a %q header, got %q", kind, h)
		}
		n, err := strconv.Atoi(h[1:])
		if err != nil {
			return 0, fmt.Errorf("header %q: %w", h, err)
		}
		return n, nil
	}
	var out [][]string
	for {
		n, err := header('*')
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		cmd := make([]string, n)
		for i := range cmd {
			l, err := header('$')
			if err != nil {
				return nil, err
			}
			buf := make([]byte, l+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, err
			}
			cmd[i] = string(buf[:l])
		}
		out = append(out, cmd)
	}
}

// buildVigil builds cmd/vigil into dir, readable and executable by the
// node uids.
func buildVigil(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "vigil")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/vigil-redis/vigil/cmd/vigil").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func createLog(t *testing.T, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// eventually polls fn every 50ms until it returns nil, failing the test
// with fn's last error after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replInfo returns INFO replication as a map.
func replInfo(c *redis.Client) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	return redistest.ParseInfo(s), nil
}

// statusBody is the part of GET /v1/status the test reads.
type statusBody struct {
	Node     string `json:"node"`
	Topology struct {
		Epoch   uint64 `json:"epoch"`
		Primary struct {
			Name string `json:"name"`
			Addr string `json:"addr"`
		} `json:"primary"`
		Fenced bool `json:"fenced"`
	} `json:"topology"`
	Members []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"members"`
}

func get(hc *http.Client, n *node, path string) (int, error) {
	resp, err := hc.Get("http://" + n.http + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func status(hc *http.Client, n *node) (statusBody, error) {
	var st statusBody
	resp, err := hc.Get("http://" + n.http + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s /v1/status: %s", n.name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("%s /v1/status: %w", n.name, err)
	}
	return st, nil
}

func statuses(hc *http.Client, nodes []*node) ([]statusBody, error) {
	var sts []statusBody
	for _, n := range nodes {
		st, err := status(hc, n)
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	return sts, nil
}

// agree reports why sts do not all name primary at one epoch, each seeing
// alive gossip members alive, or nil.
func agree(sts []statusBody, primary string, alive int) error {
	for _, st := range sts {
		if got := st.Topology.Primary.Name; got != primary {
			return fmt.Errorf("%s names primary %q, want %q", st.Node, got, primary)
		}
		if st.Topology.Epoch != sts[0].Topology.Epoch {
			return fmt.Errorf("%s at epoch %d, %s at %d", st.Node, st.Topology.Epoch, sts[0].Node, sts[0].Topology.Epoch)
		}
		n := 0
		for _, m := range st.Members {
			if m.State == "alive" {
				n++
			}
		}
		if n != alive {
			return fmt.Errorf("%s sees %d alive members, want %d: %+v", st.Node, n, alive, st.Members)
		}
	}
	return nil
}

// poller writes to every node directly each pollEvery and records which
// node took the write. A round is one moment: its three writes start
// together.
type poller struct {
	nodes []*node

	mu     sync.Mutex
	rounds []*round
}

type round struct {
	seq int
	at  time.Time
	ok  []bool  // per node: the write was acknowledged
	err []error // per node: why not
}

func newPoller(nodes []*node) *poller { return &poller{nodes: nodes} }

func (p *poller) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		r := &round{seq: seq, at: time.Now(), ok: make([]bool, len(p.nodes)), err: make([]error, len(p.nodes))}
		for i, n := range p.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wctx, cancel := context.WithTimeout(ctx, writeTimeout)
				defer cancel()
				err := n.rdb.Set(wctx, pollKey(n.name, seq), r.at.UnixNano(), 0).Err()
				p.mu.Lock()
				r.ok[i], r.err[i] = err == nil, err
				p.mu.Unlock()
			}()
		}
		p.mu.Lock()
		p.rounds = append(p.rounds, r)
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// expectWritable reports nil once a round after since saw node want, and
// only it, take a write; completed rounds only.
func (p *poller) expectWritable(since time.Time, want int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Rounds younger than writeTimeout may still be in flight.
	settled := time.Now().Add(-writeTimeout - 50*time.Millisecond)
	var last []bool
	for _, r := range p.rounds {
		if r.at.Before(since) || r.at.After(settled) {
			continue
		}
		last = r.ok
		if r.ok[want] && count(r.ok) == 1 {
			return nil
		}
	}
	return fmt.Errorf("no poll round since %s saw only %s take writes (last round: %v)", since.Format(time.StampMilli), p.nodes[want].name, last)
}

// failures counts node i's refused writes in rounds within [from, to), by
// kind: a timeout (a paused primary blocks writes), READONLY (a replica),
// or anything else.
func (p *poller) failures(i int, from, to time.Time) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]int{}
	for _, r := range p.rounds {
		if r.at.Before(from) || !r.at.Before(to) || r.ok[i] || r.err[i] == nil {
			continue // accepted, or still in flight
		}
		var ne net.Error
		switch err := r.err[i]; {
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			m["timeout"]++
		case err != nil && strings.HasPrefix(err.Error(), "READONLY"):
			m["readonly"]++
		default:
			m[fmt.Sprint(err)]++
		}
	}
	return m
}

func pollKey(node string, seq int) string { return fmt.Sprintf("netpart:%s:%d", node, seq) }

// write is one acknowledged SET of the poller.
type write struct {
	at         time.Time
	key, value string
}

// acked lists, in order, the writes node i acknowledged in rounds at or
// after since; all nodes' when i < 0. Call it after the poller stopped.
func (p *poller) acked(i int, since time.Time) []write {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []write
	for _, r := range p.rounds {
		for j, ok := range r.ok {
			if ok && (i < 0 || i == j) && !r.at.Before(since) {
				out = append(out, write{r.at, pollKey(p.nodes[j].name, r.seq), strconv.FormatInt(r.at.UnixNano(), 10)})
			}
		}
	}
	return out
}

// firstOK returns the first round at or after since in which node i took
// a write.
func (p *poller) firstOK(i int, since time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rounds {
		if !r.at.Before(since) && r.ok[i] {
			return r.at
		}
	}
	return time.Time{}
}

// lastOK returns the last round at or after since in which node i took a
// write, or the zero time.
func (p *poller) lastOK(i int, since time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var last time.Time
	for _, r := range p.rounds {
		if !r.at.Before(since) && r.ok[i] {
			last = r.at
		}
	}
	return last
}

type dual struct {
	at  time.Time
	who string
}

// dualWritable lists the rounds from since on in which more than one node
// took a write. Call it after the poller stopped.
func (p *poller) dualWritable(since time.Time) []dual {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []dual
	for _, r := range p.rounds {
		if r.at.Before(since) || count(r.ok) < 2 {
			continue
		}
		var who []string
		for i, ok := range r.ok {
			if ok {
				who = append(who, p.nodes[i].name)
			}
		}
		out = append(out, dual{r.at, strings.Join(who, "+")})
	}
	return out
}

func (p *poller) roundsSince(since time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.rounds {
		if !r.at.Before(since) {
			n++
		}
	}
	return n
}

func count(ok []bool) int {
	n := 0
	for _, b := range ok {
		if b {
			n++
		}
	}
	return n
}
