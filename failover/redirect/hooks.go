package redirect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
)

// ErrVetoed is wrapped by AllowPromote's error when the pre_promote hook
// rejected the candidate.
var ErrVetoed = errors.New("redirect: promotion vetoed by hooks.pre_promote")

// hookQueue bounds the events waiting for the command runner and for the
// webhook sender; beyond it events are dropped (and counted), so a hung
// hook never holds the Source.
const hookQueue = 64

// maxHookOutput caps the output of a hook kept for the log.
const maxHookOutput = 4 << 10

// Hooks runs the operator's commands and webhook around role changes and
// failovers: pre_promote synchronously through AllowPromote (failover's
// PromoteGate), the others asynchronously from the Source's events.
type Hooks struct {
	cfg        HooksConfig
	masterName string
	self       string
	src        Source
	logger     *slog.Logger
	metrics    *hookMetrics
	client     *http.Client
}

// NewHooks builds the hooks of the sidecar named self. It does no I/O.
func NewHooks(cfg HooksConfig, masterName, self string, src Source, logger *slog.Logger, reg prometheus.Registerer) (*Hooks, error) {
	errs := checkDeps(cfg.Validate(), src, logger)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newHookMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("redirect: register hook metrics: %w", err)
	}
	return &Hooks{
		cfg:        cfg,
		masterName: masterName,
		self:       self,
		src:        src,
		logger:     logger.With("component", "hooks"),
		metrics:    m,
		client:     &http.Client{Timeout: cfg.Timeout},
	}, nil
}

// hookEnv is the context a hook command receives.
type hookEnv struct {
	event      string
	node       string
	role       string
	oldPrimary string
	newPrimary string
	epoch      uint64
}

func (h *Hooks) environ(e hookEnv) []string {
	return append(os.Environ(),
		"VIGIL_EVENT="+e.event,
		"VIGIL_MASTER_NAME="+h.masterName,
		"VIGIL_NODE="+e.node,
		"VIGIL_ROLE="+e.role,
		"VIGIL_OLD_PRIMARY="+e.oldPrimary,
		"VIGIL_NEW_PRIMARY="+e.newPrimary,
		"VIGIL_EPOCH="+strconv.FormatUint(e.epoch, 10),
	)
}

// AllowPromote runs hooks.pre_promote for candidate at epoch and returns
// nil when it exits 0 or is not configured. A non-zero exit, a failure to
// start, or running past hooks.timeout returns an error wrapping ErrVetoed,
// and the candidate must not be promoted.
func (h *Hooks) AllowPromote(ctx context.Context, candidate failover.Node, epoch uint64) error {
	if h.cfg.PrePromote == "" {
		return nil
	}
	env := hookEnv{
		event:      "pre-promote",
		node:       candidate.Name,
		role:       roleName(candidate.Role),
		oldPrimary: h.src.Snapshot().Primary.Addr,
		newPrimary: candidate.Addr,
		epoch:      epoch,
	}
	result, err := h.run(ctx, hookPrePromote, h.cfg.PrePromote, env)
	if result != resultSuccess {
		return fmt.Errorf("%w: candidate %s: %w", ErrVetoed, candidate.Name, err)
	}
	return nil
}

// Run feeds the asynchronous hooks from the Source's events until ctx
// ends. Commands run one at a time in event order; webhook deliveries run
// beside them.
func (h *Hooks) Run(ctx context.Context) error {
	cmds := make(chan hookJob, hookQueue)
	posts := make(chan failover.Event, hookQueue)
	var lastPostFailover uint64
	var postedAny bool

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-runCtx.Done():
				return
			case j := <-cmds:
				_, _ = h.run(runCtx, j.hook, j.command, j.env)
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-runCtx.Done():
				return
			case ev := <-posts:
				h.post(runCtx, ev)
			}
		}
	}()

	follow(ctx, h.src, func(ev failover.Event) {
		if h.cfg.WebhookURL != "" {
			select {
			case posts <- ev:
			default:
				h.metrics.runs.WithLabelValues(hookWebhook, resultDropped).Inc()
			}
		}
		for _, j := range h.jobsFor(ev, &lastPostFailover, &postedAny) {
			select {
			case cmds <- j:
			default:
				h.metrics.runs.WithLabelValues(j.hook, resultDropped).Inc()
				h.logger.Warn("hook dropped: queue full", "hook", j.hook, "event", j.env.event)
			}
		}
	})
	cancel()
	<-done
	<-done
	return nil
}

// hookJob is one queued asynchronous command.
type hookJob struct {
	hook    string
	command string
	env     hookEnv
}

