package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/config"
)

func TestAccessGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	const local, remote, remote6, local6 = "127.0.0.1:5000", "192.0.2.7:5000", "[2001:db8::1]:5000", "[::1]:5000"
	cases := []struct {
		name          string
		tokens        config.Tokens
		route         string // "admin" or "enqueue"
		from, bearer  string
		want          int
		wantBodyParts string
	}{
		{"no token, loopback admin", config.Tokens{}, "admin", local, "", http.StatusTeapot, ""},
		{"no token, ::1 admin", config.Tokens{}, "admin", local6, "", http.StatusTeapot, ""},
		{"no token, remote admin", config.Tokens{}, "admin", remote, "", http.StatusForbidden, "http.admin_token is empty"},
		{"no token, remote v6 admin", config.Tokens{}, "admin", remote6, "anything", http.StatusForbidden, "loopback"},
		{"no token, remote enqueue", config.Tokens{}, "enqueue", remote, "", http.StatusForbidden, "http.enqueue_token"},
		{"no token, loopback enqueue", config.Tokens{}, "enqueue", local, "", http.StatusTeapot, ""},
		{"admin token, remote admin", config.Tokens{Admin: "a"}, "admin", remote, "a", http.StatusTeapot, ""},
		{"admin token, loopback without it", config.Tokens{Admin: "a"}, "admin", local, "", http.StatusUnauthorized, "http.admin_token"},
		{"admin token, wrong", config.Tokens{Admin: "a"}, "admin", remote, "b", http.StatusUnauthorized, ""},
		{"admin token enqueues", config.Tokens{Admin: "a", Enqueue: "e"}, "enqueue", remote, "a", http.StatusTeapot, ""},
		{"enqueue token enqueues", config.Tokens{Admin: "a", Enqueue: "e"}, "enqueue", remote, "e", http.StatusTeapot, ""},
		{"enqueue token is not admin", config.Tokens{Admin: "a", Enqueue: "e"}, "admin", remote, "e", http.StatusForbidden, "opens only POST /v1/retryq"},
		{"enqueue token only, remote admin", config.Tokens{Enqueue: "e"}, "admin", remote, "e", http.StatusForbidden, "http.admin_token is empty"},
		{"enqueue token only, enqueue without it", config.Tokens{Enqueue: "e"}, "enqueue", local, "", http.StatusUnauthorized, ""},
		{"admin only, enqueue needs it", config.Tokens{Admin: "a"}, "enqueue", remote, "", http.StatusUnauthorized, ""},
	}
	for _, c := range cases {
		g := newAccessGuard(c.tokens)
		h := g.admin(ok)
		if c.route == "enqueue" {
			h = g.enqueue(ok)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/x", nil)
		req.RemoteAddr = c.from
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want || !strings.Contains(rec.Body.String(), c.wantBodyParts) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, rec.Code, rec.Body.String(), c.want, c.wantBodyParts)
		}
	}
}

func TestBodyLimiter(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
	})
	l := newBodyLimiter(100, 60, prometheus.NewRegistry())
	h := l.wrap(slow)
	post := func(n int64) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", int(max(n, 0)))))
		req.ContentLength = n
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post(101); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("101 bytes with a 100-byte budget: %d, want 413", rec.Code)
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(70) }()
	<-entered
	rec := post(40)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("70 in flight, 40 more: %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// An unknown length reserves 60: over budget too.
	if rec := post(-1); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("unknown length with 70 in flight: %d, want 503", rec.Code)
	}
	close(release)
	<-done
	if got := l.used.Load(); got != 0 {
		t.Errorf("%d bytes still reserved after the requests ended", got)
	}
	go func() { done <- post(100) }()
	<-entered
	<-done
}
