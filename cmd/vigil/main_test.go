package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// syncBuffer is a bytes.Buffer safe for a sidecar's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfigBadFileExits2NamingEveryKey(t *testing.T) {
	path := writeFile(t, "vigil.yaml", `
node: {name: a, data_dir: /tmp/x}
redis: {addr: "nowhere"}
monitor: {interval: 5parsecs}
failover: {down_after: 5s, fence_after: 6s, quorom: 2}
`)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check-config", "--config", path}, nil, &stdout, &stderr)
	if got := exitCode(err, &stderr); got != 2 {
		t.Fatalf("exit code %d, want 2 (err %v)", got, err)
	}
	for _, key := range []string{"failover.quorom", "monitor.interval", "failover.fence_after", "redis.addr"} {
		if !strings.Contains(stderr.String(), key) {
			t.Errorf("stderr does not name %s:\n%s", key, stderr.String())
		}
	}
}

func TestCheckConfigMasksSecrets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check-config", "--node.name", "a", "--redis.password", "hunter2"},
		[]string{"VIGIL_HTTP__ADMIN_TOKEN=s3cret", "VIGIL_GOSSIP__ENCRYPTION_KEY=" + testGossipKey}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("check-config: %v", err)
	}
	out := stdout.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
		t.Errorf("secrets printed:\n%s", out)
	}
	if !strings.Contains(out, "redis.password: ********") {
		t.Errorf("redis.password not shown masked:\n%s", out)
	}
}

func TestUnknownFlagExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--redis.adr", "x"}, nil, &stdout, &stderr)
	if got := exitCode(err, &stderr); got != 2 {
		t.Fatalf("exit code %d, want 2 (err %v)", got, err)
	}
}

// sidecarUnderTest is one in-process `vigil run`.
type sidecarUnderTest struct {
	name     string
	http     string // HTTP base URL, "http://127.0.0.1:port"
	sentinel string // Sentinel-protocol endpoint, "127.0.0.1:port"
	proxy    string // --proxy.listen_addr when given in the extra flags, else ""
	log      *syncBuffer
	cancel   context.CancelFunc
	done     chan error
}

