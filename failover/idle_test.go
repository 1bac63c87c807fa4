package failover

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/monitor"
)

// The fakes of BenchmarkStep: a healthy group of three (n0 the promoted
// primary and Raft leader, n1 and n2 synced replicas) that never changes.
type (
	benchLocal   struct{ o monitor.Observation }
	benchCluster struct{ alive []string }
	benchAuth    struct {
		st   authority.State
		self string
	}
)

func (l *benchLocal) Last() monitor.Observation {
	o := l.o
	o.Replicas = slices.Clone(o.Replicas) // as monitor.Prober.Last
	return o
}
func (l *benchLocal) Updates() <-chan struct{}                     { return nil }
func (l *benchLocal) ProbeNow(context.Context) monitor.Observation { return l.Last() }
func (l *benchLocal) Client() *redis.Client                        { return nil }

func (c benchCluster) Alive() []string      { return slices.Clone(c.alive) }
func (benchCluster) Broadcast(byte, []byte) {}
func (benchCluster) Forget(string) error    { return nil }
func (benchCluster) Recv(ctx context.Context) (string, byte, []byte, error) {
	<-ctx.Done()
	return "", 0, nil, ctx.Err()
}

func (a benchAuth) Watch() (authority.State, <-chan struct{})       { return a.st, nil }
func (benchAuth) Ready() bool                                       { return true }
func (a benchAuth) Leader() (string, bool)                          { return "n0", a.self == "n0" }
func (a benchAuth) Verify(context.Context) (authority.State, error) { return a.st, nil }
func (benchAuth) LastContact() time.Time                            { return time.Now() }
func (a benchAuth) Apply(context.Context, authority.Command) (authority.State, error) {
	return a.st, nil
}

var benchAddrs = map[string]string{"n0": "127.0.0.1:7000", "n1": "127.0.0.1:7001", "n2": "127.0.0.1:7002"}

func benchObs(name string, at time.Time) monitor.Observation {
	o := monitor.Observation{Addr: benchAddrs[name], Time: at, Role: monitor.RoleReplica, RunID: "run-" + name,
		Version: "7.0.15", ReplID: "0123456789abcdef0123456789abcdef01234567", Offset: 1 << 20, Priority: 100,
		LagBytes: 0, MasterLinkDownSinceSeconds: -1, Keys: 10, MasterHost: "127.0.0.1", MasterPort: 7000,
		LinkUp: true, Synced: true}
	if name == "n0" {
		o.Role, o.MasterHost, o.MasterPort, o.LinkUp, o.Synced = monitor.RolePrimary, "", 0, false, false
		o.ConnectedReplicas = 2
		o.Replicas = []monitor.Replica{{Addr: benchAddrs["n1"], State: "online", Offset: 1 << 20},
			{Addr: benchAddrs["n2"], State: "online", Offset: 1 << 20}}
	}
	return o
}

func benchReport(name string, st authority.State, at time.Time) report {
	o := benchObs(name, at)
	return report{Name: name, Addr: benchAddrs[name], SentinelAddr: "127.0.0.1:2" + benchAddrs[name][11:],
		HTTPAddr: "127.0.0.1:3" + benchAddrs[name][11:], Priority: 100, Epoch: st.Epoch,
		Obs: obsSummary{Reachable: true, Alive: true, Role: o.Role, MasterAddr: o.MasterAddr(), LinkUp: o.LinkUp,
			Synced: o.Synced, Offset: o.Offset, RunID: o.RunID, ReplID: o.ReplID, Replicas: len(o.Replicas), Keys: o.Keys},
		SDownPrimary: st.Primary, SDownEpoch: st.Epoch, Ready: true,
		KnownEpoch: st.Epoch, KnownOffset: o.Offset, KnownAgoMs: 10}
}

