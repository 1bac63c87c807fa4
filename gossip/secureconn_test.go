package gossip

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// securePair returns both ends of a keyed stream over loopback TCP.
func securePair(t *testing.T) (a, b *secureConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	ca, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cb := <-accepted
	if cb == nil {
		t.Fatal("accept failed")
	}
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a, b = newSecureConn(ca, k1, k2), newSecureConn(cb, k2, k1)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestSecureConnFrames sends payloads of every interesting size, reads
// them back in odd-sized pieces, and checks what a reader sees is what
// was sent.
func TestSecureConnFrames(t *testing.T) {
	a, b := securePair(t)
	sizes := []int{1, 100, 4096, maxFramePlain - 1, maxFramePlain, maxFramePlain + 1, 3*maxFramePlain + 17, 5}
	var want []byte
	for i, n := range sizes {
		want = append(want, bytes.Repeat([]byte{byte(i + 1)}, n)...)
	}
	errc := make(chan error, 1)
	go func() {
		for i, n := range sizes {
			if _, err := a.Write(bytes.Repeat([]byte{byte(i + 1)}, n)); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 7777)
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < len(want) {
		n, err := b.Read(buf[:1+len(got)%len(buf)])
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", len(got), len(want), err)
		}
		got = append(got, buf[:n]...)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("received bytes differ from those sent")
	}
}

// TestSecureConnReadDeadlineResumes: a read that times out inside a frame
// keeps what it received, and the next read completes the frame.
func TestSecureConnReadDeadlineResumes(t *testing.T) {
	a, b := securePair(t)
	payload := bytes.Repeat([]byte{0xab}, 10000)
	// Seal one frame by hand and send it in two halves.
	var wire bytes.Buffer
	sealer := newSecureConn(writerConn{w: &wire}, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if _, err := sealer.Write(payload); err != nil {
		t.Fatal(err)
	}
	frame := wire.Bytes()
	if _, err := a.Conn.Write(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, len(payload))
	if _, err := b.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read of half a frame: %v, want a deadline error", err)
	}
	if _, err := a.Conn.Write(frame[len(frame)/2:]); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatalf("read resumed after the deadline: %v", err)
	}
	if !bytes.Equal(buf, payload) {
		t.Fatal("resumed frame differs from the one sent")
	}
}
