package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestE2EPromotionDisconnectsReplicaClients: as Sentinel does, the
// promotion kills the normal clients of the promoted replica, so a client
// that read from it as a replica reconnects and rediscovers. A raw
// connection to b's Redis must be closed soon after b becomes primary.
func TestE2EPromotionDisconnectsReplicaClients(t *testing.T) {
	g := newE2EGroup(t, nil)
	b := g.node("b")
	c := redis.NewClient(&redis.Options{Addr: b.redis.Addr(), PoolSize: 1, MinIdleConns: 1, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := c.Conn()
	t.Cleanup(func() { conn.Close() })
	if err := conn.ClientSetName(ctx, "replica-reader").Err(); err != nil {
		t.Fatalf("connect to replica b: %v", err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.node("a").sc.http+"/v1/switchover", strings.NewReader(`{"to":"b"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("switchover: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("switchover to b: status %d", resp.StatusCode)
	}
	if st := g.waitConverged(20*time.Second, ""); st.Topology.Primary.Name != "b" {
		t.Fatalf("primary after switchover is %q, want b", st.Topology.Primary.Name)
	}
	// The connection opened while b was a replica is gone: a command on it
	// fails (EOF or reset), it does not answer as the new primary.
	err = conn.Ping(ctx).Err()
	if err == nil {
		name, _ := conn.ClientGetName(ctx).Result()
		t.Fatalf("the replica-time connection %q still answers after b's promotion", name)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		t.Fatalf("the replica-time connection got a Redis reply, not a disconnect: %v", err)
	}
	t.Logf("replica-time connection closed by the promotion: %v", err)
}
