package main

// A three-node group for the TLS and ACL acceptance tests. It observes the
// group only from outside — the Sentinel endpoint's answer and ROLE of the
// real servers — so it holds whatever the failover core looks like inside.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
)

type secNode struct {
	name    string
	redis   *redistest.Server
	sc      *sidecarUnderTest
	stopped bool
}

type secGroup struct {
	t           *testing.T
	nodes       []*secNode
	sentinelTLS *tls.Config // client configuration for the Sentinel endpoints; nil is plain
}

// startSecGroup starts a primary a and replicas b and c with ropts, and a
// sidecar beside each with e2eFlags plus flags(name), then waits until the
// Sentinel endpoints all name a. prepare runs on every server before the
// sidecars start.
func startSecGroup(t *testing.T, ropts redistest.Options, sentinelTLS *tls.Config,
	prepare func(*redistest.Server), flags func(name string) []string) *secGroup {
	t.Helper()
	g := &secGroup{t: t, sentinelTLS: sentinelTLS}
	for i, name := range []string{"a", "b", "c"} {
		o := ropts
		if i > 0 {
			o.ReplicaOf = g.nodes[0].redis.Addr()
		}
		g.nodes = append(g.nodes, &secNode{name: name, redis: redistest.Start(t, o)})
	}
	for _, n := range g.nodes[1:] {
		n.redis.WaitSynced(t)
	}
	ports, join := gossipPorts(t, len(g.nodes))
	for i, n := range g.nodes {
		if prepare != nil {
			prepare(n.redis)
		}
		n.sc = startSidecar(t, n.name, n.redis, join, ports[i], append(e2eFlags(), flags(n.name)...)...)
	}
	if p := g.waitPrimary(30*time.Second, ""); p.name != "a" {
		t.Fatalf("group converged on %s, want a", p.name)
	}
	return g
}

func (g *secGroup) node(name string) *secNode {
	for _, n := range g.nodes {
		if n.name == name {
			return n
		}
	}
	g.t.Fatalf("no node %q", name)
	return nil
}

// masterFrom asks one Sentinel endpoint for the primary's address.
func (g *secGroup) masterFrom(ctx context.Context, sentinelAddr string) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr, TLSConfig: g.sentinelTLS,
		MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// waitPrimary waits until every running sidecar's Sentinel endpoint names
// the same node other than not, and ROLE on that server says master.
func (g *secGroup) waitPrimary(timeout time.Duration, not string) *secNode {
	g.t.Helper()
	var out *secNode
	redistest.Eventually(g.t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addr := ""
		for _, n := range g.nodes {
			if n.stopped {
				continue
			}
			a, err := g.masterFrom(ctx, n.sc.sentinel)
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", n.name, err)
			}
			if addr != "" && a != addr {
				return fmt.Errorf("sentinels disagree: %s and %s", addr, a)
			}
			addr = a
		}
		for _, n := range g.nodes {
			if n.redis.Addr() != addr {
				continue
			}
			if n.name == not {
				return fmt.Errorf("primary is still %s", not)
			}
			v, err := n.redis.Client().Do(ctx, "ROLE").Slice()
			if err != nil {
				return fmt.Errorf("ROLE on %s: %w", n.name, err)
			}
			if len(v) == 0 || v[0] != "master" {
				return fmt.Errorf("sentinels name %s, whose ROLE is %v", n.name, v)
			}
			out = n
			return nil
		}
		return fmt.Errorf("sentinels name %s, no node of the group", addr)
	})
	return out
}

// enqueue posts one item to a sidecar's retry queue (from loopback, no
// token configured).
func (g *secGroup) enqueue(n *secNode, cmd string) {
	g.t.Helper()
	code, body := n.sc.request(g.t, http.MethodPost, "/v1/retryq", "", `{"items":[{"command":`+cmd+`}]}`)
	if code != http.StatusAccepted {
		g.t.Fatalf("enqueue %s on %s: %d %s", cmd, n.name, code, body)
	}
}

// waitKey waits until key has value on n's server.
func waitKey(t *testing.T, n *secNode, key, value string) {
	t.Helper()
	redistest.Eventually(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, err := n.redis.Client().Get(ctx, key).Result()
		if err != nil || v != value {
			return fmt.Errorf("%s on %s = %q, %v; want %q", key, n.name, v, err, value)
		}
		return nil
	})
}

// linkUp waits until replica n replicates from primary with its link up.
func linkUp(t *testing.T, n, primary *secNode) {
	t.Helper()
	redistest.Eventually(t, 30*time.Second, func() error {
		// Not redis.Info, which fails the test on an error: a promotion
		// or demotion kills the normal clients, this one among them
		// (INFO: EOF).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		txt, err := n.redis.Client().Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("INFO replication on %s: %w", n.name, err)
		}
		m := redistest.ParseInfo(txt)
		want := primary.redis.Addr()
		if got := net.JoinHostPort(m["master_host"], m["master_port"]); got != want || m["master_link_status"] != "up" {
			return fmt.Errorf("%s replicates from %s (link %s), want %s up", n.name, got, m["master_link_status"], want)
		}
		return nil
	})
}

// noLogLine fails when a sidecar logged text.
func (g *secGroup) noLogLine(text string) {
	g.t.Helper()
	for _, n := range g.nodes {
		if log := n.sc.log.String(); strings.Contains(log, text) {
			i := strings.Index(log, text)
			g.t.Errorf("sidecar %s logged %q: ...%s...", n.name, text, log[max(0, i-300):min(len(log), i+200)])
		}
	}
}
