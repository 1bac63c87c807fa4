package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// demoNode is one redis-server and the sidecar beside it.
type demoNode struct {
	name                                     string
	redisPort, gossipPort, sentPort, httpPrt int
	dir                                      string
	redis, vigil                             *exec.Cmd
}

func (n *demoNode) redisAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.redisPort))
}
func (n *demoNode) httpURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.httpPrt))
}

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local three-node group (real redis-server processes) with sidecars on loopback",
		Long: `demo starts three redis-server processes (one primary, two replicas) and
three vigil sidecars on free loopback ports in a temporary directory, then
shows a live status table and a client writing through the Sentinel endpoint.
Type "k" and Enter to SIGKILL the current primary and watch the failover;
"r" and Enter restarts killed nodes. Ctrl-C stops every process and removes
every file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo(ctx, stdout, stderr, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory (logs) on exit")
	return cmd
}

func demo(ctx context.Context, stdout, stderr io.Writer, keep bool) error {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server not found: install the Debian package redis-server (make deps)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vigil-demo-")
	if err != nil {
		return err
	}
	nodes := make([]*demoNode, 3)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.stop()
			}
		}
		if keep {
			fmt.Fprintln(stdout, "logs kept in", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	for i := range nodes {
		ports, err := freePorts(4)
		if err != nil {
			return err
		}
		n := &demoNode{
			name:      string(rune('a' + i)),
			redisPort: ports[0], gossipPort: ports[1], sentPort: ports[2], httpPrt: ports[3],
		}
		n.dir = filepath.Join(dir, n.name)
		if err := os.MkdirAll(n.dir, 0o750); err != nil {
			return err
		}
		nodes[i] = n
	}
	for i, n := range nodes {
		args := []string{filepath.Join(n.dir, "redis.conf"), "--port", strconv.Itoa(n.redisPort), "--bind", "127.0.0.1",
			"--dir", n.dir, "--logfile", "redis.log", "--save", "", "--appendonly", "no",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
		if i > 0 {
			args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(nodes[0].redisPort))
		}
		if err := os.WriteFile(args[0], nil, 0o640); err != nil {
			return err
		}
		n.redis = exec.Command(redisBin, args...)
		if err := startLogged(n.redis, filepath.Join(n.dir, "redis.out")); err != nil {
			return fmt.Errorf("start redis-server %s: %w", n.name, err)
		}
	}
	var join []string
	for _, n := range nodes {
		join = append(join, net.JoinHostPort("127.0.0.1", strconv.Itoa(n.gossipPort)))
	}
	// A fresh gossip key per demo, passed in the environment so it does
	// not show in the process list: gossip and Raft are authenticated and
	// encrypted with it, and vigil run refuses to gossip unencrypted.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	keyEnv := "VIGIL_GOSSIP__ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key[:])
	for _, n := range nodes {
		n.vigil = exec.Command(self, "run",
			"--node.name", n.name,
			"--node.data_dir", filepath.Join(n.dir, "vigil"),
			"--redis.addr", n.redisAddr(),
			"--gossip.bind_addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.gossipPort)),
			"--gossip.join", strings.Join(join, ","),
			"--sentinel.listen_addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.sentPort)),
			"--http.listen_addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.httpPrt)),
			"--failover.down_after", "2s",
			"--failover.fence_after", "1s",
			"--failover.bootstrap_expect", "3",
			"--log.format", "json",
		)
		n.vigil.Env = append(os.Environ(), keyEnv)
		if err := startLogged(n.vigil, filepath.Join(n.dir, "vigil.log")); err != nil {
			return fmt.Errorf("start sidecar %s: %w", n.name, err)
		}
	}

	var sentinels []string
	for _, n := range nodes {
		sentinels = append(sentinels, net.JoinHostPort("127.0.0.1", strconv.Itoa(n.sentPort)))
	}
	// go-redis logs through a package-wide logger to stderr; in the demo
	// its lines go to client.log instead of across the screen.
	clientLog, err := os.OpenFile(filepath.Join(dir, "client.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer clientLog.Close()
	redis.SetLogger(&demoClientLog{w: clientLog})
	w := &demoWriter{}
	go w.run(ctx, sentinels)

	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case cmds <- strings.TrimSpace(sc.Text()):
			case <-ctx.Done():
				return
			}
		}
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	msg := "k + Enter kills the primary"
	var kill demoKill
	for {
		demoScreen(ctx, stdout, nodes, w, dir, msg, kill)
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "\nstopping the demo…")
			return nil
		case c := <-cmds:
			var k demoKill
			msg, k = demoCommand(ctx, c, nodes)
			if k.node != "" {
				kill = k
			}
		case <-tick.C:
		}
	}
}

// demoKill is the demo's last kill of a primary.
type demoKill struct {
	node string
	at   time.Time
}

func demoCommand(ctx context.Context, c string, nodes []*demoNode) (string, demoKill) {
	switch c {
	case "k":
		for _, n := range nodes {
			if n.redis == nil || n.redis.ProcessState != nil {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: n.redisAddr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
			role, err := cl.Do(ctx, "ROLE").Slice()
			cl.Close()
			if err == nil && len(role) > 0 && role[0] == "master" {
				_ = n.redis.Process.Kill()
				at := time.Now()
				_ = n.redis.Wait()
				return fmt.Sprintf("%s killed primary %s (%s)", at.Format(time.TimeOnly), n.name, n.redisAddr()), demoKill{node: n.name, at: at}
			}
		}
		return "no primary to kill", demoKill{}
	case "r":
		var out []string
		for _, n := range nodes {
			if n.redis != nil && n.redis.ProcessState != nil {
				cmd := exec.Command(n.redis.Path, n.redis.Args[1:]...)
				if err := startLogged(cmd, filepath.Join(n.dir, "redis.out")); err == nil {
					n.redis = cmd
					out = append(out, n.name)
				}
			}
		}
		if len(out) == 0 {
			return "nothing to restart", demoKill{}
		}
		return "restarted: " + strings.Join(out, ", "), demoKill{}
	}
	return fmt.Sprintf("unknown command %q: k = kill the primary, r = restart killed nodes", c), demoKill{}
}

func demoScreen(ctx context.Context, w io.Writer, nodes []*demoNode, dw *demoWriter, dir, msg string, kill demoKill) {
	var b strings.Builder
	b.WriteString("\033[H\033[2J")
	fmt.Fprintf(&b, "vigil demo — three redis-server + three sidecars on loopback (files in %s)\n\n", dir)
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	// One full table, then what every sidecar believes: they must agree.
	shown := false
	var views []string
	view := demoView{killed: kill.node, killedAt: kill.at}
	for _, n := range nodes {
		var st Status
		if err := getJSON(ctx, n.httpURL()+"/v1/status", &st); err != nil {
			views = append(views, fmt.Sprintf("  sidecar %s: unreachable (%v)", n.name, err))
			continue
		}
		view.statuses = append(view.statuses, st)
		if !shown {
			_ = printStatus(&b, st)
			shown = true
			_ = getJSON(ctx, n.httpURL()+"/v1/history", &view.history)
		}
		t := st.Topology
		v := fmt.Sprintf("  sidecar %s: epoch %d, primary %q", n.name, t.Epoch, t.Primary.Name)
		if t.Fenced {
			v += ", FENCED"
		}
		if t.InFailover {
			v += ", failing over"
		}
		views = append(views, v)
	}
	b.WriteString("\n" + strings.Join(views, "\n") + "\n\n")
	ok, fail, last, addr := dw.stats()
	fmt.Fprintf(&b, "client (go-redis FailoverClient via the sidecars' Sentinel endpoints): %d writes ok, %d failed, last ok %s on %s\n",
		ok, fail, last, addr)
	view.resumedAt = dw.firstOKAfter(kill.at)
	fmt.Fprintf(&b, "\nstatus: %s\n", demoStatusLine(view))
	if line := demoFailoverLine(view, time.Now()); line != "" {
		fmt.Fprintf(&b, "%s\n", line)
	}
	fmt.Fprintf(&b, "\n%s\nk + Enter: SIGKILL the primary   r + Enter: restart killed nodes   Ctrl-C: stop and clean up   (client log: %s)\n",
		msg, filepath.Join(dir, "client.log"))
	_, _ = io.WriteString(w, b.String())
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// demoWriter writes a counter through an unmodified go-redis failover
// client, to show clients following the primary.
type demoWriter struct {
	mu       sync.Mutex
	ok, fail int
	last     time.Time
	addr     string
	oks      []time.Time // recent successful writes, for firstOKAfter
}

// firstOKAfter is the first successful write after t, zero if none yet.
func (d *demoWriter) firstOKAfter(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, at := range d.oks {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}

func (d *demoWriter) run(ctx context.Context, sentinels []string) {
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: sentinels,
		DialTimeout:   300 * time.Millisecond,
		ReadTimeout:   300 * time.Millisecond,
		WriteTimeout:  300 * time.Millisecond,
		MaxRetries:    -1,
	})
	defer c.Close()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := c.Incr(wctx, "demo:counter").Err()
		var addr string
		if err == nil {
			if cfg, cerr := c.ConfigGet(wctx, "port").Result(); cerr == nil {
				addr = "port " + cfg["port"]
			}
		}
		cancel()
		d.mu.Lock()
		if err != nil {
			d.fail++
		} else {
			d.ok++
			d.last = time.Now()
			d.addr = addr
			d.oks = append(d.oks, d.last)
			if len(d.oks) > 1200 { // two minutes at 10 writes a second
				d.oks = d.oks[len(d.oks)-1200:]
			}
		}
		d.mu.Unlock()
	}
}

func (d *demoWriter) stats() (ok, fail int, last, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	last = "never"
	if !d.last.IsZero() {
		last = d.last.Format(time.TimeOnly)
	}
	return d.ok, d.fail, last, d.addr
}

func startLogged(cmd *exec.Cmd, logPath string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	// The children die with the demo even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	f.Close()
	return err
}

func (n *demoNode) stop() {
	for _, c := range []*exec.Cmd{n.vigil, n.redis} {
		if c == nil || c.Process == nil || c.ProcessState != nil {
			continue
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
}

// freePorts reserves n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
