// Package gossip is vigil's membership layer: a hashicorp/memberlist peer
// with node metadata, fast direct messages between sidecars, a settle step,
// and the persisted set of every sidecar ever seen, which the failover
// package uses for majorities.
//
// The package does not know what it carries: messages are a kind byte and
// opaque bytes, metadata is opaque bytes.
package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxMetaSize bounds the encoded metadata (memberlist's limit): the SetMeta
// value and the SetMetaKey entries with a few bytes of framing each.
const MaxMetaSize = memberlist.MetaMaxSize

// KindReserved is the first message kind used by the package itself; Send
// and Broadcast refuse kinds at or above it.
const KindReserved byte = 0xF0

// kindLeave announces that the sender is shutting down on purpose, so peers
// report it as left rather than dead.
const kindLeave byte = 0xFF

const (
	// messageQueueLen is how many received messages may wait for the
	// consumer of Messages before new ones are dropped (and counted).
	messageQueueLen = 1024

	// settleChecks is how many consecutive unchanged membership checks make
	// the group settled.
	settleChecks = 3

	// deadNodeReclaimTime lets a crashed sidecar that comes back at a new
	// address (a rescheduled pod) rejoin after a few seconds instead of
	// waiting for memberlist to forget the dead node (30s by default).
	deadNodeReclaimTime = 5 * time.Second

	// minJoinBackoff is the first pause between join attempts while alone.
	minJoinBackoff = 100 * time.Millisecond
)

var (
	// ErrNotRunning is returned by calls that need Run to have created the
	// memberlist (see Ready).
	ErrNotRunning = errors.New("gossip: not running")
	// ErrUnknownMember is returned when sending to a node that is not an
	// alive member.
	ErrUnknownMember = errors.New("gossip: not an alive member")
	// ErrReservedKind is returned for message kinds at or above KindReserved.
	ErrReservedKind = errors.New("gossip: reserved message kind")
	// ErrSelf is returned when sending to, or forgetting, this node itself.
	ErrSelf = errors.New("gossip: this node itself")
	// ErrAlive is returned when forgetting a peer that is alive.
	ErrAlive = errors.New("gossip: peer is alive")
	// ErrNotKnown is returned when forgetting a peer that is not known.
	ErrNotKnown = errors.New("gossip: peer not known")
)

// Message is a direct message received from a peer.
type Message struct {
	From     string    // sender's node name
	Kind     byte      // sender-chosen kind, below KindReserved
	Payload  []byte    // owned by the receiver
	Received time.Time // when this node accepted it
}

// Member states, as reported by Members and vigil_gossip_members.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect" // reserved: memberlist does not expose suspicion
	StateDead    = "dead"
	StateLeft    = "left"
)

// Member is one sidecar as this node sees it.
type Member struct {
	Name  string
	Addr  string // host:port of its gossip listener
	State string // StateAlive, StateSuspect, StateDead or StateLeft
	Meta  []byte // metadata set with SetMeta on that node
	// Metadata holds the entries set with SetMetaKey on that node; nil
	// when there are none.
	Metadata map[string][]byte
}

// MetaKey returns the value that member published with SetMetaKey(key), or
// nil.
func (m Member) MetaKey(key string) []byte { return m.Metadata[key] }

// Option customises a Peer beyond its Config.
type Option func(*options)

type options struct {
	transport memberlist.NodeAwareTransport
	startIn   func() time.Duration
}

// WithTransport makes the peer use t instead of binding its own UDP and TCP
// listeners; tests use it to inject faults. Config.BindAddr should then be
// t's address.
func WithTransport(t memberlist.NodeAwareTransport) Option {
	return func(o *options) { o.transport = t }
}

// WithStartIn delays memberlist's start by in(), computed when Run is
// about to start it. The sidecar passes the time to the next instant of
// its wall-clock grid, when its own loops wake (monitor.Ticker, UntilNext).
// memberlist's probe and gossip tickers keep the phase of the moment it
// starts; their periods are multiples of monitor.interval by default, so
// started on the grid they fire in wake-ups the sidecar makes anyway
// instead of in wake-ups of their own, which on an idle sidecar are most
// of its cost.
func WithStartIn(in func() time.Duration) Option {
	return func(o *options) { o.startIn = in }
}

