package keydocs

import (
	"os"
	"path/filepath"
	"testing"
)

// A ",squash" field's keys are documented under its parent's prefix, as
// koanf decodes them.
func TestSquashKeepsParentPrefix(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config/config.go", `package config

import "github.com/vigil-redis/vigil/failover"

type Config struct {
	Failover failover.Config `+"`koanf:\"failover\"`"+`
}
`)
	write("failover/config.go", `package failover

import "github.com/vigil-redis/vigil/failover/authority"

type Config struct {
	// Quorum is how many sidecars must agree.
	Quorum int `+"`koanf:\"quorum\"`"+`
	// Authority is the Raft group's configuration.
	Authority authority.Config `+"`koanf:\",squash\"`"+`
}
`)
	write("failover/authority/config.go", `package authority

type Config struct {
	// BootstrapExpect is how many voters start the group.
	BootstrapExpect int `+"`koanf:\"bootstrap_expect\"`"+`
}
`)
	keys, err := Keys(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"failover.quorum":           "How many sidecars must agree.",
		"failover.bootstrap_expect": "How many voters start the group.",
	}
	if len(keys) != len(want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	for k, v := range want {
		if keys[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, keys[k], v, keys)
		}
	}
}
