package redirect

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// idleHelperEnv makes the test binary a helper process that holds idle
// connections: the client ends of 10,000 connections live in another
// process so that neither side needs more than RLIMIT_NOFILE allows.
const idleHelperEnv = "VIGIL_REDIRECT_IDLE_HELPER"

// idleHelper opens $VIGIL_REDIRECT_IDLE_HELPER connections ("addr n"),
// prints "ready", and holds them until its standard input closes.
func idleHelper() int {
	addr, nstr, _ := strings.Cut(os.Getenv(idleHelperEnv), " ")
	n, _ := strconv.Atoi(nstr)
	raiseNoFile()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		fmt.Println("error", firstErr)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// raiseNoFile lifts the soft open-files limit to the hard one.
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

func TestSentinelBadClients(t *testing.T) {
	const idle = 10000
	if lim := raiseNoFile(); lim < idle+1000 {
		t.Skipf("RLIMIT_NOFILE is %d; %d idle connections need more", lim, idle)
	}
	baseline := runtime.NumGoroutine()

	cfg := testSentinelConfig()
	cfg.MaxClients = idle + 100
	// The idle connections never speak: the default handshake timeout
	// (10 s) closed the first ones before a loaded machine had dialed the
	// last, and the count never reached 10000 (1 left after 30 s, once).
	// TestSentinelHandshakeAndIdleTimeouts covers that timeout.
	cfg.HandshakeTimeout = 5 * time.Minute
	src := shapeSource()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewSentinel(cfg, "mymaster", "a", src, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	addr := s.Addr().String()
	src.waitSubscribers(t, 1)
	running := runtime.NumGoroutine()

	// A well-behaved client that must stay unaffected throughout.
	good := dialRESP(t, addr)
	checkGood := func() {
		t.Helper()
		if got := good.do("SENTINEL", "get-master-addr-by-name", "mymaster"); !cmp.Equal(got, any([]any{"127.0.0.1", "6379"})) {
			t.Errorf("good client got %#v", got)
		}
	}
	checkGood()

	t.Run("malformed RESP", func(t *testing.T) {
		for _, raw := range []string{"*1\r\n$abc\r\n", "*-5x\r\n", "*2\r\n$3\r\nfoo\r\n:1\r\n", "\"unbalanced\r\n"} {
			c := dialRESP(t, addr)
			c.write([]byte(raw))
			got, ok := c.read().(respError)
			if !ok || !strings.HasPrefix(string(got), "ERR Protocol error") {
				t.Errorf("%q: reply %#v, want a protocol error", raw, got)
			}
			_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.rd.ReadByte(); err == nil {
				t.Errorf("%q: connection still open after a protocol error", raw)
			}
		}
		// The same while subscribed.
		c := dialRESP(t, addr)
		c.do("SUBSCRIBE", "+sdown")
		c.write([]byte("*1\r\n$abc\r\n"))
		if got, ok := c.read().(respError); !ok || !strings.HasPrefix(string(got), "ERR Protocol error") {
			t.Errorf("subscribed: reply %#v, want a protocol error", got)
		}
		checkGood()
	})

	t.Run("unknown commands and arity", func(t *testing.T) {
		c := dialRESP(t, addr)
		for i := range 100 {
			c.send("NOPE"+strconv.Itoa(i), strings.Repeat("x", 1000))
		}
		for i := range 100 {
			got, _ := c.read().(respError)
			want := fmt.Sprintf("ERR unknown command 'NOPE%d', with args beginning with: '%s' ", i, strings.Repeat("x", 128))
			if string(got) != want {
				t.Fatalf("reply %d = %q, want %q", i, got, want)
			}
		}
		if got := c.do("SENTINEL", "masters", "extra"); got != respError("ERR wrong number of arguments for 'sentinel|masters' command") {
			t.Errorf("arity: %#v", got)
		}
		checkGood()
	})

	t.Run("max clients", func(t *testing.T) {
		cfg := testSentinelConfig()
		cfg.MaxClients = 1
		_, addr, reg := startSentinel(t, cfg, "mymaster", newTestSource(snapshotOf(node("a", "127.0.0.1:6379", monitor.RolePrimary))))
		first := dialRESP(t, addr)
		if got := first.do("PING"); got != "PONG" {
			t.Fatalf("first client: %#v", got)
		}
		second := dialRESP(t, addr)
		if got := second.read(); got != respError("ERR max number of clients reached") {
			t.Errorf("second client: %#v", got)
		}
		if got := metricValue(t, reg, "vigil_sentinel_rejected_connections_total"); got != 1 {
			t.Errorf("rejected = %v, want 1", got)
		}
	})

	t.Run("10000 idle connections", func(t *testing.T) {
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), idleHelperEnv+"="+addr+" "+strconv.Itoa(idle))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = stdin.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("helper: %q, %v", line, err)
		}
		redistest.Eventually(t, 30*time.Second, func() error {
			if n := s.nconns.Load(); n < idle {
				return fmt.Errorf("%d connections open, want >= %d", n, idle)
			}
			return nil
		})
		t.Logf("%d idle connections open after %s, %d goroutines", idle, time.Since(start).Round(time.Millisecond), runtime.NumGoroutine())
		pingStart := time.Now()
		checkGood()
		t.Logf("a command with %d idle connections open took %s", idle, time.Since(pingStart))

		// Ending the helper closes all of them at once.
		_ = stdin.Close()
		_ = cmd.Wait()
		redistest.Eventually(t, 30*time.Second, func() error {
			if n := s.nconns.Load(); n > 5 {
				return fmt.Errorf("%d connections still open", n)
			}
			return nil
		})
		checkGood()
	})

	t.Run("subscriber that never reads", func(t *testing.T) {
		// A long master name makes each event large, so the socket buffers
		// fill after a few hundred events instead of hundreds of thousands.
		long := strings.Repeat("m", 16<<10)
		cfg := testSentinelConfig()
		cfg.SubscriberQueue = 16
		src := newTestSource(snapshotOf(node("a", "127.0.0.1:6379", monitor.RolePrimary)))
		_, addr, reg := startSentinel(t, cfg, long, src)

		// Shrink the receive buffer before connecting, so it is what the
		// window is negotiated with.
		d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		stuck := &respConn{t: t, c: nc, rd: bufio.NewReader(nc)}
		stuck.do("PSUBSCRIBE", "*")

		reader := dialRESP(t, addr)
		reader.do("SUBSCRIBE", "+sdown")
		var readerGot int
		var readerMu sync.Mutex
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				_ = reader.c.SetReadDeadline(time.Now().Add(20 * time.Second))
				v, err := readRESP(reader.rd)
				if err != nil {
					return
				}
				if arr, ok := v.([]any); ok && len(arr) == 3 && arr[0] == "message" {
					readerMu.Lock()
					readerGot++
					readerMu.Unlock()
				}
			}
		}()
		redistest.Eventually(t, 5*time.Second, func() error {
			if n := metricValue(t, reg, "vigil_sentinel_subscribers"); n != 2 {
				return fmt.Errorf("%v subscribers, want 2", n)
			}
			return nil
		})

		// Publish in rounds the reading subscriber keeps up with, until the
		// stuck one is dropped.
		sent := 0
		start := time.Now()
		deadline := time.Now().Add(30 * time.Second)
		for metricValue(t, reg, "vigil_sentinel_dropped_subscribers_total") < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("stuck subscriber not dropped after %d events", sent)
			}
			for range 10 {
				src.Publish(failover.Event{Kind: failover.EventSDown, Node: node("a", "127.0.0.1:6379", monitor.RolePrimary)})
				sent++
			}
			redistest.Eventually(t, 10*time.Second, func() error {
				readerMu.Lock()
				defer readerMu.Unlock()
				if readerGot != sent {
					return fmt.Errorf("reading subscriber got %d of %d", readerGot, sent)
				}
				return nil
			})
		}
		t.Logf("non-reading subscriber dropped after %d events of %d bytes (%s)", sent, len(long), time.Since(start).Round(time.Millisecond))

		if got := metricValue(t, reg, "vigil_sentinel_dropped_subscribers_total"); got != 1 {
			t.Errorf("dropped = %v, want 1", got)
		}
		// The stuck client's connection is closed: draining it ends in EOF.
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Errorf("stuck subscriber: %v, want EOF", err)
		}
		reader.c.Close()
		<-readerDone
		checkGood()
	})

	good.c.Close()
	// Every connection-related goroutine is gone again while running...
	waitGoroutines(t, running+2)
	// ...and after shutdown nothing is left at all.
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	done <- nil
	waitGoroutines(t, baseline+2)
}

func TestSentinelShutdownClosesClients(t *testing.T) {
	baseline := runtime.NumGoroutine()
	src := shapeSource()
	s, err := NewSentinel(testSentinelConfig(), "mymaster", "a", src, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	src.waitSubscribers(t, 1)

	sub := dialRESP(t, s.Addr().String())
	sub.do("SUBSCRIBE", "+switch-master")
	plain := dialRESP(t, s.Addr().String())
	plain.do("PING")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s")
	}
	for name, c := range map[string]*respConn{"subscriber": sub, "plain": plain} {
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c.c); err != nil {
			t.Errorf("%s: %v, want EOF", name, err)
		}
		c.c.Close()
	}
	waitGoroutines(t, baseline+2)
}
