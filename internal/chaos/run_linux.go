//go:build linux

package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	rqclient "github.com/vigil-redis/vigil/retryq/client"
)

// Options configure one chaos run.
type Options struct {
	Seed     uint64
	Duration time.Duration // of the fault phase
	Nodes    int           // 3 or 5
	Dir      string        // scratch directory, readable by the node uids
	Bin      string        // the vigil binary under test
	// Logf receives progress lines.
	Logf func(format string, args ...any)
	// KeepDir, when set, receives every node's logs and the history as
	// JSON at the end, for a post-mortem.
	KeepDir string
	// Shipped runs the sidecars with the defaults vigil ships for the
	// durability keys (failover.min_replicas 0, divergent_writes archive)
	// instead of the durable mode (min_replicas 1, replay); the checker
	// then holds the group to the bound without min_replicas.
	Shipped bool
	// LogLevel sets the sidecars' log.level ("debug" to replay a seed
	// with every decision logged); "" keeps vigil's default.
	LogLevel string
}

// Result is a finished run.
type Result struct {
	Plan    Plan
	Params  Params
	History *History
	Report  Report
	Mode    string // which optional keys the binary had
}

// DefaultParams are the timings the harness configures: a 100 ms
// interval, down_after 2 s, fence_after 1 s (fence before the majority
// promotes).
func DefaultParams(n int) Params {
	return Params{Nodes: n, Interval: 100 * time.Millisecond, DownAfter: 2 * time.Second, FenceAfter: time.Second, Divergent: "replay",
		Stabilization: 2 * time.Second, AvailSlack: 2 * time.Second, LinearizeTimeout: 30 * time.Second}
}

