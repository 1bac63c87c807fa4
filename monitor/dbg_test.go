package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vigil-redis/vigil/internal/redistest"
)

func TestDbg(t *testing.T) {
	ctx := context.Background()
	prim := redistest.Start(t, redistest.Options{})
	fill(t, prim, 1000)
	rep := redistest.Start(t, redistest.Options{ReplicaOf: prim.Addr(), Args: []string{
		"--key-load-delay", "5000", "--loading-process-events-interval-bytes", "1024"}})
	c := NewClient(rep.Addr(), RedisConfig{}, time.Second)
	defer c.Close()
	for i := 0; i < 20; i++ {
		o := Probe(ctx, c)
		l, err := c.Info(ctx, "persistence").Result()
		t.Logf("%v %q %s %v %v %v", time.Now().Format("05.000"), o.Reason, o.Err, o.RTT, parseInfo(l, nil)["loading"], err)
		time.Sleep(100 * time.Millisecond)
	}
	s := redistest.Start(t, redistest.Options{Password: "pw"})
	c2 := NewClient(s.Addr(), RedisConfig{Password: "bad"}, time.Second)
	pipe := c2.Pipeline()
	ping := pipe.Ping(ctx)
	_, err := pipe.Exec(ctx)
	t.Logf("exec %v ping %v %q", err, ping.Err(), ping.Val())
	t.Logf("direct %v", c2.Ping(ctx).Err())
	_ = redis.Nil
}
