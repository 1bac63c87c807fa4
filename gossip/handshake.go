package gossip

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
)

// The stream handshake. After the channel byte the dialler sends a hello:
//
//	version (1) | mode (1: 0 plain, 1 keyed) | label length (1) | label
//	keyed only: client nonce (32) | key id (8)
//
// and the listener answers with a status byte (0 accepted, else a refusal
// code) and, in keyed mode, its own nonce (32) and its proof (32); the
// dialler checks that proof and sends its own (32). Session keys come from
// HKDF-SHA256 over the gossip key with both nonces as salt and the whole
// transcript (channel, hello, listener nonce) as info, so each stream has
// fresh keys and a recording cannot be replayed: the listener's new nonce
// changes the proof it expects. Each proof is an HMAC of the transcript under
// a key only a holder of the gossip key can derive, so a peer without the key
// is refused before anything reaches Accept, on either side. The key id lets
// the listener pick the dialler's key from its keyring without trial
// decryption; it is an HKDF output and reveals nothing about the key.
//
// The label is part of the hello in both modes: groups with different
// gossip.label values refuse each other's streams as memberlist refuses
// their gossip.
const (
	handshakeVersion byte = 1
	modePlain        byte = 0
	modeKeyed        byte = 1
	nonceSize             = 32
	keyIDSize             = 8
	proofSize             = sha256.Size
	sessionKeySize        = 32 // AES-256 whatever the gossip key's size
)

// Refusal reasons, for vigil_gossip_streams_refused_total and the status
// byte of the handshake.
const (
	refusedTimeout        = "timeout"         // no first byte or handshake within gossip.tcp_timeout
	refusedMalformed      = "malformed"       // not a hello this build speaks
	refusedLabel          = "label"           // another gossip.label
	refusedNoKey          = "no_key"          // the peer has no key, this node has one
	refusedUnexpectedKey  = "unexpected_key"  // the peer has a key, this node has none
	refusedWrongKey       = "wrong_key"       // another key, a failed proof, a replay
	refusedUnknownChannel = "unknown_channel" // no open layer for the channel byte
	refusedOverload       = "overload"        // too many connections still classifying
	refusedNotAccepted    = "not_accepted"    // Accept's caller did not take it in time
)

var refusedReasons = []string{refusedTimeout, refusedMalformed, refusedLabel, refusedNoKey,
	refusedUnexpectedKey, refusedWrongKey, refusedUnknownChannel, refusedOverload, refusedNotAccepted}

// statusCodes maps refusals the listener reports to the dialler.
var statusCodes = map[string]byte{
	refusedMalformed:      1,
	refusedLabel:          2,
	refusedNoKey:          3,
	refusedUnexpectedKey:  4,
	refusedWrongKey:       5,
	refusedUnknownChannel: 6,
}

const statusOK byte = 0

// errRefused is wrapped by Dial errors when the listener refused the stream.
var errRefused = errors.New("stream refused")

// streamSecurity holds what both ends of a stream must share: the label and
// the keyring (primary key first; empty for plain streams).
type streamSecurity struct {
	label string
	keys  [][]byte
	ids   [][keyIDSize]byte // ids[i] is keys[i]'s key id
}

func newStreamSecurity(label string, keys [][]byte) *streamSecurity {
	s := &streamSecurity{label: label}
	for _, k := range keys {
		s.keys = append(s.keys, bytes.Clone(k))
		s.ids = append(s.ids, keyID(k))
	}
	return s
}

// keyID names a key without revealing it.
func keyID(key []byte) [keyIDSize]byte {
	b, err := hkdf.Key(sha256.New, key, nil, "vigil gossip stream key id v1", keyIDSize)
	if err != nil {
		panic(err) // only for lengths sha256 cannot produce
	}
	return [keyIDSize]byte(b)
}

func (s *streamSecurity) keyed() bool { return len(s.keys) > 0 }

// hello encodes the dialler's hello; nonce is nil in plain mode.
func (s *streamSecurity) hello(nonce []byte) []byte {
	b := []byte{handshakeVersion, modePlain, byte(len(s.label))}
	b = append(b, s.label...)
	if nonce != nil {
		b[1] = modeKeyed
		b = append(b, nonce...)
		b = append(b, s.ids[0][:]...)
	}
	return b
}

// sessionKeys are one stream's keys.
type sessionKeys struct {
	dialler, listener           []byte // AES keys for each side's frames
	diallerProof, listenerProof []byte // HMAC keys for each side's proof
}

// deriveKeys derives a stream's keys from key, both nonces and the
// transcript.
func deriveKeys(key, clientNonce, serverNonce, transcript []byte) (sessionKeys, error) {
	salt := append(bytes.Clone(clientNonce), serverNonce...)
	sum := sha256.Sum256(transcript)
	b, err := hkdf.Key(sha256.New, key, salt, "vigil gossip stream v1 "+string(sum[:]), 4*sessionKeySize)
	if err != nil {
		return sessionKeys{}, err
	}
	n := sessionKeySize
	return sessionKeys{dialler: b[:n], listener: b[n : 2*n], diallerProof: b[2*n : 3*n], listenerProof: b[3*n:]}, nil
}

func proof(key, transcript []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(transcript)
	return m.Sum(nil)
}

