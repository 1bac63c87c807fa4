package redirect

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tidwall/match"
	"github.com/tidwall/redcon"
)

// subscriberWriteTimeout bounds one write to a subscribed client. go-redis
// expects its PING answered within 5 s; a client whose socket stays full
// longer than this is not reading and is disconnected.
const subscriberWriteTimeout = 5 * time.Second

// subscriber is a connection in subscribed mode. redcon's own PubSub writes
// to every subscriber while holding one lock, so one client that stops
// reading would stall every publisher; here each subscriber has a bounded
// queue drained by its own writer, and a full queue drops the subscriber.
//
// Once detached, the connection stays with the subscriber for its lifetime
// (also after it unsubscribes from everything): a reader goroutine executes
// its commands and queues the replies, a writer goroutine owns the socket's
// writes.
type subscriber struct {
	s  *Sentinel
	st *connState

	q    chan []byte   // nil entry: close after writing what came before
	done chan struct{} // closed by close; q is never closed, so senders cannot panic

	dc        redcon.DetachedConn
	started   bool // set by start, in the connection's handler goroutine
	closeOnce sync.Once

	mu       sync.Mutex // guards channels and patterns: publishers read them
	channels map[string]struct{}
	patterns map[string]struct{}
}

func newSubscriber(s *Sentinel, st *connState) *subscriber {
	return &subscriber{
		s:        s,
		st:       st,
		q:        make(chan []byte, s.cfg.SubscriberQueue),
		done:     make(chan struct{}),
		channels: make(map[string]struct{}),
		patterns: make(map[string]struct{}),
	}
}

// add subscribes to name (a pattern when pattern is true) and returns the
// number of subscriptions afterwards.
func (sub *subscriber) add(name string, pattern bool) int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if pattern {
		sub.patterns[name] = struct{}{}
	} else {
		sub.channels[name] = struct{}{}
	}
	return len(sub.channels) + len(sub.patterns)
}

// remove unsubscribes from name and returns the number of subscriptions
// afterwards.
func (sub *subscriber) remove(name string, pattern bool) int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if pattern {
		delete(sub.patterns, name)
	} else {
		delete(sub.channels, name)
	}
	return len(sub.channels) + len(sub.patterns)
}

// names lists the current channels or patterns.
func (sub *subscriber) names(pattern bool) []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	set := sub.channels
	if pattern {
		set = sub.patterns
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	return out
}

// count is the number of subscriptions; zero means normal mode.
func (sub *subscriber) count() int {
	if sub == nil {
		return 0
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.channels) + len(sub.patterns)
}

// matches reports whether channel is subscribed to and which patterns match it.
func (sub *subscriber) matches(channel string) (exact bool, patterns []string) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	_, exact = sub.channels[channel]
	for p := range sub.patterns {
		if match.Match(channel, p) {
			patterns = append(patterns, p)
		}
	}
	return exact, patterns
}

// enqueue queues b for the writer without blocking. It reports false when
// the queue is full. Messages for a closed subscriber are discarded.
func (sub *subscriber) enqueue(b []byte) bool {
	select {
	case sub.q <- b:
		return true
	case <-sub.done:
		return true
	default:
		return false
	}
}

// start takes over the detached connection and registers the subscriber
// with the endpoint's publisher.
func (sub *subscriber) start(dc redcon.DetachedConn) {
	sub.dc = dc
	sub.started = true
	s := sub.s
	s.metrics.subscribers.Inc()

	s.subsMu.Lock()
	if s.closing {
		s.subsMu.Unlock()
		sub.close()
		return
	}
	s.subs[sub] = struct{}{}
	s.wg.Add(2)
	s.subsMu.Unlock()

	go sub.writeLoop()
	go sub.readLoop()
}

// close disconnects the subscriber; safe from any goroutine, any number of
// times. It closes the socket itself rather than the redcon connection,
// whose Close would flush the writer's buffer from this goroutine.
func (sub *subscriber) close() {
	sub.closeOnce.Do(func() {
		close(sub.done)
		_ = sub.dc.NetConn().Close()
		s := sub.s
		s.subsMu.Lock()
		delete(s.subs, sub)
		s.subsMu.Unlock()
		s.metrics.subscribers.Dec()
		s.metrics.connections.Dec()
		s.nconns.Add(-1)
		s.forget(sub.st)
	})
}

