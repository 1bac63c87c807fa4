package retryq

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/retryq/client"
)

// ErrQueued is matched (errors.Is) by the error a go-redis command returns
// when the Hook queued it in the retry queue instead of failing it.
var ErrQueued = errors.New("retryq: write queued for replay")

// QueuedError is returned for a write the Hook queued. errors.Is(err,
// ErrQueued) is true, and Unwrap gives the original Redis error.
type QueuedError struct {
	// ID is the queue item's ID.
	ID string
	// Err is the error the write failed with.
	Err error
}

// Error says that the write was queued and why.
func (e *QueuedError) Error() string {
	return fmt.Sprintf("retryq: write queued for replay as %s: %v", e.ID, e.Err)
}

// Unwrap returns the original error.
func (e *QueuedError) Unwrap() error { return e.Err }

// Is matches ErrQueued.
func (e *QueuedError) Is(target error) bool { return target == ErrQueued }

// Enqueuer stores items in a retry queue: *client.Client over HTTP, or a
// *Queue in-process.
type Enqueuer interface {
	Enqueue(ctx context.Context, items []client.EnqueueItem) ([]string, error)
}

// HookOptions tune the Hook.
type HookOptions struct {
	// Timeout bounds one enqueue; zero means 2s. It does not inherit the
	// command's context, whose deadline may be what just expired.
	Timeout time.Duration
	// Priority and MaxAttempts are given to every queued item.
	Priority    int
	MaxAttempts int
	// Writes replaces the set of lower-case command names treated as
	// writes; nil means WriteCommands.
	Writes map[string]bool
	// Retryable replaces the test for errors worth queueing; nil means
	// the package's Retryable.
	Retryable func(error) bool
	// Policy is the sidecar's retryq.allowed_commands; nil means the
	// default. A command is queued only when it is in Writes and the
	// policy accepts it, so the hook never sends what the queue refuses.
	Policy *Policy
}

// WriteCommands is the default set of commands the Hook may queue: plain
// single-command writes whose replay later is meaningful. Blocking
// commands, scripts, transactions, pub/sub and administrative commands are
// not queued.
func WriteCommands() map[string]bool {
	m := map[string]bool{}
	for _, c := range DefaultAllowedCommands() {
		m[c] = true
	}
	return m
}

// Hook is a go-redis hook that queues writes failing because no primary is
// writable. Install it with client.AddHook(retryq.NewHook(...)). A queued
// command's error is a *QueuedError (errors.Is(err, ErrQueued)); a failed
// enqueue leaves the original error, joined with the enqueue's.
// Transactions (MULTI/EXEC pipelines) are never queued piecemeal.
//
// A timeout is ambiguous: the primary may have applied the write before the
// reply was lost, and the queued copy then applies a second time. Set
// HookOptions.Retryable to exclude timeouts for non-idempotent writes if that
// matters more than losing them.
type Hook struct {
	enq    Enqueuer
	opts   HookOptions
	write  map[string]bool
	retry  func(error) bool
	policy Policy
}

// NewHook returns a hook that queues through enq.
func NewHook(enq Enqueuer, opts HookOptions) *Hook {
	h := &Hook{enq: enq, opts: opts, write: opts.Writes, retry: opts.Retryable}
	if h.opts.Timeout <= 0 {
		h.opts.Timeout = 2 * time.Second
	}
	if h.write == nil {
		h.write = WriteCommands()
	}
	if h.retry == nil {
		h.retry = Retryable
	}
	if opts.Policy != nil {
		h.policy = *opts.Policy
	} else {
		h.policy, _ = NewPolicy(DefaultAllowedCommands())
	}
	return h
}

// DialHook implements redis.Hook.
func (h *Hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook implements redis.Hook.
func (h *Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || !h.queueable(cmd, err) {
			return err
		}
		return h.queue(ctx, []redis.Cmder{cmd}, []error{err})
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil || len(cmds) == 0 || cmds[0].Name() == "multi" {
			return err
		}
		var q []redis.Cmder
		var errs []error
		for _, c := range cmds {
			if c.Err() != nil && h.queueable(c, c.Err()) {
				q = append(q, c)
				errs = append(errs, c.Err())
			}
		}
		if len(q) == 0 {
			return err
		}
		_ = h.queue(ctx, q, errs)
		for _, c := range cmds {
			if c.Err() != nil {
				return c.Err()
			}
		}
		return nil
	}
}

func (h *Hook) queueable(cmd redis.Cmder, err error) bool {
	name := strings.ToLower(cmd.Name())
	return h.write[name] && h.policy.Allows(name) && h.retry(err)
}

// queue enqueues cmds, which failed with errs, and sets each one's error
// to the outcome.
func (h *Hook) queue(ctx context.Context, cmds []redis.Cmder, errs []error) error {
	items := make([]client.EnqueueItem, len(cmds))
	for i, c := range cmds {
		items[i] = client.EnqueueItem{Command: argsBytes(c.Args()), Priority: h.opts.Priority, MaxAttempts: h.opts.MaxAttempts}
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.Timeout)
	defer cancel()
	ids, err := h.enq.Enqueue(ectx, items)
	var first error
	for i, c := range cmds {
		var e error
		if err != nil {
			e = errors.Join(errs[i], fmt.Errorf("retryq: queueing the write failed: %w", err))
		} else {
			e = &QueuedError{ID: ids[i], Err: errs[i]}
		}
		c.SetErr(e)
		if first == nil {
			first = e
		}
	}
	return first
}

// argsBytes renders go-redis arguments the way go-redis writes them.
func argsBytes(args []any) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = argBytes(a)
	}
	return out
}

func argBytes(v any) []byte {
	switch v := v.(type) {
	case nil:
		return []byte{}
	case string:
		return []byte(v)
	case []byte:
		return v
	case int:
		return strconv.AppendInt(nil, int64(v), 10)
	case int8:
		return strconv.AppendInt(nil, int64(v), 10)
	case int16:
		return strconv.AppendInt(nil, int64(v), 10)
	case int32:
		return strconv.AppendInt(nil, int64(v), 10)
	case int64:
		return strconv.AppendInt(nil, v, 10)
	case uint:
		return strconv.AppendUint(nil, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(nil, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(nil, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(nil, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(nil, v, 10)
	case float32:
		return strconv.AppendFloat(nil, float64(v), 'f', -1, 32)
	case float64:
		return strconv.AppendFloat(nil, v, 'f', -1, 64)
	case bool:
		if v {
			return []byte("1")
		}
		return []byte("0")
	case time.Time:
		return v.AppendFormat(nil, time.RFC3339Nano)
	case time.Duration:
		return strconv.AppendInt(nil, v.Nanoseconds(), 10)
	case encoding.BinaryMarshaler:
		if b, err := v.MarshalBinary(); err == nil {
			return b
		}
	case fmt.Stringer:
		return []byte(v.String())
	}
	return fmt.Appendf(nil, "%v", v)
}

var _ redis.Hook = (*Hook)(nil)
