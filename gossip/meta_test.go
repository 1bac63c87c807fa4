package gossip

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMetaEncoding(t *testing.T) {
	for _, tt := range []struct {
		name    string
		entries map[string][]byte
		raw     []byte
		keyed   map[string][]byte
	}{
		{"none", nil, nil, nil},
		{"raw only", map[string][]byte{"": []byte("x")}, []byte("x"), nil},
		{"keys only", map[string][]byte{"raft": {1}, "b": {}}, nil, map[string][]byte{"raft": {1}, "b": {}}},
		{"both", map[string][]byte{"": []byte("x"), "raft": {1}}, []byte("x"), map[string][]byte{"raft": {1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, keyed := splitMeta(encodeMeta(tt.entries))
			if diff := cmp.Diff(raw, tt.raw); diff != "" {
				t.Errorf("raw (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(keyed, tt.keyed); diff != "" {
				t.Errorf("keyed (-got +want):\n%s", diff)
			}
		})
	}
	// Metadata of an older build, or garbage, is reported as it is.
	for _, b := range [][]byte{[]byte("legacy"), {metaVersion, 5, 'a'}, {metaVersion, 1, 'a', 0, 9, 'x'}} {
		if _, err := decodeMeta(b); !errors.Is(err, errMetaFormat) {
			t.Errorf("decodeMeta(%q) err = %v, want errMetaFormat", b, err)
		}
		if raw, keyed := splitMeta(b); string(raw) != string(b) || keyed != nil {
			t.Errorf("splitMeta(%q) = %q, %v; want the bytes as Meta", b, raw, keyed)
		}
	}
}

func TestMetaKeysReachPeers(t *testing.T) {
	a := startNode(t, "a", nodeOpts{cfg: testConfig()})
	cfg := testConfig()
	cfg.Join = []string{a.Addr()}
	b := startNode(t, "b", nodeOpts{cfg: cfg})
	waitAlive(t, []string{"a", "b"}, a, b)

	a.SetMeta([]byte("failover"))
	if err := a.SetMetaKey("raft", []byte{1}); err != nil {
		t.Fatal(err)
	}
	seenBy := func(n *node, wantRaw string, wantRaft []byte) func() error {
		return func() error {
			for _, m := range n.Members() {
				if m.Name != "a" {
					continue
				}
				if string(m.Meta) != wantRaw || !cmp.Equal(m.MetaKey("raft"), wantRaft) {
					return fmt.Errorf("%s sees a's meta %q, raft %v; want %q, %v", n.Name(), m.Meta, m.MetaKey("raft"), wantRaw, wantRaft)
				}
			}
			return nil
		}
	}
	for _, n := range []*node{a, b} {
		eventually(t, 10*time.Second, seenBy(n, "failover", []byte{1}))
	}
	if err := a.SetMetaKey("raft", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, seenBy(b, "failover", nil))

	if err := a.SetMetaKey("", []byte{1}); err == nil {
		t.Error("SetMetaKey with an empty key succeeded")
	}
	if err := a.SetMetaKey("big", make([]byte, MaxMetaSize)); err == nil {
		t.Error("SetMetaKey over MaxMetaSize succeeded")
	}
	eventually(t, 10*time.Second, seenBy(b, "failover", nil))
}

// Alive reads member states directly; it must name exactly the members
// Members reports alive, in the same order.
func TestAliveMatchesMembers(t *testing.T) {
	p, err := New(testConfig(), "b", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.meta = map[string][]byte{"": []byte("self"), "raft": {1}}
	p.known = map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2", "c": "127.0.0.1:3", "d": "127.0.0.1:4", "e": "127.0.0.1:5"}
	p.members = map[string]*memberState{
		"a": {addr: "127.0.0.1:1", state: StateAlive, meta: encodeMeta(map[string][]byte{"raft": {1}})},
		"c": {addr: "127.0.0.1:3", state: StateDead},
		"e": {addr: "127.0.0.1:5", state: StateAlive, meta: []byte("not keyed")},
	}
	var want []string
	for _, m := range p.Members() {
		if m.State == StateAlive {
			want = append(want, m.Name)
		}
	}
	if got := p.Alive(); !slices.Equal(got, want) || !slices.Equal(got, []string{"a", "b", "e"}) {
		t.Fatalf("Alive() = %v, Members alive = %v, want [a b e]", got, want)
	}
}

func BenchmarkAlive(b *testing.B) {
	p, err := New(testConfig(), "b", "", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	p.meta = map[string][]byte{"raft": {1}}
	p.known = map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2", "c": "127.0.0.1:3"}
	p.members = map[string]*memberState{}
	for _, n := range []string{"a", "c"} {
		p.members[n] = &memberState{addr: p.known[n], state: StateAlive, meta: encodeMeta(map[string][]byte{"raft": {1}})}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Alive()
	}
}