// jobsFor decides which commands ev triggers. post_failover runs once per
// epoch although a failover produces both +switch-master and +failover-end.
func (h *Hooks) jobsFor(ev failover.Event, lastEpoch *uint64, seen *bool) []hookJob {
	env := hookEnv{
		event:      string(ev.Kind),
		node:       h.self,
		oldPrimary: ev.OldPrimary.Addr,
		newPrimary: ev.NewPrimary.Addr,
		epoch:      ev.Epoch,
	}
	var jobs []hookJob
	if h.cfg.OnRoleChange != "" && ev.Node.Name == h.self {
		role := ""
		switch ev.Kind {
		case failover.EventPromotedReplica:
			role = roleName(monitor.RolePrimary)
		case failover.EventConvertToReplica:
			role = roleName(monitor.RoleReplica)
		case failover.EventRoleChange, failover.EventRoleMismatch:
			role = roleName(ev.Node.Role)
		}
		if role != "" {
			e := env
			e.role = role
			jobs = append(jobs, hookJob{hook: hookOnRoleChange, command: h.cfg.OnRoleChange, env: e})
		}
	}
	if h.cfg.PostFailover != "" && (ev.Kind == failover.EventSwitchPrimary || ev.Kind == failover.EventFailoverEnd) {
		if !*seen || ev.Epoch != *lastEpoch {
			*seen, *lastEpoch = true, ev.Epoch
			e := env
			e.role = h.selfRole(ev)
			jobs = append(jobs, hookJob{hook: hookPostFailover, command: h.cfg.PostFailover, env: e})
		}
	}
	return jobs
}

// selfRole is this node's role after a failover event.
func (h *Hooks) selfRole(ev failover.Event) string {
	newp := ev.NewPrimary
	if newp.Name == "" {
		newp = h.src.Snapshot().Primary
	}
	if newp.Name == "" {
		return ""
	}
	if newp.Name == h.self {
		return roleName(monitor.RolePrimary)
	}
	return roleName(monitor.RoleReplica)
}

// run executes command through /bin/sh -c with env and hooks.timeout,
// killing its whole process group when the timeout (or ctx) ends it, and
// returns the result label.
func (h *Hooks) run(ctx context.Context, hook, command string, env hookEnv) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = h.environ(env)
	// Its own process group, so the timeout kills what the script started
	// too, not just the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that escaped the group may hold the output pipe open.
	cmd.WaitDelay = time.Second
	out := &limitedBuffer{max: maxHookOutput}
	cmd.Stdout, cmd.Stderr = out, out

	start := time.Now()
	err := cmd.Run()
	result := resultSuccess
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		result = resultTimeout
		err = fmt.Errorf("hook %s: killed after %s: %w", hook, time.Since(start).Round(time.Millisecond), ctx.Err())
	default:
		result = resultFailure
		err = fmt.Errorf("hook %s: %w", hook, err)
	}
	h.metrics.runs.WithLabelValues(hook, result).Inc()
	log := h.logger.With("hook", hook, "event", env.event, "node", env.node, "epoch", env.epoch,
		"duration", time.Since(start), "output", strings.TrimSpace(out.String()))
	if result == resultSuccess {
		log.Info("hook ran")
	} else {
		log.Warn("hook failed", "err", err)
	}
	return result, err
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so a chatty hook cannot grow memory.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// WebhookPayload is the JSON body POSTed to hooks.webhook_url for each
// topology event.
type WebhookPayload struct {
	Event      string         `json:"event"`       // Sentinel's event name, e.g. "+switch-master"
	MasterName string         `json:"master_name"` // failover.master_name
	Reporter   string         `json:"reporter"`    // the sidecar that sent the webhook
	Epoch      uint64         `json:"epoch"`
	Time       time.Time      `json:"time"`
	Node       failover.Node  `json:"node"`
	OldPrimary *failover.Node `json:"old_primary,omitempty"`
	NewPrimary *failover.Node `json:"new_primary,omitempty"`
	Votes      int            `json:"votes,omitempty"`
	Quorum     int            `json:"quorum,omitempty"`
}

// post delivers ev to the webhook, retrying with exponential backoff up
// to hooks.webhook_attempts times.
func (h *Hooks) post(ctx context.Context, ev failover.Event) {
	p := WebhookPayload{
		Event: string(ev.Kind), MasterName: h.masterName, Reporter: h.self, Epoch: ev.Epoch,
		Time: ev.Time, Node: ev.Node, Votes: ev.Votes, Quorum: ev.Quorum,
	}
	if ev.OldPrimary.Name != "" || ev.OldPrimary.Addr != "" {
		p.OldPrimary = &ev.OldPrimary
	}
	if ev.NewPrimary.Name != "" || ev.NewPrimary.Addr != "" {
		p.NewPrimary = &ev.NewPrimary
	}
	body, err := json.Marshal(p)
	if err != nil {
		h.metrics.runs.WithLabelValues(hookWebhook, resultFailure).Inc()
		h.logger.Error("webhook payload", "err", err)
		return
	}
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = h.postOnce(ctx, body)
		if err == nil {
			h.metrics.runs.WithLabelValues(hookWebhook, resultSuccess).Inc()
			return
		}
		if attempt >= h.cfg.WebhookAttempts || ctx.Err() != nil {
			h.metrics.runs.WithLabelValues(hookWebhook, resultFailure).Inc()
			h.logger.Warn("webhook given up", "event", p.Event, "attempt", attempt, "err", err)
			return
		}
		h.logger.Debug("webhook failed, retrying", "event", p.Event, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (h *Hooks) postOnce(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	resp, err := h.client.Do(req)
	if err != nil {
		// The URL may carry a token: report only what failed.
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			return fmt.Errorf("post webhook: %w", uerr.Unwrap())
		}
		return errors.New("post webhook failed")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post webhook: status %d", resp.StatusCode)
	}
	return nil
}
