package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
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
	// Each key's flag shows its value's type (pflag's names), never a
	// word of its documentation: pflag takes the first backquoted word of
	// a usage as the type name.
	types := []string{"", "string", "strings", "int", "uint", "duration", "float", "bool"}
	line := regexp.MustCompile(`(?m)^\s+--(\S+)( \S.*?)?  `)
	shown := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(help, -1) {
		shown[m[1]] = strings.TrimSpace(m[2])
	}
	for _, kv := range config.Redacted(config.Default()) {
		typ, ok := shown[kv[0]]
		if !ok {
			t.Errorf("run --help: no flag line for --%s", kv[0])
			continue
		}
		if !slices.Contains(types, typ) {
			t.Errorf("run --help shows --%s %s: the type is a word of its documentation", kv[0], typ)
		}
	}
	// A long doc is wrapped by pflag; its first words are enough.
	if !strings.Contains(help, "The sidecar's unique name in the group.") {
		t.Errorf("run --help lacks node.name's documentation:\n%s", help)
	}
}
