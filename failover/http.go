package failover

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-redis/vigil/failover/authority"
)

// Handler serves the operator API: POST /v1/switchover ({"to":"node"},
// optional), POST /v1/handover (this node's primary role to the best
// replica, for a preStop hook), POST /v1/pause, POST /v1/resume, POST
// /v1/forget ({"node":"name"}), GET and POST /v1/settings, and GET
// /v1/history. When adminToken is not empty, the POST endpoints require
// "Authorization: Bearer <adminToken>". Any sidecar accepts them: every
// change is committed through the Raft leader.
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
