// Package authority is the group's authority: a hashicorp/raft state
// machine holding who is primary at which epoch, the members and their
// live addresses, pause and switchover intent, settings and history.
// Every change to that configuration is a committed raft entry; vigil
// invents no consensus of its own.
//
// Raft and the authority's small forwarding RPC ride two channels of the
// gossip port (0xF1, 0xF2). A group forms once Config.BootstrapExpect
// sidecars without raft state see each other; later members join as
// non-voters and the leader promotes them after Config.Stabilization of
// continuous health. Only Apply with OpForget removes a voter.
package authority

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"
)

// Deps are the authority's collaborators.
type Deps struct {
	// DataDir is node.data_dir; raft keeps raft.db (log and stable store)
	// and its snapshots under DataDir/raft.
	DataDir string
	// Self is this member: Name is the raft ServerID, RaftAddr the gossip
	// advertise address; the other addresses are registered in the State at
	// start (SetSelf changes them later).
	Self Member
	// Raft and RPC are the gossip port's 0xF1 and 0xF2 channels.
	Raft Layer
	RPC  Layer
	// Peers is the gossip membership.
	Peers Peers
	// CanVote, when not nil, is an extra condition for promoting a member
	// to voter, checked on the leader with the member's registered record
	// (e.g. "its Redis is replicating"). It must not block.
	CanVote func(m Member) bool
	// Interval is the sidecar's monitor.interval. The housekeeping loop
	// (bootstrap, registration, readiness, membership) runs at it, at
	// least every loopInterval, so that a sidecar probing once a second
	// does not wake ten times a second for housekeeping. 0: loopInterval.
	Interval time.Duration
}

// Authority is this sidecar's raft node. Its methods are safe for
// concurrent use; until Run has started raft, they report no leader.
type Authority struct {
	cfg     Config
	logger  *slog.Logger
	hclog   hclog.Logger
	deps    Deps
	fsm     *fsm
	metrics *metrics
	addrs   *addressProvider

	started atomic.Bool
	raft    atomic.Pointer[raft.Raft]
	rpc     atomic.Pointer[trackedLayer]
	ready   atomic.Bool

	// hasState: raft found state in the data dir at start; caught: since
	// a start without any, a leader gave this node the log up to its
	// commit index, or it bootstrapped or led the group (CaughtUp).
	hasState atomic.Bool
	caught   catchUp

	// wrapLogs, when set (tests only), wraps the log store raft writes to.
	wrapLogs func(raft.LogStore) raft.LogStore

	contacts *contacts // majority contact, read off raft's heartbeats

	// calm is the timings the failover core asked for (Calm); retimeMu
	// orders the reloads that apply it and guards the staggered one
	// pending (staggered) and whether Run has ended (retimeDone).
	calm       atomic.Bool
	retimeMu   sync.Mutex
	staggered  *time.Timer
	retimeDone bool

	mu   sync.Mutex
	self Member // the addresses this member announces
}

// Tick and retry intervals of the background work.
const (
	loopInterval    = 100 * time.Millisecond // bootstrap, registration, membership, readiness: the shortest period
	retryInterval   = 25 * time.Millisecond  // Apply/Verify retry while there is no leader
	defaultDeadline = 5 * time.Second        // Apply/Verify without a ctx deadline
	transportPool   = 3
	storeLockWait   = 5 * time.Second
	transportIOWait = 2 * time.Second
	// logCacheSize recent entries are kept in memory: an idle leader reads
	// the entry before the next one for every follower on each commit
	// timeout, from bbolt and msgpack otherwise.
	logCacheSize = 64
	// bootstrapSettle is how long the set of alive members must stay the
	// same (in consecutive housekeeping ticks) before this node
	// bootstraps with it, so that nodes whose gossip views are still
	// converging do not bootstrap different server lists.
	bootstrapSettle = 500 * time.Millisecond
)

