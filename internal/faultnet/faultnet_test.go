package faultnet

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestBlockAndHeal(t *testing.T) {
	n := NewNetwork()
	a, err := n.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	b, err := n.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// Drain b's stream channel so a's dials complete, until b has shut
	// down: NetTransport.Shutdown waits for an accepted stream to be taken.
	done := make(chan struct{})
	defer close(done)
	defer b.Shutdown()
	go func() {
		for {
			select {
			case c := <-b.StreamCh():
				_ = c.Close()
			case <-done:
				return
			}
		}
	}()

	send := func() bool {
		if _, err := a.WriteTo([]byte("ping"), b.Addr()); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-b.PacketCh():
			return string(p.Buf) == "ping"
		case <-time.After(300 * time.Millisecond):
			return false
		}
	}
	dial := func() error {
		c, err := a.DialAddressTimeout(memberlist.Address{Addr: b.Addr()}, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}

	if !send() {
		t.Fatal("packet not delivered before Block")
	}
	if err := dial(); err != nil {
		t.Fatalf("dial before Block: %v", err)
	}

	n.Block(a.Addr(), b.Addr())
	if !n.Blocked(b.Addr(), a.Addr()) {
		t.Errorf("Block is not symmetric")
	}
	if send() {
		t.Error("packet delivered while blocked")
	}
	if err := dial(); !errors.Is(err, ErrBlocked) {
		t.Errorf("dial while blocked = %v, want ErrBlocked", err)
	}
	if got := a.Dropped(); got != 2 {
		t.Errorf("a.Dropped() = %d, want 2", got)
	}

	n.Heal()
	if !send() {
		t.Error("packet not delivered after Heal")
	}
	if err := dial(); err != nil {
		t.Errorf("dial after Heal: %v", err)
	}
}

func TestInboundPacketsFiltered(t *testing.T) {
	n := NewNetwork()
	b, err := n.NewTransport("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	// An unwrapped sender: only b's inbound filter can stop it.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n.Block(c.LocalAddr().String(), b.Addr())
	to, _ := net.ResolveUDPAddr("udp", b.Addr())
	if _, err := c.WriteTo([]byte("x"), to); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Dropped() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("inbound packet not dropped: Dropped() = %d", b.Dropped())
		}
		select {
		case p := <-b.PacketCh():
			t.Fatalf("blocked packet delivered: %q", p.Buf)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
