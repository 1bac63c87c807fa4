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

func TestACLUserIsEnough(t *testing.T) {
	const adminPW, vigilPW = "admin-pw", "vigil-pw"
	acl := readmeACL(t, vigilPW)
	pwFile := writeFile(t, "redis.pw", vigilPW+"\n")
	ctx := context.Background()
	g := startSecGroup(t, redistest.Options{Password: adminPW}, nil, func(s *redistest.Server) {
		if err := s.Client().Do(ctx, acl...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", acl, s.Addr(), err)
		}
	}, func(string) []string {
		return []string{
			"--redis.username", "vigil", "--redis.password_file", pwFile,
			"--proxy.listen_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
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

	// Failover: REPLICAOF, CONFIG REWRITE, CLIENT KILL on the survivors.
	a.redis.Kill(t)
	next := g.waitPrimary(30*time.Second, "a")
	for _, n := range g.nodes {
		if n != a && n != next {
			linkUp(t, n, next)
		}
	}
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
	if err := b.Client().SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
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
