package redistest

import (
	"context"
	"testing"
	"time"
)

func TestPrimaryAndReplica(t *testing.T) {
	p := Start(t, Options{})
	r := Start(t, Options{ReplicaOf: p.Addr()})
	r.WaitSynced(t)
	ctx := context.Background()
	if err := p.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Second, func() error { return r.Client().Get(ctx, "k").Err() })

	p.Stop(t)
	ctx2, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := p.Client().Ping(ctx2).Err(); err == nil {
		t.Fatal("PING answered while stopped")
	}
	p.Cont(t)
	p.Kill(t)
	p.Restart(t)
	if err := p.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
