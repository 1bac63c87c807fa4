package main

// Issue 11 acceptance, ACL: the dedicated Redis user of the README's
// "Redis ACL user" section is enough for every feature.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// readmeACL returns the README's ACL SETUSER line as arguments, with the
// password placeholder replaced by password.
func readmeACL(t *testing.T, password string) []any {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "ACL SETUSER vigil ") {
			continue
		}
		var args []any
		for _, f := range strings.Fields(line) {
			if f == ">PASSWORD" {
				f = ">" + password
			}
			args = append(args, f)
		}
		return args
	}
	t.Fatal("README.md has no line starting with ACL SETUSER vigil")
	return nil
}

// The passwords of the ACL tests' Redis: the default user's (the tests'
// own clients) and the README's vigil user's.
const adminPW, vigilPW = "admin-pw", "vigil-pw"

// startACLGroup starts a secGroup whose sidecars log in as the README's
// ACL user, created on every Redis before they start, with flags(name)
// besides.
func startACLGroup(t *testing.T, flags func(name string) []string) *secGroup {
	t.Helper()
	acl := readmeACL(t, vigilPW)
	pwFile := writeFile(t, "redis.pw", vigilPW+"\n")
	return startSecGroup(t, redistest.Options{Password: adminPW}, nil, func(s *redistest.Server) {
		if err := s.Client().Do(context.Background(), acl...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", acl, s.Addr(), err)
		}
	}, func(name string) []string {
		return append([]string{"--redis.username", "vigil", "--redis.password_file", pwFile}, flags(name)...)
	})
}

