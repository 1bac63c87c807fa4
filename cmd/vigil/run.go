package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	rungroup "github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/failover/authority/gossippeers"
	"github.com/vigil-redis/vigil/failover/divergent"
	"github.com/vigil-redis/vigil/failover/redirect"
	"github.com/vigil-redis/vigil/gossip"
	"github.com/vigil-redis/vigil/monitor"
	"github.com/vigil-redis/vigil/retryq"
)

func newRunCmd(environ []string, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the sidecar beside one Redis node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), environ)
			if err != nil {
				return err
			}
			return sidecar(cmd.Context(), cfg, cmd.Flags(), environ, stderr)
		},
	}
	config.RegisterFlags(cmd.Flags())
	applyKeyDocs(cmd.Flags())
	return cmd
}

func newCheckConfigCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "Validate the configuration and print it with secrets masked, and warnings for insecure settings on stderr",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), environ)
			if err != nil {
				return err
			}
			for _, kv := range config.Redacted(cfg) {
				if _, err := fmt.Fprintf(stdout, "%s: %s\n", kv[0], kv[1]); err != nil {
					return err
				}
			}
			for _, w := range config.Warnings(cfg) {
				if _, err := fmt.Fprintf(stderr, "warning: %s\n", w); err != nil {
					return err
				}
			}
			return nil
		},
	}
	config.RegisterFlags(cmd.Flags())
	applyKeyDocs(cmd.Flags())
	return cmd
}

