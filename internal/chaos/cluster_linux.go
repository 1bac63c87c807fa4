//go:build linux

package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-redis/vigil/internal/netns"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// Ports every node uses on its own address.
const (
	redisPort    = 6379
	proxyPort    = 6380
	gossipPort   = 7946
	sentinelPort = 26379
	httpPort     = 9380
)

// proc is one run of a process: a Redis server or a sidecar.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // set (under cluster.mu) before the nemesis kills it
	err      error
}

// node is one Redis server and its sidecar, both under one uid.
type node struct {
	idx     int
	name    string
	uid     int
	addr    string
	dir     string
	persist bool
	rdb     *redis.Client // direct, from outside every partition

	redis, vigil *proc    // guarded by cluster.mu
	exits        []string // unexpected sidecar exits, guarded by cluster.mu
	vigilLog     *os.File // appended by every incarnation
	redisLog     *os.File
}

func (n *node) redisAddr() string    { return fmt.Sprintf("%s:%d", n.addr, redisPort) }
func (n *node) sentinelAddr() string { return fmt.Sprintf("%s:%d", n.addr, sentinelPort) }
func (n *node) proxyAddr() string    { return fmt.Sprintf("%s:%d", n.addr, proxyPort) }
func (n *node) httpBase() string     { return fmt.Sprintf("http://%s:%d", n.addr, httpPort) }
func (n *node) redisConf() string    { return filepath.Join(n.dir, "redis.conf") }
func (n *node) redisData() string    { return filepath.Join(n.dir, "redis-data") }
func (n *node) vigilData() string    { return filepath.Join(n.dir, "vigil-data") }

// cluster is the namespace and the nodes in it.
type cluster struct {
	ns     *netns.NS
	bin    string
	nodes  []*node
	token  string // http.admin_token
	key    string // gossip.encryption_key
	flags  map[string]bool
	params Params
	// logLevel is the sidecars' log.level; "" keeps vigil's default.
	logLevel string
	start    time.Time // the run's time origin
	hc       *http.Client
	logf     func(format string, args ...any)

	mu sync.Mutex
}

// since is the run's monotonic clock.
func (c *cluster) since() time.Duration { return time.Since(c.start) }

// supportedKeys lists the configuration keys `vigil run` accepts, from
// its --help, so one harness configures today's binary and later ones.
func supportedKeys(bin string) (map[string]bool, error) {
	out, err := exec.Command(bin, "run", "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("chaos: %s run --help: %w\n%s", bin, err, out)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z_]+\.[a-z_.]+)`).FindAllStringSubmatch(string(out), -1) {
		keys[m[1]] = true
	}
	if !keys["redis.addr"] {
		return nil, fmt.Errorf("chaos: %s run --help lists no redis.addr flag:\n%s", bin, out)
	}
	return keys, nil
}

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newCluster creates the namespace and the node directories; it starts
// nothing. close removes everything.
func newCluster(dir, bin string, n int, persist []bool, params Params, logf func(string, ...any)) (*cluster, error) {
	flags, err := supportedKeys(bin)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c := &cluster{bin: bin, token: randToken(16), key: base64.StdEncoding.EncodeToString(key), flags: flags,
		params: params, start: time.Now(), logf: logf}
	var uids []int
	var addrs []string
	for i := range n {
		nd := &node{idx: i, name: string(rune('a' + i)), uid: 62001 + i, addr: fmt.Sprintf("127.0.0.%d", i+2),
			dir: filepath.Join(dir, string(rune('a'+i))), persist: persist[i]}
		for _, d := range []string{nd.dir, nd.redisData(), nd.vigilData()} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("chaos: %w", err)
			}
			if err := os.Chown(d, nd.uid, nd.uid); err != nil {
				return nil, fmt.Errorf("chaos: %w", err)
			}
		}
		if nd.vigilLog, err = os.OpenFile(filepath.Join(nd.dir, "vigil.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		if nd.redisLog, err = os.OpenFile(filepath.Join(nd.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		c.nodes = append(c.nodes, nd)
		uids = append(uids, nd.uid)
		addrs = append(addrs, nd.addr)
	}
	if c.ns, err = netns.New("vigil-chaos", uids, addrs); err != nil {
		c.closeFiles()
		return nil, err
	}
	c.hc = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: c.ns.Dial}}
	for _, nd := range c.nodes {
		nd.rdb = redis.NewClient(&redis.Options{
			Addr: nd.redisAddr(), Dialer: c.ns.Dial, DisableIdentity: true,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
			PoolTimeout: 300 * time.Millisecond, MaxRetries: -1, PoolSize: 8,
		})
	}
	return c, nil
}

func (c *cluster) closeFiles() {
	for _, nd := range c.nodes {
		if nd.vigilLog != nil {
			nd.vigilLog.Close()
		}
		if nd.redisLog != nil {
			nd.redisLog.Close()
		}
	}
}

