// Command vigil is a failover sentinel sidecar and health monitor for Redis.
// One vigil runs beside each Redis node; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vigil-redis/vigil/config"
)

func main() {
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr), os.Stderr))
}

// exitCode maps run's error to the process exit status: 2 for a bad
// configuration or command line, 1 for any other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "vigil:", err)
	if errors.Is(err, config.ErrInvalid) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// run is the whole program; tests call it in-process.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	root := newRootCmd(environ, stdout, stderr)
	root.SetArgs(args)
	return classify(root.ExecuteContext(ctx))
}
