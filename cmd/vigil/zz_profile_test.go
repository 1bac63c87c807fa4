package main

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

func TestZZIdleProfile(t *testing.T) {
	if os.Getenv("VIGIL_PROFILE") == "" {
		t.Skip("profiling helper")
	}
	p := redistest.Start(t, redistest.Options{})
	r1 := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	r2 := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	ports := []int{redistest.FreePort(t, "127.0.0.1"), redistest.FreePort(t, "127.0.0.1"), redistest.FreePort(t, "127.0.0.1")}
	var join []string
	for _, pt := range ports {
		join = append(join, fmt.Sprintf("127.0.0.1:%d", pt))
	}
	startSidecar(t, "a", p, join, ports[0], "--monitor.interval", "100ms", "--log.level", "info")
	startSidecar(t, "b", r1, join, ports[1], "--monitor.interval", "100ms", "--log.level", "info")
	startSidecar(t, "c", r2, join, ports[2], "--monitor.interval", "100ms", "--log.level", "info")
	time.Sleep(20 * time.Second)
}