func TestACLUserIsEnough(t *testing.T) {
	ctx := context.Background()
	g := startACLGroup(t, func(string) []string {
		return []string{
			"--proxy.listen_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
			// The primary's sidecar keeps min-replicas-to-write set
			// (CONFIG SET) through the switchover and the failover.
			"--failover.min_replicas", "1",
		}
	})
	a, b := g.node("a"), g.node("b")

	// Probes saw the topology (startSecGroup waited for a). The proxy
	// forwards; the retry queue replays with the vigil user.
	px := redis.NewClient(&redis.Options{Addr: b.sc.proxy, Password: adminPW, MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer px.Close()
	// The Sentinel endpoints name the primary as soon as it is committed;
	// the proxy forwards once its sidecar has also released writes.
	redistest.Eventually(t, 10*time.Second, func() error {
		if err := px.Set(ctx, "acl:proxy", "1", 0).Err(); err != nil {
			return fmt.Errorf("SET through the proxy: %w", err)
		}
		return nil
	})
	waitKey(t, a, "acl:proxy", "1")
	g.enqueue(b, `["HSET","acl:h","f","1"]`)
	waitKey(t, a, "acl:proxy", "1")
	redistest.Eventually(t, 20*time.Second, func() error {
		v, err := a.redis.Client().HGet(ctx, "acl:h", "f").Result()
		if err != nil || v != "1" {
			return fmt.Errorf("acl:h.f = %q, %v; want the HSET replayed", v, err)
		}
		return nil
	})

	// The write probe of a primary whose sidecar is silent: a PUBLISH the
	// user may send (a NOPERM would count as "takes writes" and hide a
	// fenced primary).
	vc := redis.NewClient(&redis.Options{Addr: a.redis.Addr(), Username: "vigil", Password: vigilPW})
	defer vc.Close()
	if err := vc.Publish(ctx, monitor.WriteProbeChannel, "").Err(); err != nil {
		t.Errorf("PUBLISH %s as the README's user: %v", monitor.WriteProbeChannel, err)
	}

	// min_replicas: the primary's sidecar set min-replicas-to-write.
	wantMinReplicas(t, a)

	// Switchover: CLIENT PAUSE WRITE and WAIT on the old primary,
	// REPLICAOF on every node, as the vigil user.
	if code, body := b.sc.request(t, http.MethodPost, "/v1/switchover", "", `{"to":"b"}`); code != http.StatusOK {
		t.Fatalf("switchover to b: %d %s", code, body)
	}
	if p := g.waitPrimary(30*time.Second, "a"); p != b {
		t.Fatalf("switchover to b made %s the primary", p.name)
	}
	linkUp(t, a, b)
	wantMinReplicas(t, b)
	g.enqueue(a, `["SET","acl:switched","1"]`)
	waitKey(t, b, "acl:switched", "1")

	// Failover: REPLICAOF, CONFIG REWRITE, CLIENT KILL on the survivors.
	b.redis.Kill(t)
	next := g.waitPrimary(30*time.Second, "b")
	for _, n := range g.nodes {
		if n != b && n != next {
			linkUp(t, n, next)
		}
	}
	wantMinReplicas(t, next)
	g.enqueue(b, `["SET","acl:after","1"]`)
	waitKey(t, next, "acl:after", "1")

	// Fence: with failover paused nobody replaces the primary; once its
	// sidecar hears no peer it pauses writes (CLIENT PAUSE WRITE).
	if code, body := next.sc.request(t, http.MethodPost, "/v1/pause", "", ""); code != http.StatusOK {
		t.Fatalf("pause: %d %s", code, body)
	}
	for _, n := range g.nodes {
		if n != next {
			n.sc.cancel()
			n.stopped = true
		}
	}
	redistest.Eventually(t, 30*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := next.redis.Client().Set(cctx, "acl:fenced", "1", 0).Err(); err == nil {
			return fmt.Errorf("%s still accepts writes", next.name)
		}
		return nil
	})
	g.noLogLine("NOPERM")
}

// The README's ACL user is enough for failover.divergent_writes: replay,
// end to end: the primary's sidecar dies and its Redis stalls, the group
// fails over, the stalled Redis resumes and acknowledges writes after the
// fork until a sidecar pauses it; that sidecar captures them (REPLCONF,
// PSYNC) and replays them on the new primary (SCRIPT LOAD, EVALSHA,
// markers), all as the vigil user.
func TestACLUserIsEnoughForDivergentReplay(t *testing.T) {
	// The resumed Redis must acknowledge writes before a sidecar pauses
	// it; a pause sent during the stall is at times read first (one run
	// in five here), and then there is nothing to replay: up to three
	// tries, each a fresh group.
	for try := 1; ; try++ {
		replayed := false
		t.Run(fmt.Sprintf("try %d", try), func(t *testing.T) { replayed = aclDivergentReplay(t) })
		if replayed || t.Failed() {
			return
		}
		if try == 3 {
			t.Fatal("the resumed former primary acknowledged no write in 3 tries: nothing to replay")
		}
	}
}

// aclDivergentReplay runs TestACLUserIsEnoughForDivergentReplay's scenario
// once; false when the resumed former primary acknowledged no write.
func aclDivergentReplay(t *testing.T) bool {
	ctx := context.Background()
	g := startACLGroup(t, func(string) []string {
		return []string{"--failover.divergent_writes", "replay",
			// a's sidecar stops as if it died: no handover on the way out.
			"--failover.shutdown_handover", "0"}
	})
	a := g.node("a")
	// a's promotion has ended (its writes are released): a sidecar stopped
	// in the middle of one, its Redis then stalled, waits out a command
	// timeout per step on its way out.
	redistest.Eventually(t, 10*time.Second, func() error {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return a.redis.Client().Set(wctx, "acl:ready", "1", 0).Err()
	})
	// One connection per writer, ready before the stall: a connection
	// dialled after it would still owe its handshake when the Redis
	// resumes, and a sidecar may pause it first.
	writers := make([]*redis.Client, 4)
	for i := range writers {
		writers[i] = redis.NewClient(&redis.Options{Addr: a.redis.Addr(), Password: adminPW, PoolSize: 1,
			MaxRetries: -1, ReadTimeout: 30 * time.Second})
		defer writers[i].Close()
		if err := writers[i].Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a.sc.cancel()
	a.stopped = true
	a.redis.Stop(t)
	next := g.waitPrimary(30*time.Second, "a")

	// Writers wait on the stalled Redis; it acknowledges them after the
	// fork once it resumes, until a sidecar pauses it.
	ws := make([]*writer, len(writers))
	for i, c := range writers {
		ws[i] = startWriterWith(t, c, fmt.Sprintf("acl:divergent:%d", i), 30*time.Second)
	}
	time.Sleep(200 * time.Millisecond) // let the writers block on the stalled Redis
	a.redis.Cont(t)
	redistest.Eventually(t, 30*time.Second, func() error {
		// Two sidecars of three on two loaded cores may fail over
		// again: follow the current primary. a's sidecar is stopped, so
		// the sidecar that demotes its Redis points it at itself, not at
		// the primary: nobody would detach it (chaos seed 7119).
		next = g.waitPrimary(10*time.Second, "a")
		rr, err := roleOf(a.redis)
		if err != nil {
			return err
		}
		if rr.role != "slave" || rr.master != a.redis.Addr() {
			return fmt.Errorf("a is %+v, want a replica pointing at itself", rr)
		}
		return nil
	})
	acked := stopWriters(ws)
	if len(acked) == 0 {
		t.Log("the resumed former primary acknowledged no write: nothing to replay")
		return false
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		if lost := missing(t, next.redis, acked); len(lost) > 0 {
			return fmt.Errorf("%d of %d writes a acknowledged after the fork missing on %s, first: %v",
				len(lost), len(acked), next.name, lost[:min(len(lost), 5)])
		}
		return nil
	})
	t.Logf("%d writes acknowledged by the former primary after the fork, replayed on %s as the vigil user", len(acked), next.name)
	g.noLogLine("NOPERM")
	return true
}

// wantMinReplicas waits until n's Redis has min-replicas-to-write 1, set by
// its sidecar (failover.min_replicas) as the README's user.
func wantMinReplicas(t *testing.T, n *secNode) {
	t.Helper()
	redistest.Eventually(t, 10*time.Second, func() error {
		v, err := n.redis.Client().ConfigGet(context.Background(), "min-replicas-to-write").Result()
		if err != nil {
			return err
		}
		if v["min-replicas-to-write"] != "1" {
			return fmt.Errorf("%s: min-replicas-to-write %q, want 1", n.name, v["min-replicas-to-write"])
		}
		return nil
	})
}

// The README's ACL user can also read a former primary's divergent tail:
// Capture speaks the replica side of replication (REPLCONF, PSYNC) with
// the vigil user's credentials, and EnsureBacklog sets the backlog.
func TestACLUserCanCaptureDivergentWrites(t *testing.T) {
	const adminPW, vigilPW = "admin-pw", "vigil-pw"
	acl := readmeACL(t, vigilPW)
	ctx := context.Background()
	a := redistest.Start(t, redistest.Options{Password: adminPW})
	b := redistest.Start(t, redistest.Options{Password: adminPW, ReplicaOf: a.Addr()})
	for _, s := range []*redistest.Server{a, b} {
		if err := s.Client().Do(ctx, acl...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", acl, s.Addr(), err)
		}
	}
	b.WaitSynced(t)
	user := divergent.RedisOptions{Username: "vigil", Password: vigilPW}
	asVigil := redis.NewClient(&redis.Options{Addr: a.Addr(), Username: "vigil", Password: vigilPW})
	defer asVigil.Close()
	if err := divergent.EnsureBacklog(ctx, asVigil, 8<<20); err != nil {
		t.Fatalf("EnsureBacklog as the vigil user: %v", err)
	}
	if err := a.Client().Set(ctx, "acl:before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if v, _ := b.Client().Get(ctx, "acl:before").Result(); v != "1" {
			return fmt.Errorf("b has not replicated acl:before yet")
		}
		return nil
	})
	// b is promoted; a takes one write after the fork, then is paused as
	// vigil pauses it before a capture.
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	info, err := b.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	fork, err := divergent.ParseFork(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Client().Set(ctx, "acl:divergent", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := asVigil.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE as the vigil user: %v", err)
	}
	res, err := divergent.Capture(ctx, a.Addr(), user, fork)
	if err != nil {
		t.Fatalf("Capture as the vigil user: %v", err)
	}
	if !strings.Contains(string(res.Stream), "acl:divergent") {
		t.Fatalf("the captured stream %q lacks the divergent SET", res.Stream)
	}
}
