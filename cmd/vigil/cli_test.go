package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// Every command-line mistake exits 2, as the README promises.
func TestUsageErrorsExit2(t *testing.T) {
	tests := [][]string{
		{"bogus"},
		{"statsu"},
		{"forget"},                  // missing argument
		{"forget", "a", "b"},        // extra argument
		{"status", "extra"},         // extra argument
		{"version", "x"},            // extra argument
		{"retryq", "show"},          // missing argument
		{"retryq", "ls", "x"},       // extra argument
		{"status", "-o", "yaml"},    // unknown output format
		{"config", "set"},           // missing argument
		{"config", "set", "quorum"}, // not KEY=VALUE
		{"config", "set", "quorom=2"},
		{"status", "--adr", "x"}, // unknown flag
		{"recover"},              // --voters missing
		{"recover", "a"},         // voters are a flag, not arguments
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, nil, &stdout, &stderr)
		if got := exitCode(err, &stderr); got != 2 {
			t.Errorf("vigil %s: exit %d (err %v), want 2", strings.Join(args, " "), got, err)
		}
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"status", "--adr", "x"}, nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "did you mean --addr?") {
		t.Errorf("unknown flag error = %v, want a did-you-mean", err)
	}
}

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, nil, &stdout, &stderr); err != nil {
			t.Fatalf("vigil %v: %v", args, err)
		}
		if out := stdout.String(); !strings.HasPrefix(out, "vigil ") || !strings.Contains(out, "revision") || strings.Count(out, "\n") != 1 {
			t.Errorf("vigil %v printed %q", args, out)
		}
	}
}

// TestLinkerDropsUnusedMethods guards the binary's size: one reachable
// reflective method lookup (text/template's, which cobra's
// SetVersionTemplate pulled in) makes the linker keep every exported
// method of every type, go-redis's hundreds of commands among them; the
// binary was 31 % larger and each sidecar's RSS 2.5 MiB higher.
func TestLinkerDropsUnusedMethods(t *testing.T) {
	out, err := exec.Command("go", "build", "-ldflags=-dumpdep", "-o", os.DevNull, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%.2000s", err, out)
	}
	var found []string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "<ReflectMethod>") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if len(found) > 0 {
		t.Errorf("reachable reflective method calls keep every exported method in the binary:\n%s", strings.Join(found, "\n"))
	}
}

// The read commands print tables by default and JSON with -o json; the
// admin commands print one line.
func TestReadCommandsTableAndJSON(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1")
	redistest.Eventually(t, 15*time.Second, func() error {
		st, err := s.status()
		if err == nil && st.Topology.Primary.Name != "solo" {
			err = fmt.Errorf("primary %q, want solo", st.Topology.Primary.Name)
		}
		return err
	})
	cli := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(args, "--addr", s.http), nil, &stdout, &stderr); err != nil {
			t.Fatalf("vigil %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	if out := cli("history"); !strings.HasPrefix(out, "EPOCH") && out != "no failovers recorded\n" {
		t.Errorf("history table:\n%s", out)
	}
	var h []failover.HistoryEntry
	if err := json.Unmarshal([]byte(cli("history", "-o", "json")), &h); err != nil {
		t.Errorf("history -o json: %v", err)
	}
	if out := cli("status"); !strings.Contains(out, "NODE") || !strings.Contains(out, "solo") {
		t.Errorf("status table:\n%s", out)
	}
	var st Status
	if err := json.Unmarshal([]byte(cli("status", "-o", "json")), &st); err != nil || st.Node != "solo" {
		t.Errorf("status -o json: %v %+v", err, st)
	}
	if out := cli("retryq", "stats"); !strings.Contains(out, "ready") {
		t.Errorf("retryq stats table:\n%s", out)
	}
	if out := cli("retryq", "stats", "-o", "json"); !json.Valid([]byte(out)) {
		t.Errorf("retryq stats -o json:\n%s", out)
	}
	if out := cli("retryq", "ls"); !strings.HasPrefix(out, "ID") {
		t.Errorf("retryq ls table:\n%s", out)
	}
	if out := cli("retryq", "ls", "-o", "json"); !json.Valid([]byte(out)) {
		t.Errorf("retryq ls -o json:\n%s", out)
	}
	// divergent ls (no archive here); divergent show's table and JSON are in
	// TestDivergentCommands, which has an archive.
	if out := cli("divergent", "ls"); !strings.HasPrefix(out, "NAME") {
		t.Errorf("divergent ls table:\n%s", out)
	}
	for _, flag := range [][]string{{"-o", "json"}, {"--json"}} {
		var arch struct {
			Archives []json.RawMessage `json:"archives"`
		}
		if out := cli(append([]string{"divergent", "ls"}, flag...)...); json.Unmarshal([]byte(out), &arch) != nil || arch.Archives == nil {
			t.Errorf("divergent ls %v:\n%s", flag, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pause"}, "automatic failover paused for the group (switchover still works)\n"},
		{[]string{"resume"}, "automatic failover resumed for the group\n"},
	} {
		if out := cli(c.args...); out != c.want {
			t.Errorf("vigil %s printed %q, want %q", strings.Join(c.args, " "), out, c.want)
		}
	}
	// config show prints the group-wide settings from the replicated state.
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"config", "show", "--addr", s.http}, nil, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "down-after-milliseconds") {
		t.Errorf("config show: %v\n%s", err, stdout.String())
	}
}

// switchover and forget print one line saying what happened. The API is
// served by a stand-in here: the command's output is what is under test
// (the real switchover is covered by the e2e tests).
func TestAdminCommandsPrintOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/switchover":
			_, _ = io.WriteString(w, `{"epoch":7,"primary":"b","primary_addr":"10.0.0.2:6379","reason":"switchover"}`)
		case "/v1/forget":
			_, _ = io.WriteString(w, `{"forgotten":"c"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"switchover", "--to", "b"}, "switchover complete: the primary is b (10.0.0.2:6379) at epoch 7\n"},
		{[]string{"forget", "c"}, "forgot c: it no longer counts toward the majority\n"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(c.args, "--addr", srv.URL), nil, &stdout, &stderr); err != nil {
			t.Fatalf("vigil %v: %v", c.args, err)
		}
		if stdout.String() != c.want {
			t.Errorf("vigil %v printed %q, want %q", c.args, stdout.String(), c.want)
		}
	}
}