// memberState is the peer's view of one member, fed by memberlist events.
type memberState struct {
	addr  string
	state string
	meta  []byte
}

// Peer is this sidecar's membership in its group. Its methods are safe for
// concurrent use.
type Peer struct {
	cfg     Config
	name    string
	dataDir string
	keys    [][]byte // EncryptionKey first, then AcceptedKeys; nil without encryption
	opts    options
	logger  *slog.Logger
	metrics *metrics

	started atomic.Bool
	ml      atomic.Pointer[memberlist.Memberlist]
	mux     atomic.Pointer[mux] // set while memberlist runs on it
	// advertise is this node's gossip address once memberlist runs. It is
	// computed as memberlist computes it, not read from memberlist's own
	// node, which UpdateNode rewrites without a lock readers could take.
	advertise   atomic.Pointer[string]
	incarnation atomic.Uint64
	seq         atomic.Uint64

	ready         chan struct{} // closed once memberlist is up
	joinAttempted chan struct{} // closed after the first join attempt
	msgs          chan Message
	changes       chan struct{} // buffer 1: coalesced change signal
	metaUpdate    chan struct{} // buffer 1: SetMeta -> metaLoop
	persist       chan struct{} // buffer 1: known set changed -> persistLoop

	writeMu sync.Mutex // serialises writes of the known file

	mu      sync.Mutex
	meta    map[string][]byte // "" is SetMeta's value
	members map[string]*memberState
	known   map[string]string // name -> last gossip address
	replay  map[string]*replayWindow
	version uint64                // bumped on every membership change; Settle watches it
	layers  map[byte]*StreamLayer // registered by Stream before Run
}

// New validates cfg and builds a peer named node that keeps its known peer
// set in dataDir ("" keeps it in memory only). It does no I/O; Run starts
// the peer.
func New(cfg Config, node string, dataDir string, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Peer, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if node == "" || len(node) > maxNameLen {
		errs = append(errs, fmt.Errorf("node.name (%q) must be 1 to %d bytes", node, maxNameLen))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Peer{
		cfg:           cfg,
		name:          node,
		dataDir:       dataDir,
		keys:          cfg.keyring(),
		logger:        logger.With("component", "gossip"),
		ready:         make(chan struct{}),
		joinAttempted: make(chan struct{}),
		msgs:          make(chan Message, messageQueueLen),
		changes:       make(chan struct{}, 1),
		metaUpdate:    make(chan struct{}, 1),
		persist:       make(chan struct{}, 1),
		members:       map[string]*memberState{},
		known:         map[string]string{node: cfg.configuredAddr()},
		replay:        map[string]*replayWindow{},
		layers:        map[byte]*StreamLayer{},
	}
	for _, o := range opts {
		o(&p.opts)
	}
	m, err := newMetrics(reg, p)
	if err != nil {
		return nil, fmt.Errorf("register gossip metrics: %w", err)
	}
	p.metrics = m
	return p, nil
}

// configuredAddr is this node's address before memberlist knows better.
func (c Config) configuredAddr() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.BindAddr
}

