package gossip

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures the gossip peer. The zero value is not useful; start from
// DefaultConfig.
type Config struct {
	// BindAddr is the host:port the peer listens on for gossip, both TCP
	// (push/pull, reliable messages) and UDP (probes, gossip, best-effort
	// messages). Port 0 picks a free port (tests). Default "0.0.0.0:7946".
	BindAddr string `koanf:"bind_addr"`

	// AdvertiseAddr is the host:port other sidecars use to reach this one.
	// Empty means: the bind address, or a private IP of this host when bound
	// to 0.0.0.0. Set it behind NAT or in containers with several interfaces.
	AdvertiseAddr string `koanf:"advertise_addr"`

	// Join lists host:port addresses of other sidecars to join at start. It
	// may include this node's own address, so every sidecar can share one
	// list. Joining is retried in the background until one of them answers,
	// so peers may start in any order. Empty starts a group of one that
	// others join.
	Join []string `koanf:"join"`

	// EncryptionKey is a base64-encoded AES key of 16, 24 or 32 bytes that
	// encrypts and authenticates all gossip. Every sidecar of a group must
	// use the same key; a sidecar with another key cannot join. Required:
	// empty is refused unless Insecure is set.
	EncryptionKey string `koanf:"encryption_key"`

	// AcceptedKeys are further base64 AES keys (16, 24 or 32 bytes) this
	// node accepts from peers, for gossip and for the Raft streams, but
	// never sends with. They rotate EncryptionKey without a gap: add the new
	// key here on every sidecar; then, sidecar by sidecar, make it
	// EncryptionKey and move the old one here; then remove the old one.
	// Requires EncryptionKey.
	AcceptedKeys []string `koanf:"accepted_keys"`
	// Insecure allows running with an empty EncryptionKey: anyone who can
	// reach the gossip port can then join the group and read its traffic.
	// `vigil run` refuses an empty key unless this is true, and then warns
	// at start and sets vigil_gossip_insecure to 1. Default false.
	Insecure bool `koanf:"insecure"`

	// Label is stamped on every gossip packet and stream; traffic with
	// another label is dropped, so sidecars of different Redis groups that
	// share a network cannot merge by mistake. Empty means no label (the
	// default config sets it to the failover master name). At most 255 bytes.
	Label string `koanf:"label"`

	// ProbeInterval is how often this node probes one random peer for
	// liveness. Together with ProbeTimeout and the suspicion multiplier it
	// sets how fast a dead peer is noticed (about 4-5 probe intervals).
	// Lower costs more packets. Must be positive.
	ProbeInterval time.Duration `koanf:"probe_interval"`

	// ProbeTimeout is how long to wait for a probe's ack before asking other
	// peers to probe indirectly. Should exceed the network round trip time
	// at the 99th percentile. Must be positive and below ProbeInterval.
	ProbeTimeout time.Duration `koanf:"probe_timeout"`

	// GossipInterval is how often membership updates (joins, deaths,
	// metadata) are gossiped to a few random peers. Direct messages (Send,
	// Broadcast) do not wait for it. Must be positive.
	GossipInterval time.Duration `koanf:"gossip_interval"`

	// PushPullInterval is how often a full state exchange with one random
	// peer repairs anything gossip missed. Zero disables periodic push/pull
	// (not recommended).
	PushPullInterval time.Duration `koanf:"push_pull_interval"`

	// TCPTimeout bounds connecting to a peer and each reliable exchange with
	// it (push/pull, Send). Must be positive.
	TCPTimeout time.Duration `koanf:"tcp_timeout"`

	// RejoinInterval is how often this node retries joining known peers
	// that are not alive (and the Join list while it is alone), which heals
	// the group after a partition or a restart. Zero disables retries after
	// the first successful join.
	RejoinInterval time.Duration `koanf:"rejoin_interval"`

	// SettleTimeout caps how long Settle waits for membership to stop
	// changing before the node starts acting. Zero means Settle waits only
	// for its context.
	SettleTimeout time.Duration `koanf:"settle_timeout"`
}

