package monitor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

func TestCheckVersion(t *testing.T) {
	const addr = "127.0.0.1:6379"
	for _, tt := range []struct {
		version string
		tooOld  bool
		wantErr string // substring; empty for no error
	}{
		{"5.0.7", true, "monitor: redis 5.0.7 at 127.0.0.1:6379 is too old: vigil needs 6.2 or newer (CLIENT PAUSE WRITE)"},
		{"6.0.16", true, "monitor: redis 6.0.16 at 127.0.0.1:6379 is too old: vigil needs 6.2 or newer (CLIENT PAUSE WRITE)"},
		{"6.1.99", true, "redis 6.1.99 at 127.0.0.1:6379 is too old"},
		{"6.2.0", false, ""},
		{"6.2.14", false, ""},
		{"7.0.15", false, ""},
		{"7.2.4", false, ""},
		{"8.0.0", false, ""},
		{"10.0.1", false, ""},
		{"", false, `redis version "" is not major.minor.patch`},
		{"7", false, `redis version "7" is not major.minor.patch`},
		{"7.2", false, `redis version "7.2" is not major.minor.patch`},
		{"7.2.4.1", false, `is not major.minor.patch`},
		{"7.x.4", false, `is not major.minor.patch`},
		{"7.2.-4", false, `is not major.minor.patch`},
		{"7.+2.4", false, `is not major.minor.patch`},
		{"7..4", false, `is not major.minor.patch`},
		{"v7.2.4", false, `is not major.minor.patch`},
	} {
		t.Run(tt.version, func(t *testing.T) {
			err := checkVersion(addr, "# Server\r\nredis_version:"+tt.version+"\r\nredis_mode:standalone\r\n")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			var old *TooOldError
			if got := errors.As(err, &old); got != tt.tooOld {
				t.Errorf("errors.As(TooOldError) = %t, want %t", got, tt.tooOld)
			}
		})
	}
	if err := checkVersion(addr, "# Server\r\nredis_mode:standalone\r\n"); err == nil || !strings.Contains(err.Error(), "no redis_version") {
		t.Errorf("without redis_version: err = %v, want one naming the missing field", err)
	}
}

func TestCheckVersionAgainstRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := NewClient(srv.Addr(), RedisConfig{}, 5*time.Second)
	defer c.Close()
	if err := CheckVersion(ctx, c); err != nil {
		t.Fatalf("CheckVersion against the installed redis-server: %v", err)
	}
	// The probe carries the same version.
	p, _ := newTestProber(t, srv.Addr(), RedisConfig{}, testConfig())
	o := probeUntil(t, p, 10*time.Second, reachable)
	v, err := ParseVersion(o.Version)
	if err != nil {
		t.Fatalf("observation version: %v", err)
	}
	if want := srv.Info(t, "server")["redis_version"]; v.String() != want {
		t.Errorf("observation version %s, INFO server says %s", v, want)
	}

	srv.Kill(t)
	err = CheckVersion(ctx, c)
	if err == nil {
		t.Fatal("CheckVersion of a killed redis succeeded")
	}
	if !strings.Contains(err.Error(), srv.Addr()) || !strings.Contains(err.Error(), "check redis version") {
		t.Errorf("err = %v, want one naming the address and the check", err)
	}
	var old *TooOldError
	if errors.As(err, &old) {
		t.Errorf("unreachable redis reported as too old: %v", err)
	}
}
