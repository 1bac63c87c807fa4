package authority_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Three of five members are lost for good: the two survivors can elect
// no leader and commit nothing, so no failover can ever happen. Recover on
// both, with the two as the only voters, gives the group a leader again
// with its state kept, and new members join it as voters.
func TestRecoverAfterLosingTheMajority(t *testing.T) {
	c := formGroup(t, 5)
	st := setPrimary(t, c.leader(waitFor), 0, 1, "a")
	waitApplied(t, c, st.Index)
	lost := map[string]string{}
	for _, name := range []string{"c", "d", "e"} {
		lost[name] = c.kill(name).dir
	}

	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := a.auth.Apply(ctx, authority.Command{Op: authority.OpSetPrimary, IfEpoch: 1, Epoch: 2, Primary: "a", Reason: authority.ReasonAuto, Start: time.Now()})
	cancel()
	if err == nil {
		t.Fatal("two voters of five committed an entry")
	}
	if _, err := authority.Recover(a.dir, "a", []string{"a", "b"}, nil); err == nil || !strings.Contains(err.Error(), "stop this member's sidecar first") {
		t.Fatalf("recover while the sidecar runs: %v", err)
	}
	dirs := map[string]string{}
	for _, name := range []string{"a", "b"} {
		dirs[name] = c.kill(name).dir
	}
	for _, name := range []string{"a", "b"} {
		rec, err := authority.Recover(dirs[name], name, []string{"a", "b"}, testLogger(t, "recover-"+name))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rec.Before, []string{"a", "b", "c", "d", "e"}) || !slices.Equal(rec.Voters, []string{"a", "b"}) {
			t.Fatalf("%s: voters %v before, %v after", name, rec.Before, rec.Voters)
		}
		// The refused set-primary may be in the member's log: recovery
		// counts it as committed (raft's own warning), at epoch 2.
		if rec.Index < st.Index || rec.State.Primary != "a" || rec.State.Epoch < 1 || !slices.Equal(rec.State.Voters(), []string{"a", "b"}) || len(rec.State.Members) != 2 {
			t.Fatalf("%s: recovered at index %d (want ≥ %d) state %+v", name, rec.Index, st.Index, rec.State)
		}
	}

	c.start("a", startOpts{dir: dirs["a"]})
	c.start("b", startOpts{dir: dirs["b"]})
	leader := c.leader(waitFor)
	got := leader.auth.State()
	if got.Primary != "a" || got.Epoch < 1 || !slices.Equal(got.Voters(), []string{"a", "b"}) {
		t.Fatalf("after the restart: primary %q epoch %d voters %v", got.Primary, got.Epoch, got.Voters())
	}
	next := setPrimary(t, c.follower(leader), got.Epoch, got.Epoch+1, "b")
	c.start("f", startOpts{})
	waitMembers(t, c, 3, 3)
	if got := c.leader(waitFor).auth.State(); got.Epoch != next.Epoch || !slices.Equal(got.Voters(), []string{"a", "b", "f"}) {
		t.Fatalf("after f joined: epoch %d voters %v", got.Epoch, got.Voters())
	}
	// One left out was not gone after all: it comes back with its old
	// state and configuration, and joins the recovered group as any
	// newcomer does, taking its state rather than splitting it.
	c.start("c", startOpts{dir: lost["c"]})
	waitMembers(t, c, 4, 4)
	waitApplied(t, c, c.leader(waitFor).auth.State().Index)
	for name, n := range c.nodes {
		if got := n.auth.State(); got.Epoch != next.Epoch || got.Primary != "b" {
			t.Errorf("%s after c came back: epoch %d primary %q, want %d b", name, got.Epoch, got.Primary, next.Epoch)
		}
	}
}

// A member whose last configuration entry removed it (appended, never
// committed: chaos seed 13221) can still be recovered with itself among
// the voters; names no configuration held are refused, as are lists that
// leave out the member itself or name one twice.
func TestRecoverArguments(t *testing.T) {
	dir := t.TempDir()
	raftDir := filepath.Join(dir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(raftDir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	servers := func(names ...string) []byte {
		var c raft.Configuration
		for _, n := range names {
			c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n), Address: raft.ServerAddress("127.0.0.1:1" + n)})
		}
		return raft.EncodeConfiguration(c)
	}
	err = store.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: servers("a", "b", "c")},
		{Index: 2, Term: 2, Type: raft.LogConfiguration, Data: servers("a", "b")},
	})
	if err == nil {
		err = store.SetUint64([]byte("CurrentTerm"), 2)
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		self   string
		voters []string
		want   string
	}{
		{"c", nil, "no voters given"},
		{"c", []string{"a", "b"}, `leave out this member "c"`},
		{"c", []string{"a", "c", "a"}, `voter "a" given twice`},
		{"c", []string{"a", "x", "c"}, `voter "x" was never in a configuration`},
	} {
		if _, err := authority.Recover(dir, tc.self, tc.voters, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Recover(%s, %v) = %v, want an error containing %q", tc.self, tc.voters, err, tc.want)
		}
	}
	if _, err := authority.Recover(t.TempDir(), "a", []string{"a"}, nil); err == nil || !strings.Contains(err.Error(), "no raft state") {
		t.Errorf("Recover of an empty data dir = %v", err)
	}

	rec, err := authority.Recover(dir, "c", []string{"a", "b", "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Before, []string{"a", "b"}) || rec.Index != 2 || rec.Term != 2 || !slices.Equal(rec.State.Voters(), []string{"a", "b", "c"}) {
		t.Fatalf("recovery: before %v, index %d term %d, voters %v", rec.Before, rec.Index, rec.Term, rec.State.Voters())
	}
}