// New validates cfg and deps and builds the authority. It does no I/O and
// starts no goroutine; Run does.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, deps Deps) (*Authority, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if deps.DataDir == "" {
		errs = append(errs, errors.New("authority: node.data_dir is required for raft state"))
	}
	if deps.Self.Name == "" {
		errs = append(errs, errors.New("authority: node.name is required"))
	}
	if deps.Raft == nil || deps.RPC == nil {
		errs = append(errs, errors.New("authority: the raft and RPC stream layers are required"))
	}
	if deps.Peers == nil {
		errs = append(errs, errors.New("authority: gossip peers are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Authority{
		cfg:    cfg,
		logger: logger.With("component", "authority", "node", deps.Self.Name),
		hclog:  newHCLog(logger.With("component", "raft", "node", deps.Self.Name)),
		deps:   deps,
		fsm:    newFSM(),
		self:   deps.Self,
		addrs:  &addressProvider{peers: deps.Peers},

		contacts: newContacts(raft.ServerID(deps.Self.Name)),
	}
	a.self.Voter, a.self.Since = false, time.Time{}
	m, err := newMetrics(reg, a)
	if err != nil {
		return nil, fmt.Errorf("authority: register metrics: %w", err)
	}
	a.metrics = m
	return a, nil
}

// Run opens the raft store in DataDir/raft, starts raft on the Raft
// layer, serves forwarded requests on the RPC layer, and bootstraps,
// registers and (as leader) manages membership until ctx ends. It returns
// after raft has shut down, the store is closed and every goroutine it
// started has ended.
func (a *Authority) Run(ctx context.Context) (err error) {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("authority: Run called twice")
	}
	select {
	case <-a.deps.Peers.Ready():
	case <-ctx.Done():
		return nil
	}
	// The gossip address is final now: raft uses it as this server's address.
	a.mu.Lock()
	a.self.RaftAddr = a.deps.Raft.Addr().String()
	a.mu.Unlock()
	dir := filepath.Join(a.deps.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("authority: create %s: %w", dir, err)
	}
	// bbolt waits forever for the file lock another process holds (two
	// sidecars on one data dir): give up instead, with the path.
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: storeLockWait}})
	if err != nil {
		return fmt.Errorf("authority: open %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("authority: close raft.db: %w", cerr)
		}
	}()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, a.hclog.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("authority: open snapshots in %s: %w", dir, err)
	}
	hasState, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("authority: read raft state: %w", err)
	}

	a.addrs.refresh()
	raftLayer := newTrackedLayer(a.deps.Raft)
	raftLayer.alive, raftLayer.stopping = a.addrs.alive, ctx.Done()
	rpcLayer := newTrackedLayer(a.deps.RPC)
	trans := &guardedTransport{NetworkTransport: raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: a.addrs,
		Stream:                raftLayer,
		MaxPool:               transportPool,
		Timeout:               transportIOWait,
		Logger:                a.hclog.Named("transport"),
	}), done: make(chan struct{}), contacts: a.contacts}
	// A node that starts without raft state grants no vote to a group
	// that ran, while another member holds state that the candidate may
	// lack, until a leader gave it the log up to that leader's commit
	// index, or it bootstrapped the group or led it (amnesiacVoteRefusal,
	// catchUp).
	var started atomic.Pointer[raft.Raft]
	a.hasState.Store(hasState)
	caught := &a.caught
	trans.refuse = func(candidate string, at logPosition) bool {
		has := hasState
		if r := started.Load(); r != nil && !hasState {
			has = caught.check(r.LastIndex())
		}
		if has {
			return false
		}
		refuse := refuseAmnesiacVote(has, a.cfg.BootstrapExpect, a.deps.Self.Name, candidate, at, a.deps.Peers.KnownPeers(), func(p PeerInfo) (logPosition, bool) {
			pos, err := peerPosition(rpcLayer, p.Addr, a.cfg.RaftElectionTimeout/2)
			if err != nil {
				a.logger.Debug("ask a member for its raft log position", "peer", p.Name, "err", err)
				return logPosition{}, false
			}
			return pos, true
		})
		if !refuse {
			a.logger.Info("voting without raft state: every other member holding raft state holds no more of the log than the candidate",
				"candidate", candidate, "candidate_last_index", at.Index)
		}
		return refuse
	}
	trans.header = raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax,
		ID: []byte(a.deps.Self.Name), Addr: []byte(trans.LocalAddr())}
	trans.onRefuse = func(candidate string, lastIndex uint64) {
		a.logger.Warn("refusing a vote: this node lost its raft state and has not caught up with a leader's log since",
			"candidate", candidate, "candidate_last_index", lastIndex)
	}
	if !hasState {
		trans.observe = func(cmd any) {
			if r := started.Load(); r != nil {
				caught.observe(cmd, r.LastIndex())
			}
		}
	}
	var logs raft.LogStore = store
	if a.wrapLogs != nil {
		logs = a.wrapLogs(store)
	}
	// The cache keeps an entry only once the store below took it.
	logs, err = raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		return fmt.Errorf("authority: log cache: %w", err)
	}
	r, err := raft.NewRaft(a.raftConfig(), a.fsm, logs, store, snaps, trans)
	if err != nil {
		_ = trans.Close()
		_ = rpcLayer.Close()
		raftLayer.wait()
		trans.stopHeartbeats()
		return fmt.Errorf("authority: start raft: %w", err)
	}
	started.Store(r)
	a.raft.Store(r)
	if a.calm.Load() {
		a.retime(r) // Calm came before raft started
	}
	a.rpc.Store(rpcLayer)
	a.advertise(hasState)
	a.logger.Info("raft started", "has_state", hasState, "dir", dir)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.serveRPC(ctx, rpcLayer, &wg) })
	wg.Go(func() { a.loop(ctx, r, hasState, caught, &wg) })
	wg.Go(func() { a.contactLoop(ctx, r) })

	<-ctx.Done()
	cancel()
	_ = rpcLayer.Close()
	serr := r.Shutdown().Error()
	a.ready.Store(false)
	_ = trans.Close()
	trans.CloseStreams()
	_ = raftLayer.Close()
	wg.Wait()
	a.retimeMu.Lock()
	a.retimeDone = true
	if a.staggered != nil {
		a.staggered.Stop()
	}
	a.retimeMu.Unlock()
	raftLayer.wait()
	rpcLayer.wait()
	trans.stopHeartbeats() // before the deferred store.Close
	a.logger.Info("raft stopped")
	if serr != nil {
		return fmt.Errorf("authority: shut down raft: %w", serr)
	}
	return nil
}

