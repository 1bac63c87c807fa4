package gossip

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
)

const (
	// maxFramePlain is the most plaintext one frame carries.
	maxFramePlain = 32 << 10
	frameHeader   = 4 // ciphertext length, big-endian; also the frame's additional data
	gcmTagSize    = 16
	maxFrameBytes = frameHeader + maxFramePlain + gcmTagSize
)

// errFrameAuth is the sticky read error of a stream whose frame failed
// authentication: tampered with, reordered, or from a replay.
var errFrameAuth = errors.New("gossip: stream frame failed authentication")

// secureConn carries a stream as AES-GCM frames: a 4-byte ciphertext length,
// then the ciphertext. Each direction has its own key and a frame counter as
// nonce, so nonces never repeat under one key, and a dropped, repeated or
// reordered frame fails authentication. Someone on the path can still end a
// stream early at a frame boundary (the reader sees io.EOF), as a TCP reset
// would; nothing it cannot read or forge reaches the reader. A read
// interrupted by a deadline
// keeps the part of the frame it got, so the next read resumes it; a write
// error is final, since part of a frame may be on the wire.
type secureConn struct {
	net.Conn

	rmu   sync.Mutex
	rAEAD cipher.AEAD
	rSeq  uint64
	rbuf  []byte // received bytes not yet decrypted: rbuf[:rlen]
	rlen  int
	plain []byte // decrypted bytes not yet returned
	pbuf  []byte // backing array of plain
	rErr  error  // sticky
	rNon  [12]byte

	wmu   sync.Mutex
	wAEAD cipher.AEAD
	wSeq  uint64
	wbuf  []byte
	wErr  error // sticky
	wNon  [12]byte
	wHdr  [frameHeader]byte
}

// newSecureConn wraps conn, sealing writes with writeKey and opening reads
// with readKey (32-byte AES keys).
func newSecureConn(conn net.Conn, writeKey, readKey []byte) *secureConn {
	return &secureConn{
		Conn:  conn,
		wAEAD: mustGCM(writeKey),
		rAEAD: mustGCM(readKey),
		rbuf:  make([]byte, 2*maxFrameBytes),
		pbuf:  make([]byte, maxFramePlain),
		wbuf:  make([]byte, maxFrameBytes),
	}
}

// mustGCM builds AES-GCM for a key of a valid size (ours are always 32).
func mustGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// frameNonce writes the nonce of frame number seq into n: four zero bytes,
// then the counter.
func frameNonce(n *[12]byte, seq uint64) []byte {
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

// Read returns decrypted bytes.
func (c *secureConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.plain) == 0 {
		if c.rErr != nil {
			return 0, c.rErr
		}
		if err := c.readFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(b, c.plain)
	c.plain = c.plain[n:]
	return n, nil
}

// readFrame decrypts the next frame into c.plain. Errors from the
// connection are returned as they are, with what was received kept.
func (c *secureConn) readFrame() error {
	if err := c.fill(frameHeader); err != nil {
		return err
	}
	size := int(binary.BigEndian.Uint32(c.rbuf[:frameHeader]))
	if size < gcmTagSize || size > maxFramePlain+gcmTagSize {
		c.rErr = fmt.Errorf("%w: frame of %d bytes", errFrameAuth, size)
		return c.rErr
	}
	total := frameHeader + size
	if err := c.fill(total); err != nil {
		return err
	}
	if c.rSeq == math.MaxUint64 {
		c.rErr = errors.New("gossip: stream frame counter exhausted")
		return c.rErr
	}
	plain, err := c.rAEAD.Open(c.pbuf[:0], frameNonce(&c.rNon, c.rSeq), c.rbuf[frameHeader:total], c.rbuf[:frameHeader])
	if err != nil {
		c.rErr = errFrameAuth
		return c.rErr
	}
	c.rSeq++
	c.plain = plain
	c.rlen = copy(c.rbuf, c.rbuf[total:c.rlen])
	return nil
}

// fill reads until at least n bytes are buffered. A clean end of stream
// between frames is io.EOF, inside one io.ErrUnexpectedEOF.
func (c *secureConn) fill(n int) error {
	for c.rlen < n {
		k, err := c.Conn.Read(c.rbuf[c.rlen:])
		c.rlen += k
		if c.rlen >= n {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if c.rlen > 0 {
					err = io.ErrUnexpectedEOF
				}
				c.rErr = err
			}
			return err
		}
	}
	return nil
}

// Write encrypts b as one frame per maxFramePlain bytes.
func (c *secureConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for len(b) > 0 {
		if c.wErr != nil {
			return written, c.wErr
		}
		if c.wSeq == math.MaxUint64 {
			c.wErr = errors.New("gossip: stream frame counter exhausted")
			return written, c.wErr
		}
		chunk := b[:min(len(b), maxFramePlain)]
		// The additional data is a copy of the header: it must not share
		// dst's array.
		binary.BigEndian.PutUint32(c.wHdr[:], uint32(len(chunk)+gcmTagSize))
		frame := c.wAEAD.Seal(append(c.wbuf[:0], c.wHdr[:]...), frameNonce(&c.wNon, c.wSeq), chunk, c.wHdr[:])
		c.wSeq++
		if _, err := c.Conn.Write(frame); err != nil {
			c.wErr = err
			return written, err
		}
		written += len(chunk)
		b = b[len(chunk):]
	}
	return written, nil
}
