package monitor

import (
	"context"
	"net"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// Dial connects to the Redis at addr the way every vigil connection to
// Redis must: plain TCP, or TLS with the handshake completed when
// redis.tls is enabled. Clients other than NewClient's (the retry queue's
// replay, the proxy's upstream) dial through it too.
func (c RedisConfig) Dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	tc := c.TLSClient
	if tc == nil && c.TLS.Enabled {
		var err error
		if tc, err = tlsconfig.NewClient("redis.tls", c.TLS); err != nil {
			return nil, err
		}
	}
	return tc.DialContext(ctx, d, network, addr)
}