// Run loads the known set, starts memberlist, joins the group (retrying in
// the background, since peers may start in any order), and blocks until ctx
// ends; then it announces its departure, leaves and shuts memberlist down.
func (p *Peer) Run(ctx context.Context) error {
	p.mu.Lock() // Stream checks started under it
	first := p.started.CompareAndSwap(false, true)
	p.mu.Unlock()
	if !first {
		return errors.New("gossip: run called twice")
	}
	// However Run ends, the stream channels end with it: their Accept
	// returns instead of waiting for a listener that is gone or never was.
	defer func() {
		for _, l := range p.streamLayers() {
			_ = l.Close()
		}
	}()
	if err := p.loadKnown(); err != nil {
		return err
	}
	ml, err := p.startMemberlist(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the grid
		}
		return err
	}
	p.ml.Store(ml)
	close(p.ready)
	p.logger.Info("gossip started on "+p.Addr(), "node", p.name)

	// The join loop may sit in a dial for up to TCPTimeout, so it is waited
	// for only after Shutdown; the other loops end promptly.
	var joinWG, loopWG sync.WaitGroup
	joinWG.Go(func() { p.joinLoop(ctx, ml) })
	loopWG.Go(func() { p.persistLoop(ctx) })
	loopWG.Go(func() { p.metaLoop(ctx, ml) })

	<-ctx.Done()
	loopWG.Wait()
	p.broadcast(ml, kindLeave, nil)
	if err := ml.Leave(p.leaveTimeout()); err != nil {
		p.logger.Debug("leave not confirmed", "err", err)
	}
	if err := ml.Shutdown(); err != nil {
		p.logger.Warn("memberlist shutdown", "err", err)
	}
	// Later Send and Broadcast calls get ErrNotRunning instead of talking
	// through a memberlist that is gone, and Dial on a stream channel too.
	p.ml.Store(nil)
	p.mux.Store(nil)
	joinWG.Wait()
	if err := p.saveKnown(); err != nil {
		p.logger.Error("save known peers", "err", err)
	}
	p.logger.Info("gossip stopped")
	return nil
}

// leaveTimeout bounds waiting for the leave broadcast: a few gossip rounds.
func (p *Peer) leaveTimeout() time.Duration {
	return max(5*p.cfg.GossipInterval, 250*time.Millisecond)
}

// loadKnown merges the persisted known set and picks an incarnation larger
// than any used before, then persists both.
func (p *Peer) loadKnown() error {
	inc := uint64(time.Now().UnixNano())
	if p.dataDir == "" {
		p.incarnation.Store(inc)
		return nil
	}
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	kf, err := readKnown(p.dataDir)
	if err != nil {
		return err
	}
	// A clock that stepped back across a restart must not make peers take
	// this run's messages for replays of the last one.
	inc = max(inc, kf.Incarnation+1)
	p.incarnation.Store(inc)
	p.mu.Lock()
	for name, kp := range kf.Peers {
		if _, ok := p.known[name]; !ok {
			p.known[name] = kp.Addr
		}
	}
	p.mu.Unlock()
	return p.saveKnown()
}

