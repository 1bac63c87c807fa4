package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// serverErr is an error reply as go-redis hands it over (redis.Error).
type serverErr string

func (e serverErr) Error() string { return string(e) }
func (serverErr) RedisError()     {}

// TestClassify pins the mapping of errors to reasons, including replies
// the acceptance tests provoke only with effort (-LOADING is provoked in
// TestProbeLoading too).
func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Reason
	}{
		{nil, ReasonNone},
		{serverErr("LOADING Redis is loading the dataset in memory"), ReasonLoading},
		{serverErr("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT."), ReasonBusy},
		{serverErr("BUSYKEY Target key name already exists."), ReasonError},
		{serverErr("NOAUTH Authentication required."), ReasonAuth},
		{fmt.Errorf("failed to authenticate: %w", serverErr("WRONGPASS invalid username-password pair or user is disabled.")), ReasonAuth},
		{serverErr("NOPERM this user has no permissions to run the 'info' command"), ReasonAuth},
		{serverErr("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"), ReasonAuth},
		{fmt.Errorf("failed to resolve credentials: %w", fmt.Errorf("%w: %w", errPasswordFile, os.ErrNotExist)), ReasonAuth},
		{fmt.Errorf("dial tcp 127.0.0.1:1: connect: %w", syscall.ECONNREFUSED), ReasonRefused},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ReasonTimeout},
		{context.DeadlineExceeded, ReasonTimeout},
		{serverErr("ERR unknown command"), ReasonError},
		{errors.New("EOF"), ReasonError},
	}
	for _, tt := range tests {
		if got := classify(context.Background(), tt.err); got != tt.want {
			t.Errorf("classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