// Run starts the cluster, runs the workloads while the nemesis carries
// out Schedule(Seed, Duration, Nodes), heals, waits for quiescence, reads
// the final state and checks the history. Everything it started is gone
// when it returns, also on error, panic or SIGINT/SIGTERM. An error means
// the harness could not do its job (not a broken promise: those are in
// Result.Report).
func Run(ctx context.Context, o Options) (res *Result, err error) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	flags, err := supportedKeys(o.Bin)
	if err != nil {
		return nil, err
	}
	params := DefaultParams(o.Nodes)
	var mode []string
	switch {
	case o.Shipped:
		params.Divergent = "archive"
		mode = append(mode, "shipped defaults: min_replicas=0, divergent_writes=archive")
	case flags["failover.min_replicas"]:
		params.MinReplicas = 1
		mode = append(mode, "min_replicas=1")
	default:
		mode = append(mode, "no min_replicas key (loss bound: fence_after + interval after a fault)")
	}
	if flags["failover.bootstrap_expect"] {
		mode = append(mode, fmt.Sprintf("bootstrap_expect=%d", o.Nodes))
	}
	plan := Schedule(o.Seed, o.Duration, o.Nodes)
	res = &Result{Plan: plan, Params: params, Mode: strings.Join(mode, ", ")}
	o.Logf("seed %d, %d nodes, %s of faults (%d scheduled), %s; redis persistence %v", o.Seed, o.Nodes, o.Duration, len(plan.Faults), res.Mode, plan.Persist)

	c, err := newCluster(o.Dir, o.Bin, o.Nodes, plan.Persist, params, o.Logf)
	if err != nil {
		return nil, err
	}
	c.logLevel = o.LogLevel
	defer func() {
		if cerr := c.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := c.up(ctx); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, c.logTails())
	}
	prim, _ := c.agreedPrimary(ctx)
	o.Logf("%s group up: primary %s", fmtDur(c.since()), prim)
	gStart := c.goroutines(ctx)

	rec := &recorder{c: c}
	w := &workloads{c: c, rec: rec, seed: o.Seed}
	wctx, stopWork := context.WithCancel(ctx)
	workDone := make(chan struct{})
	go func() { w.run(wctx); close(workDone) }()
	defer func() { stopWork(); <-workDone }()
	if !pace(ctx, 3*time.Second) {
		return nil, ctx.Err()
	}

	m := &nemesis{c: c, plan: plan}
	m.run(ctx)
	h := &History{Seed: o.Seed, LastHeal: c.since(), Final: map[string]string{}}
	for _, nd := range c.nodes {
		h.Nodes = append(h.Nodes, nd.name)
	}
	o.Logf("%s everything healed; waiting for quiescence", fmtDur(h.LastHeal))
	qerr := poll(ctx, 60*time.Second, "quiescence (sidecars agree, none fenced)", func() error {
		_, err := c.agreedPrimary(ctx)
		return err
	})
	if qerr != nil {
		o.Logf("%s %v", fmtDur(c.since()), qerr)
	} else {
		o.Logf("%s sidecars agree", fmtDur(c.since()))
	}
	// Keep the workloads going long enough after the heal to judge
	// availability.
	until := h.LastHeal + params.DownAfter + params.AvailSlack + 3*time.Second
	if d := until - c.since(); d > 0 {
		pace(ctx, d)
	}
	pace(ctx, 2*time.Second)
	stopWork()
	<-workDone
	h.WorkEnd = c.since()
	h.Ops = rec.snapshot()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Let the retry queues drain.
	derr := poll(ctx, 45*time.Second, "retry queues drained", func() error {
		left := 0
		for _, nd := range c.nodes {
			st, err := rqclient.New(nd.httpBase(), c.token, c.hc).Stats(ctx)
			if err != nil {
				return err
			}
			left += st.Ready + st.Inflight
		}
		h.Undrained = left
		if left > 0 {
			return fmt.Errorf("%d items queued", left)
		}
		return nil
	})
	if derr != nil {
		o.Logf("%v", derr)
	}

	// Let kept divergent writes reach the primary: a replay that found no
	// writable primary is retried every divergent_replay_retry.
	if verr := poll(ctx, 30*time.Second, "divergent-write replays done", func() error {
		return c.divergentPending(ctx)
	}); verr != nil {
		o.Logf("%v", verr)
	}

	// Goroutines once everything is idle again: the clients are closed,
	// connections they held wind down within a few intervals.
	gEnd := c.goroutines(ctx)
	if !pace(ctx, 2*time.Second) {
		return nil, ctx.Err()
	}
	for name, n := range c.goroutines(ctx) {
		if prev, ok := gEnd[name]; !ok || n < prev {
			gEnd[name] = n
		}
	}
	o.Logf("goroutines per sidecar at the start %v, at the end %v", gStart, gEnd)
	h.Commands = c.commandStats(ctx)

	// Final read from the primary, and the group's failover history.
	c.readFinal(ctx, h)
	h.Started, h.Failovers = c.start, c.failoverHistory(ctx)
	m.mu.Lock()
	h.Faults = append([]FaultRecord(nil), m.records...)
	m.mu.Unlock()
	c.mu.Lock()
	for _, nd := range c.nodes {
		b, _ := os.ReadFile(nd.vigilLog.Name())
		h.Sidecars = append(h.Sidecars, SidecarRecord{Node: nd.name, Log: string(b), UnexpectedExits: slices.Clone(nd.exits),
			GoroutinesStart: sample(gStart, nd.name), GoroutinesEnd: sample(gEnd, nd.name)})
	}
	c.mu.Unlock()
	if qerr != nil && h.FinalErr == "" {
		// No agreement is itself unavailability; the availability rule
		// sees it in the writes, but say why.
		o.Logf("no quiescence: %v", qerr)
	}
	res.History = h
	res.Report = Check(h, params)
	if o.KeepDir != "" {
		if err := c.keep(o.KeepDir, h); err != nil {
			o.Logf("keep logs: %v", err)
		} else {
			o.Logf("logs and history kept in %s", o.KeepDir)
		}
	}
	if !res.Report.OK() {
		o.Logf("violations found; node logs:\n%s", c.logTails())
	}
	return res, nil
}

// goroutines reads go_goroutines from each sidecar's /metrics; a sidecar
// that does not answer is left out.
func (c *cluster) goroutines(ctx context.Context) map[string]int {
	out := map[string]int{}
	for _, nd := range c.nodes {
		b, err := c.get(ctx, nd, "/metrics")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					out[nd.name] = n
				}
			}
		}
	}
	return out
}

// commandStats reads each Redis's command counts and uptime; a Redis that
// does not answer is left out.
func (c *cluster) commandStats(ctx context.Context) []RedisCommands {
	var out []RedisCommands
	for _, nd := range c.nodes {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		stats, err := nd.rdb.Info(rctx, "commandstats").Result()
		var server string
		if err == nil {
			server, err = nd.rdb.Info(rctx, "server").Result()
		}
		cancel()
		if err != nil {
			continue
		}
		var up time.Duration
		for _, line := range strings.Split(server, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "uptime_in_seconds:"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					up = time.Duration(n) * time.Second
				}
			}
		}
		out = append(out, RedisCommands{Node: nd.name, Uptime: up, Calls: commandCalls(stats)})
	}
	return out
}