// saveKnown writes the current known set and incarnation to the data dir.
func (p *Peer) saveKnown() error {
	if p.dataDir == "" {
		return nil
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	kf := knownFile{Incarnation: p.incarnation.Load(), Peers: map[string]knownPeer{}}
	p.mu.Lock()
	for name, addr := range p.known {
		kf.Peers[name] = knownPeer{Addr: addr}
	}
	p.mu.Unlock()
	if err := writeKnown(p.dataDir, kf); err != nil {
		p.metrics.knownWriteFails.Inc()
		return err
	}
	return nil
}

// startMemberlist creates memberlist on the injected transport, or on one
// of our own bound to Config.BindAddr.
func (p *Peer) startMemberlist(ctx context.Context) (*memberlist.Memberlist, error) {
	conf := p.memberlistConfig()
	inner := p.opts.transport
	if inner == nil {
		own, err := newTransport(net.ParseIP(conf.BindAddr), conf.BindPort, p.logger)
		if err != nil {
			return nil, fmt.Errorf("start gossip transport on %s: %w", p.cfg.BindAddr, err)
		}
		// memberlist fills in a port 0 only for the transport it builds
		// itself; it uses BindPort for peers that announce no port.
		inner = own
		conf.BindPort = own.port()
		if p.cfg.AdvertiseAddr == "" {
			conf.AdvertisePort = own.port()
		}
	}
	// Every transport, ours or injected, gets the stream multiplexer, so
	// stream channels obey the same faults as gossip in tests.
	x := newMux(inner, p.streamLayerMap(), p.streamSecurity(),
		p.cfg.TCPTimeout, p.logger, p.metrics)
	conf.Transport = x
	if in := p.opts.startIn; in != nil {
		t := time.NewTimer(in())
		select {
		case <-ctx.Done():
			t.Stop()
			_ = x.Shutdown()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		_ = x.Shutdown() // shuts the inner transport down too
		return nil, fmt.Errorf("start memberlist: %w", err)
	}
	// memberlist derives its address from the same call with the same
	// arguments, which just succeeded in Create.
	ip, port, err := x.FinalAdvertiseAddr(conf.AdvertiseAddr, conf.AdvertisePort)
	if err != nil {
		_ = ml.Shutdown()
		return nil, fmt.Errorf("start memberlist: advertise address: %w", err)
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	p.advertise.Store(&addr)
	p.mux.Store(x)
	return ml, nil
}

// streamLayerMap returns the registered channels; fixed once Run started.
func (p *Peer) streamLayerMap() map[byte]*StreamLayer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.layers)
}

func (p *Peer) streamLayers() []*StreamLayer {
	return slices.Collect(maps.Values(p.streamLayerMap()))
}

// streamSecurity is what streams need from the config: the label and the
// keyring.
func (p *Peer) streamSecurity() *streamSecurity {
	return newStreamSecurity(p.cfg.Label, p.keys)
}

// memberlistConfig translates the Config for memberlist.
func (p *Peer) memberlistConfig() *memberlist.Config {
	conf := memberlist.DefaultLANConfig()
	conf.Name = p.name
	host, port, _ := splitHostPort(p.cfg.BindAddr) // checked by Validate
	if host == "" {
		host = "0.0.0.0"
	}
	conf.BindAddr, conf.BindPort = host, port
	conf.AdvertisePort = port
	if p.cfg.AdvertiseAddr != "" {
		conf.AdvertiseAddr, conf.AdvertisePort, _ = splitHostPort(p.cfg.AdvertiseAddr)
	}
	conf.Label = p.cfg.Label
	if len(p.keys) > 0 {
		conf.SecretKey = p.keys[0]
	}
	if len(p.keys) > 1 {
		// memberlist sends with SecretKey and accepts every key of the
		// ring; the sizes were checked by Validate.
		conf.Keyring, _ = memberlist.NewKeyring(p.keys[1:], p.keys[0])
	}
	conf.ProbeInterval = p.cfg.ProbeInterval
	conf.ProbeTimeout = p.cfg.ProbeTimeout
	conf.GossipInterval = p.cfg.GossipInterval
	conf.PushPullInterval = p.cfg.PushPullInterval
	conf.TCPTimeout = p.cfg.TCPTimeout
	conf.DeadNodeReclaimTime = deadNodeReclaimTime
	// Our messages are a few hundred bytes on a LAN: LZW costs more CPU
	// than the bytes it saves (it was most of an idle sidecar's profile).
	conf.EnableCompression = false
	conf.Delegate = delegate{p}
	conf.Events = delegate{p}
	conf.Logger = newMemberlistLogger(p.logger)
	return conf
}

// joinLoop joins the configured addresses until another member is alive,
// and keeps dialling known peers that are not alive, which heals partitions
// and brings back restarted peers.
func (p *Peer) joinLoop(ctx context.Context, ml *memberlist.Memberlist) {
	self := p.Addr()
	backoff := minJoinBackoff
	first := true
	wasAlone := true
	for {
		_, targets := p.joinTargets(self)
		if len(targets) > 0 {
			_, err := ml.Join(targets)
			p.logger.Debug("join attempt", "peer", targets, "err", err)
		}
		if first {
			close(p.joinAttempted)
			first = false
		}
		alone, _ := p.joinTargets(self)
		if wasAlone && !alone {
			p.logger.Info("joined group")
		}
		wasAlone = alone

		wait := p.cfg.RejoinInterval
		if alone && len(p.cfg.Join) > 0 {
			wait = backoff
			if limit := max(p.cfg.RejoinInterval, 2*time.Second); backoff < limit {
				backoff = min(2*backoff, limit)
			}
		} else {
			backoff = minJoinBackoff
		}
		if wait == 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// joinTargets reports whether this node sees no other alive member, and the
// addresses worth dialling: the Join list while alone, plus the last address
// of every known peer that is not alive.
func (p *Peer) joinTargets(self string) (alone bool, targets []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	alone = true
	for name, m := range p.members {
		if name != p.name && m.state == StateAlive {
			alone = false
			break
		}
	}
	seen := map[string]bool{self: true}
	add := func(addr string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			targets = append(targets, addr)
		}
	}
	if alone {
		for _, a := range p.cfg.Join {
			add(a)
		}
	}
	for name, addr := range p.known {
		if name == p.name {
			continue
		}
		if m := p.members[name]; m == nil || m.state != StateAlive {
			add(addr)
		}
	}
	return alone, targets
}

// persistLoop writes the known set whenever it changes.
func (p *Peer) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.persist:
			if err := p.saveKnown(); err != nil {
				p.logger.Error("save known peers", "err", err)
			}
		}
	}
}

