package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// Two of three nodes are lost for good (sidecar stopped, Redis killed,
// never back). The survivor's sidecar, cut off from any majority, keeps
// its primary's writes paused: without a Raft leader nothing can ever
// change. `vigil recover --voters a` on the stopped survivor, then a
// restart, gives the group a leader again, and the primary takes writes
// with its sidecar running.
func TestRecoverLostMajority(t *testing.T) {
	dir := t.TempDir()
	g := newE2EGroup(t, func(name string) []string {
		if name == "a" {
			return []string{"--node.data_dir", dir}
		}
		return nil
	})
	for _, name := range []string{"b", "c"} {
		stopSidecar(t, g.node(name).sc)
		g.kill(name)
	}
	a := g.node("a")
	write := func(key string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return a.redis.Client().Set(ctx, key, "1", 0).Err()
	}
	// The survivor pauses its primary's writes once cut off from the
	// majority, and keeps them paused.
	redistest.Eventually(t, 15*time.Second, func() error {
		if err := write("before"); err == nil {
			return errors.New("a's Redis still takes writes")
		}
		return nil
	})
	redistest.Eventually(t, 15*time.Second, func() error {
		st, err := a.sc.status()
		if err != nil {
			return err
		}
		if st.Topology.Leader != "" || !st.Topology.Fenced {
			return fmt.Errorf("survivor: leader %q fenced %v, want no leader and fenced", st.Topology.Leader, st.Topology.Fenced)
		}
		return nil
	})

	stopSidecar(t, a.sc)
	var out, errOut strings.Builder
	args := []string{"recover", "--voters", "a",
		"--node.name", "a", "--node.data_dir", dir,
		"--redis.addr", a.redis.Addr(),
		"--gossip.encryption_key", testGossipKey,
	}
	if err := run(context.Background(), args, nil, &out, &errOut); err != nil {
		t.Fatalf("vigil recover: %v\n%s", err, errOut.String())
	}
	if got := out.String(); !strings.Contains(got, "voters a (were a,b,c); epoch") || !strings.Contains(got, "primary a") {
		t.Fatalf("vigil recover printed %q", got)
	}

	a.sc = startSidecar(t, "a", a.redis, g.join, g.ports[0], append(e2eFlags(), "--node.data_dir", dir)...)
	redistest.Eventually(t, 20*time.Second, func() error {
		st, err := a.sc.status()
		if err != nil {
			return err
		}
		if st.Topology.Leader != "a" || st.Topology.Primary.Name != "a" || !st.Topology.Writable {
			return fmt.Errorf("leader %q primary %q writable %v", st.Topology.Leader, st.Topology.Primary.Name, st.Topology.Writable)
		}
		return write("after")
	})
	// Writes stay open with the sidecar running: no pause comes back.
	until := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(until); i++ {
		if err := write(fmt.Sprintf("after:%d", i)); err != nil {
			t.Fatalf("write %d after the recovery: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopSidecar stops a sidecar started by startSidecar and waits for it;
// its cleanup then finds it stopped.
func stopSidecar(t *testing.T, s *sidecarUnderTest) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("sidecar %s: %v", s.name, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sidecar %s did not stop", s.name)
	}
}
