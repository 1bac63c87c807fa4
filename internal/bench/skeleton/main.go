// Command skeleton is the least a sidecar built from vigil's mandated parts
// does at idle, for BenchmarkIdle to measure beside vigil and
// redis-sentinel: what the design's own parts cost on a machine before any
// of vigil's code runs.
//
// At every instant of the monitor interval's wall-clock grid it probes its
// own Redis (PING and INFO replication in one round trip) and the
// primary's (INFO replication). With -gossip it runs memberlist at vigil's
// gossip defaults and with its encryption, and sends a report of the size
// vigil's are to every other member as often as vigil sends an unchanged
// one (-report 1h: none). With -raft it also runs a three-member
// hashicorp/raft group on raft-boltdb over Raft's stock TCP transport, at
// the timings an idle vigil group runs at (down_after 5 s, calm). It
// registers the Go and process collectors with client_golang and serves
// them, as vigil does, though nothing scrapes them at idle.
//
// It leaves out all that makes vigil a sidecar: judging, the state
// machine, the Sentinel protocol, the proxy, the retry queue, the HTTP API
// and its logging; and it runs Raft without encrypting its traffic.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// reportSize is about the size of an idle vigil sidecar's report: 216–238
// bytes encoded in the failover package's test kit, more with real
// addresses and gossip's envelope.
const reportSize = 300

// options are the command's flags.
type options struct {
	name, gossip, join, key string
	raft, peers, dir        string
	web, local, primary     string
	interval, report        time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.name, "name", "", "member name")
	flag.StringVar(&o.gossip, "gossip", "", "memberlist bind address (host:port); empty runs no gossip")
	flag.StringVar(&o.join, "join", "", "memberlist address to join")
	flag.StringVar(&o.key, "key", "", "memberlist encryption key, base64")
	flag.StringVar(&o.raft, "raft", "", "Raft bind address; empty runs no Raft")
	flag.StringVar(&o.peers, "peers", "", "the Raft group, name=host:port,...")
	flag.StringVar(&o.dir, "dir", "", "Raft's data directory")
	flag.StringVar(&o.web, "http", "", "metrics listen address")
	flag.StringVar(&o.local, "redis", "", "own Redis address")
	flag.StringVar(&o.primary, "primary", "", "the primary's Redis address")
	flag.DurationVar(&o.interval, "interval", 100*time.Millisecond, "monitor interval")
	flag.DurationVar(&o.report, "report", 0, "how often a report goes to each member; 0: as often as vigil's unchanged reports go")
	flag.Parse()
	// As cmd/vigil sets them.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(50)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", o.web)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	var ml *memberlist.Memberlist
	if o.gossip != "" {
		ml, err = startGossip(o.name, o.gossip, o.join, o.key)
		if err != nil {
			return err
		}
		defer func() { _ = ml.Shutdown() }()
	}

	if o.raft != "" {
		r, err := startRaft(o.name, o.raft, o.peers, o.dir)
		if err != nil {
			return err
		}
		defer func() { _ = r.Shutdown().Error() }()
	}

	own := redis.NewClient(&redis.Options{Addr: o.local, PoolSize: 1, MaxIdleConns: 1})
	defer own.Close()
	var prim *redis.Client
	if o.primary != o.local {
		prim = redis.NewClient(&redis.Options{Addr: o.primary, PoolSize: 1, MaxIdleConns: 1})
		defer prim.Close()
	}
	interval, every := o.interval, o.report
	if every == 0 {
		// failover.reportDue: three reports per freshness period.
		every = max(interval, max(3*interval, 500*time.Millisecond)/3)
	}
	report := make([]byte, reportSize)
	var sentAt time.Time
	for {
		now := time.Now()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(now.Truncate(interval).Add(interval).Sub(now)):
		}
		now = time.Now()
		// Errors are left for the benchmark's other measures: it runs on
		// a healthy group.
		_, _ = own.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Ping(ctx)
			p.Info(ctx, "replication")
			return nil
		})
		if prim != nil {
			prim.Info(ctx, "replication")
		}
		if ml == nil || now.Add(interval/2).Sub(sentAt) < every {
			continue
		}
		sentAt = now
		for _, m := range ml.Members() {
			if m.Name != o.name {
				_ = ml.SendBestEffort(m, report)
			}
		}
	}
}

// startGossip starts memberlist at vigil's gossip defaults and joins join,
// retrying until the first member is up.
func startGossip(name, bind, join, key string) (*memberlist.Memberlist, error) {
	host, port, err := splitHostPort(bind)
	if err != nil {
		return nil, err
	}
	c := memberlist.DefaultLANConfig()
	c.Name = name
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	c.ProbeInterval = time.Second
	c.ProbeTimeout = 500 * time.Millisecond
	c.GossipInterval = 200 * time.Millisecond
	c.PushPullInterval = 10 * time.Second
	c.TCPTimeout = 2 * time.Second
	c.LogOutput = io.Discard
	c.Delegate = delegate{}
	if key != "" {
		k, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		c.SecretKey = k
	}
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, err
	}
	if join == "" || join == bind {
		return ml, nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := ml.Join([]string{join}); err == nil {
			return ml, nil
		} else if time.Now().After(deadline) {
			_ = ml.Shutdown()
			return nil, fmt.Errorf("join %s: %w", join, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delegate takes reports and drops them: reading them is vigil's work.
type delegate struct{}

func (delegate) NodeMeta(int) []byte             { return nil }
func (delegate) NotifyMsg([]byte)                {}
func (delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (delegate) LocalState(bool) []byte          { return nil }
func (delegate) MergeRemoteState([]byte, bool)   {}

// startRaft starts a Raft member of peers and bootstraps the group (every
// member bootstraps the same configuration, as Raft allows).
func startRaft(name, addr, peers, dir string) (*raft.Raft, error) {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(name)
	// vigil's calm timings at down_after 5 s.
	c.HeartbeatTimeout = 2500 * time.Millisecond
	c.ElectionTimeout = 2500 * time.Millisecond
	c.LeaderLeaseTimeout = 750 * time.Millisecond
	c.CommitTimeout = time.Second
	c.LogOutput = io.Discard
	store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 1, io.Discard)
	if err != nil {
		return nil, err
	}
	tr, err := raft.NewTCPTransport(addr, nil, 3, 2*time.Second, io.Discard)
	if err != nil {
		return nil, err
	}
	r, err := raft.NewRaft(c, fsm{}, store, store, snaps, tr)
	if err != nil {
		return nil, err
	}
	var conf raft.Configuration
	for p := range strings.SplitSeq(peers, ",") {
		id, a, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("peer %q: want name=host:port", p)
		}
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(a)})
	}
	if err := r.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return nil, err
	}
	return r, nil
}

// fsm applies nothing: an idle group commits no entries.
type fsm struct{}

func (fsm) Apply(*raft.Log) any                 { return nil }
func (fsm) Snapshot() (raft.FSMSnapshot, error) { return snapshot{}, nil }
func (fsm) Restore(rc io.ReadCloser) error      { return rc.Close() }

type snapshot struct{}

func (snapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (snapshot) Release()                          {}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int
	if _, err := fmt.Sscan(p, &port); err != nil {
		return "", 0, fmt.Errorf("port of %s: %w", addr, err)
	}
	return host, port, nil
}
