package gossip

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if got, want := DefaultConfig().BindAddr, "0.0.0.0:7946"; got != want {
		t.Errorf("BindAddr = %q, want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	key := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{"16-byte key", func(c *Config) { c.EncryptionKey = key(16) }, nil},
		{"24-byte key", func(c *Config) { c.EncryptionKey = key(24) }, nil},
		{"32-byte key", func(c *Config) { c.EncryptionKey = key(32) }, nil},
		{"advertise and join", func(c *Config) {
			c.AdvertiseAddr = "10.0.0.1:7946"
			c.Join = []string{"b:7946", "10.0.0.3:7946"}
		}, nil},
		{"empty bind host", func(c *Config) { c.BindAddr = ":7946" }, nil},
		{"bind without port", func(c *Config) { c.BindAddr = "0.0.0.0" }, []string{"gossip.bind_addr (\"0.0.0.0\")"}},
		{"bind bad port", func(c *Config) { c.BindAddr = "0.0.0.0:http" }, []string{"gossip.bind_addr"}},
		{"bind host name", func(c *Config) { c.BindAddr = "localhost:7946" }, []string{"gossip.bind_addr (\"localhost:7946\") must use an IP"}},
		{"advertise name", func(c *Config) { c.AdvertiseAddr = "host:7946" }, []string{"gossip.advertise_addr (\"host:7946\")"}},
		{"join entry", func(c *Config) { c.Join = []string{"ok:1", "bad"} }, []string{"gossip.join[1] (\"bad\")"}},
		{"key not base64", func(c *Config) { c.EncryptionKey = "%%%" }, []string{"gossip.encryption_key: must be base64"}},
		{"key wrong size", func(c *Config) { c.EncryptionKey = key(10) }, []string{"gossip.encryption_key: decodes to 10 bytes"}},
		{"accepted keys", func(c *Config) { c.EncryptionKey, c.AcceptedKeys = key(32), []string{key(16), key(24)} }, nil},
		{"accepted key bad", func(c *Config) { c.EncryptionKey, c.AcceptedKeys = key(32), []string{key(16), "", key(7)} },
			[]string{"gossip.accepted_keys[1] is empty", "gossip.accepted_keys[2]: decodes to 7 bytes"}},
		{"accepted keys without a key", func(c *Config) { c.AcceptedKeys = []string{key(16)} }, []string{"gossip.accepted_keys needs gossip.encryption_key"}},
		{"label too long", func(c *Config) { c.Label = strings.Repeat("x", 256) }, []string{"gossip.label (256 bytes)"}},
		{"zero intervals", func(c *Config) {
			c.ProbeInterval, c.ProbeTimeout, c.GossipInterval, c.TCPTimeout = 0, 0, 0, 0
		}, []string{"gossip.probe_interval (0s)", "gossip.probe_timeout (0s)", "gossip.gossip_interval (0s)", "gossip.tcp_timeout (0s)"}},
		{"probe timeout not below interval", func(c *Config) { c.ProbeTimeout = c.ProbeInterval }, []string{"gossip.probe_timeout (1s) must be shorter than gossip.probe_interval (1s)"}},
		{"negative durations", func(c *Config) {
			c.PushPullInterval, c.RejoinInterval, c.SettleTimeout = -1, -time.Second, -time.Millisecond
		}, []string{"gossip.push_pull_interval (-1ns)", "gossip.rejoin_interval (-1s)", "gossip.settle_timeout (-1ms)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRejectsBadNodeName(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("n", maxNameLen+1)} {
		if _, err := New(DefaultConfig(), name, "", nil, nil); err == nil || !strings.Contains(err.Error(), "node.name") {
			t.Errorf("New(name of %d bytes) = %v, want a node.name error", len(name), err)
		}
	}
}
