package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// BenchmarkProbeNow is one probe of the local Redis, as the Prober runs it
// every monitor.interval, against a real primary and a synced replica.
func BenchmarkProbeNow(b *testing.B) {
	prim := redistest.Start(b, redistest.Options{})
	rep := redistest.Start(b, redistest.Options{ReplicaOf: prim.Addr()})
	rep.WaitSynced(b)
	for _, tc := range []struct{ name, addr string }{{"primary", prim.Addr()}, {"replica", rep.Addr()}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(RedisConfig{Addr: tc.addr}, Config{Interval: 100 * time.Millisecond, Timeout: time.Second}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ctx := context.Background()
			if o := p.ProbeNow(ctx); !o.Reachable() {
				b.Fatalf("probe: %s", o.Err)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.ProbeNow(ctx)
			}
		})
	}
}
