package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
	"github.com/vigil-redis/vigil/retryq"
)

// topologySource is what the retry queue's feed needs of failover.
type topologySource interface {
	Watch() (failover.Snapshot, <-chan struct{})
}

// followPrimary keeps dst pointing at the writable primary the topology
// names, so the retry queue drains exactly while one exists. It waits on
// the topology's change channel; the ticker is a safety net only.
func followPrimary(ctx context.Context, src topologySource, dst *retryq.PrimaryAddr, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := "-"
	for {
		snap, changed := src.Watch()
		addr := ""
		if snap.Writable {
			addr = snap.Primary.Addr
		}
		if addr != last {
			if addr == "" {
				dst.Clear()
			} else {
				dst.Set(addr)
			}
			last = addr
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-t.C:
		}
	}
}

// newPrimaryFeed is the retry queue's primary source, with the local
// Redis credentials (every node of a group shares them). A password file
// is read once here: the queue's connections do not follow a rotated
// secret without a restart, unlike the probes.
func newPrimaryFeed(rc monitor.RedisConfig) (*retryq.PrimaryAddr, error) {
	password := rc.Password
	if password == "" && rc.PasswordFile != "" {
		b, err := os.ReadFile(rc.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis.password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return retryq.NewPrimaryAddr("", rc.Username, password), nil
}
