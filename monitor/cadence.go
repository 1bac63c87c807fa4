package monitor

import (
	"context"
	"time"
)

// NewTicker waits until the next multiple of interval on the wall clock and
// returns a ticker of that period, so every loop of a sidecar that runs at
// monitor.interval wakes at the same instants. On an idle sidecar waking
// up is most of the cost: loops that share one wake-up instead of each
// having their own cut it by as many loops as there are. It returns ctx's
// error if ctx ends first.
func NewTicker(ctx context.Context, interval time.Duration) (*time.Ticker, error) {
	t := time.NewTimer(UntilNext(interval))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	return time.NewTicker(interval), nil
}

// UntilNext is how long until the next multiple of interval on the wall
// clock: the instant NewTicker's ticks fall on, for a loop that must not
// block waiting for the first of them.
func UntilNext(interval time.Duration) time.Duration {
	now := time.Now()
	return now.Truncate(interval).Add(interval).Sub(now)
}
