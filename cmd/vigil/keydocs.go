package main

import (
	"strings"

	"github.com/spf13/pflag"
)

//go:generate go run gen_keydocs.go

// applyKeyDocs replaces each configuration flag's placeholder usage with
// the key's documentation, so `vigil run --help` explains every key. The
// doc comments' backquotes go: pflag would show the first backquoted word
// as the flag's type (`--gossip.insecure vigil run`).
func applyKeyDocs(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if d := keyDocs[f.Name]; d != "" {
			f.Usage = strings.ReplaceAll(d, "`", "")
		}
	})
}