// sidecar builds every component from cfg and runs them in one group until
// ctx ends, a signal arrives or a component fails.
func sidecar(ctx context.Context, cfg config.Config, fs *pflag.FlagSet, environ []string, stderr io.Writer) error {
	var level slog.LevelVar
	logger, err := newLogger(cfg.Log, stderr, &level)
	if err != nil {
		return err
	}
	logger = logger.With("node", cfg.Node.Name)
	if err := os.MkdirAll(cfg.Node.DataDir, 0o750); err != nil {
		return fmt.Errorf("node.data_dir: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newBuildInfoCollector(readBuildInfo()),
	)
	sec, err := loadSecurity(cfg, logger, reg)
	if err != nil {
		return err
	}
	cfg.Redis.TLSClient = sec.redisTLS

	// Redis older than 6.2 has no CLIENT PAUSE WRITE: fencing and
	// switchover would fail silently. Refuse it; wait for a Redis that
	// does not answer yet (the sidecar may start first).
	if err := checkRedisVersion(ctx, cfg, logger); err != nil {
		return err
	}

	prober, err := monitor.New(cfg.Redis, cfg.Monitor, logger, reg)
	if err != nil {
		return err
	}
	defer prober.Close()
	peer, err := gossip.New(cfg.Gossip, cfg.Node.Name, cfg.Node.DataDir, logger, reg, gossip.WithStartIn(func() time.Duration { return monitor.UntilNext(cfg.Monitor.Interval) }))
	if err != nil {
		return err
	}
	// Raft and the authority's forwarding ride the gossip port.
	raftLayer, err := peer.Stream(gossip.StreamRaft)
	if err != nil {
		return err
	}
	rpcLayer, err := peer.Stream(gossip.StreamAuthorityRPC)
	if err != nil {
		return err
	}
	redisHost, _, _ := net.SplitHostPort(cfg.Redis.Announce())
	self := failover.Node{
		Name:         cfg.Node.Name,
		Addr:         cfg.Redis.Announce(),
		SentinelAddr: cfg.Sentinel.Announce(redisHost),
		HTTPAddr:     announceListen(cfg.HTTP.ListenAddr, cfg.Redis.Announce()),
		Priority:     cfg.Redis.Priority,
	}
	var fo *failover.Failover
	auth, err := authority.New(cfg.Failover.AuthorityConfig(), logger, reg, authority.Deps{
		DataDir: cfg.Node.DataDir,
		Self: authority.Member{Name: self.Name, RedisAddr: self.Addr, SentinelAddr: self.SentinelAddr,
			HTTPAddr: self.HTTPAddr, Priority: self.Priority},
		Raft:  raftLayer,
		RPC:   rpcLayer,
		Peers: gossippeers.New(peer),
		// A joiner votes once its Redis replicates (autopilot's rule).
		CanVote:  func(m authority.Member) bool { return fo.CanVote(m.Name) },
		Interval: cfg.Monitor.Interval,
	})
	if err != nil {
		return err
	}
	gate := &lateGate{}
	password, err := redisPassword(cfg.Redis)
	if err != nil {
		return err
	}
	// The keeper of former primaries' divergent writes. Its Keep is the
	// failover core's to call before a demotion; here it serves
	// /v1/divergent, counts the archives on disk and, in replay mode,
	// retries interrupted replays.
	keeper, err := divergent.New(cfg.Divergent, cfg.Node.DataDir, logger, reg, divergent.Deps{
		Redis: divergent.RedisOptions{
			Username: cfg.Redis.Username, Password: password,
			TLS: sec.redisTLS, DialTimeout: cfg.Monitor.Timeout,
		},
		Primary: func() (string, bool) {
			snap := fo.Snapshot()
			return snap.Primary.Addr, snap.Writable && snap.Primary.Addr != ""
		},
	})
	if err != nil {
		return err
	}

	deps := failover.Deps{
		Self:      self,
		Redis:     cfg.Redis,
		Monitor:   cfg.Monitor,
		Local:     prober,
		Cluster:   peer,
		Authority: auth,
		Keeper:    keeper,
	}
	if cfg.Hooks.PrePromote != "" {
		// Only a configured hook makes the leader wait for this node's
		// verdict before committing it as the primary.
		deps.Gate = gate
	}
	fo, err = failover.New(cfg.Failover, logger, reg, deps)
	if err != nil {
		return err
	}
	hooks, err := redirect.NewHooks(cfg.Hooks, cfg.Failover.MasterName, cfg.Node.Name, fo, logger, reg)
	if err != nil {
		return err
	}
	gate.hooks = hooks
	feed := retryq.NewPrimaryAddr("", cfg.Redis.Username, password)
	feed.SetTLS(sec.redisTLS)
	queue, err := retryq.New(cfg.Retryq, cfg.Node.DataDir, logger, reg, feed)
	if err != nil {
		return err
	}
	// A damaged queue file must stop start-up with its name, before
	// anything else runs.
	if err := queue.Open(); err != nil {
		return err
	}

	var g rungroup.Group
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	add := func(name string, fn func(context.Context) error) {
		g.Add(func() error {
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}, func(error) { cancel() })
	}
	add("monitor", prober.Run)
	add("gossip", peer.Run)
	add("authority", auth.Run)
	add("failover", fo.Run)
	add("hooks", hooks.Run)
	add("retryq", queue.Run)
	add("divergent", keeper.Run)
	add("divergent-backlog", func(ctx context.Context) error {
		return keepBacklog(ctx, prober, prober.Client(), cfg.Divergent.BacklogBytes, cfg.Monitor.Interval, logger)
	})
	add("retryq-primary", func(ctx context.Context) error {
		return followPrimary(ctx, fo, feed, time.Second)
	})

	if cfg.Sentinel.ListenAddr != "" {
		s, err := redirect.NewSentinel(cfg.Sentinel, cfg.Failover.MasterName, cfg.Node.Name, fo, logger, reg, redirect.WithAdmin(sentinelAdmin{fo: fo, file: cfg.Failover}))
		if err != nil {
			return err
		}
		s.SetTLS(sec.sentinelTLS)
		add("sentinel", s.Run)
	}
	if cfg.Proxy.ListenAddr != "" {
		p, err := redirect.NewProxy(cfg.Proxy, fo, logger, reg)
		if err != nil {
			return err
		}
		p.SetRedisTLS(sec.redisTLS)
		add("proxy", p.Run)
	}
	if cfg.HTTP.ListenAddr != "" {
		h := newHTTPHandler(httpDeps{
			reg:      reg,
			local:    prober,
			fo:       fo,
			peer:     peer,
			settings: sentinelAdmin{fo: fo, file: cfg.Failover},
			queue:    queue,
			keeper:   keeper,
			guard:    sec.guard,
			logger:   logger.With("component", "http"),
		})
		h = newBodyLimiter(cfg.HTTP.MaxBodyBytesInFlight, cfg.Retryq.MaxRequestBytes, reg).wrap(h)
		add("http", func(ctx context.Context) error {
			return serveHTTP(ctx, cfg.HTTP, sec.httpTLS, h, logger)
		})
	}

	// SIGHUP re-reads the configuration and applies the log level; other
	// changes need a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	add("reload", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				next, err := config.Load(fs, environ)
				if err != nil {
					logger.Error("reload failed; keeping the running configuration", "err", err)
					continue
				}
				if err := level.UnmarshalText([]byte(next.Log.Level)); err == nil {
					logger.Info("log level reloaded", "level", next.Log.Level)
				}
				sec.reload(next, logger)
			}
		}
	})
	g.Add(shutdownHandler(ctx, fo, logger))

	logger.Info("vigil starting", "version", version, "redis_addr", cfg.Redis.Addr, "master_name", cfg.Failover.MasterName)
	err = g.Run()
	if errors.Is(err, rungroup.ErrSignal) || errors.Is(err, context.Canceled) {
		logger.Info("vigil stopped", "reason", err.Error())
		return nil
	}
	return err
}

