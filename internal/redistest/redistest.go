// Package redistest starts real redis-server processes for tests: on free
// loopback ports, in a test's temporary directory, with helpers to kill, stop
// and resume them. No fake stands in for Redis anywhere in vigil's tests.
package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options describe one redis-server to start.
type Options struct {
	// Port to listen on; 0 picks a free loopback port.
	Port int
	// Host to bind; empty means 127.0.0.1.
	Host string
	// Password, when set, is required by the server (requirepass) and used
	// for replication (masterauth).
	Password string
	// ReplicaOf is the "host:port" of the primary to replicate; empty starts a primary.
	ReplicaOf string
	// Args are extra redis-server arguments, e.g. {"--replica-priority", "0"}.
	Args []string
	// TLS, when set, makes the server TLS-only: the port is its tls-port
	// (the plain port is 0), replication uses TLS (tls-replication yes)
	// and clients must present a certificate signed by TLS.CAFile.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a TLS-only server.
type TLSFiles struct {
	// CAFile signs the server's and its clients' certificates.
	CAFile string
	// CertFile and KeyFile are the certificate the server presents, also
	// used as the client certificate of Client and of replication.
	CertFile, KeyFile string
}

// ClientTLS is a client configuration for the server: trusting CAFile and
// presenting CertFile. It is nil for a plain server.
func (s *Server) ClientTLS() *tls.Config {
	f := s.opts.TLS
	if f == nil {
		return nil
	}
	b, err := os.ReadFile(f.CAFile)
	pool := x509.NewCertPool()
	if err == nil {
		pool.AppendCertsFromPEM(b)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile); err == nil {
		tc.Certificates = []tls.Certificate{c}
	}
	return tc
}

// Server is one running redis-server process.
type Server struct {
	opts    Options
	host    string
	port    int
	dir     string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	client *redis.Client
}

// Binary is the path of redis-server, taken from $REDIS_SERVER or $PATH.
func Binary() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redistest: redis-server not found: install the Debian package redis-server (make deps)")
	}
	return p, nil
}

// FreePort returns a port on host that is free for TCP and UDP. It picks
// below the kernel's ephemeral range (ip_local_port_range), where the
// ports of outgoing connections come from: a port the kernel handed out
// for "port 0" would soon be reused for one of the many outgoing
// connections a failover test makes, and the server meant for it would
// fail to bind. A port is handed out once per test process: a port
// returned but not yet bound (a sidecar about to start) looks free to the
// next call, and two sidecars of one group were given the same one (CI).
func FreePort(t testing.TB, host string) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	const base = 10000
	for range 1000 {
		port := base + rand.IntN(max(low-base, 1000))
		if !handOut(port) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatalf("redistest: no free port on %s", host)
	return 0
}

// handedOut records the ports FreePort returned in this process; a test
// kit's process-wide registry, as the ports are. Each claimed port also
// holds an flock on a file in the temporary directory until the process
// exits, so the test binaries `go test ./...` runs side by side never hand
// out the same port either (CI: a sidecar's gossip port was taken by
// another package's test).
var handedOut struct {
	sync.Mutex
	ports map[int]*os.File
}

// handOut claims port for this process, false if this or another test
// process holds it.
func handOut(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if _, ok := handedOut.ports[port]; ok {
		return false
	}
	dir := filepath.Join(os.TempDir(), "vigil-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true // no cross-process claim possible: in-process only
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false // another test process holds it
	}
	if handedOut.ports == nil {
		handedOut.ports = map[int]*os.File{}
	}
	handedOut.ports[port] = f // kept open: the lock lasts until exit
	return true
}

