package main

// Issue 11 acceptance: no open control plane by default, two tokens, the
// retry queue's command policy and HTTP hardening, against real processes.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
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

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
)

// testGossipKey is the gossip key of every test group (32 bytes, base64):
// vigil run refuses to gossip without one.
const testGossipKey = "dmlnaWwtdGVzdC1nb3NzaXAta2V5LTMyLWJ5dGVzLi4="

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// vigilBinary builds cmd/vigil once per test run, without the race
// detector, for tests that need the real process (its memory, its
// namespace).
func vigilBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-sec-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vigil")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func TestRunWithoutGossipKeyExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--http.listen_addr", "", "--sentinel.listen_addr", ""}, nil, &stdout, &stderr)
	if got := exitCode(err, &stderr); got != 2 {
		t.Fatalf("exit code %d, want 2 (err %v)", got, err)
	}
	for _, key := range []string{"gossip.encryption_key", "gossip.insecure"} {
		if !strings.Contains(stderr.String(), key) {
			t.Errorf("stderr does not name %s:\n%s", key, stderr.String())
		}
	}
}

// With gossip.insecure the sidecar runs, warns and says so in a metric.
func TestGossipInsecureWarnsAndSetsMetric(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"),
		"--failover.quorum", "1", "--gossip.encryption_key=", "--gossip.insecure")
	_, body, err := s.do(http.MethodGet, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "vigil_gossip_insecure 1") {
		t.Errorf("/metrics lacks vigil_gossip_insecure 1")
	}
	if log := s.log.String(); !strings.Contains(log, "insecure configuration") || !strings.Contains(log, "gossip.insecure") {
		t.Errorf("no start-up warning naming gossip.insecure in the log:\n%s", tailLines(log, 30))
	}
}

func TestCheckConfigWarnsAboutInsecureSetup(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"check-config", "--node.name", "a",
		"--gossip.insecure", "--http.listen_addr", "0.0.0.0:9380",
		"--redis.tls.enabled", "--redis.tls.insecure_skip_verify"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("check-config: %v\n%s", err, stderr.String())
	}
	for _, key := range []string{"gossip.insecure", "http.admin_token", "redis.tls.insecure_skip_verify"} {
		if !strings.Contains(stderr.String(), "warning: ") || !strings.Contains(stderr.String(), key) {
			t.Errorf("stderr has no warning naming %s:\n%s", key, stderr.String())
		}
	}
	stderr.Reset()
	err = run(context.Background(), []string{"check-config", "--node.name", "a", "--redis.password", "pw",
		"--http.listen_addr", "127.0.0.1:9380", "--sentinel.listen_addr", "127.0.0.1:26379"},
		[]string{"VIGIL_GOSSIP__ENCRYPTION_KEY=" + testGossipKey}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("check-config: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("a secure configuration got warnings:\n%s", stderr.String())
	}
}

