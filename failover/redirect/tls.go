package redirect

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// connOptions are the per-connection protections of an endpoint.
type connOptions struct {
	idle, handshake time.Duration
	tlsCfg          tlsconfig.ServerConfig // served TLS; CertFile "" means plain
	tlsSrv          *tlsconfig.Server      // loaded tlsCfg, reloadable; nil loads at Listen
}

// tlsConfig loads the served TLS configuration, nil for plain TCP.
func (o *connOptions) tlsConfig(what string) (*tls.Config, error) {
	if !o.tlsCfg.Enabled() {
		return nil, nil
	}
	if o.tlsSrv == nil {
		srv, err := tlsconfig.NewServer(what+".tls", o.tlsCfg)
		if err != nil {
			return nil, err
		}
		o.tlsSrv = srv
	}
	return o.tlsSrv.Config(), nil
}

// wrap applies the idle and handshake timeouts to an accepted connection
// and, with tc, serves TLS over it.
func (o connOptions) wrap(c net.Conn, tc *tls.Config) net.Conn {
	if o.idle > 0 || o.handshake > 0 {
		c = newIdleConn(c, o.idle, o.handshake, nil)
	}
	if tc != nil {
		c = &handshakeConn{Conn: tls.Server(c, tc), timeout: o.handshake}
	}
	return c
}

// handshakeConn completes the TLS handshake on first use within timeout,
// so a client that starts a handshake and stalls is dropped then, not
// after the idle timeout.
type handshakeConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		ctx := context.Background()
		if c.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
		c.err = c.Conn.HandshakeContext(ctx)
	})
	return c.err
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// NetConn returns the TLS connection, for exemptIdle.
func (c *handshakeConn) NetConn() net.Conn { return c.Conn }

// SetTLS gives the endpoint its served certificate, loaded by the caller
// so that the caller can Reload it (SIGHUP). Without it, Listen loads
// sentinel.tls itself. Call it before Listen or Run.
func (s *Sentinel) SetTLS(srv *tlsconfig.Server) { s.listener.conn.tlsSrv = srv }

// SetRedisTLS makes the proxy reach the primary over TLS with c
// (redis.tls); nil dials plain TCP. Call it before Run.
func (p *Proxy) SetRedisTLS(c *tlsconfig.Client) { p.redisTLS = c }
