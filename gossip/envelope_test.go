package gossip

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	tests := []envelope{
		{Kind: 1, From: "a", Incarnation: 1, Seq: 1, Payload: []byte("hello")},
		{Kind: 0, From: "node-with-a-longer-name", Incarnation: 1<<63 + 5, Seq: 1<<64 - 1, Payload: []byte{}},
		{Kind: 0xEF, From: string(bytes.Repeat([]byte("n"), maxNameLen)), Incarnation: 0, Seq: 0, Payload: bytes.Repeat([]byte{0}, 4096)},
	}
	for _, want := range tests {
		want.Version = envelopeVersion
		b := appendEnvelope(nil, want)
		got, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("decode(%q...): %v", want.From[:1], err)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("round trip (-got +want):\n%s", diff)
		}
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	valid := appendEnvelope(nil, envelope{Kind: 1, From: "abc", Incarnation: 2, Seq: 3, Payload: []byte("p")})
	wrongVersion := bytes.Clone(valid)
	wrongVersion[0] = 2
	noName := bytes.Clone(valid)
	noName[2] = 0
	longName := bytes.Clone(valid)
	longName[2] = 200
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, errTruncated},
		{"one byte", []byte{1}, errTruncated},
		{"header only", valid[:envelopeHeader-1], errTruncated},
		{"cut in the sequence", valid[:len(valid)-3], errTruncated},
		{"wrong version", wrongVersion, errVersion},
		{"no name", noName, errNoName},
		{"name longer than the message", longName, errTruncated},
	}
	for _, tt := range tests {
		if _, err := decodeEnvelope(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	type msg struct {
		inc, seq uint64
		want     bool
	}
	tests := []struct {
		name string
		msgs []msg
	}{
		{"in order", []msg{{1, 1, true}, {1, 2, true}, {1, 3, true}}},
		{"duplicate", []msg{{1, 1, true}, {1, 1, false}}},
		{"reordered within window", []msg{{1, 5, true}, {1, 3, true}, {1, 4, true}, {1, 3, false}, {1, 5, false}}},
		{"too old", []msg{{1, 100, true}, {1, 100 - replayWindowSize, false}, {1, 100 - replayWindowSize + 1, true}}},
		{"big jump forgets the window", []msg{{1, 1, true}, {1, 1000, true}, {1, 999, true}, {1, 1, false}}},
		{"new incarnation resets", []msg{{1, 50, true}, {2, 1, true}, {2, 2, true}, {1, 51, false}}},
		{"old incarnation refused", []msg{{5, 1, true}, {4, 100, false}}},
		{"first message may have any sequence", []msg{{7, 0, true}, {7, 0, false}, {7, 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w replayWindow
			for i, m := range tt.msgs {
				if got := w.accept(m.inc, m.seq); got != m.want {
					t.Errorf("message %d (inc %d seq %d): accept = %v, want %v", i, m.inc, m.seq, got, m.want)
				}
			}
		})
	}
}

// FuzzDecodeEnvelope feeds arbitrary bytes to the decoder: it must never
// panic, and whatever it accepts must re-encode to the same bytes (the
// encoding is canonical, so nothing is silently ignored).
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(appendEnvelope(nil, envelope{Kind: 1, From: "a", Incarnation: 1, Seq: 1, Payload: []byte("hi")}))
	f.Add(appendEnvelope(nil, envelope{Kind: 0xFF, From: "sidecar-1", Incarnation: 1 << 62, Seq: 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if e.From == "" || len(e.From) > maxNameLen {
			t.Fatalf("accepted name of %d bytes", len(e.From))
		}
		if again := appendEnvelope(nil, e); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
		var w replayWindow
		if !w.accept(e.Incarnation, e.Seq) || w.accept(e.Incarnation, e.Seq) {
			t.Fatalf("replay window: first accept must pass and the repeat must fail")
		}
	})
}

func BenchmarkEnvelope(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 128)
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = appendEnvelope(buf[:0], envelope{Kind: 1, From: "sidecar-1", Incarnation: 1, Seq: 2, Payload: payload})
		if _, err := decodeEnvelope(buf); err != nil {
			b.Fatal(err)
		}
	}
}