// Calm switches raft between its calm timings (on: the longer
// RaftCalmHeartbeatTimeout, fewer heartbeats) and its failover timings.
// The failover core calls it on every step; only a change reaches raft.
// Shortening the heartbeat timeout re-arms a follower's timer at once (raft
// checks its last contact with the leader on the spot), and a leader sends
// its next heartbeats at the shorter period.
//
// A follower leaves calm after a random part of half the failover
// heartbeat timeout: every sidecar sees the first sign of trouble at the
// same probe instant, and followers whose leader fell silent with it would
// all call an election on the spot and split the vote (2 of 8 logged host
// crashes did, one of them three times over).
func (a *Authority) Calm(on bool) {
	if a.calm.Swap(on) == on {
		return
	}
	r := a.raft.Load()
	if r == nil {
		return
	}
	if on || r.State() == raft.Leader {
		a.retime(r)
		return
	}
	delay := rand.N(a.cfg.RaftHeartbeatTimeout/2 + 1)
	a.retimeMu.Lock()
	defer a.retimeMu.Unlock()
	if a.staggered != nil {
		a.staggered.Stop()
	}
	if !a.retimeDone {
		a.staggered = time.AfterFunc(delay, func() { a.retime(r) })
	}
}

// retime reloads raft's heartbeat and election timeouts for the timings
// Calm last chose.
func (a *Authority) retime(r *raft.Raft) {
	a.retimeMu.Lock()
	defer a.retimeMu.Unlock()
	if a.retimeDone {
		return
	}
	calm := a.calm.Load()
	rc := r.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = a.cfg.timings(calm)
	if err := r.ReloadConfig(rc); err != nil {
		a.logger.Error("set raft timings", "calm", calm, "err", err)
		return
	}
	a.logger.Debug("raft timings", "calm", calm, "heartbeat_timeout", rc.HeartbeatTimeout, "election_timeout", rc.ElectionTimeout)
}

// raftConfig maps Config onto raft's configuration.
func (a *Authority) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(a.deps.Self.Name)
	rc.HeartbeatTimeout = a.cfg.RaftHeartbeatTimeout
	rc.ElectionTimeout = a.cfg.RaftElectionTimeout
	rc.LeaderLeaseTimeout = a.cfg.RaftLeaderLeaseTimeout
	rc.CommitTimeout = a.cfg.RaftCommitTimeout
	rc.SnapshotInterval = a.cfg.RaftSnapshotInterval
	rc.SnapshotThreshold = a.cfg.RaftSnapshotThreshold
	// The state is a few KiB, so a lagging follower is as cheaply caught up
	// with a snapshot as with old entries: keep raft.db small.
	rc.TrailingLogs = a.cfg.RaftSnapshotThreshold
	// A forgotten member that comes back is re-added as a non-voter; it
	// must still be running raft to be caught up.
	rc.ShutdownOnRemove = false
	rc.NoLegacyTelemetry = true
	rc.Logger = a.hclog
	return rc
}

// addressProvider resolves a raft server to the gossip address its member
// announces now, so that raft follows members whose address changed
// (rescheduled pods) even when no leader exists to update the
// configuration. An unknown member falls back to the configured address.
// raft asks on every RPC, so the view is a copy the housekeeping loop
// refreshes rather than a walk of gossip's member list.
type addressProvider struct {
	peers Peers
	addrs atomic.Pointer[map[string]string]
	mu    sync.Mutex
	// changed is closed, and replaced, when a refresh changes addrs.
	changed chan struct{}
}

// refresh copies the alive members' addresses from gossip and returns them.
func (p *addressProvider) refresh() []PeerInfo {
	alive := p.peers.AlivePeers()
	m := make(map[string]string, len(alive))
	for _, pi := range alive {
		if pi.Addr != "" {
			m[pi.Name] = pi.Addr
		}
	}
	if old := p.addrs.Swap(&m); old == nil || !maps.Equal(*old, m) {
		p.mu.Lock()
		if p.changed != nil {
			close(p.changed)
		}
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	return alive
}

// alive reports whether addr is the gossip address of a member alive in
// gossip at the last refresh, and returns a channel closed at the next
// change.
func (p *addressProvider) alive(addr string) (bool, <-chan struct{}) {
	p.mu.Lock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	ch := p.changed
	p.mu.Unlock()
	if m := p.addrs.Load(); m != nil {
		for _, a := range *m {
			if a == addr {
				return true, ch
			}
		}
	}
	return false, ch
}

func (p *addressProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if m := p.addrs.Load(); m != nil {
		if addr, ok := (*m)[string(id)]; ok {
			return raft.ServerAddress(addr), nil
		}
	}
	return "", fmt.Errorf("authority: %s is not alive in gossip", id)
}

// SetSelf changes the addresses this member announces; the authority
// registers them through the log as soon as it can (and again whenever
// the state stops holding them).
func (a *Authority) SetSelf(m Member) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m.Name = a.deps.Self.Name
	if m.RaftAddr == "" {
		m.RaftAddr = a.self.RaftAddr
	}
	m.Voter, m.Since, m.Removed = false, time.Time{}, false
	a.self = m
}

