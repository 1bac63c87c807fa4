package bench

import (
	"os"
	"testing"
	"time"
)

// BenchmarkIdle measures the idle cost of vigil next to redis-sentinel in
// the same run: three of each watch one healthy group (primary + two
// replicas) with monitor.interval 100ms, and the benchmark reports the mean
// CPU share of one core, the mean RSS and the context switches a second
// per process over the window (VIGIL_BENCH_IDLE, default 60s). Beside
// them run three sets of internal/bench/skeleton, what vigil's mandated
// parts cost on the machine before any of vigil's own work: the Redis
// probes alone ("probe"), the probes with memberlist and Raft ("parts"),
// and those with reports as often as vigil sends them ("skeleton").
// VIGIL_BENCH_INTERVAL sets another monitor.interval (the second
// figure is at 1s). The CPU share of a window moves by about ±15 % on the
// virtual machine the README's figures come from, the switch count by a
// few per cent: compare builds by both.
func BenchmarkIdle(b *testing.B) {
	window := 60 * time.Second
	if v := os.Getenv("VIGIL_BENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("VIGIL_BENCH_IDLE: %v", err)
		}
		window = d
	}
	interval := "100ms"
	if v := os.Getenv("VIGIL_BENCH_INTERVAL"); v != "" {
		if _, err := time.ParseDuration(v); err != nil {
			b.Fatalf("VIGIL_BENCH_INTERVAL: %v", err)
		}
		interval = v
	}
	for range b.N {
		g := startGroup(b)
		vigils := startVigils(b, g, 5*time.Second, "--monitor.interval", interval)
		sentinels := startSentinels(b, g, 5*time.Second)
		probes := startSkeletons(b, g, interval, probeOnly)
		bare := startSkeletons(b, g, interval, parts)
		skels := startSkeletons(b, g, interval, reporting)
		// Let start-up work (joining, first syncs, Go's first GCs) pass,
		// and measure the group as it idles: with Raft at calm timings,
		// which each sidecar reaches after twice down_after without
		// trouble. Started before, the window held 5–7 s of failover
		// timings.
		time.Sleep(5 * time.Second)
		waitCalm(b, vigils)

		type sample struct {
			cpu      time.Duration
			rss      int64
			switches int64
		}
		measure := func(ps []*proc) []sample {
			out := make([]sample, len(ps))
			for i, p := range ps {
				cpu, rss, err := procStat(p.cmd.Process.Pid)
				if err != nil {
					b.Fatalf("%s: %v", p.log, err)
				}
				sw, err := procSwitches(p.cmd.Process.Pid)
				if err != nil {
					b.Fatalf("%s: %v", p.log, err)
				}
				out[i] = sample{cpu, rss, sw}
			}
			return out
		}
		sets := [][]*proc{vigils, sentinels, probes, bare, skels}
		names := []string{"vigil", "sentinel", "probe", "parts", "skeleton"}
		before := make([][]sample, len(sets))
		for i, ps := range sets {
			before[i] = measure(ps)
		}
		start := time.Now()
		time.Sleep(window)
		elapsed := time.Since(start)
		after := make([][]sample, len(sets))
		for i, ps := range sets {
			after[i] = measure(ps)
		}

		report := func(name string, before, after []sample) {
			var cpu time.Duration
			var rss, switches int64
			for i := range before {
				cpu += after[i].cpu - before[i].cpu
				rss += after[i].rss
				switches += after[i].switches - before[i].switches
			}
			n := float64(len(before))
			b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds()/n, name+"_cpu_%")
			b.ReportMetric(float64(rss)/n/(1<<20), name+"_rss_MiB")
			b.ReportMetric(float64(switches)/elapsed.Seconds()/n, name+"_switches/s")
		}
		for i, name := range names {
			report(name, before[i], after[i])
		}
	}
}