// divergentPending reports an archive some sidecar still has to replay
// (pending, its last replay interrupted), or nil.
func (c *cluster) divergentPending(ctx context.Context) error {
	for _, nd := range c.nodes {
		b, err := c.get(ctx, nd, "/v1/divergent")
		if err != nil {
			if errors.Is(err, errNotFound) {
				return nil // a binary without divergent writes
			}
			return err
		}
		var body struct {
			Archives []struct {
				Name   string `json:"name"`
				State  string `json:"state"`
				File   string `json:"file"`
				Replay *struct {
					Interrupted bool `json:"interrupted"`
				} `json:"replay"`
			} `json:"archives"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return fmt.Errorf("%s /v1/divergent: %w", nd.name, err)
		}
		for _, a := range body.Archives {
			if a.State == "pending" && a.File != "" && a.Replay != nil && a.Replay.Interrupted {
				return fmt.Errorf("%s: archive %s not replayed yet", nd.name, a.Name)
			}
		}
	}
	return nil
}

// errNotFound is a 404 from a sidecar.
var errNotFound = errors.New("not found")

// get reads path from nd's HTTP listener, within 2 s.
func (c *cluster) get(ctx context.Context, nd *node, path string) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, nd.httpBase()+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s %s: %w", nd.name, path, errNotFound)
	default:
		return nil, fmt.Errorf("%s %s: %s", nd.name, path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// sample is m[name], or -1 when absent.
func sample(m map[string]int, name string) int {
	if n, ok := m[name]; ok {
		return n
	}
	return -1
}

// readFinal reads every key the workloads wrote from the primary the
// sidecars agree on (or a Redis that says it is the master).
func (c *cluster) readFinal(ctx context.Context, h *History) {
	var prim *node
	if name, err := c.agreedPrimary(ctx); err == nil {
		for _, nd := range c.nodes {
			if nd.name == name {
				prim = nd
			}
		}
	}
	if prim == nil {
		prim = c.currentPrimary(ctx)
	}
	if prim == nil {
		h.FinalErr = "no primary to read from"
		return
	}
	cl := redis.NewClient(&redis.Options{Addr: prim.redisAddr(), Dialer: c.ns.Dial, DisableIdentity: true,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	defer cl.Close()
	var keys []string
	seen := map[string]bool{}
	for _, o := range h.Ops {
		if (o.Kind == OpWrite || o.Kind == OpProxyWrite || o.Kind == OpEnqueue) && !seen[o.Key] {
			seen[o.Key] = true
			keys = append(keys, o.Key)
		}
	}
	for i := 0; i < len(keys); i += 1000 {
		batch := keys[i:min(len(keys), i+1000)]
		vals, err := cl.MGet(ctx, batch...).Result()
		if err != nil {
			h.FinalErr = fmt.Sprintf("MGET from %s: %v", prim.name, err)
			return
		}
		for j, v := range vals {
			if s, ok := v.(string); ok {
				h.Final[batch[j]] = s
			}
		}
	}
}

// failoverHistory returns GET /v1/history of the first sidecar that
// answers, one entry per line.
func (c *cluster) failoverHistory(ctx context.Context) string {
	for _, nd := range c.nodes {
		body, err := c.get(ctx, nd, "/v1/history")
		if err != nil {
			continue
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(body, &entries); err != nil {
			continue
		}
		var b strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&b, "  %s\n", e)
		}
		return b.String()
	}
	return ""
}

// keep copies the node logs and writes the history to dir.
func (c *cluster) keep(dir string, h *History) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	for _, nd := range c.nodes {
		for _, f := range []*os.File{nd.vigilLog, nd.redisLog} {
			data, err := os.ReadFile(f.Name())
			if err != nil {
				return fmt.Errorf("chaos: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, nd.name+"-"+filepath.Base(f.Name())), data, 0o644); err != nil {
				return fmt.Errorf("chaos: %w", err)
			}
		}
	}
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.json"), b, 0o644); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	return nil
}

// logTails returns the last lines of every node's logs.
func (c *cluster) logTails() string {
	var b strings.Builder
	for _, nd := range c.nodes {
		for _, f := range []*os.File{nd.vigilLog, nd.redisLog} {
			data, err := os.ReadFile(f.Name())
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", f.Name(), len(lines), strings.Join(lines, "\n"))
		}
	}
	return b.String()
}