// DefaultConfig returns memberlist's LAN timings: a dead peer is noticed in
// a few seconds.
//
// Failure detection for failover does not rest on memberlist's probes:
// sidecars judge the primary by probing Redis and hear each other through
// direct reports every monitor.interval. So memberlist keeps its own LAN
// timings, which cost an idle sidecar a third of the packets that faster
// probing would.
func DefaultConfig() Config {
	return Config{
		BindAddr:         "0.0.0.0:7946",
		ProbeInterval:    time.Second,
		ProbeTimeout:     500 * time.Millisecond,
		GossipInterval:   200 * time.Millisecond,
		PushPullInterval: 10 * time.Second,
		TCPTimeout:       2 * time.Second,
		RejoinInterval:   2 * time.Second,
		SettleTimeout:    5 * time.Second,
	}
}

// Validate reports every problem in c, each naming the full key and the bad
// value.
func (c Config) Validate() error {
	var errs []error
	if host, _, err := splitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("gossip.bind_addr (%q) must be host:port: %w", c.BindAddr, err))
	} else if host != "" && net.ParseIP(host) == nil {
		errs = append(errs, fmt.Errorf("gossip.bind_addr (%q) must use an IP address, not a name", c.BindAddr))
	}
	if c.AdvertiseAddr != "" {
		host, _, err := splitHostPort(c.AdvertiseAddr)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("gossip.advertise_addr (%q) must be host:port: %w", c.AdvertiseAddr, err))
		case net.ParseIP(host) == nil:
			errs = append(errs, fmt.Errorf("gossip.advertise_addr (%q) must use an IP address, not a name", c.AdvertiseAddr))
		}
	}
	for i, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("gossip.join[%d] (%q) must be host:port: %w", i, j, err))
		}
	}
	if _, err := decodeKey(c.EncryptionKey); err != nil {
		// The key itself is a secret: never echo it.
		errs = append(errs, fmt.Errorf("gossip.encryption_key: %w", err))
	}
	for i, k := range c.AcceptedKeys {
		if k == "" {
			errs = append(errs, fmt.Errorf("gossip.accepted_keys[%d] is empty", i))
		} else if _, err := decodeKey(k); err != nil {
			errs = append(errs, fmt.Errorf("gossip.accepted_keys[%d]: %w", i, err))
		}
	}
	if len(c.AcceptedKeys) > 0 && c.EncryptionKey == "" {
		errs = append(errs, errors.New("gossip.accepted_keys needs gossip.encryption_key: a node without a key cannot accept encrypted peers"))
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		errs = append(errs, fmt.Errorf("gossip.label (%d bytes) must be at most %d bytes", len(c.Label), memberlist.LabelMaxSize))
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"gossip.probe_interval", c.ProbeInterval},
		{"gossip.probe_timeout", c.ProbeTimeout},
		{"gossip.gossip_interval", c.GossipInterval},
		{"gossip.tcp_timeout", c.TCPTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s (%s) must be positive", p.key, p.d))
		}
	}
	if c.ProbeTimeout > 0 && c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		errs = append(errs, fmt.Errorf("gossip.probe_timeout (%s) must be shorter than gossip.probe_interval (%s)", c.ProbeTimeout, c.ProbeInterval))
	}
	nonNegative := []struct {
		key string
		d   time.Duration
	}{
		{"gossip.push_pull_interval", c.PushPullInterval},
		{"gossip.rejoin_interval", c.RejoinInterval},
		{"gossip.settle_timeout", c.SettleTimeout},
	}
	for _, n := range nonNegative {
		if n.d < 0 {
			errs = append(errs, fmt.Errorf("%s (%s) must not be negative", n.key, n.d))
		}
	}
	return errors.Join(errs...)
}

// decodeKey returns the AES key encoded in s, or nil when s is empty.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("must be base64: %w", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	default:
		return nil, fmt.Errorf("decodes to %d bytes, must be 16, 24 or 32", len(key))
	}
}

// keyring returns the keys of c, EncryptionKey first; nil without one. It
// assumes c is valid.
func (c Config) keyring() [][]byte {
	primary, _ := decodeKey(c.EncryptionKey)
	if primary == nil {
		return nil
	}
	keys := [][]byte{primary}
	for _, s := range c.AcceptedKeys {
		if k, _ := decodeKey(s); k != nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// splitHostPort splits a host:port with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0-65535", portStr)
	}
	return host, port, nil
}
