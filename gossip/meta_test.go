package gossip

import (
	"errors"
	"fmt"
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