// drop disconnects a subscriber that does not keep up.
func (sub *subscriber) drop() {
	select {
	case <-sub.done:
		return
	default:
	}
	sub.s.metrics.dropped.Inc()
	sub.s.logger.Warn("subscriber dropped: not reading", "peer", sub.dc.RemoteAddr())
	sub.close()
}

// writeLoop writes queued messages in batches until the subscriber closes.
func (sub *subscriber) writeLoop() {
	defer sub.s.wg.Done()
	defer sub.close()
	conn := sub.dc.NetConn()
	// Replies written before the connection was detached (the SUBSCRIBE
	// confirmation and any pipelined replies before it) go first.
	_ = conn.SetWriteDeadline(time.Now().Add(subscriberWriteTimeout))
	if err := sub.dc.Flush(); err != nil {
		return
	}
	for {
		var b []byte
		select {
		case <-sub.done:
			return
		case b = <-sub.q:
		}
		last := b == nil
		sub.dc.WriteRaw(b)
		// Batch whatever else is already queued into one write.
	batch:
		for !last {
			select {
			case b = <-sub.q:
				last = b == nil
				sub.dc.WriteRaw(b)
			default:
				break batch
			}
		}
		_ = conn.SetWriteDeadline(time.Now().Add(subscriberWriteTimeout))
		if err := sub.dc.Flush(); err != nil || last {
			return
		}
	}
}

// readLoop executes the client's commands and queues their replies.
func (sub *subscriber) readLoop() {
	defer sub.s.wg.Done()
	for {
		cmd, err := sub.dc.ReadCommand()
		if err != nil {
			// A protocol error gets an answer, as in normal mode; the
			// writer sends it, then closes.
			if !isNetErr(err) && sub.enqueue(redcon.AppendError(nil, "ERR "+err.Error())) && sub.enqueue(nil) {
				return
			}
			sub.close()
			return
		}
		reply, act := sub.s.exec(sub.st, cmd.Args, nil)
		if len(reply) > 0 && !sub.enqueue(reply) {
			sub.drop()
			return
		}
		if act == actClose {
			if !sub.enqueue(nil) {
				sub.close()
			}
			return
		}
	}
}

// isNetErr reports whether err came from the socket rather than from
// parsing the client's bytes.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Publish sends msg on channel to every subscriber of the channel or of a
// matching pattern, without blocking: a subscriber whose queue is full is
// disconnected. It returns the number of messages queued.
func (s *Sentinel) Publish(channel, msg string) int {
	var (
		n     int
		slow  []*subscriber
		plain [2][]byte // the "message" frame per RESP version, shared by every exact subscriber
	)
	s.subsMu.RLock()
	for sub := range s.subs {
		exact, patterns := sub.matches(channel)
		proto := int(sub.st.proto.Load())
		if exact {
			i := min(max(proto-2, 0), 1)
			if plain[i] == nil {
				plain[i] = appendMessage(nil, proto, channel, msg)
			}
			if !sub.enqueue(plain[i]) {
				slow = append(slow, sub)
				continue
			}
			n++
		}
		for _, p := range patterns {
			if !sub.enqueue(appendPMessage(nil, proto, p, channel, msg)) {
				slow = append(slow, sub)
				break
			}
			n++
		}
	}
	s.subsMu.RUnlock()
	for _, sub := range slow {
		sub.drop()
	}
	return n
}

// closeSubscribers disconnects every subscriber at shutdown and keeps new
// ones from registering.
func (s *Sentinel) closeSubscribers() {
	s.subsMu.Lock()
	s.closing = true
	subs := make([]*subscriber, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.subsMu.Unlock()
	for _, sub := range subs {
		sub.close()
	}
}

// appendMessage frames a published message: a push in RESP3, an array in
// RESP2.
func appendMessage(b []byte, proto int, channel, msg string) []byte {
	b = appendPushLen(b, proto, 3)
	b = redcon.AppendBulkString(b, "message")
	b = redcon.AppendBulkString(b, channel)
	return redcon.AppendBulkString(b, msg)
}

func appendPMessage(b []byte, proto int, pattern, channel, msg string) []byte {
	b = appendPushLen(b, proto, 4)
	b = redcon.AppendBulkString(b, "pmessage")
	b = redcon.AppendBulkString(b, pattern)
	b = redcon.AppendBulkString(b, channel)
	return redcon.AppendBulkString(b, msg)
}
