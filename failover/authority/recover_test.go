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

// Two of three members are lost for good: the survivor can elect no
// leader and commits nothing, so no failover can ever happen. Recover on
// it, with itself as the only voter, gives the group a leader again with
// its state kept, and new members join it as voters.
func TestRecoverAfterLosingTheMajority(t *testing.T) {
	c := formGroup(t, 3)
	st := setPrimary(t, c.leader(waitFor), 0, 1, "a")
	waitApplied(t, c, st.Index)
	c.kill("b")
	c.kill("c")

	a := c.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := a.auth.Apply(ctx, authority.Command{Op: authority.OpSetPrimary, IfEpoch: 1, Epoch: 2, Primary: "a", Reason: authority.ReasonAuto, Start: time.Now()})
	cancel()
	if err == nil {
		t.Fatal("one voter of three committed an entry")
	}
	if _, err := authority.Recover(a.dir, "a", []string{"a"}, nil); err == nil || !strings.Contains(err.Error(), "stop this member's sidecar first") {
		t.Fatalf("recover while the sidecar runs: %v", err)
	}
	c.kill("a")

	rec, err := authority.Recover(a.dir, "a", []string{"a"}, testLogger(t, "recover"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Before, []string{"a", "b", "c"}) || !slices.Equal(rec.Voters, []string{"a"}) {
		t.Fatalf("recovery: voters %v before, %v after", rec.Before, rec.Voters)
	}
	if rec.Index < st.Index || rec.State.Primary != "a" || rec.State.Epoch != 1 || !slices.Equal(rec.State.Voters(), []string{"a"}) || len(rec.State.Members) != 1 {
		t.Fatalf("recovered at index %d (want ≥ %d) state %+v", rec.Index, st.Index, rec.State)
	}

	a = c.start("a", startOpts{dir: a.dir})
	leader := c.leader(waitFor, "a")
	got := leader.auth.State()
	if got.Primary != "a" || got.Epoch != 1 || !slices.Equal(got.Voters(), []string{"a"}) {
		t.Fatalf("after the restart: primary %q epoch %d voters %v", got.Primary, got.Epoch, got.Voters())
	}
	setPrimary(t, leader, 1, 2, "a")
	c.start("d", startOpts{})
	waitMembers(t, c, 2, 2)
	if got := c.leader(waitFor).auth.State(); got.Epoch != 2 || !slices.Equal(got.Voters(), []string{"a", "d"}) {
		t.Fatalf("after d joined: epoch %d voters %v", got.Epoch, got.Voters())
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