// metaLoop re-announces this node whenever SetMeta changed its metadata.
// UpdateNode waits for the broadcast, so it runs here, not in SetMeta.
func (p *Peer) metaLoop(ctx context.Context, ml *memberlist.Memberlist) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.metaUpdate:
			if err := ml.UpdateNode(p.cfg.TCPTimeout); err != nil {
				p.logger.Debug("metadata update not confirmed", "err", err)
			}
		}
	}
}

// Ready is closed once memberlist is up, so Send and Broadcast work and
// Known includes the persisted set.
func (p *Peer) Ready() <-chan struct{} { return p.ready }

// Settle waits until Run is up, the first join attempt is done, and
// membership has not changed for a few gossip intervals, or SettleTimeout
// passed (which is not an error: the node then acts on what it knows). It
// returns ctx's error if ctx ends first.
func (p *Peer) Settle(ctx context.Context) error {
	if p.cfg.SettleTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.cfg.SettleTimeout, errSettleTimeout)
		defer cancel()
	}
	start := time.Now()
	done := func(err error) error {
		if errors.Is(context.Cause(ctx), errSettleTimeout) {
			p.logger.Info("gossip settle timed out", "duration", time.Since(start))
			return nil
		}
		return err
	}
	for _, ch := range []<-chan struct{}{p.ready, p.joinAttempted} {
		select {
		case <-ctx.Done():
			return done(ctx.Err())
		case <-ch:
		}
	}
	interval := 2 * p.cfg.GossipInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	last, stable := p.membershipVersion(), 0
	for stable < settleChecks {
		select {
		case <-ctx.Done():
			return done(ctx.Err())
		case <-t.C:
		}
		if v := p.membershipVersion(); v != last {
			last, stable = v, 0
			continue
		}
		stable++
	}
	p.logger.Info("gossip settled", "duration", time.Since(start))
	return nil
}

var errSettleTimeout = errors.New("gossip: settle timeout")

func (p *Peer) membershipVersion() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// Name returns this node's name.
func (p *Peer) Name() string { return p.name }

// Addr returns the gossip address peers use for this node (host:port); it is
// the configured address until Ready.
func (p *Peer) Addr() string {
	if p.ml.Load() != nil {
		if a := p.advertise.Load(); a != nil {
			return *a
		}
	}
	return p.cfg.configuredAddr()
}

// SetMeta sets this node's metadata and announces it at once. Metadata that
// does not fit in MaxMetaSize with the SetMetaKey entries is refused
// (logged, the old value stays).
func (p *Peer) SetMeta(b []byte) {
	if err := p.setMeta("", b); err != nil {
		p.logger.Error("node metadata not updated", "err", err)
	}
}

// SetMetaKey sets one keyed entry of this node's metadata, which peers read
// with Member.MetaKey, and announces it at once; a nil value deletes the
// entry. Components that each publish something use their own key. It
// refuses an empty key or one over 255 bytes, and entries that together do
// not fit in MaxMetaSize (the old value stays).
func (p *Peer) SetMetaKey(key string, value []byte) error {
	if key == "" || len(key) > 255 {
		return fmt.Errorf("gossip: metadata key %q must be 1 to 255 bytes", key)
	}
	return p.setMeta(key, value)
}