// Register is SetSelf followed by a register command applied now: it
// returns once the state holds m's addresses, or the error. It fails with
// ErrNotMember while the leader has not added this member to the group yet
// (the authority keeps trying by itself).
func (a *Authority) Register(ctx context.Context, m Member) error {
	a.SetSelf(m)
	self := a.selfMember()
	_, err := a.Apply(ctx, Command{Op: OpRegister, Member: &self, Start: time.Now()})
	return err
}

// advertise publishes whether this node has raft state.
func (a *Authority) advertise(has bool) {
	if err := a.deps.Peers.AdvertiseState(has); err != nil {
		a.logger.Error("advertise raft state in gossip", "err", err)
	}
}

func (a *Authority) selfMember() Member {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.self
}

// State returns a copy of this node's applied state. It may lag the
// leader's; use Verify for a linearizable read.
func (a *Authority) State() State { return a.fsm.state() }

// Watch returns this node's applied state and a channel closed on the next change.
func (a *Authority) Watch() (State, <-chan struct{}) { return a.fsm.watch() }

// Ready reports whether a group exists (a leader is known) and this node
// has applied every entry it knows to be committed.
func (a *Authority) Ready() bool { return a.ready.Load() }

// CaughtUp reports whether this node's applied state is the group's as of
// its last contact: it started with raft state, or, since it started
// without (a wiped or lost data dir), a leader gave it the log up to that
// leader's commit index, or it bootstrapped or led the group. Until then
// its log, and the state it applied, may end anywhere short of the
// group's, while heartbeats, which carry no log, count as contact. Chaos
// seed 17035 (N=5, shipped defaults): a's sidecar, restarted wiped while
// cut off, applied the log to epoch 2 (b the primary) and no further, its
// appends refused for a missing entry; for a second its Sentinel endpoint
// named b, whose Redis had come back empty, and register clients read
// nothing for keys epoch 3 had written.
func (a *Authority) CaughtUp() bool {
	if a.hasState.Load() {
		return true
	}
	r := a.raft.Load()
	return r != nil && a.caught.check(r.LastIndex())
}

// Leader names the current leader as this node knows it ("" when none)
// and whether it is this node.
func (a *Authority) Leader() (name string, isSelf bool) {
	r := a.raft.Load()
	if r == nil {
		return "", false
	}
	_, id := r.LeaderWithID()
	return string(id), id != "" && string(id) == a.deps.Self.Name
}

// LastContact is the last time this node knows a majority was with it:
// on the leader, the time a majority of voters had acknowledged its
// heartbeats since (each heartbeat counted from when it was sent); on a
// follower, when it last accepted a heartbeat from a leader. Zero before
// any contact. The time carries Go's monotonic reading: compare it with
// time.Since.
//
// raft's own LastContact also moves when this node steps down as leader
// and when it grants a vote, neither of which is contact with a majority:
// a primary's sidecar that led the group fenced 150 ms late after a
// partition (the lease it waited out before stepping down), and in a
// minority of two a candidate's vote requests would keep the primary
// unfenced. Heartbeats are neither.
func (a *Authority) LastContact() time.Time {
	r := a.raft.Load()
	if r == nil {
		return time.Time{}
	}
	return a.contacts.last(r.State() == raft.Leader, r.CurrentTerm(), time.Now())
}

// TransferLeadership hands Raft leadership to the voter named to
// (raft's leadership transfer: to is brought up to date and told to call
// an election at once) and returns once it won, or with what stopped it:
// this node does not lead, to is no voter, or to did not win within an
// election timeout.
func (a *Authority) TransferLeadership(to string) error {
	r := a.raft.Load()
	if r == nil {
		return errors.New("authority: transfer leadership: raft is not running yet")
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("authority: transfer leadership to %s: %w", to, err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != to {
			continue
		}
		if s.Suffrage != raft.Voter {
			break
		}
		if err := r.LeadershipTransferToServer(s.ID, s.Address).Error(); err != nil {
			return fmt.Errorf("authority: transfer leadership to %s: %w", to, err)
		}
		return nil
	}
	return fmt.Errorf("authority: transfer leadership to %s: not a voter", to)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (a *Authority) term() uint64 {
	if r := a.raft.Load(); r != nil {
		return r.CurrentTerm()
	}
	return 0
}

// contactLoop reads the configuration this node leads with whenever it
// becomes leader, for LastContact to count a majority of its voters.
// reconcile and forget read it again after each change they make, the
// only changes to a leader's configuration. It wakes on nothing else.
func (a *Authority) contactLoop(ctx context.Context, r *raft.Raft) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.LeaderCh():
		}
		a.readVoters(r)
	}
}

// readVoters records the configuration this node leads with, if it leads.
// A read that straddles a change of term is dropped: the leadership it
// belonged to is over, and LeaderCh signals the next.
func (a *Authority) readVoters(r *raft.Raft) {
	if r.State() != raft.Leader {
		return
	}
	term := r.CurrentTerm()
	f := r.GetConfiguration()
	if f.Error() != nil || r.CurrentTerm() != term {
		return
	}
	a.contacts.setVoters(term, f.Index(), f.Configuration())
}

