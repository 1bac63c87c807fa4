package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestDivergentWritesKeptBeforeDemotion is issue 13's seam in the failover
// core, with the real binary: the primary's sidecar dies and its Redis
// stalls past down_after; the group fails over; the stalled Redis resumes,
// still a primary, and acknowledges writes after the fork until another
// sidecar pauses it. That sidecar keeps those writes before demoting it: in
// replay mode every one of them ends up on the new primary, and
// GET /v1/divergent lists the archive.
func TestDivergentWritesKeptBeforeDemotion(t *testing.T) {
	g, procs := newProcGroup(t, "--failover.divergent_writes", "replay")
	st := g.waitConverged(30*time.Second, "")
	if st.Topology.Primary.Name != "a" {
		t.Fatalf("group converged on %s, want a", st.Topology.Primary.Name)
	}
	epoch := st.Topology.Epoch

	// a's sidecar dies, a's Redis stalls: the others fail over.
	a := g.node("a")
	_ = procs["a"].cmd.Process.Kill()
	a.redis.Stop(t)
	var newPrimary string
	redistest.Eventually(t, 30*time.Second, func() error {
		var names []string
		for _, name := range []string{"b", "c"} {
			st, err := procs[name].status()
			if err != nil {
				return err
			}
			tp := st.Topology
			if tp.Primary.Name == "a" || tp.Primary.Name == "" || tp.Epoch <= epoch || !tp.Writable {
				return fmt.Errorf("%s: primary %q at epoch %d, writable %t", name, tp.Primary.Name, tp.Epoch, tp.Writable)
			}
			names = append(names, tp.Primary.Name)
		}
		if names[0] != names[1] {
			return fmt.Errorf("b names %s, c names %s", names[0], names[1])
		}
		newPrimary = names[0]
		return nil
	})

	// The promotion recorded where the new history left a's, and the
	// history it began.
	redistest.Eventually(t, 10*time.Second, func() error {
		code, body, err := procs[newPrimary].do(http.MethodGet, "/v1/history")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%s /v1/history: %d %v", newPrimary, code, err)
		}
		var history []struct {
			Epoch      uint64 `json:"epoch"`
			New        string `json:"new"`
			ForkReplID string `json:"fork_repl_id"` // fork_offset may be 0: nothing written before the fault
			NewReplID  string `json:"new_repl_id"`
		}
		if err := json.Unmarshal([]byte(body), &history); err != nil {
			return err
		}
		for _, h := range history {
			if h.Epoch > epoch && h.New == newPrimary && h.ForkReplID != "" && h.NewReplID != "" && h.NewReplID != h.ForkReplID {
				return nil
			}
		}
		return fmt.Errorf("no history entry of %s's promotion with its fork point: %s", newPrimary, body)
	})

	// Writers wait on the stalled Redis; they are acknowledged after the
	// fork once it resumes, until a sidecar pauses it.
	ws := make([]*writer, 4)
	for i := range ws {
		ws[i] = startWriter(t, a.redis.Client(), fmt.Sprintf("divergent:%d", i))
	}
	time.Sleep(100 * time.Millisecond) // let the writers block on the stalled Redis
	a.redis.Cont(t)
	// a's sidecar is dead, so the sidecar that demotes its Redis points
	// it at itself, not at the new primary: nobody would detach it (chaos
	// seed 7119). Its writes after the fork are replayed all the same.
	redistest.Eventually(t, 30*time.Second, func() error {
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
		t.Fatal("the resumed former primary acknowledged no write: nothing to check")
	}

	// Replay mode: every write a acknowledged after the fork is on the new
	// primary.
	redistest.Eventually(t, 20*time.Second, func() error {
		if lost := missing(t, g.node(newPrimary).redis, acked); len(lost) > 0 {
			return fmt.Errorf("%d of %d writes a acknowledged after the fork missing on %s, first: %v",
				len(lost), len(acked), newPrimary, lost[:min(len(lost), 5)])
		}
		return nil
	})

	// The archive is listed by the sidecar that kept it.
	var archives []string
	for _, name := range []string{"b", "c"} {
		code, body, err := procs[name].do(http.MethodGet, "/v1/divergent")
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s /v1/divergent: %d %v %s", name, code, err, body)
		}
		var list struct {
			Archives []struct {
				Name     string `json:"name"`
				Node     string `json:"node"`
				Epoch    uint64 `json:"epoch"`
				Commands int    `json:"commands"`
			} `json:"archives"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("%s /v1/divergent: %v", name, err)
		}
		for _, m := range list.Archives {
			if m.Node == "a" && m.Epoch > epoch {
				archives = append(archives, fmt.Sprintf("%s on %s: %d commands", m.Name, name, m.Commands))
				if m.Commands < len(acked) {
					t.Errorf("archive %s on %s holds %d commands, a acknowledged %d after the fork", m.Name, name, m.Commands, len(acked))
				}
			}
		}
	}
	if len(archives) == 0 {
		t.Errorf("no sidecar lists an archive of a's divergent writes")
	}
	t.Logf("%d writes acknowledged by the former primary after the fork, all on %s; archives: %v", len(acked), newPrimary, archives)
}

// TestReplicaTailKeptBeforeResync: the primary dies while the one replica
// that acknowledged its last writes may not be promoted (priority 0), and
// a replica behind it is. Before that replica's Redis follows the new
// primary (a full sync: the new primary cannot continue its stream), the
// writes it holds beyond the fork are kept and, in replay mode, end up on
// the new primary (chaos seed 209, N=5: retry-queue INCRs confirmed by the
// one replica cut off with the old primary were full-synced away).
func TestReplicaTailKeptBeforeResync(t *testing.T) {
	g, procs := newProcGroup(t, "--failover.divergent_writes", "replay")
	if st := g.waitConverged(30*time.Second, ""); st.Topology.Primary.Name != "a" {
		t.Fatalf("group converged on %s, want a", st.Topology.Primary.Name)
	}
	// c may hold the data but never be promoted.
	pc := procs["c"]
	if _, err := pc.terminate(t, 10*time.Second); err != nil {
		t.Logf("c's sidecar exited: %v", err)
	}
	pc.args = append(pc.args, "--redis.priority", "0")
	pc.start(t)
	g.waitConverged(30*time.Second, "")

	// b stalls and loses its link (a stopped process would still get what
	// its socket buffers); a's last writes reach c only.
	a, b, c := g.node("a"), g.node("b"), g.node("c")
	b.redis.Stop(t)
	ctx := context.Background()
	if err := a.redis.Client().Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if n := a.redis.Info(t, "replication")["connected_slaves"]; n != "1" {
			return fmt.Errorf("a has %s replicas, want c back alone", n)
		}
		return nil
	})
	var acked []ack
	for i := range 50 {
		key, val := fmt.Sprintf("tail:%03d", i), fmt.Sprint(i)
		if err := a.redis.Client().Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, ack{key: key, val: val})
	}
	if n, err := a.redis.Client().Wait(ctx, 1, 5*time.Second).Result(); err != nil || n < 1 {
		t.Fatalf("WAIT 1: %d, %v", n, err)
	}
	_ = procs["a"].cmd.Process.Kill()
	g.kill("a")
	b.redis.Cont(t)

	redistest.Eventually(t, 30*time.Second, func() error {
		rr, err := roleOf(c.redis)
		if err != nil {
			return err
		}
		if rr.role != "slave" || rr.master != b.redis.Addr() {
			return fmt.Errorf("c is %+v, want a replica of b", rr)
		}
		return nil
	})
	redistest.Eventually(t, 20*time.Second, func() error {
		if lost := missing(t, b.redis, acked); len(lost) > 0 {
			return fmt.Errorf("%d of %d writes only c held missing on b, first: %v", len(lost), len(acked), lost[:min(len(lost), 5)])
		}
		return nil
	})
	if lost := missing(t, c.redis, acked); len(lost) > 0 {
		t.Errorf("%d of the writes c held missing on c after its resync", len(lost))
	}
}