// BenchmarkStep is the failover loop's work on an idle group, from the
// sidecar named by the sub-benchmark: one op is what the loop does for one
// input at monitor.interval 100ms, in the proportion the inputs arrive
// (a tick with a new local observation, then a report from each peer).
func BenchmarkStep(b *testing.B) {
	for _, self := range []string{"n0", "n1"} {
		b.Run(self, func(b *testing.B) {
			start := time.Now().Add(-time.Minute)
			st := authority.State{Index: 12, Epoch: 1, Primary: "n0", Promoted: true, Reason: authority.ReasonInitial,
				Started: start, Members: map[string]authority.Member{},
				History: []authority.HistoryEntry{{Epoch: 1, New: "n0", Reason: authority.ReasonInitial, Result: resultSuccess,
					Start: start, ForkReplID: "0123456789abcdef0123456789abcdef01234567", ForkOffset: 0}}}
			for name, addr := range benchAddrs {
				st.Members[name] = authority.Member{Name: name, RaftAddr: addr, RedisAddr: addr, Priority: 100, Voter: true, Since: start}
			}
			local := &benchLocal{o: benchObs(self, start)}
			cfg := DefaultConfig()
			f, err := New(cfg, nil, prometheus.NewRegistry(), Deps{
				Self:  Node{Name: self, Addr: benchAddrs[self], Priority: 100},
				Redis: monitor.RedisConfig{Addr: benchAddrs[self]}, Monitor: monitor.DefaultConfig(),
				Local: local, Cluster: benchCluster{alive: []string{"n0", "n1", "n2"}}, Authority: benchAuth{st: st, self: self},
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); f.wg.Wait() }()
			c := f.newCore(start)
			c.st, _ = f.auth.Watch()
			f.onState(c, authority.State{}, start)
			c.verified = true
			if self == st.Primary {
				c.promotedEpoch = st.Epoch
			}
			var peers []string
			for name := range benchAddrs {
				if name != self {
					peers = append(peers, name)
				}
			}
			slices.Sort(peers)
			// Warm up: a few rounds so that every one-off effect has run.
			round := func(i int) {
				now := time.Now()
				switch k := i % 3; k {
				case 0:
					local.o.Time = now
					if c.probeAddr != "" {
						c.lastAlive = now
					}
					f.step(ctx, c, now, true)
				default:
					f.onReport(c, peerMsg{from: peers[k-1], rep: benchReport(peers[k-1], st, now), at: now})
					f.step(ctx, c, now, false)
				}
			}
			for i := range 30 {
				round(i)
				time.Sleep(time.Millisecond)
			}
			if c.sdown || c.odown || c.fenced || c.localBusy || c.leaderBusy {
				b.Fatalf("not a healthy steady state: sdown %v odown %v fenced %v", c.sdown, c.odown, c.fenced)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				round(i)
			}
		})
	}
}

// appendTopologyKey writes the text fmt wrote before it replaced fmt.
func TestTopologyKeyText(t *testing.T) {
	s := Snapshot{Epoch: 7, Primary: Node{Name: "a", Addr: "10.0.0.1:6379", SDown: true}, Writable: true, Quorum: 2,
		WhyNot: "no eligible replica", Conflict: "x", FlapPaused: "y", Isolated: true, InFailover: true,
		Replicas: []Node{{Name: "b", Addr: "10.0.0.2:6379", Role: monitor.RoleReplica, Reachable: true, LinkUp: true},
			{Name: "c", Addr: "10.0.0.3:6379", SDown: true}},
		Sentinels: []Node{{Name: "b", SentinelAddr: "10.0.0.2:26379", Member: "alive"}, {Name: "c", Member: "dead"}}}
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%s|%s|%v|%v|%v|%v|%v|%s|%s|%s|%v|%v|%v|", s.Epoch, s.Primary.Name, s.Primary.Addr, s.Writable, s.Fenced,
		s.Paused, s.InFailover, s.Primary.SDown, s.FlapPaused, s.WhyNot, s.Conflict, s.Primary.ODown, s.Quorum, s.Isolated)
	for _, n := range s.Replicas {
		fmt.Fprintf(&b, "%s,%s,%s,%v,%v,%v;", n.Name, n.Addr, n.Role, n.Reachable, n.SDown, n.LinkUp)
	}
	for _, n := range s.Sentinels {
		fmt.Fprintf(&b, "%s,%s,%s;", n.Name, n.SentinelAddr, n.Member)
	}
	if got := string(appendTopologyKey(nil, s)); got != b.String() {
		t.Fatalf("key\n%s\nwant\n%s", got, b.String())
	}
}

// BenchmarkReportWire is one report encoded and decoded, as every sidecar
// sends one to each peer every interval.
func BenchmarkReportWire(b *testing.B) {
	st := authority.State{Epoch: 1, Primary: "n0"}
	r := benchReport("n1", st, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeReport(encode(r)); err != nil {
			b.Fatal(err)
		}
	}
}
