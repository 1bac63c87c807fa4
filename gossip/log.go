package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// newMemberlistLogger returns a *log.Logger (what memberlist accepts) whose
// lines land in logger at the level memberlist wrote in their prefix.
func newMemberlistLogger(logger *slog.Logger) *log.Logger {
	return log.New(&logWriter{logger: logger}, "", 0)
}

// logWriter parses memberlist's "[LEVEL] memberlist: message" lines into
// slog records.
type logWriter struct {
	logger *slog.Logger
}

// Write logs each line of b. It never fails, so memberlist never sees a
// logging error.
func (w *logWriter) Write(b []byte) (int, error) {
	for line := range bytes.Lines(b) {
		level, msg := parseMemberlistLine(string(bytes.TrimRight(line, "\r\n")))
		if msg == "" {
			continue
		}
		w.logger.Log(context.Background(), level, msg)
	}
	return len(b), nil
}

// parseMemberlistLine splits a memberlist log line into a level and a message
// in vigil's style (no "memberlist:" prefix, lowercase first letter).
func parseMemberlistLine(line string) (slog.Level, string) {
	level := slog.LevelInfo
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if tag, msg, ok := strings.Cut(rest, "] "); ok {
			switch tag {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				// memberlist reports an unreachable peer (failed gossip,
				// push/pull, ping) at ERR. For a failover sidecar a peer
				// going away is an expected event with its own metrics and
				// log lines, so these are warnings, not errors.
				level = slog.LevelWarn
			}
			line = msg
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	line = strings.TrimSpace(line)
	return level, lowerFirst(line)
}

// lowerFirst lowercases the first letter of s unless it starts an acronym
// ("TCP", "UDP").
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if !unicode.IsUpper(r) {
		return s
	}
	if next, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}
