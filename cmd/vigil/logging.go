package main

import (
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
// kept by the caller so SIGHUP can change it.
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
		h = tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly + ".000", NoColor: !terminal})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h), nil
}