// close kills every process (the namespace's Close does, and waits) and
// removes the namespace.
func (c *cluster) close() error {
	c.mu.Lock()
	for _, nd := range c.nodes {
		for _, p := range []*proc{nd.redis, nd.vigil} {
			if p != nil {
				p.expected = true
			}
		}
	}
	c.mu.Unlock()
	for _, nd := range c.nodes {
		for _, p := range []*proc{nd.redis, nd.vigil} {
			if p != nil {
				_ = p.cmd.Process.Signal(syscall.SIGCONT)
				_ = p.cmd.Process.Kill()
			}
		}
	}
	for _, nd := range c.nodes {
		for _, p := range []*proc{nd.redis, nd.vigil} {
			if p != nil {
				<-p.done
			}
		}
		nd.rdb.Close()
	}
	c.hc.CloseIdleConnections()
	err := c.ns.Close()
	c.closeFiles()
	return err
}

// writeRedisConf writes node's initial redis.conf: node 0 a primary, the
// others its replicas. Redis rewrites it (CONFIG REWRITE after REPLICAOF),
// so a restart with the file kept comes back in its last role.
func (c *cluster) writeRedisConf(nd *node) error {
	var b strings.Builder
	fmt.Fprintf(&b, "bind %s\nport %d\ndir %s\nbind-source-addr %s\n", nd.addr, redisPort, nd.redisData(), nd.addr)
	b.WriteString("protected-mode no\ndaemonize no\nsave \"\"\nrepl-diskless-sync yes\nrepl-diskless-sync-delay 0\n")
	if nd.persist {
		b.WriteString("appendonly yes\nappendfsync everysec\n")
	} else {
		b.WriteString("appendonly no\n")
	}
	if nd.idx > 0 {
		fmt.Fprintf(&b, "replicaof %s %d\n", c.nodes[0].addr, redisPort)
	}
	if err := os.WriteFile(nd.redisConf(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	return os.Chown(nd.redisConf(), nd.uid, nd.uid)
}

// writeVigilConf writes the sidecar's YAML configuration, with only the
// keys the binary under test knows.
func (c *cluster) writeVigilConf(nd *node) (string, error) {
	var join []string
	for _, o := range c.nodes {
		join = append(join, fmt.Sprintf("%s:%d", o.addr, gossipPort))
	}
	p := c.params
	kv := map[string]any{
		"node.name":                 nd.name,
		"node.data_dir":             nd.vigilData(),
		"redis.addr":                nd.redisAddr(),
		"gossip.bind_addr":          fmt.Sprintf("%s:%d", nd.addr, gossipPort),
		"gossip.join":               join,
		"gossip.encryption_key":     c.key,
		"sentinel.listen_addr":      nd.sentinelAddr(),
		"proxy.listen_addr":         nd.proxyAddr(),
		"http.listen_addr":          fmt.Sprintf("%s:%d", nd.addr, httpPort),
		"http.admin_token":          c.token,
		"monitor.interval":          p.Interval.String(),
		"failover.quorum":           len(c.nodes)/2 + 1,
		"failover.down_after":       p.DownAfter.String(),
		"failover.fence_after":      p.FenceAfter.String(),
		"failover.min_replicas":     p.MinReplicas,
		"failover.stabilization":    p.stabilization().String(),
		"failover.bootstrap_expect": len(c.nodes),
		// The durable mode: with min_replicas the writes a cut-off primary
		// acknowledged after the fork come back through the replay. The
		// shipped default archives them.
		"failover.divergent_writes": p.Divergent,
		// An archive whose replay found no writable primary is retried
		// this often (default 30 s); the run waits for it before its
		// final read.
		"failover.divergent_replay_retry": "1s",
		// Anti-flap pauses automatic failover after three in ten minutes,
		// which a minute of faults reaches: availability could not be
		// judged after it. TestAntiFlapCap covers it.
		"failover.max_failovers": 0,
		"log.format":             "json",
	}
	if c.logLevel != "" {
		kv["log.level"] = c.logLevel
	}
	root := map[string]any{}
	for k, v := range kv {
		if !c.flags[k] {
			continue // this binary does not have the key
		}
		parts := strings.Split(k, ".")
		m := root
		for _, part := range parts[:len(parts)-1] {
			sub, ok := m[part].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[part] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	b, err := yaml.Marshal(root)
	if err != nil {
		return "", fmt.Errorf("chaos: %w", err)
	}
	path := filepath.Join(nd.dir, "vigil.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("chaos: %w", err)
	}
	return path, nil
}

// startProc starts cmd as nd's uid and watches for its exit.
func (c *cluster) startProc(nd *node, cmd *exec.Cmd, sidecar bool) (*proc, error) {
	if err := c.ns.Start(nd.uid, cmd); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		p.err = err
		if sidecar && !p.expected {
			nd.exits = append(nd.exits, fmt.Sprintf("%v at %s", err, fmtDur(c.since())))
		}
		c.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (c *cluster) startRedis(nd *node) error {
	cmd := exec.Command("redis-server", nd.redisConf())
	cmd.Stdout, cmd.Stderr = nd.redisLog, nd.redisLog
	p, err := c.startProc(nd, cmd, false)
	if err != nil {
		return err
	}
	c.mu.Lock()
	nd.redis = p
	c.mu.Unlock()
	return nil
}

func (c *cluster) startVigil(nd *node) error {
	conf, err := c.writeVigilConf(nd)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "run", "--config", conf)
	cmd.Stdout, cmd.Stderr = nd.vigilLog, nd.vigilLog
	p, err := c.startProc(nd, cmd, true)
	if err != nil {
		return err
	}
	c.mu.Lock()
	nd.vigil = p
	c.mu.Unlock()
	return nil
}

// up starts every Redis and sidecar (node a's Redis the primary) and waits
// until the sidecars agree on a primary.
func (c *cluster) up(ctx context.Context) error {
	for _, nd := range c.nodes {
		if err := c.writeRedisConf(nd); err != nil {
			return err
		}
		if err := c.startRedis(nd); err != nil {
			return err
		}
	}
	if err := poll(ctx, 30*time.Second, "replicas synced with a", func() error {
		for _, nd := range c.nodes[1:] {
			info, err := replInfo(ctx, nd.rdb)
			if err != nil {
				return fmt.Errorf("%s: %w", nd.name, err)
			}
			if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
				return fmt.Errorf("%s: link %q", nd.name, info["master_link_status"])
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, nd := range c.nodes {
		if err := c.startVigil(nd); err != nil {
			return err
		}
	}
	// a's Redis is the primary; a binary that adopted another would have
	// failed over at start, which the sidecars' agreement still allows:
	// the history will show what it cost.
	return poll(ctx, 60*time.Second, "sidecars agree on a primary", func() error {
		_, err := c.agreedPrimary(ctx)
		return err
	})
}

// statusBody is the part of GET /v1/status the harness reads.
type statusBody struct {
	Node     string `json:"node"`
	Topology struct {
		Epoch   uint64 `json:"epoch"`
		Primary struct {
			Name string `json:"name"`
		} `json:"primary"`
		Fenced bool `json:"fenced"`
		Paused bool `json:"paused"`
	} `json:"topology"`
}

func (c *cluster) status(ctx context.Context, nd *node) (statusBody, error) {
	var st statusBody
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nd.httpBase()+"/v1/status", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s /v1/status: %s", nd.name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("%s /v1/status: %w", nd.name, err)
	}
	return st, nil
}

// agreedPrimary returns the primary every sidecar names at one epoch.
func (c *cluster) agreedPrimary(ctx context.Context) (string, error) {
	var name string
	var epoch uint64
	for i, nd := range c.nodes {
		st, err := c.status(ctx, nd)
		if err != nil {
			return "", err
		}
		if i == 0 {
			name, epoch = st.Topology.Primary.Name, st.Topology.Epoch
		} else if st.Topology.Primary.Name != name || st.Topology.Epoch != epoch {
			return "", fmt.Errorf("%s names %q at epoch %d, a %q at %d", nd.name, st.Topology.Primary.Name, st.Topology.Epoch, name, epoch)
		}
		if st.Topology.Fenced {
			return "", fmt.Errorf("%s is fenced", nd.name)
		}
	}
	if name == "" {
		return "", errors.New("no primary named")
	}
	return name, nil
}

// currentPrimary is the node most sidecars name (those that answer), or,
// failing that, a Redis that says it is a master with replicas; nil if
// neither.
func (c *cluster) currentPrimary(ctx context.Context) *node {
	votes := map[string]int{}
	for _, nd := range c.nodes {
		if st, err := c.status(ctx, nd); err == nil && st.Topology.Primary.Name != "" {
			votes[st.Topology.Primary.Name]++
		}
	}
	best, bestN := "", 0
	for name, v := range votes {
		if v > bestN || v == bestN && name < best {
			best, bestN = name, v
		}
	}
	for _, nd := range c.nodes {
		if nd.name == best {
			return nd
		}
	}
	for _, nd := range c.nodes {
		if info, err := replInfo(ctx, nd.rdb); err == nil && info["role"] == "master" && info["connected_slaves"] != "0" {
			return nd
		}
	}
	return nil
}

func replInfo(ctx context.Context, c *redis.Client) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	return redistest.ParseInfo(s), nil
}

// poll calls fn every 100 ms until it returns nil, or returns its last
// error after timeout (or when ctx ends).
func poll(ctx context.Context, timeout time.Duration, what string, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: %s: not within %s: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
