package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// quietLogger drops go-redis's pool messages: during a failover every
// refused dial would otherwise print a line per millisecond.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// sentinelLogger keeps go-redis's Sentinel messages (which Sentinel it
// asked, what it answered, a new master), timestamped, and drops the rest:
// VIGIL_BENCH_CLIENT_LOG=1 sets it, to trace a client-side window.
type sentinelLogger struct{}

func (sentinelLogger) Printf(_ context.Context, format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); strings.HasPrefix(msg, "sentinel:") {
		fmt.Fprintln(os.Stderr, time.Now().Format("15:04:05.000"), msg)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_BENCH_CLIENT_LOG") != "" {
		redis.SetLogger(sentinelLogger{})
	} else {
		redis.SetLogger(quietLogger{})
	}
	os.Exit(m.Run())
}
