package retryq

import (
	"context"
	"net"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// SetTLS makes every primary reported from now on be reached over TLS with
// c (nil: plain TCP). Call it before the queue runs.
func (s *PrimaryAddr) SetTLS(c *tlsconfig.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tls = c
	if s.ok {
		s.p.TLS = c
	}
}

// primaryDialer dials p, completing the TLS handshake within timeout when
// p.TLS is set.
func primaryDialer(p Primary, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return p.TLS.DialContext(ctx, &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute}, network, addr)
	}
}
