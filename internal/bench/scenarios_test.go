package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// The configuration keys the issue 8 and 9 scenarios give vigil, when the
// binary has them (builds before the Raft authority do not).
const (
	keyMinReplicas      = "failover.min_replicas"
	keyBootstrapExpect  = "failover.bootstrap_expect"
	keyShutdownHandover = "failover.shutdown_handover"
	keyEncryptionKey    = "gossip.encryption_key"
	keyDivergentWrites  = "failover.divergent_writes"
)

// scenarioArgs returns sidecar flags for the keys the binary supports and
// logs the ones it lacks, so the scenarios run on any build and say what
// they could not set. Every scenario encrypts gossip (and so Raft) with a
// fresh key, as production should.
func scenarioArgs(b *testing.B, kv ...string) []string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kv = append(kv, keyEncryptionKey, base64.StdEncoding.EncodeToString(key))
	var args, missing []string
	for i := 0; i+1 < len(kv); i += 2 {
		if !vigilHasFlag(b, kv[i]) {
			missing = append(missing, kv[i])
			continue
		}
		args = append(args, "--"+kv[i], kv[i+1])
	}
	if len(missing) > 0 {
		b.Logf("this vigil build has no %s: running without (the figures mean little before the Raft authority lands)", strings.Join(missing, ", "))
	}
	return args
}

// statusBody is the part of GET /v1/status the scenarios read.
type statusBody struct {
	Leader   *string `json:"leader"`
	Topology struct {
		Leader  *string `json:"leader"`
		Primary struct {
			Name string `json:"name"`
		} `json:"primary"`
	} `json:"topology"`
}

func getStatus(p *proc) (statusBody, error) {
	var st statusBody
	body, err := getOK("http://" + p.httpAddr + "/v1/status")
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(body, &st)
}

