package monitor

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The oldest Redis vigil works with: 6.2 added CLIENT PAUSE WRITE, which the
// fence and switchover rely on. On 6.0 the pause fails and an isolated
// primary keeps accepting writes.
const (
	MinVersionMajor = 6
	MinVersionMinor = 2
)

// Version is a Redis release, as INFO server's redis_version reports it.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

// ParseVersion reads a redis_version value: three dot-separated decimal
// numbers, such as "7.2.4".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("monitor: redis version %q is not major.minor.patch", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || p[0] == '+' || p[0] == '-' {
			return Version{}, fmt.Errorf("monitor: redis version %q is not major.minor.patch", s)
		}
		n[i] = v
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2]}, nil
}

// TooOldError is CheckVersion's error for a Redis older than
// MinVersionMajor.MinVersionMinor.
type TooOldError struct {
	Addr    string // the Redis checked
	Version string // its redis_version
}

func (e *TooOldError) Error() string {
	return fmt.Sprintf("monitor: redis %s at %s is too old: vigil needs %d.%d or newer (CLIENT PAUSE WRITE)",
		e.Version, e.Addr, MinVersionMajor, MinVersionMinor)
}

// checkVersion decides on the text of INFO server from the Redis at addr.
func checkVersion(addr, infoServer string) error {
	raw, ok := parseInfo(infoServer, nil)["redis_version"]
	if !ok {
		return fmt.Errorf("monitor: redis at %s reports no redis_version in INFO server", addr)
	}
	v, err := ParseVersion(raw)
	if err != nil {
		return fmt.Errorf("monitor: check redis at %s: %w", addr, err)
	}
	if !v.AtLeast(MinVersionMajor, MinVersionMinor) {
		return &TooOldError{Addr: addr, Version: raw}
	}
	return nil
}

// CheckVersion asks the Redis behind c for its version and returns an error
// if vigil cannot work with it (older than 6.2, or unreadable), or if Redis
// does not answer. ctx bounds the request. `vigil run` calls it before
// starting, so an unsupported Redis is refused with a clear message instead
// of a fence that silently fails.
func CheckVersion(ctx context.Context, c *redis.Client) error {
	addr := c.Options().Addr
	txt, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("monitor: check redis version at %s: %w", addr, err)
	}
	return checkVersion(addr, txt)
}
