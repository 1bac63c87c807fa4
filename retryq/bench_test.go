package retryq

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// BenchmarkEnqueue measures durable enqueues (fsync per group commit) of
// one small item per call from 1, 8 and 64 concurrent producers.
func BenchmarkEnqueue(b *testing.B) {
	for _, producers := range []int{1, 8, 64} {
		b.Run("producers="+strconv.Itoa(producers), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxItems = 100_000_000
			cfg.MaxBytes = 1 << 40
			q := startQueue(b, cfg, b.TempDir(), nil)
			lat := make([][]time.Duration, producers)
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu0 := processCPU(b)
			start := time.Now()
			for p := range producers {
				n := b.N / producers
				if p < b.N%producers {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := make([]time.Duration, 0, n)
					for i := range n {
						t0 := time.Now()
						k := "k:" + strconv.Itoa(p) + ":" + strconv.Itoa(i)
						if _, err := q.Enqueue(context.Background(), []NewItem{{Command: cmd("SET", k, "value-of-some-length")}}); err != nil {
							b.Error(err)
							return
						}
						l = append(l, time.Since(t0))
					}
					lat[p] = l
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			reportCPU(b, cpu0, b.N)
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "items/s")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
			}
			reportCommits(b, q)
		})
	}
}

// BenchmarkDrain measures replay throughput into a local redis-server:
// b.N queued SETs on distinct keys, drained with pipelined EVALSHA.
func BenchmarkDrain(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{Args: []string{"--save", "", "--appendonly", "no"}})
	cfg := DefaultConfig()
	cfg.DrainRate = 0 // unlimited: measure the drain itself
	cfg.MaxItems = 100_000_000
	cfg.MaxBytes = 1 << 40
	cfg.BatchSize = 2048
	q := startQueue(b, cfg, b.TempDir(), nil)
	for i := 0; i < b.N; i += 5000 {
		var items []NewItem
		for j := i; j < min(b.N, i+5000); j++ {
			k := "k:" + strconv.Itoa(j)
			items = append(items, NewItem{Command: cmd("SET", k, "value-of-some-length")})
		}
		mustEnqueue(b, q, items...)
	}
	b.ResetTimer()
	cpu0, rcpu0 := processCPU(b), redisCPU(b, srv)
	start := time.Now()
	q.src.Set(srv.Addr())
	for {
		s, err := q.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if s.Ready+s.Inflight == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
	reportCPU(b, cpu0, b.N)
	if testing.Verbose() {
		info, _ := srv.Client().Info(context.Background(), "commandstats").Result()
		b.Log(info)
	}
	b.ReportMetric(float64((redisCPU(b, srv)-rcpu0).Microseconds())/float64(b.N), "redis_cpu_us/item")
}

// The machine is shared, so throughput alone is noisy; CPU time per item
// (this process, and redis-server's own) shows what a change costs.

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration, n int) {
	b.ReportMetric(float64((processCPU(b)-since).Microseconds())/float64(n), "cpu_us/item")
}

func redisCPU(b *testing.B, srv *redistest.Server) time.Duration {
	info, err := srv.Client().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// reportCommits adds the mean group-commit duration and size.
func reportCommits(b *testing.B, q *testQueue) {
	mfs, err := q.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		h := mf.GetMetric()[0].GetHistogram()
		if h == nil || h.GetSampleCount() == 0 {
			continue
		}
		mean := h.GetSampleSum() / float64(h.GetSampleCount())
		switch mf.GetName() {
		case "vigil_retryq_commit_duration_seconds":
			b.ReportMetric(mean*1000, "commit_ms")
		case "vigil_retryq_commit_batch_items":
			b.ReportMetric(mean, "items/commit")
		}
	}
}

// BenchmarkFdatasync measures what bounds a durable enqueue on this disk:
// one 4 KiB write and fdatasync, into blocks written before ("written",
// what preallocation gives bbolt's pages) and into a hole left by
// ftruncate ("hole", how bbolt grows its file). A bbolt commit syncs
// twice, so one producer cannot exceed about 1/(2 × p50) enqueues/s.
func BenchmarkFdatasync(b *testing.B) {
	for _, mode := range []string{"written", "hole"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const pages = 1 << 14
			page := make([]byte, 4096)
			if mode == "written" {
				for i := range pages {
					if _, err := f.WriteAt(page, int64(i)*4096); err != nil {
						b.Fatal(err)
					}
				}
			} else if err := f.Truncate(pages * 4096); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(page, int64(i%pages)*4096); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_us")
		})
	}
}