// deadline returns the time left before ctx's deadline, or the default.
func deadline(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return defaultDeadline
}

// Apply proposes cmd and returns the state right after its entry was
// applied. On a follower the command is forwarded to the leader. While
// there is no leader it retries until ctx ends (then ErrNoLeader). A
// command rejected by the state machine returns its error (ErrStale,
// ErrInvalid, ErrNotMember, wrapped); an error that is none of these
// leaves it unknown whether the command committed.
func (a *Authority) Apply(ctx context.Context, cmd Command) (State, error) {
	st, err := a.apply(ctx, cmd)
	a.metrics.applies.WithLabelValues(resultOf(err)).Inc()
	return st, err
}

func (a *Authority) apply(ctx context.Context, cmd Command) (State, error) {
	if _, err := encodeCommand(cmd); err != nil {
		return State{}, err
	}
	if cmd.Op == OpRegister && cmd.Start.IsZero() {
		cmd.Start = time.Now()
	}
	return a.retry(ctx, string(cmd.Op), func(r *raft.Raft) (State, error) {
		if r.State() == raft.Leader {
			return a.applyLeader(ctx, r, cmd)
		}
		return a.forward(ctx, r, request{Kind: kindApply, Command: &cmd})
	})
}

// Verify is a linearizable read: the leader confirms with a majority that
// it still leads, waits until everything committed before is applied, and
// returns its state. On a follower the read is forwarded to the leader. A
// leader that was deposed or cut off from the majority fails.
func (a *Authority) Verify(ctx context.Context) (State, error) {
	return a.retry(ctx, "verify", func(r *raft.Raft) (State, error) {
		if r.State() == raft.Leader {
			return a.verifyLeader(ctx, r)
		}
		return a.forward(ctx, r, request{Kind: kindVerify})
	})
}

// errRetry marks an attempt that certainly did not change anything and
// may be repeated (no leader, not the leader, could not reach it).
type errRetry struct{ err error }

func (e errRetry) Error() string { return e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

// retry runs attempt until it succeeds, fails for good, or ctx ends.
func (a *Authority) retry(ctx context.Context, what string, attempt func(*raft.Raft) (State, error)) (State, error) {
	for {
		var re errRetry
		if r := a.raft.Load(); r == nil {
			re = errRetry{errors.New("raft is not running yet")}
		} else {
			st, err := attempt(r)
			if !errors.As(err, &re) {
				return st, err
			}
		}
		t := time.NewTimer(retryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return State{}, fmt.Errorf("authority: %s: %w (last: %v)", what, ErrNoLeader, re.err)
		case <-t.C:
		}
	}
}

// applyLeader applies cmd on this node, the leader.
func (a *Authority) applyLeader(ctx context.Context, r *raft.Raft, cmd Command) (State, error) {
	if cmd.Op == OpForget {
		return a.forget(ctx, r, cmd)
	}
	return a.raftApply(ctx, r, cmd)
}

func (a *Authority) raftApply(ctx context.Context, r *raft.Raft, cmd Command) (State, error) {
	b, err := encodeCommand(cmd)
	if err != nil {
		return State{}, err
	}
	f := r.Apply(b, deadline(ctx))
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return State{}, errRetry{err}
		}
		return State{}, fmt.Errorf("authority: apply %s: %w", cmd.Op, err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return State{}, fmt.Errorf("authority: apply %s: unexpected response %T", cmd.Op, f.Response())
	}
	// Followers learn that an entry committed with the leader's next
	// append, which an idle leader sends only every commit timeout or two.
	// A barrier entry is such an append, sent at once: every sidecar
	// applies the command within a round trip. Nothing waits for it.
	_ = r.Barrier(a.cfg.RaftCommitTimeout)
	return res.state, res.err
}

// forget removes a member: the state machine first (which refuses the
// primary), then the raft configuration. A member that gossip still sees
// alive is refused: the leader would add it straight back.
func (a *Authority) forget(ctx context.Context, r *raft.Raft, cmd Command) (State, error) {
	if cmd.Node == a.deps.Self.Name {
		return State{}, fmt.Errorf("%w: forget %q: it is the leader; forget it from another member", ErrInvalid, cmd.Node)
	}
	alive := map[string]bool{}
	for _, p := range a.deps.Peers.AlivePeers() {
		if p.Name == cmd.Node {
			return State{}, fmt.Errorf("%w: forget %q: it is alive; stop it first", ErrInvalid, cmd.Node)
		}
		alive[p.Name] = true
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return State{}, errRetry{err}
	}
	var voters []string
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.ID))
		}
	}
	if down := majorityLost(voters, alive, cmd.Node); down != nil {
		return State{}, fmt.Errorf("%w: forget %q: the voters left would need %s, which gossip does not see alive, to commit anything; bring them back first",
			ErrInvalid, cmd.Node, strings.Join(down, ", "))
	}
	st, err := a.raftApply(ctx, r, cmd)
	if err != nil {
		return st, err
	}
	err = r.RemoveServer(raft.ServerID(cmd.Node), 0, deadline(ctx)).Error()
	a.readVoters(r) // also after an error: the change may be in the log
	if err != nil {
		return st, fmt.Errorf("authority: remove %s from raft: %w", cmd.Node, err)
	}
	a.logger.Info("member forgotten", "peer", cmd.Node)
	return a.fsm.state(), nil
}