// request sends method path with an optional bearer token and body.
func (s *sidecarUnderTest) request(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.http+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Two tokens: the enqueue token enqueues data writes and opens nothing
// else; administrative commands are refused whoever sends them; the
// admin token comes from a file and the CLI reads it from $VIGIL_TOKEN or
// --token-file.
func TestTokensAndCommandPolicy(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	if err := p.Client().Set(ctx, "keep", "me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const admin, enq = "admin-secret-1", "enqueue-secret-2"
	adminFile := writeFile(t, "admin.token", admin+"\n")
	s := startSidecar(t, "solo", p, nil, redistest.FreePort(t, "127.0.0.1"), "--failover.quorum", "1",
		"--http.admin_token_file", adminFile, "--http.enqueue_token", enq)

	for _, c := range []struct{ cmd, want string }{
		{`["FLUSHALL"]`, "FLUSHALL"},
		{`["CONFIG","SET","dir","/tmp"]`, "CONFIG"},
		{`["SHUTDOWN","NOSAVE"]`, "SHUTDOWN"},
		{`["EVAL","return redis.call('flushall')","0"]`, "EVAL"},
	} {
		for _, tok := range []string{enq, admin} {
			code, body := s.request(t, http.MethodPost, "/v1/retryq", tok, `{"items":[{"command":`+c.cmd+`}]}`)
			if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Errorf("enqueue %s: %d %s, want 400 naming %s", c.cmd, code, body, c.want)
			}
		}
	}
	if code, body := s.request(t, http.MethodPost, "/v1/retryq", enq, `{"items":[{"command":["SET","queued","1"]}]}`); code != http.StatusAccepted {
		t.Errorf("SET with the enqueue token: %d %s, want 202", code, body)
	}
	if code, body := s.request(t, http.MethodPost, "/v1/retryq", "", `{"items":[{"command":["SET","x","1"]}]}`); code != http.StatusUnauthorized {
		t.Errorf("SET without a token: %d %s, want 401", code, body)
	}
	for _, ep := range [][2]string{
		{http.MethodPost, "/v1/switchover"}, {http.MethodPost, "/v1/pause"}, {http.MethodGet, "/debug/pprof/"},
		{http.MethodPost, "/v1/handover"}, {http.MethodPost, "/v1/settings"}, {http.MethodPost, "/v1/config"},
		{http.MethodGet, "/v1/retryq/stats"}, {http.MethodDelete, "/v1/retryq?state=ready"},
		{http.MethodGet, "/v1/divergent"}, {http.MethodPost, "/v1/divergent/x/replay"},
	} {
		code, body := s.request(t, ep[0], ep[1], enq, "")
		if code != http.StatusForbidden || !strings.Contains(body, "http.admin_token") {
			t.Errorf("%s %s with the enqueue token: %d %s, want 403 naming http.admin_token", ep[0], ep[1], code, body)
		}
		if code, _ := s.request(t, ep[0], ep[1], "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", ep[0], ep[1], code)
		}
	}
	if code, _ := s.request(t, http.MethodGet, "/debug/pprof/", admin, ""); code != http.StatusOK {
		t.Errorf("pprof with the admin token: %d, want 200", code)
	}
	// The refused commands did nothing; the accepted SET is applied.
	redistest.Eventually(t, 10*time.Second, func() error {
		v, err := p.Client().Get(ctx, "queued").Result()
		if err != nil || v != "1" {
			return fmt.Errorf("queued = %q, %v; want the SET replayed", v, err)
		}
		return nil
	})
	if v, err := p.Client().Get(ctx, "keep").Result(); err != nil || v != "me" {
		t.Errorf("keep = %q, %v: the primary lost data", v, err)
	}

	// The CLI: $VIGIL_TOKEN, --token-file, and nothing.
	cli := func(environ []string, args ...string) error {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"retryq", "stats", "--addr", s.http}, args...), environ, &out, &errb)
		if err != nil {
			return fmt.Errorf("%w: %s", err, errb.String())
		}
		return nil
	}
	if err := cli([]string{"VIGIL_TOKEN=" + admin}); err != nil {
		t.Errorf("retryq stats with $VIGIL_TOKEN: %v", err)
	}
	if err := cli(nil, "--token-file", adminFile); err != nil {
		t.Errorf("retryq stats --token-file: %v", err)
	}
	if err := cli(nil); err == nil {
		t.Error("retryq stats without a token succeeded")
	}
	if err := cli([]string{"VIGIL_TOKEN=" + enq}); err == nil {
		t.Error("retryq stats with the enqueue token succeeded")
	}
}

// newNamespace creates a network namespace with loopback up and the
// documentation address 192.0.2.1 on it, so a client inside can connect
// from an address that is not loopback. It skips unless root with ip.
func newNamespace(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating a network namespace needs root")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed", tool)
		}
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("vigil-sec-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
			}
		}
		redistest.Eventually(t, 10*time.Second, func() error {
			out, _ := exec.Command("ip", "netns", "pids", name).Output()
			if len(strings.TrimSpace(string(out))) > 0 {
				return fmt.Errorf("processes left in %s: %s", name, out)
			}
			return nil
		})
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	sh("ip", "-n", name, "link", "set", "lo", "up")
	sh("ip", "-n", name, "addr", "add", "192.0.2.1/32", "dev", "lo")
	return name
}

