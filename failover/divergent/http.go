package divergent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Handler serves the archives under /v1/divergent. When adminToken is not
// empty every route requires "Authorization: Bearer <adminToken>": the
// archives hold application data and a replay writes to the primary.
// Mount it with mux.Handle("/v1/divergent", h) and
// mux.Handle("/v1/divergent/", h).
//
//	GET    /v1/divergent                 {"archives":[manifest...]}
//	GET    /v1/divergent/{name}          the manifest
//	GET    /v1/divergent/{name}/resp     the RESP file (redis-cli --pipe)
//	POST   /v1/divergent/{name}/replay   {"to":"host:port","force":false} -> manifest
//	POST   /v1/divergent/{name}/dismiss  mark dealt with, keep the files -> manifest
//	DELETE /v1/divergent/{name}          delete the files -> {"deleted":name}
func (k *Keeper) Handler(adminToken string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/divergent", func(w http.ResponseWriter, _ *http.Request) {
		ms, err := k.List()
		if err != nil {
			writeErr(w, err)
			return
		}
		if ms == nil {
			ms = []Manifest{}
		}
		writeJSON(w, http.StatusOK, map[string][]Manifest{"archives": ms})
	})
	mux.HandleFunc("GET /v1/divergent/{name}", func(w http.ResponseWriter, r *http.Request) {
		m, err := k.Get(r.PathValue("name"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("GET /v1/divergent/{name}/resp", func(w http.ResponseWriter, r *http.Request) {
		b, err := k.File(r.PathValue("name"))
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /v1/divergent/{name}/replay", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To    string `json:"to"`
			Force bool   `json:"force"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		m, err := k.Replay(r.Context(), r.PathValue("name"), body.To, body.Force)
		if err != nil {
			writeJSON(w, statusOf(err), map[string]any{"error": err.Error(), "archive": m})
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("POST /v1/divergent/{name}/dismiss", func(w http.ResponseWriter, r *http.Request) {
		m, err := k.Dismiss(r.PathValue("name"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("DELETE /v1/divergent/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := k.Remove(r.PathValue("name")); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
	})
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

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrAlreadyReplayed), errors.Is(err, ErrNothingToReplay):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	writeError(w, code, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
