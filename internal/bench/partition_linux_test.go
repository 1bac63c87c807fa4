//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/netns"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// The partition scenario's timing, as internal/netpart's: fence_after below
// down_after lets the isolated side stop writes before the majority
// promotes.
const (
	partInterval   = 100 * time.Millisecond
	partDownAfter  = 3 * time.Second
	partFenceAfter = time.Second
	// partAfterFailover is how long the writer goes on once the majority
	// promoted, before the heal.
	partAfterFailover = 2 * time.Second
)

// BenchmarkFailoverPartition cuts the primary off from both replicas with
// iptables in a private network namespace while a writer (outside the
// partition, reaching every node, as a client beside the primary would)
// keeps writing, lets the majority fail over, heals, and counts the
// acknowledged writes missing on the final primary (once kept divergent
// writes had time to be replayed). Cells: vigil with failover.min_replicas
// 0 and 1, each with failover.divergent_writes archive (the default: the
// old primary's writes after the fork are kept in a file, not on the new
// primary, so they count as lost here) and replay; redis-sentinel with
// Redis's own min-replicas-to-write 0 and 1 (min-replicas-max-lag left at
// Redis's 10 s).
// It also reports how long after the cut a replica answered ROLE as primary.
// Needs root (skips otherwise); VIGIL_BENCH_RUNS runs per cell (default 3).
func BenchmarkFailoverPartition(b *testing.B) {
	needRoot(b)
	runs := benchRuns(b, 3)
	for _, cell := range []struct {
		sys         string
		minReplicas int
		divergent   string // vigil's failover.divergent_writes
	}{
		{"vigil", 0, "archive"}, {"vigil", 1, "archive"}, {"vigil", 0, "replay"}, {"vigil", 1, "replay"},
		{"sentinel", 0, ""}, {"sentinel", 1, ""},
	} {
		name := fmt.Sprintf("%s/min_replicas=%d/down_after=%s", cell.sys, cell.minReplicas, partDownAfter)
		if cell.divergent != "" {
			name = fmt.Sprintf("%s/min_replicas=%d/divergent=%s/down_after=%s", cell.sys, cell.minReplicas, cell.divergent, partDownAfter)
		}
		b.Run(name, func(b *testing.B) {
			if cell.sys == "vigil" && cell.minReplicas > 0 && !vigilHasFlag(b, keyMinReplicas) {
				b.Skipf("this vigil build has no --%s (the Raft rewrite adds it): nothing to measure", keyMinReplicas)
			}
			if cell.divergent == "replay" && !vigilHasFlag(b, keyDivergentWrites) {
				b.Skipf("this vigil build has no --%s: nothing to measure", keyDivergentWrites)
			}
			for range b.N {
				var failovers []time.Duration
				lost := 0
				for run := range runs {
					f, l := partitionRun(b, cell.sys, cell.minReplicas, cell.divergent)
					b.Logf("run %d: replica promoted %.3fs after the cut, %d acknowledged writes lost", run+1, f.Seconds(), l)
					failovers = append(failovers, f)
					lost += l
				}
				reportWindows(b, "promoted_", failovers)
				b.ReportMetric(float64(lost), "lost_writes")
				b.ReportMetric(float64(lost)/float64(runs), "lost_writes/run")
			}
		})
	}
}

// partNode is one Redis and its observer under one uid in the namespace.
type partNode struct {
	uid   int
	addr  string // 127.0.0.x
	dir   string
	redis string // addr:6379
	http  string // addr:9380 (vigil)
	sent  string // addr:26379
}