// With no admin token, admin endpoints and pprof answer loopback clients
// only: the same sidecar refuses a client from 192.0.2.1 (in a test
// network namespace) with a 403 that says why, and serves 127.0.0.1.
func TestAdminRefusesNonLoopbackWithoutToken(t *testing.T) {
	ns := newNamespace(t)
	bin := vigilBinary(t)
	startCaptured(t, exec.Command("ip", "netns", "exec", ns, bin, "run", "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--redis.addr", "127.0.0.1:6379", "--gossip.encryption_key", testGossipKey,
		"--gossip.bind_addr", "127.0.0.1:7946", "--sentinel.listen_addr", "",
		"--http.listen_addr", "0.0.0.0:9380", "--log.format", "json"))
	curl := func(from, method, url string) (int, string) {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-s", "-m", "10", "--interface", from,
			"-X", method, "-w", "\n%{http_code}", url).Output()
		if err != nil {
			return 0, err.Error()
		}
		s := strings.TrimSpace(string(out))
		i := strings.LastIndex(s, "\n")
		code, _ := strconv.Atoi(s[i+1:])
		return code, s[:max(i, 0)]
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		if code, body := curl("127.0.0.1", "GET", "http://127.0.0.1:9380/-/healthy"); code != 200 {
			return fmt.Errorf("healthy: %d %s", code, body)
		}
		return nil
	})
	for _, ep := range [][2]string{{"GET", "/debug/pprof/"}, {"GET", "/v1/history"}, {"POST", "/v1/pause"}, {"POST", "/v1/handover"},
		{"POST", "/v1/settings"}, {"POST", "/v1/config"}, {"GET", "/v1/retryq/stats"}, {"GET", "/v1/divergent"}} {
		code, body := curl("192.0.2.1", ep[0], "http://192.0.2.1:9380"+ep[1])
		if code != http.StatusForbidden || !strings.Contains(body, "http.admin_token is empty") {
			t.Errorf("%s %s from 192.0.2.1: %d %s, want 403 saying http.admin_token is empty", ep[0], ep[1], code, body)
		}
	}
	for _, ep := range [][2]string{{"GET", "/debug/pprof/"}, {"GET", "/v1/history"}, {"GET", "/v1/retryq/stats"}, {"GET", "/v1/divergent"}} {
		if code, body := curl("127.0.0.1", ep[0], "http://127.0.0.1:9380"+ep[1]); code != http.StatusOK {
			t.Errorf("%s %s from loopback: %d %s, want 200", ep[0], ep[1], code, body)
		}
	}
	// Health and metrics stay open to every client.
	if code, _ := curl("192.0.2.1", "GET", "http://192.0.2.1:9380/metrics"); code != http.StatusOK {
		t.Errorf("/metrics from 192.0.2.1: %d, want 200", code)
	}
}

// vmHWM reads the peak resident set size of pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

// startCaptured starts cmd with its output captured, kills it at cleanup and
// shows the end of its log when the test failed.
func startCaptured(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("vigil log:\n%s", tailLines(logs.String(), 40))
		}
	})
}

// startBinary runs the real vigil with args and waits for its HTTP API.
func startBinary(t *testing.T, web string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(vigilBinary(t), args...)
	startCaptured(t, cmd)
	redistest.Eventually(t, 20*time.Second, func() error {
		resp, err := http.Get("http://" + web + "/-/healthy")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return cmd
}

// Ten concurrent 30 MB enqueues keep the real process under 256 MiB:
// bodies past http.max_body_bytes_in_flight are shed with 503 and
// Retry-After before they are read. Slow-body connections are closed by
// the read timeout.
func TestLargeAndSlowBodies(t *testing.T) {
	p := redistest.Start(t, redistest.Options{})
	web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	cmd := startBinary(t, web, "run", "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--redis.addr", p.Addr(), "--gossip.encryption_key", testGossipKey,
		"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
		"--sentinel.listen_addr", "", "--http.listen_addr", web,
		"--http.read_timeout", "3s", "--log.format", "json")

	const size = 30 << 20
	prefix, suffix := `{"items":[{"command":["SET","big","`, `"]}]}`
	body := make([]byte, 0, size)
	body = append(body, prefix...)
	body = append(body, bytes.Repeat([]byte("x"), size-len(prefix)-len(suffix))...)
	body = append(body, suffix...)

	var wg sync.WaitGroup
	codes := make([]int, 10)
	retryAfter := make([]string, 10)
	start := make(chan struct{})
	for i := range codes {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, "http://"+web+"/v1/retryq", bytes.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes[i] = -1 // the server answered and closed before the body was sent
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			codes[i], retryAfter[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	close(start)
	wg.Wait()
	var accepted, shed int
	for i, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
		case http.StatusServiceUnavailable:
			shed++
			if retryAfter[i] == "" {
				t.Errorf("request %d: 503 without Retry-After", i)
			}
		}
	}
	hwm := vmHWM(t, cmd.Process.Pid)
	t.Logf("codes %v: %d accepted, %d shed; VmHWM %d MiB", codes, accepted, shed, hwm>>20)
	if accepted == 0 || shed == 0 {
		t.Errorf("codes %v: want some 202 and some 503", codes)
	}
	if hwm >= 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", hwm>>20)
	}

	// Headers past http.max_header_bytes (64 KiB) are refused.
	req, _ := http.NewRequest(http.MethodGet, "http://"+web+"/-/healthy", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 200<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("200 KiB header: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("200 KiB header: %d, want 431", resp.StatusCode)
		}
	}

	// Slow bodies: headers promise 1000 bytes, one arrives. The read
	// timeout (3s here) closes each connection; without it they stay open.
	var conns []net.Conn
	for range 200 { // as many as in the issue's report
		c, err := net.Dial("tcp", web)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/retryq HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		conns = append(conns, c)
	}
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		b, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow connection %d still open after 60s (read %q)", i, b)
		}
	}
}

