package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// EnqueueItem is one write handed to the retry queue.
type EnqueueItem struct {
	// ID is an optional idempotency key. Enqueueing an ID that is already
	// queued does not add a second item; the existing ID is answered. Empty
	// means the sidecar generates a unique ID.
	ID string
	// Command is the command name followed by its arguments, binary-safe.
	Command [][]byte
	// Priority orders items across ordering keys: higher drains first.
	Priority int
	// Key is the ordering key; items with the same key are applied in
	// enqueue order. Nil means the command's first argument after its name.
	Key []byte
	// MaxAttempts is the item's attempt budget; zero means the sidecar's
	// retryq.default_max_attempts.
	MaxAttempts int
}

// enqueueItemJSON is the wire form of EnqueueItem: strings where they are
// valid UTF-8, base64 otherwise.
type enqueueItemJSON struct {
	ID          string   `json:"id,omitempty"`
	Command     []string `json:"command,omitempty"`
	CommandB64  []string `json:"command_b64,omitempty"`
	Priority    int      `json:"priority,omitempty"`
	Key         string   `json:"key,omitempty"`
	KeyB64      string   `json:"key_b64,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
}

// MarshalJSON encodes the item as POST /v1/retryq expects it.
func (it EnqueueItem) MarshalJSON() ([]byte, error) {
	j := enqueueItemJSON{ID: it.ID, Priority: it.Priority, MaxAttempts: it.MaxAttempts}
	j.Command, j.CommandB64 = encodeArgs(it.Command)
	j.Key, j.KeyB64 = encodeKey(it.Key)
	return json.Marshal(j)
}

// State is where an item is in its life.
type State string

// The states an item can be in.
const (
	// StateReady items wait for replay (possibly in backoff).
	StateReady State = "ready"
	// StateInflight items are being replayed right now.
	StateInflight State = "inflight"
	// StateDead items failed permanently or exhausted their attempts.
	StateDead State = "dead"
)

// Item is a queued item as the admin API shows it.
type Item struct {
	ID            string
	State         State
	Command       [][]byte
	Priority      int
	Key           []byte
	EnqueuedAt    time.Time
	Attempts      int
	MaxAttempts   int
	NextAttemptAt time.Time
	LastError     string
}

type itemJSON struct {
	ID            string     `json:"id"`
	State         State      `json:"state"`
	Command       []string   `json:"command,omitempty"`
	CommandB64    []string   `json:"command_b64,omitempty"`
	Priority      int        `json:"priority"`
	Key           string     `json:"key,omitempty"`
	KeyB64        string     `json:"key_b64,omitempty"`
	EnqueuedAt    time.Time  `json:"enqueued_at"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// MarshalJSON encodes the item with "command" when every argument is valid
// UTF-8 and "command_b64" otherwise (likewise "key" and "key_b64").
func (it Item) MarshalJSON() ([]byte, error) {
	j := itemJSON{
		ID: it.ID, State: it.State, Priority: it.Priority, EnqueuedAt: it.EnqueuedAt.UTC(),
		Attempts: it.Attempts, MaxAttempts: it.MaxAttempts, LastError: it.LastError,
	}
	j.Command, j.CommandB64 = encodeArgs(it.Command)
	j.Key, j.KeyB64 = encodeKey(it.Key)
	if !it.NextAttemptAt.IsZero() {
		t := it.NextAttemptAt.UTC()
		j.NextAttemptAt = &t
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON produces.
func (it *Item) UnmarshalJSON(b []byte) error {
	var j itemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	args, err := decodeArgs(j.Command, j.CommandB64)
	if err != nil {
		return err
	}
	key := []byte(j.Key)
	if j.KeyB64 != "" {
		if key, err = base64.StdEncoding.DecodeString(j.KeyB64); err != nil {
			return fmt.Errorf("key_b64: %w", err)
		}
	}
	*it = Item{
		ID: j.ID, State: j.State, Command: args, Priority: j.Priority, Key: key,
		EnqueuedAt: j.EnqueuedAt, Attempts: j.Attempts, MaxAttempts: j.MaxAttempts, LastError: j.LastError,
	}
	if j.NextAttemptAt != nil {
		it.NextAttemptAt = *j.NextAttemptAt
	}
	return nil
}

// Stats summarises the queue.
type Stats struct {
	Ready            int        `json:"ready"`
	Inflight         int        `json:"inflight"`
	Dead             int        `json:"dead"`
	Items            int        `json:"items"`
	Bytes            int64      `json:"bytes"`
	MaxItems         int        `json:"max_items"`
	MaxBytes         int64      `json:"max_bytes"`
	OldestEnqueuedAt *time.Time `json:"oldest_enqueued_at,omitempty"`
	// Primary is the address the drain replays to; empty when none is writable.
	Primary string `json:"primary"`
	// Counters since the sidecar started.
	Enqueued     uint64 `json:"enqueued"`
	Replayed     uint64 `json:"replayed"`
	Failed       uint64 `json:"failed"`
	DeadLettered uint64 `json:"dead_lettered"`
	Rejected     uint64 `json:"rejected"`
}

// ListOptions select items for List.
type ListOptions struct {
	// State filters by state; empty lists every state.
	State State
	// Limit caps the number of items; zero means the server default (100).
	Limit int
	// After continues a listing after the item with this ID.
	After string
}

// Sentinel errors the client's methods wrap.
var (
	// ErrQueueFull means the sidecar refused the items because the queue is
	// at retryq.max_items or retryq.max_bytes (HTTP 507).
	ErrQueueFull = errors.New("client: queue full")
	// ErrNotFound means no item has the ID (HTTP 404).
	ErrNotFound = errors.New("client: item not found")
	// ErrUnauthorized means the bearer token is missing or wrong (HTTP 401).
	ErrUnauthorized = errors.New("client: unauthorized")
)

// Error is a non-success answer of the sidecar.
type Error struct {
	StatusCode int
	Message    string
}

// Error returns the status and the sidecar's message.
func (e *Error) Error() string {
	return fmt.Sprintf("retryq http %d: %s", e.StatusCode, e.Message)
}

// Is matches ErrQueueFull, ErrNotFound and ErrUnauthorized by status code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrQueueFull:
		return e.StatusCode == 507
	case ErrNotFound:
		return e.StatusCode == 404
	case ErrUnauthorized:
		return e.StatusCode == 401
	}
	return false
}

func allUTF8(args [][]byte) bool {
	for _, a := range args {
		if !utf8.Valid(a) {
			return false
		}
	}
	return true
}

func encodeArgs(args [][]byte) (plain, b64 []string) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]string, len(args))
	if allUTF8(args) {
		for i, a := range args {
			out[i] = string(a)
		}
		return out, nil
	}
	for i, a := range args {
		out[i] = base64.StdEncoding.EncodeToString(a)
	}
	return nil, out
}

func encodeKey(k []byte) (plain, b64 string) {
	if utf8.Valid(k) {
		return string(k), ""
	}
	return "", base64.StdEncoding.EncodeToString(k)
}

func decodeArgs(plain, b64 []string) ([][]byte, error) {
	if len(b64) > 0 {
		out := make([][]byte, len(b64))
		for i, s := range b64 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("command_b64[%d]: %w", i, err)
			}
			out[i] = b
		}
		return out, nil
	}
	out := make([][]byte, len(plain))
	for i, s := range plain {
		out[i] = []byte(s)
	}
	return out, nil
}
