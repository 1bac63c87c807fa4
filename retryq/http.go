package retryq

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-redis/vigil/retryq/client"
)

// Handler serves the retry queue's HTTP API under /v1/retryq. When
// adminToken is not empty every route requires "Authorization: Bearer
// <adminToken>". Mount it with mux.Handle("/v1/retryq", h) and
// mux.Handle("/v1/retryq/", h).
//
//	POST   /v1/retryq                 enqueue {"items":[...]} -> 202 {"ids":[...]}
//	GET    /v1/retryq?state=&limit=&after=   list
//	DELETE /v1/retryq?state=dead|ready       purge -> {"deleted":N}
//	GET    /v1/retryq/stats           counts and limits
//	GET    /v1/retryq/export          dead letters as JSON lines
//	GET    /v1/retryq/{id}            one item
//	POST   /v1/retryq/{id}/requeue    make it ready again
//	DELETE /v1/retryq/{id}            delete it
func (q *Queue) Handler(adminToken string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/retryq", q.handleEnqueue)
	mux.HandleFunc("GET /v1/retryq", q.handleList)
	mux.HandleFunc("DELETE /v1/retryq", q.handlePurge)
	mux.HandleFunc("GET /v1/retryq/stats", q.handleStats)
	mux.HandleFunc("GET /v1/retryq/export", q.handleExport)
	mux.HandleFunc("GET /v1/retryq/{id}", q.handleGet)
	mux.HandleFunc("POST /v1/retryq/{id}/requeue", q.handleRequeue)
	mux.HandleFunc("DELETE /v1/retryq/{id}", q.handleDelete)
	if adminToken == "" {
		return mux
	}
	want := []byte("Bearer " + adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (http.admin_token)")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeErr maps the queue's errors to HTTP statuses.
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrBusy):
		status = http.StatusConflict
	case errors.Is(err, ErrFull):
		status = http.StatusInsufficientStorage
	case errors.Is(err, ErrNotRunning):
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, err.Error())
}

// wireItem is an enqueued item as posted. Arguments stay raw so that a
// non-string argument can be named precisely.
type wireItem struct {
	ID          string            `json:"id"`
	Command     []json.RawMessage `json:"command"`
	CommandB64  []json.RawMessage `json:"command_b64"`
	Priority    int               `json:"priority"`
	Key         *string           `json:"key"`
	KeyB64      *string           `json:"key_b64"`
	MaxAttempts int               `json:"max_attempts"`
}

func (q *Queue) handleEnqueue(w http.ResponseWriter, r *http.Request) {
	items, err := q.decodeEnqueue(w, r)
	if err != nil {
		q.rejected.Add(1)
		q.m.rejected.WithLabelValues(reasonInvalid).Inc()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than retryq.max_request_bytes (%d)", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ids, err := q.Enqueue(r.Context(), items)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string][]string{"ids": ids})
}

func (q *Queue) decodeEnqueue(w http.ResponseWriter, r *http.Request) ([]NewItem, error) {
	// Decoding from the stream, not from a copy of the body, and slicing
	// plain strings out of the raw JSON (see toItem) keeps a large
	// request's memory to a few times its size.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, q.cfg.MaxRequestBytes))
	dec.DisallowUnknownFields()
	var req struct {
		Items []wireItem `json:"items"`
	}
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: data after the request object")
	}
	if len(req.Items) == 0 {
		return nil, errors.New(`"items" is missing or empty`)
	}
	out := make([]NewItem, len(req.Items))
	for i, wi := range req.Items {
		it, err := wi.toItem()
		if err != nil {
			return nil, fmt.Errorf("items[%d]: %v", i, err)
		}
		out[i] = it
	}
	return out, nil
}

