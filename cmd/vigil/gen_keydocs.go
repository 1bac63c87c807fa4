//go:build ignore

// gen_keydocs writes keydocs_gen.go from the configuration structs' doc
// comments. Run it with `go generate ./cmd/vigil`.
package main

import (
	"log"
	"os"

	"github.com/vigil-redis/vigil/cmd/vigil/internal/keydocs"
)

func main() {
	b, err := keydocs.Generate("../..")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("keydocs_gen.go", b, 0o644); err != nil {
		log.Fatal(err)
	}
}