func (p *Peer) setMeta(key string, value []byte) error {
	p.mu.Lock()
	next := maps.Clone(p.meta)
	if next == nil {
		next = map[string][]byte{}
	}
	if value == nil {
		delete(next, key)
	} else {
		next[key] = bytes.Clone(value)
	}
	if n := len(encodeMeta(next)); n > MaxMetaSize {
		p.mu.Unlock()
		return fmt.Errorf("gossip: metadata key %q: %d bytes encoded exceed the %d-byte limit", key, n, MaxMetaSize)
	}
	p.meta = next
	p.mu.Unlock()
	select {
	case p.metaUpdate <- struct{}{}:
	default: // an update is already pending and will carry this value
	}
	return nil
}

// currentMeta returns the encoded metadata for memberlist.
func (p *Peer) currentMeta(limit int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := encodeMeta(p.meta)
	if len(b) > limit {
		return nil
	}
	return b
}

// Send delivers one message to node over TCP and returns once node's
// memberlist accepted it (or failed, or ctx ended). Sending to this node
// itself is refused with ErrSelf.
func (p *Peer) Send(ctx context.Context, node string, kind byte, payload []byte) error {
	if kind >= KindReserved {
		return fmt.Errorf("send kind %d: %w", kind, ErrReservedKind)
	}
	ml := p.ml.Load()
	if ml == nil {
		return ErrNotRunning
	}
	if node == p.name {
		return fmt.Errorf("send to %s: %w", node, ErrSelf)
	}
	n := p.aliveNode(node)
	if n == nil {
		p.metrics.sent.WithLabelValues("failure").Inc()
		return fmt.Errorf("send to %s: %w", node, ErrUnknownMember)
	}
	return p.sendReliable(ctx, ml, n, p.encode(kind, payload))
}

// sendReliable sends buf to n, giving up waiting when ctx ends. memberlist's
// SendReliable takes no context; the goroutine ends within TCPTimeout.
func (p *Peer) sendReliable(ctx context.Context, ml *memberlist.Memberlist, n *memberlist.Node, buf []byte) error {
	errc := make(chan error, 1)
	go func() { errc <- ml.SendReliable(n, buf) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.metrics.sent.WithLabelValues("failure").Inc()
		return fmt.Errorf("send to %s: %w", n.Name, err)
	}
	p.metrics.sent.WithLabelValues("success").Inc()
	return nil
}

// Broadcast sends one message to every other alive member over UDP,
// best-effort, and returns without waiting for anyone. Keep payloads well
// under UDP's practical size (about 1 KB); use BroadcastReliable for more.
// Before Ready, and for reserved kinds, it does nothing.
func (p *Peer) Broadcast(kind byte, payload []byte) {
	ml := p.ml.Load()
	if ml == nil || kind >= KindReserved {
		p.logger.Debug("broadcast dropped", "err", fmt.Errorf("kind %d, running %t", kind, ml != nil))
		return
	}
	p.broadcast(ml, kind, payload)
}

func (p *Peer) broadcast(ml *memberlist.Memberlist, kind byte, payload []byte) {
	buf := p.encode(kind, payload)
	for _, n := range p.aliveNodes() {
		if err := ml.SendToAddress(memberlist.Address{Addr: n.Address(), Name: n.Name}, buf); err != nil {
			p.metrics.sent.WithLabelValues("failure").Inc()
			p.logger.Debug("best-effort send failed", "peer", n.Name, "err", err)
			continue
		}
		p.metrics.sent.WithLabelValues("success").Inc()
	}
}

