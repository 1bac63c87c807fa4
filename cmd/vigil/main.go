// Command vigil is a failover sentinel sidecar and health monitor for Redis.
// One vigil runs beside each Redis node; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/vigil-redis/vigil/config"
)

func main() {
	runtimeDefaults(os.LookupEnv)
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr), os.Stderr))
}

// runtimeDefaults tunes the Go runtime for a process that waits nearly
// all the time, unless the operator set the variable (lookup is
// os.LookupEnv). It is the process's, not run's: tests that call run
// in-process keep theirs.
func runtimeDefaults(lookup func(string) (string, bool)) {
	if _, ok := lookup("GOGC"); !ok {
		// An idle sidecar's live heap is a few MiB, and Go's default
		// (GOGC=100) lets the heap, and the RSS with it, grow to twice
		// that between collections. At 50 the RSS is about 3 MiB smaller
		// for twice as many (small) collections, about 0.03 % of a core.
		debug.SetGCPercent(50)
	}
	if _, ok := lookup("GOMAXPROCS"); !ok {
		// Most of what an idle sidecar costs is waking up. With more
		// than one P, each goroutine that a timer or a packet makes
		// runnable also wakes a second thread to look for work (Go's
		// spinning Ms): a futex wake and a thread switch that find
		// nothing. One P cut an idle sidecar's CPU by a fifth to a
		// quarter, side by side (README, Idle cost). Failover is a few
		// Redis commands and Raft entries, far below a core; the proxy
		// under heavy traffic may want more (GOMAXPROCS=N).
		runtime.GOMAXPROCS(1)
	}
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