// majorityLost returns, when removing node from voters would leave a
// configuration without a majority that gossip sees alive, the remaining
// voters it does not see alive; nil when the rest keep a live majority or
// node is no voter. Such a removal does not commit (the new configuration
// needs those voters), and the leader, counting on it at once, steps down
// with nobody to elect another: chaos seed 16110 (N=3) forgot c, just
// resumed from a SIGSTOP, while a's node was down, and voters a and b had
// no leader until a was back and reachable.
func majorityLost(voters []string, alive map[string]bool, node string) []string {
	if !slices.Contains(voters, node) {
		return nil
	}
	var rest, down []string
	for _, v := range voters {
		if v == node {
			continue
		}
		rest = append(rest, v)
		if !alive[v] {
			down = append(down, v)
		}
	}
	if 2*(len(rest)-len(down)) > len(rest) {
		return nil
	}
	slices.Sort(down)
	return down
}

// verifyLeadership is r.VerifyLeader().Error() that gives up when ctx
// ends. hashicorp/raft v1.8.0 queues a verification in a buffered channel
// and never answers one its leader loop had not read when it stopped (a
// step-down answers it, a shutdown does not), and the future has no
// shutdown channel: Error() then waits for ever, and a sidecar's
// authority never stopped (TestRollingRestart, "sidecar did not stop",
// its then contact loop in Error()). The waiting goroutine ends with the
// answer; only such a lost one leaves it behind, as the process stops.
func verifyLeadership(ctx context.Context, r *raft.Raft) error {
	return await(ctx, r.VerifyLeader())
}

// await is f.Error() that gives up when ctx ends (verifyLeadership). A
// barrier, once enqueued, waits for its commit the same way: a sidecar
// stopping while its promotion's Verify waited on one never stopped
// (TestNoEligibleReplica in CI, "sidecar did not stop", a re-point's
// Verify in Barrier's Error()).
// The caller wraps the error.
func await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verifyLeader is Verify on the leader.
func (a *Authority) verifyLeader(ctx context.Context, r *raft.Raft) (State, error) {
	if err := verifyLeadership(ctx, r); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return State{}, errRetry{err}
		}
		return State{}, fmt.Errorf("authority: verify leadership: %w", err)
	}
	if err := await(ctx, r.Barrier(deadline(ctx))); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return State{}, errRetry{err}
		}
		return State{}, fmt.Errorf("authority: barrier: %w", err)
	}
	return a.fsm.state(), nil
}

// errStopped answers a heartbeat that arrives while the authority stops.
var errStopped = errors.New("authority: stopping")

// guardedTransport runs raft's heartbeat fast path behind a guard that
// stopHeartbeats closes. hashicorp/raft handles heartbeats on the
// transport's connection goroutines, which outlive raft.Shutdown and the
// transport's Close: one that arrived just then wrote the current term to
// the closed raft.db, and raft panics when that write fails ("failed to
// save current term: database not open", seen in TestACLUserIsEnough...).
//
// It also answers itself the vote requests refuse reports this node, without
// raft state, must not grant (amnesiacVoteRefusal).
type guardedTransport struct {
	*raft.NetworkTransport
	mu      sync.RWMutex
	stopped bool

	refuse   func(candidate string, at logPosition) bool
	header   raft.RPCHeader
	onRefuse func(candidate string, lastIndex uint64)
	observe  func(cmd any) // sees every RPC before raft does; nil: none

	contacts *contacts // told of every heartbeat acknowledged or accepted

	consumeOnce sync.Once
	consumer    chan raft.RPC
	closeOnce   sync.Once
	done        chan struct{} // closed by Close: stops filterVotes
	filter      sync.WaitGroup
}

// Consumer hands raft the transport's RPCs, less the vote requests an
// amnesiac node refuses.
func (g *guardedTransport) Consumer() <-chan raft.RPC {
	g.consumeOnce.Do(func() {
		g.consumer = make(chan raft.RPC)
		g.filter.Add(1)
		go func() {
			defer g.filter.Done()
			filterVotes(g.NetworkTransport.Consumer(), g.consumer, g.done, g.refuse, g.header, g.onRefuse, g.observe)
		}()
	})
	return g.consumer
}

// Close stops the vote filter, waits for it, and closes the transport.
func (g *guardedTransport) Close() error {
	g.closeOnce.Do(func() { close(g.done) })
	g.filter.Wait()
	return g.NetworkTransport.Close()
}

// filterVotes forwards in to out, in order, until done, answering itself
// the vote requests amnesiacVoteRefusal refuses; observe, when not nil,
// sees every request first.
func filterVotes(in <-chan raft.RPC, out chan<- raft.RPC, done <-chan struct{}, refuse func(candidate string, at logPosition) bool,
	header raft.RPCHeader, onRefuse func(candidate string, lastIndex uint64), observe func(cmd any)) {
	for {
		var rpc raft.RPC
		select {
		case rpc = <-in:
		case <-done:
			return
		}
		if observe != nil {
			observe(rpc.Command)
		}
		if resp, candidate, last := amnesiacVoteRefusal(rpc.Command, refuse, header); resp != nil {
			if onRefuse != nil {
				onRefuse(candidate, last)
			}
			rpc.Respond(resp, nil)
			continue
		}
		select {
		case out <- rpc:
		case <-done:
			return
		}
	}
}