// shutdownHandler ends the group on SIGINT or SIGTERM. On the primary's
// sidecar it first hands the primary role over to the best replica
// (bounded by failover.shutdown_handover), so a planned shutdown costs no
// down_after; a replica's sidecar exits at once.
func shutdownHandler(ctx context.Context, fo *failover.Failover, logger *slog.Logger) (func() error, func(error)) {
	ctx, cancel := context.WithCancel(ctx)
	return func() error {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sig)
			select {
			case s := <-sig:
				if err := fo.Handover(ctx); err != nil {
					logger.Error("handover before shutdown failed; stopping anyway", "err", err)
				}
				return rungroup.SignalError{Signal: s}
			case <-ctx.Done():
				return ctx.Err()
			}
		}, func(error) {
			cancel()
		}
}

// checkRedisVersion refuses a Redis older than 6.2. A Redis that does not
// answer at start, or refuses the credentials, does not stop the start: the
// sidecar must run to report it (the prober logs and counts it); its version
// is then not checked.
func checkRedisVersion(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	c := monitor.NewClient(cfg.Redis.Addr, cfg.Redis, cfg.Monitor.Timeout)
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, cfg.Monitor.Timeout)
	err := monitor.CheckVersion(cctx, c)
	cancel()
	var old *monitor.TooOldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &old):
		return err
	}
	if msg := err.Error(); strings.Contains(msg, "redis_version") || strings.Contains(msg, "not major.minor.patch") {
		// Redis answered with a version vigil cannot read.
		return err
	}
	logger.Warn("cannot check the redis version yet", "redis_addr", cfg.Redis.Addr, "err", err)
	return nil
}

// lateGate lets failover consult the pre-promotion hook although the hooks
// are built after failover, whose events they follow. It is filled in
// before anything runs.
type lateGate struct{ hooks *redirect.Hooks }

func (g *lateGate) AllowPromote(ctx context.Context, candidate failover.Node, epoch uint64) error {
	return g.hooks.AllowPromote(ctx, candidate, epoch)
}

// announceListen turns a listen address such as ":26379" into one peers can
// dial, borrowing the host of the Redis announce address when the listen
// host is empty or a wildcard.
func announceListen(listen, redisAnnounce string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host, _, _ = net.SplitHostPort(redisAnnounce)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return listen
	}
	return net.JoinHostPort(host, port)
}

func newBuildInfoCollector(bi buildInfo) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vigil_build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision and Go version.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
	})
	g.Set(1)
	return g
}
