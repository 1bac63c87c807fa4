package gossip

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// handoverOnShutdown is a transport that, like memberlist's NetTransport,
// hands over a connection it accepted just before Shutdown and waits for
// that handover in Shutdown.
type handoverOnShutdown struct {
	memberlist.NodeAwareTransport
	streams chan net.Conn
}

func (t *handoverOnShutdown) StreamCh() <-chan net.Conn { return t.streams }

func (t *handoverOnShutdown) Shutdown() error {
	a, b := net.Pipe()
	_ = b.Close()
	t.streams <- a
	return nil
}

func TestMuxShutdownTakesLateConnections(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry(), &Peer{})
	if err != nil {
		t.Fatal(err)
	}
	inner := &handoverOnShutdown{streams: make(chan net.Conn)}
	x := newMux(inner, nil, newStreamSecurity("", nil), time.Second, slog.New(slog.DiscardHandler), m)
	done := make(chan struct{})
	go func() {
		_ = x.Shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("mux shutdown waits forever for the inner transport's last handover")
	}
}
