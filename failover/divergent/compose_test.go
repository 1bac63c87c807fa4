package divergent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// TestConfigComposesUnderFailover shows how failover's config can embed
// this package's: with koanf ",squash" the keys stay failover.<key>.
// (config.fields, which walks the keys for flags, must then walk a
// ",squash" field with its parent's prefix.)
func TestConfigComposesUnderFailover(t *testing.T) {
	type failoverConfig struct {
		Quorum    int    `koanf:"quorum"`
		Divergent Config `koanf:",squash"`
	}
	var cfg struct {
		Failover failoverConfig `koanf:"failover"`
	}
	cfg.Failover.Divergent = DefaultConfig()
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	body := "failover:\n  quorum: 2\n  divergent_writes: replay\n  backlog_bytes: 1048576\n  divergent_marker_ttl: 1h\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	k := koanf.New(".")
	if err := k.Load(file.Provider(p), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		t.Fatal(err)
	}
	got := cfg.Failover.Divergent
	want := DefaultConfig()
	want.DivergentWrites, want.BacklogBytes, want.MarkerTTL = ModeReplay, 1<<20, time.Hour
	if got != want || cfg.Failover.Quorum != 2 {
		t.Fatalf("got %+v (quorum %d), want %+v", got, cfg.Failover.Quorum, want)
	}
}