// raftLeader returns the index of the sidecar the sidecars name as Raft
// leader (GET /v1/status: "leader", top level or in "topology"), or -1 when
// this build reports no leader at all.
func raftLeader(b *testing.B, vs []*proc) int {
	leader := -1
	redistest.Eventually(b, 30*time.Second, func() error {
		reported := false
		names := map[string]bool{}
		for _, p := range vs {
			st, err := getStatus(p)
			if err != nil {
				return err
			}
			l := st.Leader
			if l == nil {
				l = st.Topology.Leader
			}
			if l == nil {
				continue
			}
			reported = true
			names[*l] = true
		}
		if !reported {
			return nil
		}
		if len(names) != 1 || names[""] {
			return fmt.Errorf("sidecars name leaders %v", slices.Collect(mapKeys(names)))
		}
		for n := range names {
			i, err := strconv.Atoi(strings.TrimPrefix(n, "n"))
			if err != nil || i < 0 || i >= len(vs) {
				return fmt.Errorf("leader %q is not one of the sidecars", n)
			}
			leader = i
		}
		return nil
	})
	return leader
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// switchoverTo makes node idx the primary through vigil's API and waits
// until the group is healthy around it.
func switchoverTo(b *testing.B, r *rig, idx int) {
	body, _ := json.Marshal(map[string]string{"to": fmt.Sprintf("n%d", idx)})
	resp, err := http.Post("http://"+r.observers[idx].httpAddr+"/v1/switchover", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatalf("switchover to n%d: %v", idx, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("switchover to n%d: %s", idx, resp.Status)
	}
	if got := waitHealthy(b, r.g, nil); got != idx {
		b.Fatalf("switchover to n%d: the primary is n%d", idx, got)
	}
}

// waitHealthy waits until exactly one node not in down is a primary and
// every other node not in down replicates from it with its link up and no
// sync in progress, and returns the primary's index.
func waitHealthy(b *testing.B, g *group, down map[int]bool) int {
	var clients []*redis.Client
	var addrs []string
	for _, n := range g.nodes {
		clients = append(clients, n.Client())
		addrs = append(addrs, n.Addr())
	}
	return waitHealthyOn(b, clients, addrs, down)
}

// waitHealthyOn is waitHealthy for nodes reached through clients, whose
// Redis addresses (as replicas report their primary's) are addrs.
func waitHealthyOn(b *testing.B, clients []*redis.Client, addrs []string, down map[int]bool) int {
	primary := -1
	redistest.Eventually(b, 60*time.Second, func() error {
		primary = -1
		masters := map[int]string{}
		for i, c := range clients {
			if down[i] {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			txt, err := c.Info(ctx, "replication").Result()
			cancel()
			if err != nil {
				return fmt.Errorf("n%d: %w", i, err)
			}
			m := redistest.ParseInfo(txt)
			if m["role"] == "master" {
				primary = i
				continue
			}
			masters[i] = net.JoinHostPort(m["master_host"], m["master_port"])
			if m["master_link_status"] != "up" || m["master_sync_in_progress"] != "0" {
				return fmt.Errorf("n%d: link %s, sync in progress %s", i, m["master_link_status"], m["master_sync_in_progress"])
			}
		}
		if primary < 0 {
			return errors.New("no primary")
		}
		for i, m := range masters {
			if m != addrs[primary] {
				return fmt.Errorf("n%d replicates from %s, not the primary n%d", i, m, primary)
			}
		}
		if len(masters)+1+len(down) != len(clients) {
			return errors.New("several primaries")
		}
		return nil
	})
	return primary
}

// reportWindows reports the median, min and max of ws under prefix.
func reportWindows(b *testing.B, prefix string, ws []time.Duration) {
	ws = slices.Clone(ws)
	slices.Sort(ws)
	b.ReportMetric(ws[len(ws)/2].Seconds(), prefix+"median_s")
	b.ReportMetric(ws[0].Seconds(), prefix+"min_s")
	b.ReportMetric(ws[len(ws)-1].Seconds(), prefix+"max_s")
}

// BenchmarkFailoverHostCrash is BenchmarkFailover's measurement when a whole
// host dies: the primary's Redis and the observer beside it are SIGKILLed
// together. For vigil that observer is also the Raft leader: when the
// sidecars report a leader (GET /v1/status "leader") that is not beside the
// primary, a switchover first moves the primary to the leader's node. For
// redis-sentinel the sentinel beside the primary dies (two of three remain,
// quorum 2). Writers as in BenchmarkFailover; VIGIL_BENCH_RUNS runs per cell
// (default 5).
func BenchmarkFailoverHostCrash(b *testing.B) {
	runs := benchRuns(b, 5)
	cells := []struct{ sys, writer string }{
		{"sentinel", "nodes"}, {"vigil", "nodes"},
		{"sentinel", "go-redis"}, {"vigil", "go-redis"},
	}
	for _, d := range []time.Duration{time.Second, 5 * time.Second} {
		for _, cell := range cells {
			b.Run(fmt.Sprintf("%s/writer=%s/down_after=%s", cell.sys, cell.writer, d), func(b *testing.B) {
				for range b.N {
					var windows []time.Duration
					lost := 0
					for run := range runs {
						w, l := hostCrashRun(b, cell.sys, cell.writer, d)
						b.Logf("run %d: window %.3fs, %d acknowledged writes lost", run+1, w.Seconds(), l)
						windows = append(windows, w)
						lost += l
					}
					reportWindows(b, "", windows)
					b.ReportMetric(float64(lost), "lost_writes")
				}
			})
		}
	}
}

func hostCrashRun(b *testing.B, sys, writerKind string, downAfter time.Duration) (time.Duration, int) {
	var args []string
	if sys == "vigil" {
		args = scenarioArgs(b, keyBootstrapExpect, "3")
	}
	r := newRig(b, sys, downAfter, args...)
	host := 0
	if sys == "vigil" {
		switch leader := raftLeader(b, r.observers); {
		case leader < 0:
			b.Log("the sidecars report no Raft leader (a build before the Raft authority): the primary's sidecar dies with its Redis")
		case leader != host:
			switchoverTo(b, r, leader)
			host = leader
		}
		waitCalm(b, r.observers)
	}
	r.startWriter(b, writerKind)
	defer r.stop()
	killed := time.Now()
	_ = r.observers[host].cmd.Process.Kill()
	r.g.nodes[host].Kill(b)
	r.w.markKill(killed)
	r.waitRecovered(b, downAfter)
	r.finish()
	return r.w.recovered().Sub(killed), r.w.lost(b, r.g)
}

// BenchmarkFailoverDoubleKill kills the primary's Redis, then 10 s later the
// Redis that replaced it, and reports both windows (kill to the first
// acknowledged write started after it): the second must not wait out any
// cooldown. Beside redis-sentinel; VIGIL_BENCH_RUNS runs per cell (default 3).
func BenchmarkFailoverDoubleKill(b *testing.B) {
	runs := benchRuns(b, 3)
	cells := []struct{ sys, writer string }{
		{"sentinel", "nodes"}, {"vigil", "nodes"},
		{"sentinel", "go-redis"}, {"vigil", "go-redis"},
	}
	for _, d := range []time.Duration{time.Second, 5 * time.Second} {
		for _, cell := range cells {
			b.Run(fmt.Sprintf("%s/writer=%s/down_after=%s", cell.sys, cell.writer, d), func(b *testing.B) {
				for range b.N {
					var first, second []time.Duration
					lost := 0
					for run := range runs {
						w1, w2, l := doubleKillRun(b, cell.sys, cell.writer, d)
						b.Logf("run %d: windows %.3fs and %.3fs, %d acknowledged writes lost", run+1, w1.Seconds(), w2.Seconds(), l)
						first, second = append(first, w1), append(second, w2)
						lost += l
					}
					reportWindows(b, "first_", first)
					reportWindows(b, "second_", second)
					b.ReportMetric(float64(lost), "lost_writes")
				}
			})
		}
	}
}

// doubleKillGap is the time between the two kills.
const doubleKillGap = 10 * time.Second

func doubleKillRun(b *testing.B, sys, writerKind string, downAfter time.Duration) (time.Duration, time.Duration, int) {
	var args []string
	if sys == "vigil" {
		args = scenarioArgs(b, keyBootstrapExpect, "3")
	}
	r := newRig(b, sys, downAfter, args...)
	r.startWriter(b, writerKind)
	defer r.stop()
	first := time.Now()
	r.g.nodes[0].Kill(b)
	r.w.markKill(first)
	r.waitRecovered(b, downAfter)
	// The second kill hits whichever node took over, once it is serving.
	next := waitHealthy(b, r.g, map[int]bool{0: true})
	time.Sleep(time.Until(first.Add(doubleKillGap)))
	second := time.Now()
	r.g.nodes[next].Kill(b)
	r.w.markKill(second)
	r.waitRecovered(b, downAfter)
	r.finish()
	ws := r.w.windows()
	return ws[0], ws[1], r.w.lost(b, r.g)
}

// BenchmarkFailoverRollingRestart restarts the three nodes one at a time,
// replicas first and the primary last, under a go-redis failover client: for
// each node the observer beside it gets SIGTERM and is waited for (a vigil
// sidecar hands the primary over first, as a preStop hook would), then its
// Redis gets SIGTERM, then both start again and the group is healthy before
// the next node. It reports the total write unavailability (from each first
// failed write to the next acknowledged one), the number of outages and
// acknowledged writes lost. VIGIL_BENCH_RUNS runs per cell (default 3).
func BenchmarkFailoverRollingRestart(b *testing.B) {
	runs := benchRuns(b, 3)
	for _, d := range []time.Duration{time.Second, 5 * time.Second} {
		for _, sys := range []string{"sentinel", "vigil"} {
			b.Run(fmt.Sprintf("%s/writer=go-redis/down_after=%s", sys, d), func(b *testing.B) {
				for range b.N {
					var downs []time.Duration
					lost, outages := 0, 0
					for run := range runs {
						down, n, l := rollingRun(b, sys, d)
						b.Logf("run %d: writes failed for %.3fs in %d outages, %d acknowledged writes lost", run+1, down.Seconds(), n, l)
						downs = append(downs, down)
						outages += n
						lost += l
					}
					reportWindows(b, "unavailable_", downs)
					b.ReportMetric(float64(outages)/float64(runs), "outages/run")
					b.ReportMetric(float64(lost), "lost_writes")
				}
			})
		}
	}
}

// termTimeout bounds waiting for a process to exit after SIGTERM: a sidecar
// hands over within failover.shutdown_handover (10 s) and Redis waits for its
// replicas within shutdown-timeout (10 s).
const termTimeout = 30 * time.Second

func rollingRun(b *testing.B, sys string, downAfter time.Duration) (time.Duration, int, int) {
	var args []string
	if sys == "vigil" {
		args = scenarioArgs(b, keyBootstrapExpect, "3", keyShutdownHandover, "10s")
	}
	r := newRig(b, sys, downAfter, args...)
	primary := waitHealthy(b, r.g, nil)
	order := []int{}
	for i := range r.g.nodes {
		if i != primary {
			order = append(order, i)
		}
	}
	order = append(order, primary)
	r.startWriter(b, "go-redis")
	defer r.stop()
	for _, i := range order {
		if !r.observers[i].signal(syscall.SIGTERM, termTimeout) {
			b.Logf("%s beside n%d did not exit within %s of SIGTERM: killed", sys, i, termTimeout)
			r.observers[i].signal(syscall.SIGKILL, termTimeout)
		}
		terminateRedis(b, r.g.nodes[i])
		r.g.nodes[i].Restart(b)
		r.observers[i] = r.observers[i].restart(b)
		switch sys {
		case "vigil":
			waitVigils(b, r.observers[i:i+1])
		case "sentinel":
			waitSentinels(b, r.observers[i:i+1])
		}
		waitHealthy(b, r.g, nil)
	}
	r.finish()
	down, n := r.w.unavailable()
	return down, n, r.w.lost(b, r.g)
}

// terminateRedis sends SIGTERM to s and waits until the process is gone.
func terminateRedis(b *testing.B, s *redistest.Server) {
	pid := s.PID()
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(termTimeout)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			b.Logf("redis %s did not exit within %s of SIGTERM: killed", s.Addr(), termTimeout)
			s.Kill(b)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
