package main

import "github.com/spf13/pflag"

//go:generate go run gen_keydocs.go

// applyKeyDocs replaces each configuration flag's placeholder usage with
// the key's documentation, so `vigil run --help` explains every key.
func applyKeyDocs(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if d := keyDocs[f.Name]; d != "" {
			f.Usage = d
		}
	})
}
