package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/retryq"
)

// fakeTopology is a topologySource whose snapshot the test sets, closing
// the change channel or not (to exercise the safety-net timer).
type fakeTopology struct {
	mu      sync.Mutex
	snap    failover.Snapshot
	changed chan struct{}
}

func newFakeTopology() *fakeTopology { return &fakeTopology{changed: make(chan struct{})} }

func (f *fakeTopology) Watch() (failover.Snapshot, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, f.changed
}

func (f *fakeTopology) set(primary string, writable, notify bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap.Primary.Addr, f.snap.Writable = primary, writable
	if notify {
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

func waitPrimary(t *testing.T, dst *retryq.PrimaryAddr, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p, ok := dst.WritablePrimary()
		got := ""
		if ok {
			got = p.Addr
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retry queue's primary %q, want %q within %s", got, want, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowPrimary: the retry queue follows the writable primary on
// every topology change at once, clears it while none is writable, and
// picks up a change it was not told of on the safety-net timer.
func TestFollowPrimary(t *testing.T) {
	src := newFakeTopology()
	dst := retryq.NewPrimaryAddr("", "", "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	const interval = 200 * time.Millisecond
	go func() { done <- followPrimary(ctx, src, dst, interval) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("followPrimary: %v", err)
		}
	}()

	src.set("127.0.0.1:7001", true, true)
	waitPrimary(t, dst, "127.0.0.1:7001", 100*time.Millisecond)
	src.set("127.0.0.1:7001", false, true) // fenced: not writable
	waitPrimary(t, dst, "", 100*time.Millisecond)
	src.set("127.0.0.1:7002", true, false) // no notification
	waitPrimary(t, dst, "127.0.0.1:7002", 2*interval+100*time.Millisecond)
	src.set("127.0.0.1:7003", true, false) // the timer keeps firing
	waitPrimary(t, dst, "127.0.0.1:7003", 2*interval+100*time.Millisecond)
	if p, _ := dst.WritablePrimary(); p.Replicated {
		t.Fatalf("primary %+v replicated in a group with no other member", p)
	}

	// Another member: the queue waits for a replica's copy (chaos seed
	// 14010).
	src.mu.Lock()
	src.snap.Replicas = []failover.Node{{Name: "b", Addr: "127.0.0.1:7004"}}
	src.mu.Unlock()
	src.set("127.0.0.1:7003", true, true)
	deadline := time.Now().Add(time.Second)
	for p, _ := dst.WritablePrimary(); !p.Replicated; p, _ = dst.WritablePrimary() {
		if time.Now().After(deadline) {
			t.Fatalf("primary %+v not replicated with another member", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