// Start starts a redis-server and waits until it answers PING. The process
// is killed and its files removed when the test ends; its log is printed
// when the test failed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, host: opts.Host, port: opts.Port, dir: t.TempDir()}
	if s.host == "" {
		s.host = "127.0.0.1"
	}
	if s.port == 0 {
		s.port = FreePort(t, s.host)
	}
	s.logPath = filepath.Join(s.dir, "redis.log")
	t.Cleanup(func() {
		s.mu.Lock()
		if s.client != nil {
			s.client.Close()
		}
		s.mu.Unlock()
		s.kill()
		if t.Failed() {
			if b, err := os.ReadFile(s.logPath); err == nil {
				t.Logf("redis-server %s log:\n%s", s.Addr(), tail(string(b), 60))
			}
		}
	})
	s.start(t)
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) args() []string {
	a := []string{
		"--bind", s.host,
		"--dir", s.dir,
		"--logfile", s.logPath,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		// Diskless sync keeps replica start-up fast and off the disk.
		"--repl-diskless-sync", "yes",
		"--repl-diskless-sync-delay", "0",
	}
	if f := s.opts.TLS; f != nil {
		a = append(a, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", f.CertFile, "--tls-key-file", f.KeyFile,
			"--tls-ca-cert-file", f.CAFile, "--tls-replication", "yes")
	} else {
		a = append(a, "--port", strconv.Itoa(s.port))
	}
	if s.opts.Password != "" {
		a = append(a, "--requirepass", s.opts.Password, "--masterauth", s.opts.Password)
	}
	if s.opts.ReplicaOf != "" {
		h, p, _ := net.SplitHostPort(s.opts.ReplicaOf)
		a = append(a, "--replicaof", h, p)
	}
	return append(a, s.opts.Args...)
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	// A config file (even empty) makes CONFIG REWRITE work, as in production.
	conf := filepath.Join(s.dir, "redis.conf")
	if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(conf, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, append([]string{conf}, s.args()...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the OS thread that started the child exits, not
	// the process: start it from a goroutine locked to its thread that
	// lives until the child has exited, or a thread the runtime retires
	// would SIGKILL a healthy redis-server in the middle of a test.
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	Eventually(t, 10*time.Second, func() error {
		select {
		case <-done:
			b, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("redis-server exited: %s", tail(string(b), 10))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return s.Client().Ping(ctx).Err()
	})
}

// Addr is "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Host is the bound address.
func (s *Server) Host() string { return s.host }

// Port is the TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's working directory.
func (s *Server) Dir() string { return s.dir }

// PID is the process id of the running server, 0 if none.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Client is a go-redis client for the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Addr:         s.Addr(),
			Password:     s.opts.Password,
			DialTimeout:  time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
			MaxRetries:   -1,
			TLSConfig:    s.ClientTLS(),
		})
	}
	return s.client
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("not running")
	}
	return s.cmd.Process.Signal(sig)
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.kill()
}

// Stop sends SIGSTOP: the process keeps its sockets but answers nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: SIGSTOP %s: %v", s.Addr(), err)
	}
}

// Cont sends SIGCONT to a stopped server.
func (s *Server) Cont(t testing.TB) {
	t.Helper()
	if err := s.signal(syscall.SIGCONT); err != nil {
		t.Fatalf("redistest: SIGCONT %s: %v", s.Addr(), err)
	}
}

// Restart kills the server if it runs and starts it again on the same port
// and directory, with the same options.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.kill()
	s.start(t)
}

// Info returns INFO section as a map of field to value.
func (s *Server) Info(t testing.TB, section string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	txt, err := s.Client().Info(ctx, section).Result()
	if err != nil {
		t.Fatalf("redistest: INFO %s on %s: %v", section, s.Addr(), err)
	}
	return ParseInfo(txt)
}

// ParseInfo splits INFO output into field/value pairs.
func ParseInfo(txt string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// WaitSynced waits until this replica's link is up, its initial sync is
// done and its primary lists it online. Only then does the primary stream
// new writes to it: right after a diskless sync Redis 7.0 holds them back
// until the replica's first REPLCONF ACK, up to a second later.
func (s *Server) WaitSynced(t testing.TB) {
	t.Helper()
	Eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		txt, err := s.Client().Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		m := ParseInfo(txt)
		if m["role"] != "slave" {
			return fmt.Errorf("role is %q", m["role"])
		}
		if m["master_link_status"] != "up" || m["master_sync_in_progress"] != "0" {
			return fmt.Errorf("link %s, sync in progress %s", m["master_link_status"], m["master_sync_in_progress"])
		}
		primary := redis.NewClient(&redis.Options{
			Addr:     net.JoinHostPort(m["master_host"], m["master_port"]),
			Password: s.opts.Password, MaxRetries: -1, DialTimeout: time.Second,
			TLSConfig: s.ClientTLS(),
		})
		defer primary.Close()
		txt, err = primary.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("primary: %w", err)
		}
		want := ",port=" + strconv.Itoa(s.port) + ",state=online,"
		for k, v := range ParseInfo(txt) {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, want) {
				return nil
			}
		}
		return fmt.Errorf("primary does not list replica %s online yet", s.Addr())
	})
}

// Eventually polls cond every 10ms until it returns nil, and fails the test
// with the last error if timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
