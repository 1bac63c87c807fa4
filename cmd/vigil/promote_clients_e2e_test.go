package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// e2eMonitorInterval is monitor.interval in startSidecar.
const e2eMonitorInterval = 50 * time.Millisecond

// disconnectSlack is what the bound on a disconnect allows beyond one
// monitor.interval: the ROLE poll's period and the wake-up of the
// goroutines that see the promotion and the EOF, on two shared cores under
// -race while a chaos run may load the machine. It is not a benchmark: the
// promotion kills the clients in the transaction that promotes (MULTI
// REPLICAOF NO ONE ... CLIENT KILL TYPE normal), so the gap is only
// the observers' delay.
const disconnectSlack = 250 * time.Millisecond

// TestE2EPromotionDisconnectsReplicaClients: as Sentinel does, the
// promotion kills the normal clients of the promoted replica, so a client
// that read from it as a replica reconnects and rediscovers. A raw
// connection to the promoted Redis must be closed by the server within one
// monitor.interval (plus disconnectSlack) of the moment ROLE first answers
// master there: after a switchover, and after an automatic failover (the
// primary's Redis SIGKILLed).
func TestE2EPromotionDisconnectsReplicaClients(t *testing.T) {
	g := newE2EGroup(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Switchover a -> b.
	closed := watchDisconnect(t, g.node("b").redis.Addr())
	promoted := watchPromotion(ctx, t, g.node("b").redis.Addr())
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
	wantPromptDisconnect(ctx, t, "switchover to b", promoted, closed)
	if st := g.waitConverged(20*time.Second, ""); st.Topology.Primary.Name != "b" {
		t.Fatalf("primary after switchover is %q, want b", st.Topology.Primary.Name)
	}

	// Automatic failover: b's Redis SIGKILLed; a or c is promoted.
	closedOn := map[string]<-chan time.Time{}
	promotedOn := map[string]<-chan time.Time{}
	for _, name := range []string{"a", "c"} {
		closedOn[name] = watchDisconnect(t, g.node(name).redis.Addr())
		promotedOn[name] = watchPromotion(ctx, t, g.node(name).redis.Addr())
	}
	g.kill("b")
	var winner string
	var at time.Time
	select {
	case at = <-promotedOn["a"]:
		winner = "a"
	case at = <-promotedOn["c"]:
		winner = "c"
	case <-ctx.Done():
		t.Fatal("neither a nor c was promoted after b's Redis was killed")
	}
	ready := make(chan time.Time, 1)
	ready <- at
	wantPromptDisconnect(ctx, t, "automatic failover to "+winner, ready, closedOn[winner])
	if st := g.waitConverged(30*time.Second, "b"); st.Topology.Primary.Name != winner {
		t.Fatalf("primary after the failover is %q, want %s", st.Topology.Primary.Name, winner)
	}
}

// watchDisconnect opens a raw connection to the Redis at addr, names it
// (so it is a normal client that has talked to the server) and returns a
// channel that receives when the server closes it.
func watchDisconnect(t *testing.T, addr string) <-chan time.Time {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$14\r\nreplica-reader\r\n")); err != nil {
		t.Fatalf("CLIENT SETNAME on %s: %v", addr, err)
	}
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("CLIENT SETNAME on %s: %q, %v", addr, line, err)
	}
	_ = conn.SetDeadline(time.Now().Add(90 * time.Second)) // bounded by the test
	ch := make(chan time.Time, 1)
	go func() {
		// Nothing is sent to an idle client: the read ends at the close.
		_, _ = r.ReadByte()
		ch <- time.Now()
	}()
	return ch
}

// watchPromotion polls ROLE on the Redis at addr and returns a channel that
// receives when it first answers master.
func watchPromotion(ctx context.Context, t *testing.T, addr string) <-chan time.Time {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	ch := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
				ch <- time.Now()
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { <-done; c.Close() })
	return ch
}

// wantPromptDisconnect requires the replica-time connection to be closed
// no later than one monitor.interval plus disconnectSlack after the
// promotion was observed.
func wantPromptDisconnect(ctx context.Context, t *testing.T, what string, promoted, closed <-chan time.Time) {
	t.Helper()
	var masterAt, closedAt time.Time
	select {
	case masterAt = <-promoted:
	case <-ctx.Done():
		t.Fatalf("%s: ROLE never answered master", what)
	}
	select {
	case closedAt = <-closed:
	case <-time.After(e2eMonitorInterval + disconnectSlack + time.Second):
		t.Fatalf("%s: the replica-time connection is still open %s after the promotion was observed", what, time.Since(masterAt))
	}
	gap := closedAt.Sub(masterAt)
	if gap > e2eMonitorInterval+disconnectSlack {
		t.Errorf("%s: the replica-time connection closed %s after ROLE answered master, want within %s + %s",
			what, gap, e2eMonitorInterval, disconnectSlack)
	}
	t.Logf("%s: replica-time connection closed %s after the promotion was observed", what, gap.Round(time.Millisecond))
}