// startSidecar runs `vigil run` in-process beside redis with the given
// extra flags and waits until its HTTP API answers.
func startSidecar(t *testing.T, name string, r *redistest.Server, join []string, gossipPort int, extra ...string) *sidecarUnderTest {
	t.Helper()
	web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	sentinel := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	args := []string{"run",
		"--node.name", name,
		"--node.data_dir", t.TempDir(),
		"--redis.addr", r.Addr(),
		"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", gossipPort),
		"--gossip.join", strings.Join(join, ","),
		"--gossip.encryption_key", testGossipKey,
		"--sentinel.listen_addr", sentinel,
		"--http.listen_addr", web,
		"--monitor.interval", "50ms",
		"--log.level", "debug",
		// The sidecars a test starts form the group together.
		"--failover.bootstrap_expect", strconv.Itoa(max(len(join), 1)),
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sidecarUnderTest{name: name, http: "http://" + web, sentinel: sentinel,
		log: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	for i, a := range extra {
		if a == "--proxy.listen_addr" && i+1 < len(extra) {
			s.proxy = extra[i+1]
		}
	}
	go func() { s.done <- run(ctx, args, nil, io.Discard, s.log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("sidecar %s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("sidecar %s did not stop", name)
		}
		if t.Failed() {
			t.Logf("sidecar %s log:\n%s", name, tailLines(s.log.String(), 80))
		}
	})
	redistest.Eventually(t, 10*time.Second, func() error {
		_, err := s.get("/-/healthy")
		return err
	})
	return s
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *sidecarUnderTest) do(method, path string) (int, string, error) {
	req, err := http.NewRequest(method, s.http+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (s *sidecarUnderTest) get(path string) (int, error) {
	code, _, err := s.do(http.MethodGet, path)
	return code, err
}

// wantStatus polls until method path answers code.
func (s *sidecarUnderTest) wantStatus(t *testing.T, method, path string, code int) {
	t.Helper()
	redistest.Eventually(t, 15*time.Second, func() error {
		got, body, err := s.do(method, path)
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("%s %s = %d %q, want %d", method, path, got, strings.TrimSpace(body), code)
		}
		return nil
	})
}

func TestHealthEndpointsAndMetrics(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	r := redistest.Start(t, redistest.Options{ReplicaOf: p.Addr()})
	r.WaitSynced(t)
	ports := []int{redistest.FreePort(t, "127.0.0.1"), redistest.FreePort(t, "127.0.0.1")}
	join := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	// A long down_after keeps failover out of this test: it is about the
	// health endpoints.
	slow := []string{"--failover.down_after", "1m", "--failover.fence_after", "30s"}
	sp := startSidecar(t, "p", p, join, ports[0], slow...)
	sr := startSidecar(t, "r", r, join, ports[1], slow...)

	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		sp.wantStatus(t, m, "/primary", http.StatusOK)
		sr.wantStatus(t, m, "/primary", http.StatusServiceUnavailable)
		sr.wantStatus(t, m, "/replica?lag=0", http.StatusOK)
		sp.wantStatus(t, m, "/replica", http.StatusServiceUnavailable)
	}
	sp.wantStatus(t, http.MethodGet, "/health", http.StatusOK)
	sp.wantStatus(t, http.MethodGet, "/-/ready", http.StatusOK)
	sr.wantStatus(t, http.MethodGet, "/replica?lag=x", http.StatusBadRequest)
	sp.wantStatus(t, http.MethodPost, "/primary", http.StatusMethodNotAllowed)

	// The metrics are lint-clean and agree with the observation.
	_, body, err := sr.do(http.MethodGet, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("metric %s: %s", pr.Metric, pr.Text)
	}
	for _, want := range []string{"vigil_build_info{", `vigil_redis_role{role="slave"} 1`, "vigil_redis_up 1", "vigil_redis_master_link_up 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Cut the replica's link: /replica turns 503.
	p.Kill(t)
	sr.wantStatus(t, http.MethodGet, "/replica?lag=0", http.StatusServiceUnavailable)
	sp.wantStatus(t, http.MethodGet, "/health", http.StatusServiceUnavailable)
	sp.wantStatus(t, http.MethodGet, "/primary", http.StatusServiceUnavailable)
}

func TestStatusCommand(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	port := redistest.FreePort(t, "127.0.0.1")
	s := startSidecar(t, "solo", p, nil, port, "--failover.quorum", "1", "--failover.down_after", "3s", "--failover.switchover_timeout", "7s")
	redistest.Eventually(t, 10*time.Second, func() error {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"status", "--addr", s.http}, nil, &out, &errb); err != nil {
			return err
		}
		if !strings.Contains(out.String(), "solo") || !strings.Contains(out.String(), p.Addr()) {
			return fmt.Errorf("status output lacks the node:\n%s", out.String())
		}
		// The effective group-wide settings: the file's, none being set.
		if want := "settings  quorum 1  down_after 3s  failover_timeout 7s  parallel_syncs 1\n"; !strings.Contains(out.String(), want) {
			return fmt.Errorf("status output lacks %q:\n%s", want, out.String())
		}
		return nil
	})
}

// TestSIGTERMExitsZero runs the real binary and stops it as an init system
// would; on the way, SIGHUP re-reads the log level from the file.
func TestSIGTERMExitsZero(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := redistest.Start(t, redistest.Options{})
	web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	conf := writeFile(t, "vigil.yaml", "log: {level: info}\n")
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "--config", conf, "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--redis.addr", p.Addr(), "--http.listen_addr", web, "--gossip.encryption_key", testGossipKey,
		"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
		"--sentinel.listen_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("log:\n%s", tailLines(logs.String(), 60))
		}
	}()
	redistest.Eventually(t, 15*time.Second, func() error {
		resp, err := http.Get("http://" + web + "/-/healthy")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})

	if strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Fatal("debug lines logged at level info")
	}
	if err := os.WriteFile(conf, []byte("log: {level: debug}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), `"level":"DEBUG"`) {
			return fmt.Errorf("no debug line after SIGHUP")
		}
		return nil
	})

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		t.Logf("exited 0 %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("still running 2s after SIGTERM")
	}
}