// catchUp tracks whether a node that started without raft state has
// caught up with a leader's log: its log reached the highest commit index
// a leader sent it (AppendEntries, or a snapshot's last index). Until then
// it is as forgetful as with an empty log: a prefix of the log says
// nothing of the committed entries beyond it, and with it the node would
// vote for a candidate that lacks them. Chaos seed 12314 (N=3): a's and
// b's sidecars were restarted with wiped data dirs; c, the one member
// holding the log (to index 120), was elected and began sending it from
// index 1, and was then stopped (SIGSTOP) for 7.5 s. a and b, each holding
// a prefix, counted as having state, elected a at term 8 with a log
// ending at 64, and the new leader's entries replaced c's committed 65-120
// ("clearing log suffix"); c's state machine had applied them, so c and a
// named different primaries at epoch 5 for the rest of the run, and no
// write succeeded for 81 s. Once caught up it stays so: what its log holds
// from then on it acknowledged, and keeps.
//
// A node that bootstrapped the group, or was elected its leader, holds
// the log too (bootstrapped: there was none before it; elected: a
// majority found its log complete), though no leader ever sent it one
// (held). Chaos seed 14912 (N=3, shipped defaults): b bootstrapped the
// group and led it until its sidecar was stopped; a led meanwhile and was
// cut off 0.02 s after b resumed, and b, never sent the log, refused c its
// vote as a node that lost its raft state: no leader, and no write, for
// 14 s.
type catchUp struct {
	seen atomic.Uint64 // the highest commit index a leader sent
	done atomic.Bool
}

// held records that the node holds the log without a leader sending it:
// it bootstrapped the group, or was elected its leader.
func (c *catchUp) held() { c.done.Store(true) }

// observe takes an RPC about to reach raft, the log then ending at last.
func (c *catchUp) observe(cmd any, last uint64) {
	if c.done.Load() {
		return
	}
	var commit uint64
	switch req := cmd.(type) {
	case *raft.AppendEntriesRequest:
		commit = req.LeaderCommitIndex
	case *raft.InstallSnapshotRequest:
		commit = req.LastLogIndex
	default:
		return
	}
	c.check(last)
	for {
		cur := c.seen.Load()
		if commit <= cur || c.seen.CompareAndSwap(cur, commit) {
			return
		}
	}
}

// check reports whether the node caught up, its log ending at last.
func (c *catchUp) check(last uint64) bool {
	if c.done.Load() {
		return true
	}
	if s := c.seen.Load(); s > 0 && last >= s {
		c.done.Store(true)
		return true
	}
	return false
}

// amnesiacVoteRefusal is the answer, not granted, to a vote or pre-vote
// request from a candidate whose log holds more than a bootstrap
// configuration (index 1), when refuse says so (refuseAmnesiacVote): this
// node has no raft state — its data dir was wiped (or lost) and no leader
// has given it the log since — and another member may hold entries the
// candidate lacks. Raft counts on a voter remembering every entry it
// acknowledged; one that forgot them, its log empty, grants any candidate
// its vote, and with it a majority that holds none of the entries it
// helped commit, which the new leader then deletes from the members that
// have them. Chaos seed
// 1505 (N=3): a, the leader, and c committed epoch 5 (c promoted, holding
// every write since 34.7 s); a's sidecar was restarted with a wiped data
// dir, b's sidecar came back with its log from before epoch 5 (index
// 66), and a's empty log voted b leader at term 7; b truncated c's entries
// 67-76 ("clearing log suffix"), promoted its own Redis — restarted from a
// 20 s old RDB — as epoch 4's primary, and c's and a's Redis full-synced
// from it: 211 acknowledged writes and 24 retry-queue INCRs lost. A
// candidate at index 1 or less is forming a group (bootstrap: a member
// that bootstrapped first is elected by the ones that saw it and never
// bootstrapped themselves): it has nothing such a vote could lose. A new
// member is a non-voter until the log reached it, so it is never asked.
func amnesiacVoteRefusal(cmd any, refuse func(candidate string, at logPosition) bool, header raft.RPCHeader) (resp any, candidate string, lastIndex uint64) {
	switch req := cmd.(type) {
	case *raft.RequestVoteRequest:
		if req.LastLogIndex > 1 && refuse != nil && refuse(string(req.ID), logPosition{Term: req.LastLogTerm, Index: req.LastLogIndex}) {
			return &raft.RequestVoteResponse{RPCHeader: header, Term: req.Term, Granted: false}, string(req.ID), req.LastLogIndex
		}
	case *raft.RequestPreVoteRequest:
		if req.LastLogIndex > 1 && refuse != nil && refuse(string(req.ID), logPosition{Term: req.LastLogTerm, Index: req.LastLogIndex}) {
			return &raft.RequestPreVoteResponse{RPCHeader: header, Term: req.Term, Granted: false}, string(req.ID), req.LastLogIndex
		}
	}
	return nil, "", 0
}

