package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestLiftReplicaPause: after a failed demotion, a Redis that answers as
// a replica has its pause lifted and applies its primary's stream again;
// a primary stays paused (fenced).
func TestLiftReplicaPause(t *testing.T) {
	pc, rc := syncedPair(t)
	ctx := t.Context()

	// A paused replica applies nothing of what its primary takes.
	if err := pauseOn(ctx, rc, time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := pc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the stream would arrive in far less; checks that it is held
	if n, err := rc.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("paused replica: EXISTS k = %d, %v; want 0 (held back by the pause)", n, err)
	}
	lifted, err := liftReplicaPause(ctx, rc, time.Second)
	if err != nil || !lifted {
		t.Fatalf("replica: lifted %v, %v; want true", lifted, err)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		if n, err := rc.Exists(ctx, "k").Result(); err != nil || n != 1 {
			return fmt.Errorf("replica after the lift: EXISTS k = %d, %v", n, err)
		}
		return nil
	})

	// A paused primary stays paused.
	if err := pauseOn(ctx, pc, time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	lifted, err = liftReplicaPause(ctx, pc, time.Second)
	if err != nil || lifted {
		t.Fatalf("primary: lifted %v, %v; want false", lifted, err)
	}
	requireWritesHeld(t, pc)
}

// TestFencePrimaryOn: the old primary's Redis fenced by a promotion stays
// paused while it is a primary, and its clients are disconnected (chaos
// seed 16826: one still connected read a replaced value); one that
// answers as a replica by the time the pause lands has it lifted, keeps
// its clients, and applies its primary's stream (chaos seed 12804: a
// replica paused so acknowledged writes it never applied).
func TestFencePrimaryOn(t *testing.T) {
	pc, rc := syncedPair(t)
	ctx := t.Context()
	// A client of each, connected before the pause.
	connected := func(of *redis.Client) (*redis.Conn, int64) {
		cn := redis.NewClient(&redis.Options{Addr: of.Options().Addr}).Conn()
		t.Cleanup(func() { _ = cn.Close() })
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return cn, id
	}
	stillConnected := func(of *redis.Client, id int64) bool {
		list, err := of.Do(ctx, "CLIENT", "LIST", "ID", id).Text()
		if err != nil {
			t.Fatal(err)
		}
		return list != ""
	}
	_, pid := connected(pc)
	_, rid := connected(rc)

	paused, err := fencePrimaryOn(ctx, rc, time.Second, time.Minute)
	if err != nil || paused {
		t.Fatalf("replica: paused %v, %v; want false", paused, err)
	}
	if err := pc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		if n, err := rc.Exists(ctx, "k").Result(); err != nil || n != 1 {
			return fmt.Errorf("replica: EXISTS k = %d, %v; want its primary's write applied", n, err)
		}
		return nil
	})

	if !stillConnected(rc, rid) {
		t.Error("replica: its client was disconnected")
	}

	paused, err = fencePrimaryOn(ctx, pc, time.Second, time.Minute)
	if err != nil || !paused {
		t.Fatalf("primary: paused %v, %v; want true", paused, err)
	}
	if stillConnected(pc, pid) {
		t.Error("primary: its client is still connected")
	}
	requireWritesHeld(t, pc)
}

// requireWritesHeld checks that a write to the Redis behind pc is held
// past its deadline (paused), then lifts the pause.
func requireWritesHeld(t *testing.T, pc *redis.Client) {
	t.Helper()
	wctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var ne net.Error
	if err := pc.Set(wctx, "k2", "v", 0).Err(); !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("SET on the paused primary: %v, want it held past its deadline", err)
	}
	if err := pc.Do(t.Context(), "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
}

// syncedPair starts a primary and a replica synced from it and returns
// clients of both.
func syncedPair(t *testing.T) (primary, replica *redis.Client) {
	t.Helper()
	p := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	r.WaitSynced(t)
	return p.Client(), r.Client()
}

// TestPauseStray: before the named primary's promotion, a member's Redis
// that answers as a primary the verified state does not name is paused
// (chaos seed 17040: one whose sidecar was cut from it took writes beside
// the next promoted primary), and so it is when the state says the
// promotion happened meanwhile (chaos seed 17825: checkForeign demotes it
// only at the next tick); not when the state names it, and not a replica.
func TestPauseStray(t *testing.T) {
	members := map[string]authority.Member{}
	for _, n := range []string{"n0", "n1", "n2"} {
		members[n] = authority.Member{Name: n, RedisAddr: n + ":6379", Priority: 100, Voter: true}
	}
	named := authority.State{Epoch: 5, Primary: "n1", Members: members}
	promoted := named
	promoted.Promoted = true
	strayNamed := named
	strayNamed.Primary = "n2"
	for _, tt := range []struct {
		name    string
		st      authority.State
		replica bool
		paused  bool
	}{
		{"seed 17040: n1 named, not promoted; n2's Redis a primary", named, false, true},
		{"seed 17825: n1 promoted meanwhile", promoted, false, true},
		{"n2 itself named", strayNamed, false, false},
		{"n2's Redis a replica", named, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			local := redistest.Start(t, redistest.Options{})
			var stray *redis.Client
			if tt.replica {
				_, stray = syncedPair(t)
			} else {
				stray = redistest.Start(t, redistest.Options{}).Client()
			}
			f, _ := newLocalFailover(t, local, benchAuth{st: tt.st, self: "n0"})
			paused, err := f.pauseStray(t.Context(), "n2", stray.Options().Addr, "n1", time.Minute)
			if err != nil || paused != tt.paused {
				t.Fatalf("paused %v, %v; want %v", paused, err, tt.paused)
			}
			if tt.paused {
				requireWritesHeld(t, stray)
			}
		})
	}
}
