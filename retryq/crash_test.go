package retryq

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// The crash tests re-execute this test binary as a sidecar stand-in and
// SIGKILL it. TestMain runs the child's part when the environment asks.
const (
	envChild = "RETRYQ_TEST_CHILD" // "drain" or "enqueue"
	envDir   = "RETRYQ_TEST_DIR"
	envRedis = "RETRYQ_TEST_REDIS"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "drain":
		os.Exit(childDrain())
	case "enqueue":
		os.Exit(childEnqueue())
	}
	os.Exit(m.Run())
}

// crashConfig paces the drain so that kills land mid-drain.
func crashConfig() Config {
	c := testConfig()
	c.DrainRate = 1500     // items/s: a kill interrupts a few dozen replays
	c.BatchSize = 8        // many small batches: many commit points to hit
	c.DrainConcurrency = 2 // two batches in flight at a kill
	return c
}

func childQueue(src PrimarySource) (*Queue, error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return New(crashConfig(), os.Getenv(envDir), logger, prometheus.NewRegistry(), src)
}

// childDrain drains the queue into $RETRYQ_TEST_REDIS and exits 0 once it
// is empty; the parent usually kills it first.
func childDrain() int {
	q, err := childQueue(NewPrimaryAddr(os.Getenv(envRedis), "", ""))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := q.Open(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	fmt.Println("RUNNING")
	for {
		s, err := q.Stats()
		if err == nil && s.Ready+s.Inflight == 0 {
			cancel()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// childEnqueue enqueues from several goroutines and prints "ACK <id>" for
// each acknowledged item, until killed.
func childEnqueue() int {
	q, err := childQueue(NewPrimaryAddr("", "", ""))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = q.Run(context.Background()) }()
	var mu sync.Mutex
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%d", prefix, g, i)
				_, err := q.Enqueue(context.Background(), []NewItem{{ID: id, Command: cmd("SET", id, "v")}})
				if err != nil {
					time.Sleep(time.Millisecond) // not running yet
					continue
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ACK %s\n", id)
				mu.Unlock()
			}
		}()
	}
	select {}
}

func startChild(t *testing.T, mode, dir, redisAddr string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), envChild+"="+mode, envDir+"="+dir, envRedis+"="+redisAddr)
	c.Stderr = os.Stderr
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c, bufio.NewScanner(out)
}

func kill(t *testing.T, c *exec.Cmd) {
	t.Helper()
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
}

// Acceptance b: INCR items are applied exactly once although the sidecar
// is SIGKILLed at random points of the drain and restarted.
func TestCrashDuringDrainAppliesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	dir := t.TempDir()
	const counters, perCounter = 4, 500
	func() {
		q := startQueue(t, crashConfig(), dir, nil) // no primary: fill only
		var items []NewItem
		for i := range counters * perCounter {
			items = append(items, NewItem{Command: cmd("INCR", "counter:"+strconv.Itoa(i%counters))})
		}
		mustEnqueue(t, q, items...)
	}()
	// The filling queue still holds the file until its cleanup; take the
	// copy it acknowledged instead, in a fresh directory.
	data, err := os.ReadFile(dir + "/retryq.db")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(dir+"/retryq.db", data, 0o600); err != nil {
		t.Fatal(err)
	}

	sum := func() int {
		total := 0
		for i := range counters {
			n, err := srv.Client().Get(ctx, "counter:"+strconv.Itoa(i)).Int()
			if err != nil && err.Error() != "redis: nil" {
				t.Fatal(err)
			}
			total += n
		}
		return total
	}
	const kills = 25
	midDrain := 0
	for range kills {
		c, out := startChild(t, "drain", dir, srv.Addr())
		if !out.Scan() {
			t.Fatal("drain child exited before running")
		}
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		kill(t, c)
		if n := sum(); n > 0 && n < counters*perCounter {
			midDrain++
		}
	}
	if midDrain < 20 {
		t.Fatalf("only %d of %d kills landed mid-drain; want at least 20", midDrain, kills)
	}
	c, out := startChild(t, "drain", dir, srv.Addr())
	for out.Scan() {
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("final drain: %v", err)
	}
	for i := range counters {
		n, err := srv.Client().Get(ctx, "counter:"+strconv.Itoa(i)).Int()
		if err != nil || n != perCounter {
			t.Errorf("counter:%d = %d, %v; want %d", i, n, err, perCounter)
		}
	}
	t.Logf("%d kills, %d mid-drain", kills, midDrain)
}

// Acceptance c: every acknowledged enqueue survives a SIGKILL.
func TestCrashKeepsAcknowledgedEnqueues(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for round := range 5 {
		c, out := startChild(t, "enqueue", dir, "")
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			for out.Scan() {
				lines <- out.Text()
			}
		}()
		// Kill once the child acknowledges steadily, at a random moment.
		want := 200 + rand.IntN(400)
		n := 0
		deadline := time.After(20 * time.Second)
		for n < want {
			select {
			case l := <-lines:
				acked[strings.TrimPrefix(l, "ACK ")] = true
				n++
			case <-deadline:
				t.Fatalf("round %d: only %d acks", round, n)
			}
		}
		kill(t, c)
		for l := range lines { // acks already in the pipe were given before the kill
			acked[strings.TrimPrefix(l, "ACK ")] = true
		}

		db, x, err := openDB(dir+"/retryq.db", time.Now().UnixNano())
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		_ = db.Close()
		missing := 0
		for id := range acked {
			if x.byID[id] == nil {
				missing++
			}
		}
		if missing > 0 {
			t.Fatalf("round %d: %d of %d acknowledged items missing after SIGKILL", round, missing, len(acked))
		}
		t.Logf("round %d: %d acknowledged items all present (%d stored)", round, len(acked), x.count())
	}
}
