package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vigil-redis/vigil/cmd/vigil/internal/keydocs"
	"github.com/vigil-redis/vigil/config"
)

// keydocs_gen.go must be what `go generate ./cmd/vigil` writes from the
// current source: a doc comment changed without regenerating fails here.
func TestKeyDocsUpToDate(t *testing.T) {
	want, err := keydocs.Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("keydocs_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("keydocs_gen.go is stale: run go generate ./cmd/vigil")
	}
}

// Every configuration key is documented, and `vigil run --help` shows the
// documentation instead of a placeholder.
func TestRunHelpDocumentsEveryKey(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"run", "--help"}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	help := stdout.String() + stderr.String()
	for _, kv := range config.Redacted(config.Default()) {
		key := kv[0]
		doc := keyDocs[key]
		if doc == "" {
			t.Errorf("%s has no doc comment on its struct field", key)
			continue
		}
		if !strings.Contains(help, "--"+key) {
			t.Errorf("run --help lacks --%s", key)
		}
	}
	if strings.Contains(help, "sets redis.addr") {
		t.Error("run --help still shows placeholder usages")
	}
	// A long doc is wrapped by pflag; its first words are enough.
	if !strings.Contains(help, "The sidecar's unique name in the group.") {
		t.Errorf("run --help lacks node.name's documentation:\n%s", help)
	}
}
