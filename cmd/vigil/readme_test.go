package main

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// readmeRows returns the README's table rows whose first cell is a
// backquoted name, as name -> cells.
func readmeRows(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	return rows
}

// The configuration table's defaults are the code's. A list-valued key
// may summarise its default in the table (retryq.allowed_commands' list
// is too long for a cell) only if the README spells the whole list out
// elsewhere, in the code's order, comma-separated.
func TestReadmeConfigDefaults(t *testing.T) {
	rows := readmeRows(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(readme)), " ")
	for _, kv := range config.Redacted(config.Default()) {
		row, ok := rows[kv[0]]
		if !ok {
			continue // the README lists the main keys only
		}
		doc := strings.Trim(strings.Trim(row[1], "`"), `"`)
		code := kv[1]
		if code == "[]" && doc == "[]" {
			continue
		}
		if d1, err1 := time.ParseDuration(doc); err1 == nil {
			if d2, err2 := time.ParseDuration(code); err2 == nil && d1 == d2 {
				continue
			}
		}
		if list, ok := strings.CutPrefix(code, "["); ok && len(list) > 1 && doc != code {
			if !strings.Contains(flat, strings.TrimSuffix(list, "]")) {
				t.Errorf("README summarises %s's default as %q but does not list it in full anywhere: %s", kv[0], doc, code)
			}
			continue
		}
		if doc != code {
			t.Errorf("README says %s defaults to %q, the code %q", kv[0], doc, code)
		}
	}
}

// Every vigil_* metric a sidecar (with the proxy on) serves is in the
// README's table, and the table lists nothing else.
func TestReadmeMetrics(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	proxy := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1", "--proxy.listen_addr", proxy)
	var served []string
	redistest.Eventually(t, 10*time.Second, func() error {
		code, body, err := s.do(http.MethodGet, "/metrics")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/metrics: %d %v", code, err)
		}
		served = nil
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (vigil_\w+) `).FindAllStringSubmatch(body, -1) {
			served = append(served, m[1])
		}
		return nil
	})
	rows := readmeRows(t)
	var documented []string
	for name := range rows {
		if strings.HasPrefix(name, "vigil_") {
			documented = append(documented, name)
		}
	}
	for _, m := range served {
		if !slices.Contains(documented, m) {
			t.Errorf("%s is served but missing from the README", m)
		}
	}
	for _, m := range documented {
		if !slices.Contains(served, m) {
			t.Errorf("the README lists %s, which no sidecar serves", m)
		}
	}
}

// The README's "Ports and what opens them" table matches the router: every
// path of the monitoring row answers without a token, and every path of
// the administration row refuses the enqueue token with 403 naming
// http.admin_token (and a request without a token with 401) — none is
// missing (404) or open.
func TestReadmePortsTableMatchesRouter(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var open, admin [][2]string
	paths := func(cell string) [][2]string {
		var out [][2]string
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cell, -1) {
			method, path, ok := strings.Cut(m[1], " ")
			if !ok {
				method, path = http.MethodGet, m[1]
			}
			if !strings.HasPrefix(path, "/") {
				continue // http.listen_addr
			}
			// Stand-ins for the table's wildcards.
			path = strings.NewReplacer("/-/*", "/-/healthy", "/v1/retryq/...", "/v1/retryq/stats",
				"/v1/divergent/...", "/v1/divergent", "/debug/pprof", "/debug/pprof/").Replace(path)
			out = append(out, [2]string{method, path})
		}
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			continue
		}
		switch {
		case strings.HasPrefix(cells[0], " `http.listen_addr`"):
			open = paths(cells[0])
		case strings.HasPrefix(cells[1], "administration"):
			admin = paths(cells[0])
		}
	}
	if len(open) < 5 || len(admin) < 5 {
		t.Fatalf("ports table not found in README.md: monitoring %v, administration %v", open, admin)
	}
	const adminTok, enqTok = "table-admin", "table-enqueue"
	p := redistest.Start(t, redistest.Options{})
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1",
		"--http.admin_token", adminTok, "--http.enqueue_token", enqTok)
	for _, ep := range open {
		if code, body := s.request(t, ep[0], ep[1], "", ""); code == http.StatusNotFound || code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("monitoring %s %s without a token: %d %s", ep[0], ep[1], code, body)
		}
	}
	for _, ep := range admin {
		if code, body := s.request(t, ep[0], ep[1], enqTok, ""); code != http.StatusForbidden || !strings.Contains(body, "http.admin_token") {
			t.Errorf("administration %s %s with the enqueue token: %d %s, want 403 naming http.admin_token", ep[0], ep[1], code, body)
		}
		if code, body := s.request(t, ep[0], ep[1], "", ""); code != http.StatusUnauthorized {
			t.Errorf("administration %s %s without a token: %d %s, want 401", ep[0], ep[1], code, body)
		}
		if code, body := s.request(t, ep[0], ep[1], adminTok, ""); code == http.StatusNotFound {
			t.Errorf("administration %s %s with the admin token: 404 %s; the router does not mount it", ep[0], ep[1], body)
		}
	}
	t.Logf("monitoring %v; administration %v", open, admin)
}

// The README describes what the code does, not a plan: a feature it names
// is either there (and tested) or not mentioned. "until it is wired" is how
// drifted promises read.
func TestReadmeNoPendingWiring(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.ToLower(strings.Join(strings.Fields(string(b)), " "))
	for _, phrase := range []string{"until it is wired", "until wired", "until the replicated settings are wired", "not wired"} {
		if i := strings.Index(flat, phrase); i >= 0 {
			t.Errorf("README promises future wiring (%q): ...%s...", phrase, flat[max(0, i-80):min(len(flat), i+80)])
		}
	}
}
