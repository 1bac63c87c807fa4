package retryq

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/retryq/client"
)

// The go-redis hook queues writes that fail for want of a writable
// primary — through the HTTP client — and they apply later.
func TestHookQueuesRetryableWrites(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	rep := redistest.Start(t, redistest.Options{ReplicaOf: srv.Addr()})
	rep.WaitSynced(t)
	q := startQueue(t, testConfig(), t.TempDir(), nil)
	ts := serve(t, q, "tok")
	hook := NewHook(client.New(ts.URL, "tok", nil), HookOptions{})

	nowhere := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t, "127.0.0.1"))
	down := redis.NewClient(&redis.Options{Addr: nowhere, MaxRetries: -1, DialTimeout: time.Second})
	defer down.Close()
	down.AddHook(hook)
	readonly := redis.NewClient(&redis.Options{Addr: rep.Addr(), MaxRetries: -1})
	defer readonly.Close()
	readonly.AddHook(hook)

	err := down.Set(ctx, "k", "v", 0).Err()
	if !errors.Is(err, ErrQueued) {
		t.Fatalf("SET to a dead primary: %v, want ErrQueued", err)
	}
	var qe *QueuedError
	var oe *net.OpError
	if !errors.As(err, &qe) || qe.ID == "" || !errors.As(err, &oe) {
		t.Fatalf("queued error %v: want a *QueuedError with an ID wrapping the *net.OpError", err)
	}
	if err := down.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrQueued) {
		t.Fatalf("GET: %v, want the plain error (reads are not queued)", err)
	}
	if err := readonly.Incr(ctx, "n").Err(); !errors.Is(err, ErrQueued) {
		t.Fatalf("INCR on a replica: %v, want ErrQueued", err)
	}
	cmds, err := down.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, "h", "f", 1)
		p.Get(ctx, "k")
		p.RPush(ctx, "l", []byte{0, 1, 2})
		return nil
	})
	if err == nil {
		t.Fatal("pipeline to a dead primary succeeded")
	}
	queued := []bool{errors.Is(cmds[0].Err(), ErrQueued), errors.Is(cmds[1].Err(), ErrQueued), errors.Is(cmds[2].Err(), ErrQueued)}
	if !queued[0] || queued[1] || !queued[2] {
		t.Fatalf("pipeline queued %v, want [true false true]", queued)
	}

	q.src.Set(srv.Addr())
	waitDrained(t, q, 10*time.Second)
	rc := srv.Client()
	if v, _ := rc.Get(ctx, "k").Result(); v != "v" {
		t.Errorf("k = %q, want v", v)
	}
	if v, _ := rc.Get(ctx, "n").Result(); v != "1" {
		t.Errorf("n = %q, want 1", v)
	}
	if v, _ := rc.HGet(ctx, "h", "f").Result(); v != "1" {
		t.Errorf("h.f = %q, want 1", v)
	}
	if v, _ := rc.LRange(ctx, "l", 0, -1).Result(); len(v) != 1 || v[0] != "\x00\x01\x02" {
		t.Errorf("l = %q, want [\\x00\\x01\\x02]", v)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{context.DeadlineExceeded, true},
		{errors.New("redis: all sentinels specified in configuration are unreachable"), true},
		{redis.Nil, false},
		{context.Canceled, false},
		{errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
