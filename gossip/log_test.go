package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMemberlistLine(t *testing.T) {
	tests := []struct {
		line      string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:5", slog.LevelDebug, "stream connection from=127.0.0.1:5"},
		{"[INFO] memberlist: Suspect b has failed, no acks received", slog.LevelInfo, "suspect b has failed, no acks received"},
		{"[WARN] memberlist: Refuting a suspect message (from: a)", slog.LevelWarn, "refuting a suspect message (from: a)"},
		{"[ERR] memberlist: Push/Pull with b failed: EOF", slog.LevelWarn, "push/Pull with b failed: EOF"},
		{"[ERR] Failed to shutdown transport: x", slog.LevelWarn, "failed to shutdown transport: x"},
		{"[DEBUG] memberlist: TCP connection from=x", slog.LevelDebug, "TCP connection from=x"},
		{"no prefix at all", slog.LevelInfo, "no prefix at all"},
		{"[WEIRD] memberlist: x", slog.LevelInfo, "x"},
		{"", slog.LevelInfo, ""},
	}
	for _, tt := range tests {
		level, msg := parseMemberlistLine(tt.line)
		if level != tt.wantLevel || msg != tt.wantMsg {
			t.Errorf("parse(%q) = (%v, %q), want (%v, %q)", tt.line, level, msg, tt.wantLevel, tt.wantMsg)
		}
	}
}

func TestMemberlistLoggerBridge(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	l := newMemberlistLogger(logger)
	l.Printf("[WARN] memberlist: Was able to connect to %s", "b")
	l.Print("[DEBUG] memberlist: one\n[INFO] memberlist: two")
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="was able to connect to b"`,
		`level=DEBUG msg=one`,
		`level=INFO msg=two`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("bridged log (-got +want):\n%s", diff)
	}
}
