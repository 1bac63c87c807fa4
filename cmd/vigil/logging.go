package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"

	"github.com/vigil-redis/vigil/config"
)

// newLogger builds the one handler every component logs through. level is
// kept by the caller so SIGHUP can change it. Every line follows one
// convention: durations are strings ("1.2s"), each key appears once, and an
// authentication failure is an error.
func newLogger(cfg config.LogConfig, w io.Writer, level *slog.LevelVar) (*slog.Logger, error) {
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log.level (%q): %w", cfg.Level, err)
	}
	f, ok := w.(*os.File)
	terminal := ok && isatty.IsTerminal(f.Fd())
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	var h slog.Handler
	switch format {
	case "text":
		h = tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly + ".000", NoColor: !terminal, ReplaceAttr: durationString})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationString})
	}
	return slog.New(&tidyHandler{inner: h, keys: map[string]bool{}}), nil
}

// durationString writes durations as Go duration strings ("1.2s") rather
// than integer nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// tidyHandler keeps each key once per line (the first value wins: a
// component that adds "node" again under a logger that already has it
// does not repeat it) and raises lines about an authentication failure
// (reason=auth: -WRONGPASS, -NOAUTH, -NOPERM, an unreadable password file)
// to ERROR, since they need an operator and never fix themselves.
type tidyHandler struct {
	inner slog.Handler
	keys  map[string]bool // keys already attached at the current group level
}

func (h *tidyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// An INFO line may be raised to ERROR in Handle.
	return h.inner.Enabled(ctx, l) || (l >= slog.LevelInfo && h.inner.Enabled(ctx, slog.LevelError))
}

func (h *tidyHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" && a.Value.Resolve().String() == "auth" && level < slog.LevelError {
			level = slog.LevelError
		}
		return true
	})
	if !h.inner.Enabled(ctx, level) {
		return nil
	}
	nr := slog.NewRecord(r.Time, level, r.Message, r.PC)
	seen := map[string]bool{}
	r.Attrs(func(a slog.Attr) bool {
		if !h.keys[a.Key] && !seen[a.Key] {
			seen[a.Key] = true
			nr.AddAttrs(a)
		}
		return true
	})
	return h.inner.Handle(ctx, nr)
}

func (h *tidyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	keys := make(map[string]bool, len(h.keys)+len(as))
	for k := range h.keys {
		keys[k] = true
	}
	kept := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if !keys[a.Key] {
			keys[a.Key] = true
			kept = append(kept, a)
		}
	}
	return &tidyHandler{inner: h.inner.WithAttrs(kept), keys: keys}
}

func (h *tidyHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	// Keys inside a group live in their own namespace.
	return &tidyHandler{inner: h.inner.WithGroup(name), keys: map[string]bool{}}
}
