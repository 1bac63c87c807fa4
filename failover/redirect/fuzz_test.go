package redirect

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
)

// FuzzSentinelCommand feeds arbitrary command sequences to the dispatcher:
// it must never panic, and every command must produce whole, well-formed
// RESP replies. The input is commands separated by 0x01, each arguments
// separated by 0x00; the first byte picks the topology and authentication.
func FuzzSentinelCommand(f *testing.F) {
	seeds := []string{
		"\x00PING",
		"\x01SENTINEL\x00get-master-addr-by-name\x00mymaster",
		"\x02SENTINEL\x00masters\x01SENTINEL\x00replicas\x00mymaster\x01SENTINEL\x00sentinels\x00mymaster",
		"\x03AUTH\x00pw\x01SENTINEL\x00master\x00mymaster",
		"\x00SUBSCRIBE\x00+switch-master\x00+sdown\x01PING\x01UNSUBSCRIBE\x01INFO",
		"\x00PSUBSCRIBE\x00*\x01PUNSUBSCRIBE\x00*\x01PUNSUBSCRIBE",
		"\x00HELLO\x002\x00AUTH\x00default\x00pw\x00SETNAME\x00x",
		"\x00CLIENT\x00SETNAME\x00a\r\nb\x01CLIENT\x00GETNAME\x01CLIENT\x00ID",
		"\x00INFO\x00sentinel\x00server\x01ROLE\x01SENTINEL\x00ckquorum\x00mymaster\x01SENTINEL\x00myid",
		"\x00GET\x00\r\n\x01\x01RESET\x01QUIT",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	snaps := []failover.Snapshot{
		snapshotOf(node("a", "127.0.0.1:6379", monitor.RolePrimary), node("b", "127.0.0.1:6380", monitor.RoleReplica)),
		snapshotOf(failover.Node{}),
		snapshotOf(failover.Node{Name: "x", Addr: "not an address", SDown: true, ODown: true},
			failover.Node{Name: "y", Addr: "[::1]:1"}, failover.Node{}),
	}
	snaps[2].Sentinels = append(snaps[2].Sentinels, failover.Node{Name: "d", SentinelAddr: "garbage", Member: "dead"})
	snaps[2].InFailover = true
	srcs := make([]*testSource, len(snaps))
	for i, s := range snaps {
		srcs[i] = newTestSource(s)
	}
	build := func(i int, password string) *Sentinel {
		cfg := DefaultSentinelConfig()
		cfg.Password = password
		s, err := NewSentinel(cfg, "mymaster", "a", srcs[i], testLogger(f), nil)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	sentinels := []*Sentinel{build(0, ""), build(1, ""), build(2, ""), build(0, "pw")}

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		s := sentinels[int(in[0])%len(sentinels)]
		st := &connState{id: 1, authed: s.cfg.Password == ""}
		start := time.Now()
		for _, c := range bytes.Split(in[1:], []byte{1}) {
			args := bytes.Split(c, []byte{0})
			if len(c) == 0 {
				args = nil
			}
			reply, _ := s.exec(st, args, nil)
			if len(args) == 0 {
				if len(reply) != 0 {
					t.Fatalf("empty command answered %q", reply)
				}
				continue
			}
			rd := bufio.NewReader(bytes.NewReader(reply))
			n := 0
			for {
				if _, err := rd.Peek(1); err != nil {
					break
				}
				if _, err := readRESP(rd); err != nil {
					t.Fatalf("command %q: malformed reply %q: %v", args, reply, err)
				}
				n++
			}
			if n == 0 {
				t.Fatalf("command %q: no reply", args)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %s", d)
		}
	})
}
