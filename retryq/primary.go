package retryq

import (
	"sync"

	"github.com/vigil-redis/vigil/config/tlsconfig"
)

// Primary says where and how to reach the writable primary.
type Primary struct {
	// Addr is "host:port".
	Addr string
	// Username and Password authenticate (AUTH); both may be empty.
	Username string
	Password string
	// TLS, when not nil, is the TLS client configuration for the primary
	// (redis.tls); nil dials plain TCP.
	TLS *tlsconfig.Client
	// Replicated: the primary belongs to a group with other members, so a
	// write only it holds is lost at the next failover. A replayed item is
	// then deleted only once a replica acknowledged it, whatever the
	// primary's min-replicas-to-write; false: a primary with no replica
	// listed and min-replicas-to-write 0 is meant to run alone and
	// confirms by itself.
	Replicated bool
}

// PrimarySource tells the queue which primary, if any, is writable now.
// The failover topology implements it; PrimaryAddr is a simple stand-in.
type PrimarySource interface {
	// WritablePrimary returns the current writable primary, or ok false when
	// there is none. The queue replays only while ok is true, and pauses
	// (spending no attempts) when the returned primary fails as a whole.
	WritablePrimary() (p Primary, ok bool)
	// Changed returns a channel that is closed at the next change of the
	// answer of WritablePrimary. Call it before WritablePrimary to not miss
	// a change in between.
	Changed() <-chan struct{}
}

// PrimaryAddr is a PrimarySource set by hand: tests, early wiring, and a
// sidecar told the primary's address by configuration.
type PrimaryAddr struct {
	mu       sync.Mutex
	p        Primary
	ok       bool
	changed  chan struct{}
	repl     bool
	username string
	password string
	tls      *tlsconfig.Client
}

// NewPrimaryAddr returns a source that reports addr (none if empty) with
// the given credentials.
func NewPrimaryAddr(addr, username, password string) *PrimaryAddr {
	s := &PrimaryAddr{changed: make(chan struct{}), username: username, password: password}
	if addr != "" {
		s.p, s.ok = Primary{Addr: addr, Username: username, Password: password}, true
	}
	return s
}

// Set makes addr the writable primary.
func (s *PrimaryAddr) Set(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.ok = Primary{Addr: addr, Username: s.username, Password: s.password, TLS: s.tls, Replicated: s.repl}, true
	close(s.changed)
	s.changed = make(chan struct{})
}

// SetReplicated says whether the primary belongs to a group with other
// members (Primary.Replicated), for this answer and the next ones.
func (s *PrimaryAddr) SetReplicated(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repl == on {
		return
	}
	s.repl = on
	if s.ok {
		s.p.Replicated = on
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// Clear says no primary is writable.
func (s *PrimaryAddr) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.ok = Primary{}, false
	close(s.changed)
	s.changed = make(chan struct{})
}

// WritablePrimary implements PrimarySource.
func (s *PrimaryAddr) WritablePrimary() (Primary, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.ok
}

// Changed implements PrimarySource.
func (s *PrimaryAddr) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
