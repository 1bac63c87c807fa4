package failover

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Handler serves the operator API: POST /v1/switchover ({"to":"node"},
// optional), POST /v1/handover (this node's primary role to the best
// replica, for a preStop hook), POST /v1/pause, POST /v1/resume, POST
// /v1/forget ({"node":"name"}), GET and POST /v1/settings, and GET
// /v1/history. When adminToken is not empty, the POST endpoints require
// "Authorization: Bearer <adminToken>". Any sidecar accepts them: every
// change is committed through the Raft leader. A POST carrying a
// Vigil-Deadline header (DeadlineHeader) read after that time is refused
// (408) with nothing done.
func (f *Failover) Handler(adminToken string) http.Handler {
	mux := http.NewServeMux()
	admin := func(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if adminToken != "" {
				got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(adminToken)) != 1 {
					w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
					writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
					return
				}
			}
			if err := deadlinePassed(r.Header.Get(DeadlineHeader), time.Now()); err != nil {
				code := http.StatusRequestTimeout
				if errors.Is(err, ErrBadRequest) {
					code = http.StatusBadRequest
				}
				writeJSON(w, code, map[string]string{"error": err.Error()})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /v1/switchover", admin(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To string `json:"to"`
		}
		if err := readJSON(r, &req); err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), f.failoverTimeout()+2*f.cmdWait)
		defer cancel()
		c, err := f.Switchover(ctx, req.To)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}))
	mux.HandleFunc("POST /v1/handover", admin(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Handover(r.Context()); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f.Configuration())
	}))
	mux.HandleFunc("GET /v1/settings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Settings())
	})
	mux.HandleFunc("POST /v1/settings", admin(func(w http.ResponseWriter, r *http.Request) {
		var s authority.Settings
		if err := readJSON(r, &s); err != nil {
			writeError(w, err)
			return
		}
		if err := f.SetSettings(r.Context(), s); err != nil {
			writeError(w, err)
			return
		}
		// What was committed: this sidecar may not have applied it yet
		// (the leader commits, each sidecar applies in its own time).
		writeJSON(w, http.StatusOK, s)
	}))
	mux.HandleFunc("POST /v1/pause", admin(func(w http.ResponseWriter, r *http.Request) {
		c, err := f.Pause(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}))
	mux.HandleFunc("POST /v1/resume", admin(func(w http.ResponseWriter, r *http.Request) {
		c, err := f.Resume(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}))
	mux.HandleFunc("POST /v1/forget", admin(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Node string `json:"node"`
		}
		if err := readJSON(r, &req); err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), f.failoverTimeout())
		defer cancel()
		if err := f.Forget(ctx, req.Node); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"forgotten": req.Node})
	}))
	mux.HandleFunc("GET /v1/history", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.History())
	})
	return mux
}

// DeadlineHeader names the admin request header that carries the time
// (RFC 3339) after which its client no longer waits for the answer.
const DeadlineHeader = "Vigil-Deadline"

// deadlinePassed refuses an admin request read after its client's
// deadline: the client gave up, may have sent the command to another
// sidecar, and may have acted on that answer since. Carried out late, an
// operator command undoes what came after it. Chaos seed 7306 (N=3): the
// harness's POST /v1/pause reached a's sidecar while it was stopped
// (SIGSTOP) at 25.4 s; after 2 s without an answer it was sent to b and
// committed (27.45 s), and the pause fault's resume committed at 29.42 s.
// a, resumed at 29.39 s, then read the old request and committed a second
// pause at 29.43 s: automatic failover stayed paused to the end, c's Redis
// was wiped under it, and the group kept that empty Redis as its primary.
// An empty header (a client that states no deadline) is no refusal.
func deadlinePassed(header string, now time.Time) error {
	if header == "" {
		return nil
	}
	d, err := time.Parse(time.RFC3339Nano, header)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadRequest, DeadlineHeader, err)
	}
	if now.After(d) {
		return fmt.Errorf("request expired: its client's deadline (%s) passed %s before this sidecar read it (or the clocks differ by as much); nothing was done",
			header, now.Sub(d).Round(time.Millisecond))
	}
	return nil
}

// readJSON decodes an optional JSON body.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return errors.Join(ErrBadRequest, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.Join(ErrBadRequest, err)
	}
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrUnknownNode):
		code = http.StatusBadRequest
	case errors.Is(err, ErrBusy), errors.Is(err, ErrNoCandidate):
		code = http.StatusConflict
	case errors.Is(err, ErrNotReady), errors.Is(err, ErrNoPrimary), errors.Is(err, authority.ErrNoLeader):
		code = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