// copyFile installs src at dst (a certificate rotation).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// SIGHUP re-reads the served certificates (Sentinel endpoint and HTTPS)
// and the token files of the running binary.
func TestSIGHUPReloadsCertificatesAndTokens(t *testing.T) {
	ca1, ca2 := testcerts.NewCA(t, "one"), testcerts.NewCA(t, "two")
	p1, p2 := ca1.Issue(t, "vigil1"), ca2.Issue(t, "vigil2")
	dir := t.TempDir()
	cert, key, tokenFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "token")
	copyFile(t, p1.CertFile, cert)
	copyFile(t, p1.KeyFile, key)
	if err := os.WriteFile(tokenFile, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := redistest.Start(t, redistest.Options{})
	web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	sentinel := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
	var logs syncBuffer
	cmd := exec.Command(vigilBinary(t), "run", "--node.name", "a", "--node.data_dir", t.TempDir(),
		"--redis.addr", p.Addr(), "--gossip.encryption_key", testGossipKey,
		"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
		"--sentinel.listen_addr", sentinel, "--sentinel.tls.cert_file", cert, "--sentinel.tls.key_file", key,
		"--http.listen_addr", web, "--http.tls.cert_file", cert, "--http.tls.key_file", key,
		"--http.admin_token_file", tokenFile, "--log.format", "json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("vigil log:\n%s", tailLines(logs.String(), 40))
		}
	})
	ctx := context.Background()
	// get answers GET path over HTTPS trusting ca with token.
	get := func(ca *testcerts.CA, path, token string) (int, error) {
		tr := &http.Transport{TLSClientConfig: ca.ClientTLS(t, nil)}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "https://"+web+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	sentinelPing := func(ca *testcerts.CA) error {
		c := redis.NewClient(&redis.Options{Addr: sentinel, TLSConfig: ca.ClientTLS(t, nil), MaxRetries: -1, DialTimeout: 2 * time.Second})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		code, err := get(ca1, "/v1/retryq/stats", "token-one")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("stats with token-one: %d", code)
		}
		return err
	})
	if err := sentinelPing(ca1); err != nil {
		t.Fatalf("Sentinel endpoint with CA one: %v", err)
	}
	// The CLI reaches the HTTPS sidecar with --cacert.
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"retryq", "stats", "--addr", "https://" + web, "--cacert", ca1.CertFile},
		[]string{"VIGIL_TOKEN=token-one"}, &out, &errb); err != nil {
		t.Errorf("vigil retryq stats over https: %v %s", err, errb.String())
	}

	copyFile(t, p2.CertFile, cert)
	copyFile(t, p2.KeyFile, key)
	if err := os.WriteFile(tokenFile, []byte("token-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		if err := sentinelPing(ca2); err != nil {
			return fmt.Errorf("Sentinel endpoint with CA two: %w", err)
		}
		code, err := get(ca2, "/v1/retryq/stats", "token-two")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("stats with token-two: %d", code)
		}
		return err
	})
	if err := sentinelPing(ca1); err == nil {
		t.Error("after reload the Sentinel endpoint still serves CA one's certificate")
	}
	if code, err := get(ca2, "/v1/retryq/stats", "token-one"); err != nil || code != http.StatusUnauthorized {
		t.Errorf("old token after reload: %d %v, want 401", code, err)
	}
}