// BroadcastReliable sends one message to every other alive member over TCP,
// in parallel, and returns the joined errors of the sends that failed.
func (p *Peer) BroadcastReliable(ctx context.Context, kind byte, payload []byte) error {
	if kind >= KindReserved {
		return fmt.Errorf("broadcast kind %d: %w", kind, ErrReservedKind)
	}
	ml := p.ml.Load()
	if ml == nil {
		return ErrNotRunning
	}
	buf := p.encode(kind, payload)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, n := range p.aliveNodes() {
		wg.Go(func() {
			if err := p.sendReliable(ctx, ml, n, buf); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// encode wraps payload in this node's envelope with the next sequence.
func (p *Peer) encode(kind byte, payload []byte) []byte {
	e := envelope{
		Kind:        kind,
		From:        p.name,
		Incarnation: p.incarnation.Load(),
		Seq:         p.seq.Add(1),
		Payload:     payload,
	}
	return appendEnvelope(make([]byte, 0, envelopeHeader+len(p.name)+len(payload)), e)
}

// aliveNodes returns the other alive members as nodes of our own, built
// from the delegate's view. memberlist's Members() hands out pointers into
// its state, which it rewrites under its own lock while we would read them.
func (p *Peer) aliveNodes() []*memberlist.Node {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*memberlist.Node, 0, len(p.members))
	for name, m := range p.members {
		if name == p.name || m.state != StateAlive {
			continue
		}
		if n := nodeAt(name, m.addr); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// aliveNode returns the alive member called name, or nil.
func (p *Peer) aliveNode(name string) *memberlist.Node {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.members[name]
	if m == nil || m.state != StateAlive {
		return nil
	}
	return nodeAt(name, m.addr)
}

func nodeAt(name, addr string) *memberlist.Node {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil
	}
	return &memberlist.Node{Name: name, Addr: net.ParseIP(host), Port: uint16(port)}
}

// receive validates a raw user message and queues it. It runs on
// memberlist's receive paths: it must not block.
func (p *Peer) receive(b []byte) {
	e, err := decodeEnvelope(b)
	if err != nil {
		reason := dropMalformed
		if errors.Is(err, errVersion) {
			reason = dropVersion
		}
		p.drop(reason, "", err)
		return
	}
	p.mu.Lock()
	m := p.members[e.From]
	if e.From == p.name || m == nil || m.state != StateAlive {
		p.mu.Unlock()
		p.drop(dropUnknownSender, e.From, nil)
		return
	}
	w := p.replay[e.From]
	if w == nil {
		w = &replayWindow{}
		p.replay[e.From] = w
	}
	if !w.accept(e.Incarnation, e.Seq) {
		p.mu.Unlock()
		p.drop(dropReplay, e.From, nil)
		return
	}
	if e.Kind == kindLeave {
		m.state = StateLeft
		p.version++
		p.mu.Unlock()
		p.logger.Info("peer leaving", "peer", e.From)
		p.notifyChange()
		return
	}
	p.mu.Unlock()
	if e.Kind >= KindReserved {
		return // a reserved kind from a newer build; nothing to do with it
	}
	msg := Message{From: e.From, Kind: e.Kind, Payload: bytes.Clone(e.Payload), Received: time.Now()}
	select {
	case p.msgs <- msg:
	default:
		p.drop(dropQueueFull, e.From, nil)
	}
}

func (p *Peer) drop(reason, from string, err error) {
	p.metrics.dropped.WithLabelValues(reason).Inc()
	p.logger.Debug("message dropped", "reason", reason, "peer", from, "err", err)
}

// observe records a memberlist event about one member.
func (p *Peer) observe(name, addr string, meta []byte, state string) {
	p.mu.Lock()
	m := p.members[name]
	if m == nil {
		m = &memberState{}
		p.members[name] = m
	}
	old := m.state
	if state == StateDead && old == StateLeft {
		state = StateLeft // it told us it was leaving
	}
	m.addr, m.state, m.meta = addr, state, bytes.Clone(meta)
	newKnown := p.known[name] != addr
	if newKnown {
		p.known[name] = addr
	}
	p.version++
	p.mu.Unlock()

	if old != state && name != p.name {
		switch state {
		case StateAlive:
			p.logger.Info("peer joined", "peer", name)
		case StateDead:
			p.logger.Warn("peer failed", "peer", name)
		case StateLeft:
			p.logger.Info("peer left", "peer", name)
		}
	}
	if newKnown {
		select {
		case p.persist <- struct{}{}:
		default: // a write is already pending and will include this peer
		}
	}
	p.notifyChange()
}

func (p *Peer) notifyChange() {
	select {
	case p.changes <- struct{}{}:
	default:
	}
}

// Messages returns the channel of accepted direct messages. Messages that
// arrive while it is full are dropped and counted.
func (p *Peer) Messages() <-chan Message { return p.msgs }

// Recv returns the next accepted message, or ctx's error if ctx ends first.
// It reads the same queue as Messages; use one or the other.
func (p *Peer) Recv(ctx context.Context) (from string, kind byte, payload []byte, err error) {
	select {
	case m := <-p.msgs:
		return m.From, m.Kind, m.Payload, nil
	case <-ctx.Done():
		return "", 0, nil, ctx.Err()
	}
}

// Alive returns the names of the members that are alive, this node
// included, sorted. It reads the states as Members does, without decoding
// every member's metadata: the failover loop asks on every step.
func (p *Peer) Alive() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.known))
	for name := range p.known {
		if m := p.members[name]; (m != nil && m.state == StateAlive) || (m == nil && name == p.name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Changes returns a channel that receives (coalesced) whenever membership,
// a member's state or metadata, or the known set changes. Read Members after
// each receive.
func (p *Peer) Changes() <-chan struct{} { return p.changes }

// Members returns every known sidecar sorted by name: this node, members
// memberlist reports, and known peers it does not (as StateDead).
//
// memberlist does not expose its suspicion state, so a suspected member is
// reported as StateAlive until it is declared dead.
func (p *Peer) Members() []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Member, 0, len(p.known))
	for name, addr := range p.known {
		mem := Member{Name: name, Addr: addr, State: StateDead}
		if m := p.members[name]; m != nil {
			mem.Addr, mem.State = m.addr, m.state
			mem.Meta, mem.Metadata = splitMeta(m.meta)
		} else if name == p.name {
			mem.State = StateAlive
			mem.Meta, mem.Metadata = splitMeta(encodeMeta(p.meta))
		}
		out = append(out, mem)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *Peer) countState(state string) int {
	n := 0
	for _, m := range p.Members() {
		if m.State == state {
			n++
		}
	}
	return n
}

// Known returns the persisted known set, this node included, sorted. It
// includes the persisted peers once Ready is closed.
func (p *Peer) Known() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.known))
	for name := range p.known {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Forget removes a peer that is not alive from the known set and persists
// the change, so it no longer counts toward the majority. It refuses this
// node (ErrSelf), an alive peer (ErrAlive) and an unknown one (ErrNotKnown).
// If the peer comes back, it is known again.
func (p *Peer) Forget(name string) error {
	select {
	case <-p.ready:
	default:
		return ErrNotRunning
	}
	if name == p.name {
		return fmt.Errorf("forget %s: %w", name, ErrSelf)
	}
	p.mu.Lock()
	if _, ok := p.known[name]; !ok {
		p.mu.Unlock()
		return fmt.Errorf("forget %s: %w", name, ErrNotKnown)
	}
	if m := p.members[name]; m != nil && m.state == StateAlive {
		p.mu.Unlock()
		return fmt.Errorf("forget %s: %w", name, ErrAlive)
	}
	delete(p.known, name)
	delete(p.members, name)
	delete(p.replay, name)
	p.version++
	p.mu.Unlock()
	p.notifyChange()
	if err := p.saveKnown(); err != nil {
		return fmt.Errorf("forget %s: %w", name, err)
	}
	p.logger.Info("peer forgotten", "peer", name)
	return nil
}

// AliveCount returns how many members of the known set are alive, this
// node included.
func (p *Peer) AliveCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aliveLocked()
}

func (p *Peer) aliveLocked() int {
	n := 0
	for name := range p.known {
		if name == p.name {
			n++
			continue
		}
		if m := p.members[name]; m != nil && m.state == StateAlive {
			n++
		}
	}
	return n
}

// MajorityReachable reports whether more than half of the known set,
// this node included, is alive. Dead and absent known peers count in the
// denominator, so an isolated minority never believes it is the majority.
func (p *Peer) MajorityReachable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aliveLocked() > len(p.known)/2
}

// healthScore returns memberlist's awareness score, 0 before Run.
func (p *Peer) healthScore() int {
	if ml := p.ml.Load(); ml != nil {
		return ml.GetHealthScore()
	}
	return 0
}