// client runs the dialler's side on conn after nothing was sent. On a
// refusal it returns the reason to count (empty when it is not one, such as
// a broken connection).
func (s *streamSecurity) client(conn net.Conn, kind byte) (net.Conn, string, error) {
	var nonce []byte
	if s.keyed() {
		nonce = make([]byte, nonceSize)
		_, _ = rand.Read(nonce) // never fails (crypto/rand)
	}
	msg := append([]byte{kind}, s.hello(nonce)...)
	if _, err := conn.Write(msg); err != nil {
		return nil, "", fmt.Errorf("send hello: %w", err)
	}
	var status [1]byte
	if _, err := io.ReadFull(conn, status[:]); err != nil {
		return nil, "", fmt.Errorf("read handshake reply: %w (the peer closed it: not a vigil gossip port, or it refused the stream)", err)
	}
	if status[0] != statusOK {
		reason := refusedMalformed // a code this build does not know
		for r, code := range statusCodes {
			if code == status[0] {
				reason = r
			}
		}
		return nil, reason, fmt.Errorf("%w by the peer: %s", errRefused, refusalText(reason))
	}
	if !s.keyed() {
		return conn, "", nil
	}
	var reply [nonceSize + proofSize]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return nil, "", fmt.Errorf("read handshake reply: %w", err)
	}
	serverNonce, serverProof := reply[:nonceSize], reply[nonceSize:]
	transcript := append(msg, serverNonce...)
	keys, err := deriveKeys(s.keys[0], nonce, serverNonce, transcript)
	if err != nil {
		return nil, "", err
	}
	if !hmac.Equal(serverProof, proof(keys.listenerProof, transcript)) {
		return nil, refusedWrongKey, fmt.Errorf("%w: the peer did not prove it holds gossip.encryption_key", errRefused)
	}
	if _, err := conn.Write(proof(keys.diallerProof, transcript)); err != nil {
		return nil, "", fmt.Errorf("send proof: %w", err)
	}
	return newSecureConn(conn, keys.dialler, keys.listener), "", nil
}

// server runs the listener's side after the channel byte kind was read;
// open is false when no layer takes kind. On failure it returns the reason
// to count.
func (s *streamSecurity) server(conn net.Conn, kind byte, open bool) (net.Conn, string, error) {
	var head [3]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, refusedMalformed, fmt.Errorf("read hello: %w", err)
	}
	msg := append([]byte{kind}, head[:]...)
	refuse := func(reason string, err error) (net.Conn, string, error) {
		_, _ = conn.Write([]byte{statusCodes[reason]})
		return nil, reason, err
	}
	version, mode, labelLen := head[0], head[1], int(head[2])
	if version != handshakeVersion || mode > modeKeyed {
		return refuse(refusedMalformed, fmt.Errorf("hello version %d mode %d", version, mode))
	}
	rest := labelLen
	if mode == modeKeyed {
		rest += nonceSize + keyIDSize
	}
	body := make([]byte, rest)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, refusedMalformed, fmt.Errorf("read hello: %w", err)
	}
	msg = append(msg, body...)
	if label := string(body[:labelLen]); label != s.label {
		return refuse(refusedLabel, fmt.Errorf("label %q, want %q", label, s.label))
	}
	switch {
	case !open:
		return refuse(refusedUnknownChannel, fmt.Errorf("no open channel %#02x", kind))
	case mode == modePlain && s.keyed():
		return refuse(refusedNoKey, errors.New("the peer has no gossip.encryption_key"))
	case mode == modeKeyed && !s.keyed():
		return refuse(refusedUnexpectedKey, errors.New("the peer uses a gossip.encryption_key, this node none"))
	case mode == modePlain:
		if _, err := conn.Write([]byte{statusOK}); err != nil {
			return nil, "", fmt.Errorf("send handshake reply: %w", err)
		}
		return conn, "", nil
	}
	clientNonce, id := body[labelLen:labelLen+nonceSize], body[labelLen+nonceSize:]
	key := s.keyByID(id)
	if key == nil {
		return refuse(refusedWrongKey, errors.New("the peer's key is not in this node's keyring"))
	}
	serverNonce := make([]byte, nonceSize)
	_, _ = rand.Read(serverNonce)
	transcript := append(msg, serverNonce...)
	keys, err := deriveKeys(key, clientNonce, serverNonce, transcript)
	if err != nil {
		return nil, refusedMalformed, err
	}
	reply := append([]byte{statusOK}, serverNonce...)
	reply = append(reply, proof(keys.listenerProof, transcript)...)
	if _, err := conn.Write(reply); err != nil {
		return nil, "", fmt.Errorf("send handshake reply: %w", err)
	}
	var clientProof [proofSize]byte
	if _, err := io.ReadFull(conn, clientProof[:]); err != nil {
		return nil, refusedWrongKey, fmt.Errorf("read proof: %w", err)
	}
	if !hmac.Equal(clientProof[:], proof(keys.diallerProof, transcript)) {
		return nil, refusedWrongKey, errors.New("the peer's proof does not match: another key, or a replayed stream")
	}
	return newSecureConn(conn, keys.listener, keys.dialler), "", nil
}

// keyByID returns the keyring's key with id, or nil.
func (s *streamSecurity) keyByID(id []byte) []byte {
	for i, k := range s.keys {
		if hmac.Equal(s.ids[i][:], id) {
			return k
		}
	}
	return nil
}

// refusalText explains a refusal reason to an operator reading a Dial error.
func refusalText(reason string) string {
	switch reason {
	case refusedMalformed:
		return "it does not speak this handshake version"
	case refusedLabel:
		return "its gossip.label differs"
	case refusedNoKey:
		return "it requires gossip.encryption_key and this node has none"
	case refusedUnexpectedKey:
		return "this node uses gossip.encryption_key and the peer has none"
	case refusedWrongKey:
		return "its gossip.encryption_key differs"
	case refusedUnknownChannel:
		return "it has no such stream channel open"
	default:
		return "unknown reason"
	}
}
