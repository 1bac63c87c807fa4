package divergent

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// BenchmarkRecover100k measures the recovery of 100,000 divergent writes
// (SET of 16-byte values, one INCR in ten) on real servers: from the
// start of Keep to the archive on disk (archive mode), and to every write
// applied on the new primary (replay mode, capture included). Reported as
// s_to_archived and s_to_replayed (s_applying is the replay's share of
// the latter); ns/op is both together.
func BenchmarkRecover100k(b *testing.B) {
	const n = 100_000
	var archived, replayed, applying time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := redistest.Start(b, redistest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := EnsureBacklog(ctx, a.Client(), DefaultConfig().BacklogBytes); err != nil {
			b.Fatal(err)
		}
		nb := redistest.Start(b, redistest.Options{ReplicaOf: a.Addr()})
		nb.WaitSynced(b)
		p := pair{a, nb}
		fork := p.promoteB(b)
		pipe := a.Client().Pipeline()
		for j := range n {
			if j%10 == 0 {
				pipe.Incr(ctx, "bench:counter")
			} else {
				pipe.Set(ctx, "bench:"+strconv.Itoa(j), "0123456789abcdef", 0)
			}
			if pipe.Len() == 1000 {
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := a.Client().Do(ctx, "CLIENT", "PAUSE", "300000", "WRITE").Err(); err != nil {
			b.Fatal(err)
		}
		ka, _ := newTestKeeperB(b, keeperCfg(ModeArchive))
		kr, _ := newTestKeeperB(b, keeperCfg(ModeReplay))
		b.StartTimer()

		start := time.Now()
		res, err := ka.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: a.Addr(), Fork: fork})
		archived += time.Since(start)
		if err != nil || res.Commands != n {
			b.Fatalf("archive: %d commands, err %v", res.Commands, err)
		}
		start = time.Now()
		res, err = kr.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: a.Addr(), Fork: fork, NewPrimary: nb.Addr()})
		replayed += time.Since(start)
		if err != nil || res.Replay == nil || res.Replay.Applied != n {
			b.Fatalf("replay: %+v, err %v", res.Replay, err)
		}
		applying += res.Replay.Duration
		b.StopTimer()
		if v, _ := nb.Client().Get(ctx, "bench:counter").Result(); v != strconv.Itoa(n/10) {
			b.Fatalf("counter on the new primary %q, want %d", v, n/10)
		}
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(archived.Seconds()/float64(b.N), "s_to_archived")
	b.ReportMetric(replayed.Seconds()/float64(b.N), "s_to_replayed")
	b.ReportMetric(applying.Seconds()/float64(b.N), "s_applying")
}
