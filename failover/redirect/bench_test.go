package redirect

import (
	"testing"
)

// BenchmarkExecGetMasterAddr measures the dispatcher alone answering the
// command every new go-redis connection sends.
func BenchmarkExecGetMasterAddr(b *testing.B) {
	s, err := NewSentinel(DefaultSentinelConfig(), "mymaster", "a", shapeSource(), testLogger(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	st := &connState{id: 1, authed: true}
	args := [][]byte{[]byte("SENTINEL"), []byte("get-master-addr-by-name"), []byte("mymaster")}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.exec(st, args, buf[:0])
	}
}

// BenchmarkGetMasterAddrRoundTrip measures one request and reply over
// loopback TCP.
func BenchmarkGetMasterAddrRoundTrip(b *testing.B) {
	_, addr, _ := startSentinel(b, testSentinelConfig(), "mymaster", shapeSource())
	c := dialRESP(b, addr)
	b.ReportAllocs()
	for b.Loop() {
		c.do("SENTINEL", "get-master-addr-by-name", "mymaster")
	}
}

// BenchmarkFormatEvent measures rendering one +switch-master event.
func BenchmarkFormatEvent(b *testing.B) {
	src := shapeSource()
	snap := src.Snapshot()
	ev := switchEvent(snap)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := formatEvent("mymaster", snap, ev); !ok {
			b.Fatal("not formatted")
		}
	}
}