// refuseAmnesiacVote reports whether this node (self, with or without raft
// state) refuses its vote to candidate, whose log ends at at: it has none,
// and a member other than self and candidate that gossip knows of is not
// alive (a member that is down may hold entries the candidate's log
// lacks), or advertises state and, asked with position, does not answer
// or holds a log more up to date than the candidate's. A member that
// forgot its log cannot tell whether a candidate holds every committed
// entry; a member that kept one can, by Raft's own rule, and this node
// votes only when every such member would: a committed entry survives on
// some member that acknowledged it and kept its log, and a candidate at
// least as up to date as that log holds it (Raft's election restriction).
// Chaos seed 1505: c, alive, held the entries b lacked; seed 1907, N=3:
// c, stopped, held them, and a's empty log elected b, which truncated
// them. When the candidate is the only member left with state and every
// other is alive and stateless, the forgetful ones vote for it: refused,
// no leader would be elected until an operator stepped in (chaos seed
// 1703, N=3: b and a, both wiped, refused c, the one member with the
// log, for the rest of the run). Asking them also lets a member with
// state that cannot vote, a non-voter, speak for the log it holds (chaos
// seed 3901, N=3: c, forgotten while its sidecar was stopped, came back
// with its log as a non-voter beside the voters a and b; b's node was
// killed with its data dir wiped, a needed b's vote, and b refused it for
// the rest of the run because c held state, though c held nothing a
// lacked). As before, the vote loses a committed entry only when every
// other member that acknowledged it lost its log too, or gossip no longer
// knows it.
// A wiped sidecar's gossip starts empty and knows only the members it has
// heard from since: while it knows fewer than expect (the group formed
// with that many voters), one it never heard of may hold the entries the
// candidate lacks, and it refuses (chaos seed 6916, N=3: c, wiped and cut
// off, knew only the candidate a when it voted; b, unknown to it, held
// terms 6 and 7; a committed epoch 4 with c, and b, elected with c's vote
// at term 8, truncated it).
func refuseAmnesiacVote(hasState bool, expect int, self, candidate string, at logPosition, known []PeerInfo, position func(PeerInfo) (logPosition, bool)) bool {
	if hasState {
		return false
	}
	names := make(map[string]bool, len(known)+2)
	for _, p := range known {
		names[p.Name] = true
	}
	names[self], names[candidate] = true, true
	if len(names) < expect {
		return true
	}
	others := slices.DeleteFunc(slices.Clone(known), func(p PeerInfo) bool { return p.Name == self || p.Name == candidate })
	if slices.ContainsFunc(others, func(p PeerInfo) bool { return !p.Alive }) {
		return true
	}
	return slices.ContainsFunc(others, func(p PeerInfo) bool {
		if !p.HasState {
			return false
		}
		pos, ok := position(p)
		return !ok || !at.covers(pos)
	})
}

// logPosition is where a raft log ends: the term and index of its last
// entry (or of the snapshot that replaced it).
type logPosition struct {
	Term  uint64 `json:"term"`
	Index uint64 `json:"index"`
}

// covers reports whether a log ending at p is at least as up to date as
// one ending at q, by Raft's rule (§5.4.1): a later last term, or the same
// term and at least as long.
func (p logPosition) covers(q logPosition) bool {
	return p.Term > q.Term || p.Term == q.Term && p.Index >= q.Index
}

// SetHeartbeatHandler wraps raft's handler in the guard.
func (g *guardedTransport) SetHeartbeatHandler(fn func(raft.RPC)) {
	if fn == nil {
		g.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	g.NetworkTransport.SetHeartbeatHandler(g.guard(fn))
}

// guard is fn run only while the heartbeats are not stopped. It records
// each heartbeat fn accepts as contact: fn, raft's heartbeat handler,
// answers before it returns, or not at all when raft is shutting down.
func (g *guardedTransport) guard(fn func(raft.RPC)) func(raft.RPC) {
	return func(rpc raft.RPC) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.stopped {
			rpc.Respond(nil, errStopped)
			return
		}
		answer := make(chan raft.RPCResponse, 1)
		inner := rpc
		inner.RespChan = answer
		fn(inner)
		select {
		case resp := <-answer:
			if ae, ok := resp.Response.(*raft.AppendEntriesResponse); ok && resp.Error == nil && ae.Success {
				g.contacts.heard(time.Now())
			}
			rpc.Respond(resp.Response, resp.Error)
		default:
		}
	}
}

// AppendEntries records each append (heartbeats among them) a follower
// accepted in the term it was sent in as contact from when it was sent,
// as raft's own leadership check counts it.
func (g *guardedTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	if err := g.NetworkTransport.AppendEntries(id, target, args, resp); err != nil {
		return err
	}
	if resp.Success && resp.Term == args.Term {
		g.contacts.acked(id, args.Term, sent)
	}
	return nil
}

// stopHeartbeats waits for the heartbeats in progress and refuses the
// rest.
func (g *guardedTransport) stopHeartbeats() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}