func (wi wireItem) toItem() (NewItem, error) {
	it := NewItem{ID: wi.ID, Priority: wi.Priority, MaxAttempts: wi.MaxAttempts}
	field, raw, b64 := "command", wi.Command, false
	switch {
	case len(wi.Command) > 0 && len(wi.CommandB64) > 0:
		return it, errors.New(`give "command" or "command_b64", not both`)
	case len(wi.CommandB64) > 0:
		field, raw, b64 = "command_b64", wi.CommandB64, true
	case len(wi.Command) == 0:
		return it, errors.New(`command is empty: "command" (or "command_b64") needs the command name and its arguments`)
	}
	it.Command = make([][]byte, len(raw))
	for j, m := range raw {
		if !b64 {
			if plain, ok := plainString(m); ok {
				it.Command[j] = plain
				continue
			}
		}
		var s string
		if len(m) == 0 || m[0] != '"' || json.Unmarshal(m, &s) != nil {
			return it, fmt.Errorf("%s[%d]: argument is not a string (got %s)", field, j, jsonKind(m))
		}
		if b64 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return it, fmt.Errorf("%s[%d]: not valid base64: %v", field, j, err)
			}
			it.Command[j] = b
		} else {
			it.Command[j] = []byte(s)
		}
	}
	if len(it.Command[0]) == 0 {
		return it, fmt.Errorf("%s[0]: command name is empty", field)
	}
	switch {
	case wi.Key != nil && wi.KeyB64 != nil:
		return it, errors.New(`give "key" or "key_b64", not both`)
	case wi.Key != nil:
		it.Key = []byte(*wi.Key)
	case wi.KeyB64 != nil:
		b, err := base64.StdEncoding.DecodeString(*wi.KeyB64)
		if err != nil {
			return it, fmt.Errorf("key_b64: not valid base64: %v", err)
		}
		it.Key = b
	}
	if it.MaxAttempts < 0 {
		return it, fmt.Errorf("max_attempts (%d) must not be negative", it.MaxAttempts)
	}
	if it.ID != "" {
		if err := validID(it.ID); err != nil {
			return it, err
		}
	}
	return it, nil
}

// plainString returns the contents of m when it is a JSON string without
// escapes or control characters and valid UTF-8, sharing m's memory: the
// common case, decoded without a copy.
func plainString(m json.RawMessage) ([]byte, bool) {
	if len(m) < 2 || m[0] != '"' || m[len(m)-1] != '"' {
		return nil, false
	}
	in := m[1 : len(m)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return nil, false
		}
	}
	if !utf8.Valid(in) {
		return nil, false // json.Unmarshal replaces invalid bytes; keep its behaviour
	}
	return in, true
}

func jsonKind(m json.RawMessage) string {
	t := strings.TrimSpace(string(m))
	switch {
	case t == "":
		return "nothing"
	case t == "null":
		return "null"
	case t == "true" || t == "false":
		return "a boolean"
	case t[0] == '{':
		return "an object"
	case t[0] == '[':
		return "an array"
	case t[0] == '"':
		return "an invalid string"
	default:
		return "a number"
	}
}

func (q *Queue) handleList(w http.ResponseWriter, r *http.Request) {
	opts := ListOptions{State: client.State(r.URL.Query().Get("state")), After: r.URL.Query().Get("after")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is not a non-negative integer", l))
			return
		}
		opts.Limit = n
	}
	items, err := q.List(opts)
	if err != nil {
		writeErr(w, err)
		return
	}
	if items == nil {
		items = []Item{}
	}
	writeJSON(w, http.StatusOK, map[string][]Item{"items": items})
}

func (q *Queue) handlePurge(w http.ResponseWriter, r *http.Request) {
	st := client.State(r.URL.Query().Get("state"))
	if st == "" {
		writeError(w, http.StatusBadRequest, "purge needs ?state=dead or ?state=ready")
		return
	}
	n, err := q.Purge(st)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

func (q *Queue) handleStats(w http.ResponseWriter, r *http.Request) {
	s, err := q.Stats()
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (q *Queue) handleExport(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	cw := &countingWriter{w: w}
	if err := q.Export(r.Context(), cw); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Type")
			writeErr(w, err)
			return
		}
		// After the first byte an error can only cut the stream short.
		q.logger.Warn("export failed", "err", err)
	}
}

func (q *Queue) handleGet(w http.ResponseWriter, r *http.Request) {
	it, err := q.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (q *Queue) handleRequeue(w http.ResponseWriter, r *http.Request) {
	it, err := q.Requeue(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (q *Queue) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := q.Delete(r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