func partitionRun(b *testing.B, sys string, minReplicas int, divergent string) (time.Duration, int) {
	base := b.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	var nodes []*partNode
	var uids []int
	var addrs, redisAddrs []string
	for i := range 3 {
		addr := fmt.Sprintf("127.0.0.%d", i+2)
		n := &partNode{uid: 62001 + i, addr: addr, dir: filepath.Join(base, "n"+strconv.Itoa(i)),
			redis: addr + ":6379", http: addr + ":9380", sent: addr + ":26379"}
		if err := os.Mkdir(n.dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(n.dir, n.uid, n.uid); err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
		uids = append(uids, n.uid)
		addrs = append(addrs, addr)
		redisAddrs = append(redisAddrs, n.redis)
	}
	ns := newNetns(b, uids, addrs)
	dump := func() {
		for i, n := range nodes {
			for _, f := range []string{"redis.log", sys + ".log"} {
				if out, err := os.ReadFile(filepath.Join(n.dir, f)); err == nil {
					lines := strings.Split(strings.TrimSpace(string(out)), "\n")
					b.Logf("n%d %s (last lines):\n%s", i, f, strings.Join(lines[max(0, len(lines)-30):], "\n"))
				}
			}
		}
	}
	b.Cleanup(func() {
		if b.Failed() {
			dump()
		}
	})

	newClients := func(timeout time.Duration) []*redis.Client {
		var cs []*redis.Client
		for _, n := range nodes {
			c := redis.NewClient(&redis.Options{
				Addr: n.redis, Dialer: ns.Dial, DialTimeout: timeout, ReadTimeout: timeout,
				WriteTimeout: timeout, PoolTimeout: timeout, PoolSize: 4, MaxRetries: -1, DisableIdentity: true,
			})
			cs = append(cs, c)
		}
		return cs
	}
	check := newClients(time.Second)
	b.Cleanup(func() {
		for _, c := range check {
			c.Close()
		}
	})

	redisBin, err := redistest.Binary()
	if err != nil {
		b.Fatal(err)
	}
	for i, n := range nodes {
		args := []string{
			"--bind", n.addr, "--port", "6379", "--dir", n.dir, "--bind-source-addr", n.addr,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
		}
		if sys == "sentinel" && minReplicas > 0 {
			args = append(args, "--min-replicas-to-write", strconv.Itoa(minReplicas))
		}
		if i > 0 {
			args = append(args, "--replicaof", nodes[0].addr, "6379")
		}
		startIn(b, ns, n.uid, filepath.Join(n.dir, "redis.log"), redisBin, args...)
	}
	waitHealthyOn(b, check, redisAddrs, nil)

	switch sys {
	case "vigil":
		startPartVigils(b, ns, nodes, base, minReplicas, divergent)
	case "sentinel":
		startPartSentinels(b, ns, nodes)
	}

	w := newClientsWriter(newClients(100 * time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	stop := func() {
		if cancel != nil {
			cancel()
			<-done
			w.close()
			cancel = nil
		}
	}
	defer stop()
	redistest.Eventually(b, 5*time.Second, func() error {
		if w.acks() < 500 {
			return fmt.Errorf("writer not yet steady: %d acks", w.acks())
		}
		return nil
	})

	cut := time.Now()
	if err := ns.Partition(0); err != nil {
		b.Fatal(err)
	}
	var promoted time.Duration
	redistest.Eventually(b, partDownAfter+30*time.Second, func() error {
		for _, c := range check[1:] {
			rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
			role, err := c.Do(rctx, "ROLE").Slice()
			rcancel()
			if err == nil && len(role) > 0 && role[0] == "master" {
				promoted = time.Since(cut)
				return nil
			}
		}
		return fmt.Errorf("no replica promoted %s after the cut", time.Since(cut).Round(time.Millisecond))
	})
	time.Sleep(partAfterFailover)
	if err := ns.Heal(); err != nil {
		b.Fatal(err)
	}
	waitHealthyOn(b, check, redisAddrs, nil)
	time.Sleep(500 * time.Millisecond)
	stop()
	// Kept divergent writes reach the new primary some time after the
	// heal: count until the figure stops changing (three polls, 1.5 s)
	// or reaches 0.
	lost, same := w.lostOn(b, check), 0
	for deadline := time.Now().Add(20 * time.Second); lost > 0 && same < 3 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		if l := w.lostOn(b, check); l != lost {
			lost, same = l, 0
		} else {
			same++
		}
	}
	return promoted, lost
}

// startPartVigils starts a sidecar per node in the namespace and waits until
// each is ready.
func startPartVigils(b *testing.B, ns *netns.NS, nodes []*partNode, base string, minReplicas int, divergent string) {
	// The nodes' uids must be able to run the binary.
	bin := filepath.Join(base, "vigil")
	src, err := os.ReadFile(vigilBinary(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		b.Fatal(err)
	}
	extra := scenarioArgs(b, keyBootstrapExpect, "3", keyMinReplicas, strconv.Itoa(minReplicas), keyDivergentWrites, divergent)
	var join []string
	for _, n := range nodes {
		join = append(join, n.addr+":7946")
	}
	for i, n := range nodes {
		args := []string{"run",
			"--node.name", fmt.Sprintf("n%d", i),
			"--node.data_dir", filepath.Join(n.dir, "vigil"),
			"--redis.addr", n.redis,
			"--gossip.bind_addr", n.addr + ":7946",
			"--gossip.join", strings.Join(join, ","),
			"--sentinel.listen_addr", n.sent,
			"--http.listen_addr", n.http,
			"--proxy.listen_addr", n.addr + ":6380",
			"--monitor.interval", partInterval.String(),
			"--failover.quorum", "2",
			"--failover.down_after", partDownAfter.String(),
			"--failover.fence_after", partFenceAfter.String(),
			"--log.format", "json",
		}
		startIn(b, ns, n.uid, filepath.Join(n.dir, "vigil.log"), bin, append(args, extra...)...)
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: ns.Dial}}
	defer hc.CloseIdleConnections()
	for _, n := range nodes {
		redistest.Eventually(b, 30*time.Second, func() error {
			resp, err := hc.Get("http://" + n.http + "/-/ready")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s /-/ready: %s", n.http, resp.Status)
			}
			return nil
		})
	}
}

// startPartSentinels starts a redis-sentinel per node in the namespace and
// waits until each knows both replicas and both other sentinels.
func startPartSentinels(b *testing.B, ns *netns.NS, nodes []*partNode) {
	sentinelBin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		b.Fatal("redis-sentinel not found: install the Debian package redis-sentinel (make deps)")
	}
	for _, n := range nodes {
		conf := filepath.Join(n.dir, "sentinel.conf")
		body := fmt.Sprintf(`port 26379
bind %s
daemonize no
dir %s
sentinel monitor mymaster %s 6379 2
sentinel down-after-milliseconds mymaster %d
sentinel parallel-syncs mymaster 1
`, n.addr, n.dir, nodes[0].addr, partDownAfter.Milliseconds())
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(conf, n.uid, n.uid); err != nil {
			b.Fatal(err)
		}
		startIn(b, ns, n.uid, filepath.Join(n.dir, "sentinel.log"), sentinelBin, conf)
	}
	for _, n := range nodes {
		c := redis.NewSentinelClient(&redis.Options{Addr: n.sent, Dialer: ns.Dial, DisableIdentity: true})
		redistest.Eventually(b, 30*time.Second, func() error {
			m, err := c.Master(context.Background(), "mymaster").Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s: %s replicas, %s other sentinels", n.sent, m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
		c.Close()
	}
}
