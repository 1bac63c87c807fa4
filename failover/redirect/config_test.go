package redirect

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsValid(t *testing.T) {
	if err := DefaultSentinelConfig().Validate(); err != nil {
		t.Errorf("sentinel defaults: %v", err)
	}
	if err := DefaultProxyConfig().Validate(); err != nil {
		t.Errorf("proxy defaults: %v", err)
	}
	if err := DefaultHooksConfig().Validate(); err != nil {
		t.Errorf("hooks defaults: %v", err)
	}
	if got := DefaultSentinelConfig().ListenAddr; got != ":26379" {
		t.Errorf("sentinel.listen_addr default = %q, want :26379", got)
	}
	if got := DefaultProxyConfig().ListenAddr; got != "" {
		t.Errorf("proxy.listen_addr default = %q, want disabled", got)
	}
}

func TestConfigValidate(t *testing.T) {
	s := DefaultSentinelConfig()
	s.ListenAddr, s.AnnounceAddr, s.MaxClients, s.SubscriberQueue, s.Password = "nope", ":0", -1, 0, "hunter2"
	p := DefaultProxyConfig()
	p.ListenAddr, p.DialTimeout, p.CheckInterval = "1.2.3.4:99999", 0, -time.Second
	h := DefaultHooksConfig()
	h.WebhookURL, h.WebhookAttempts, h.Timeout = "ftp://x/?token=secret", 0, 0

	tests := []struct {
		name    string
		err     error
		want    []string
		notWant []string
	}{
		{"sentinel", s.Validate(), []string{`sentinel.listen_addr ("nope")`, `sentinel.announce_addr (":0")`,
			"sentinel.max_clients (-1)", "sentinel.subscriber_queue (0)"}, []string{"hunter2"}},
		{"proxy", p.Validate(), []string{`proxy.listen_addr ("1.2.3.4:99999")`, "proxy.dial_timeout (0s)",
			"proxy.check_interval (-1s)"}, nil},
		{"hooks", h.Validate(), []string{`hooks.webhook_url scheme ("ftp")`, "hooks.webhook_attempts (0)",
			"hooks.timeout (0s)"}, []string{"secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			got := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("error reveals %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestSentinelAnnounce(t *testing.T) {
	tests := []struct {
		listen, announce, host string
		want                   string
	}{
		{":26379", "", "10.0.0.5", "10.0.0.5:26379"},
		{"0.0.0.0:26379", "", "10.0.0.5", "10.0.0.5:26379"},
		{"[::]:26379", "", "10.0.0.5", "10.0.0.5:26379"},
		{"127.0.0.1:26379", "", "10.0.0.5", "127.0.0.1:26379"},
		{":26379", "1.2.3.4:5", "10.0.0.5", "1.2.3.4:5"},
		{"", "", "10.0.0.5", ""},
	}
	for _, tt := range tests {
		c := SentinelConfig{ListenAddr: tt.listen, AnnounceAddr: tt.announce}
		if got := c.Announce(tt.host); got != tt.want {
			t.Errorf("Announce(%q) with listen %q announce %q = %q, want %q", tt.host, tt.listen, tt.announce, got, tt.want)
		}
	}
}
