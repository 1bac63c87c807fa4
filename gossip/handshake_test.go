package gossip

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// handshakePair runs both sides of the handshake over an in-memory pipe.
func handshakePair(t *testing.T, dialler, listener *streamSecurity) (client, server net.Conn, serverReason string, clientErr, serverErr error) {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	var wg sync.WaitGroup
	wg.Go(func() {
		var kind [1]byte
		if _, serverErr = io.ReadFull(s, kind[:]); serverErr != nil {
			return
		}
		server, serverReason, serverErr = listener.server(s, kind[0], true)
		if serverErr != nil {
			_ = s.Close() // as the mux does
		}
	})
	client, _, clientErr = dialler.client(c, StreamRaft)
	if clientErr != nil {
		_ = c.Close()
	}
	wg.Wait()
	return client, server, serverReason, clientErr, serverErr
}

func TestHandshakeKeyring(t *testing.T) {
	k1, k2, k3 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 24)
	for _, tt := range []struct {
		name              string
		dialler, listener [][]byte
		ok                bool
	}{
		{"same primary", [][]byte{k1}, [][]byte{k1}, true},
		{"dialler's primary is the listener's secondary", [][]byte{k2, k1}, [][]byte{k1, k2}, true},
		{"only the dialler's secondary is known", [][]byte{k3, k1}, [][]byte{k1, k2}, false},
		{"disjoint", [][]byte{k3}, [][]byte{k1, k2}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, server, reason, cerr, serr := handshakePair(t, newStreamSecurity("", tt.dialler), newStreamSecurity("", tt.listener))
			if !tt.ok {
				if cerr == nil || serr == nil || reason != refusedWrongKey {
					t.Fatalf("client err %v, server err %v (%s); want both refused for wrong_key", cerr, serr, reason)
				}
				return
			}
			if cerr != nil || serr != nil {
				t.Fatalf("client err %v, server err %v", cerr, serr)
			}
			// Both directions decrypt: the keys match.
			go func() { _, _ = client.Write([]byte("ping")) }()
			got := make([]byte, 4)
			if _, err := io.ReadFull(server, got); err != nil || string(got) != "ping" {
				t.Fatalf("server read %q, %v", got, err)
			}
			go func() { _, _ = server.Write([]byte("pong")) }()
			if _, err := io.ReadFull(client, got); err != nil || string(got) != "pong" {
				t.Fatalf("client read %q, %v", got, err)
			}
		})
	}
}

// TestSecureConnRejectsTampering flips one bit of a frame on the wire.
func TestSecureConnRejectsTampering(t *testing.T) {
	key1, key2 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)
	var wire bytes.Buffer
	w := newSecureConn(writerConn{w: &wire}, key1, key2)
	if _, err := w.Write([]byte("first frame")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("second frame")); err != nil {
		t.Fatal(err)
	}
	frames := wire.Bytes()
	first := frameHeader + len("first frame") + gcmTagSize

	for _, tt := range []struct {
		name    string
		mangle  func([]byte) []byte
		wantErr error
		want    string
	}{
		{"intact", func(b []byte) []byte { return b }, io.EOF, "first framesecond frame"},
		{"flipped bit", func(b []byte) []byte { b[first+frameHeader+2] ^= 1; return b }, errFrameAuth, "first frame"},
		{"dropped frame", func(b []byte) []byte { return b[first:] }, errFrameAuth, ""},
		{"repeated frame", func(b []byte) []byte { return append(b[:first:first], b...) }, errFrameAuth, "first frame"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, io.ErrUnexpectedEOF, "first frame"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newSecureConn(readerConn{r: bytes.NewReader(tt.mangle(bytes.Clone(frames)))}, key2, key1)
			var got []byte
			buf := make([]byte, 7)
			var err error
			for {
				var n int
				n, err = r.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if string(got) != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("read %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// writerConn and readerConn are the one half of a net.Conn a test uses.
type writerConn struct {
	net.Conn
	w io.Writer
}

func (c writerConn) Write(b []byte) (int, error) { return c.w.Write(b) }

type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(b []byte) (int, error) { return c.r.Read(b) }
