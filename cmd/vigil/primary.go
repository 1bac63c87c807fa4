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
// the topology's change channel; the timer is a safety net only, and it
// fires on the wall-clock grid the probes share (monitor.UntilNext), not
// in a wake-up of its own.
func followPrimary(ctx context.Context, src topologySource, dst *retryq.PrimaryAddr, interval time.Duration) error {
	t := time.NewTimer(monitor.UntilNext(interval))
	defer t.Stop()
	last := "-"
	for {
		snap, changed := src.Watch()
		addr := ""
		if snap.Writable {
			addr = snap.Primary.Addr
		}
		// Another member's Redis can hold a copy: the queue waits for one
		// (retryq.Primary.Replicated).
		dst.SetReplicated(len(snap.Replicas) > 0)
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
			t.Reset(monitor.UntilNext(interval))
		}
	}
}

// redisPassword is the local Redis password (every node of a group shares
// it), for the components that take a fixed one: the retry queue's and the
// divergent keeper's connections. A password file is read once here: they
// do not follow a rotated secret without a restart, unlike the probes.
func redisPassword(rc monitor.RedisConfig) (string, error) {
	if rc.Password != "" || rc.PasswordFile == "" {
		return rc.Password, nil
	}
	b, err := os.ReadFile(rc.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("redis.password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
