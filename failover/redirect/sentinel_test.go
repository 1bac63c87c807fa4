package redirect

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// shapeSource is a topology with addresses nobody dials: the reply-shape
// tests only look at what the endpoint says.
func shapeSource() *testSource {
	p := node("a", "127.0.0.1:6379", monitor.RolePrimary)
	p.RunID = "0123456789012345678901234567890123456789"
	r := node("b", "127.0.0.1:6380", monitor.RoleReplica)
	r.Offset = 1234
	return newTestSource(snapshotOf(p, r))
}

func TestSentinelReplyShapes(t *testing.T) {
	_, addr, reg := startSentinel(t, testSentinelConfig(), "mymaster", shapeSource())
	c := dialRESP(t, addr)
	tests := []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"ping", "hi"}, "hi"},
		{[]string{"PING", "a", "b"}, respError("ERR wrong number of arguments for 'ping' command")},
		{[]string{"SENTINEL", "get-master-addr-by-name", "mymaster"}, []any{"127.0.0.1", "6379"}},
		{[]string{"sentinel", "GET-PRIMARY-ADDR-BY-NAME", "mymaster"}, []any{"127.0.0.1", "6379"}},
		{[]string{"SENTINEL", "get-master-addr-by-name", "other"}, nullArray{}},
		{[]string{"SENTINEL", "get-master-addr-by-name"}, respError("ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command")},
		{[]string{"SENTINEL", "master", "other"}, respError("ERR No such master with that name")},
		{[]string{"SENTINEL", "replicas", "other"}, respError("ERR No such master with that name")},
		{[]string{"SENTINEL", "sentinels", "other"}, respError("ERR No such master with that name")},
		{[]string{"SENTINEL"}, respError("ERR wrong number of arguments for 'sentinel' command")},
		{[]string{"SENTINEL", "bogus"}, respError("ERR unknown subcommand 'bogus'. Try SENTINEL HELP.")},
		{[]string{"SENTINEL", "myid"}, SentinelID("a")},
		{[]string{"SENTINEL", "ckquorum", "mymaster"}, "OK 3 usable Sentinels. Quorum and failover authorization can be reached"},
		{[]string{"ROLE"}, []any{"sentinel", []any{"mymaster"}}},
		{[]string{"ROLE", "x"}, respError("ERR wrong number of arguments for 'role' command")},
		{[]string{"GET", "k"}, respError("ERR unknown command 'GET', with args beginning with: 'k' ")},
		{[]string{"FLUSHALL"}, respError("ERR unknown command 'FLUSHALL', with args beginning with: ")},
		{[]string{"CLIENT", "SETNAME", "app1"}, "OK"},
		{[]string{"CLIENT", "GETNAME"}, "app1"},
		{[]string{"CLIENT", "SETNAME", "bad name"}, respError("ERR Client names cannot contain spaces, newlines or special characters.")},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "go-redis"}, "OK"},
		{[]string{"CLIENT", "SETINFO", "LIB-VER", "9.0"}, "OK"},
		{[]string{"CLIENT", "KILL", "x"}, respError("ERR unknown subcommand 'KILL'. Try CLIENT HELP.")},
		{[]string{"CLIENT"}, respError("ERR wrong number of arguments for 'client' command")},
		{[]string{"HELLO", "4"}, respError("NOPROTO unsupported protocol version")},
		{[]string{"AUTH", "x"}, respError(errNoPassword)},
		{[]string{"UNSUBSCRIBE"}, []any{"unsubscribe", nullBulk{}, int64(0)}},
		{[]string{"SENTINEL", "failover", "mymaster"}, respError("ERR SENTINEL FAILOVER changes the group: it needs sentinel.password to be set")},
		{[]string{"SENTINEL", "monitor", "x", "127.0.0.1", "1", "1"}, respError("ERR SENTINEL monitor is not supported by vigil: the group is defined by vigil's configuration and its known set (see vigil forget)")},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := c.do(tt.args...)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("reply (-got +want):\n%s", diff)
			}
		})
	}
	if got, ok := c.do("CLIENT", "ID").(int64); !ok || got <= 0 {
		t.Errorf("CLIENT ID = %v, want a positive integer", got)
	}
	if id := SentinelID("a"); !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(id) {
		t.Errorf("SentinelID = %q, want 40 hex digits", id)
	}
	if got := metricValue(t, reg, "vigil_sentinel_commands_total", "command", "sentinel", "result", "error"); got < 5 {
		t.Errorf("sentinel errors counted = %v, want >= 5", got)
	}
	lintMetrics(t, reg)
}

func TestSentinelInstanceFields(t *testing.T) {
	_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", shapeSource())
	c := dialRESP(t, addr)

	common := []string{"name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount",
		"last-ping-sent", "last-ok-ping-reply", "last-ping-reply", "down-after-milliseconds"}
	numeric := []string{"port", "link-pending-commands", "link-refcount", "last-ping-sent", "last-ok-ping-reply",
		"last-ping-reply", "down-after-milliseconds", "info-refresh", "role-reported-time", "config-epoch",
		"num-slaves", "num-other-sentinels", "quorum", "failover-timeout", "parallel-syncs",
		"master-link-down-time", "master-port", "slave-priority", "slave-repl-offset", "replica-announced",
		"last-hello-message", "voted-leader-epoch"}
	check := func(t *testing.T, m map[string]string, keys []string, want map[string]string) {
		t.Helper()
		for _, k := range append(common, keys...) {
			if _, ok := m[k]; !ok {
				t.Errorf("field %q missing in %v", k, m)
			}
		}
		for _, k := range numeric {
			if v, ok := m[k]; ok {
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					t.Errorf("field %s = %q, want a numeric string", k, v)
				}
			}
		}
		got := make(map[string]string, len(want))
		for k := range want {
			got[k] = m[k]
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("fields (-got +want):\n%s", diff)
		}
	}

	masterKeys := []string{"info-refresh", "role-reported", "role-reported-time", "config-epoch", "num-slaves",
		"num-other-sentinels", "quorum", "failover-timeout", "parallel-syncs"}
	masterWant := map[string]string{"name": "mymaster", "ip": "127.0.0.1", "port": "6379", "flags": "master",
		"runid": "0123456789012345678901234567890123456789", "num-slaves": "1", "num-other-sentinels": "2",
		"quorum": "2", "config-epoch": "3", "down-after-milliseconds": "5000", "role-reported": "master"}
	t.Run("master", func(t *testing.T) {
		check(t, fieldMap(t, c.do("SENTINEL", "MASTER", "mymaster")), masterKeys, masterWant)
	})
	t.Run("masters", func(t *testing.T) {
		arr, ok := c.do("SENTINEL", "masters").([]any)
		if !ok || len(arr) != 1 {
			t.Fatalf("SENTINEL masters = %#v, want one entry", arr)
		}
		check(t, fieldMap(t, arr[0]), masterKeys, masterWant)
	})
	for _, sub := range []string{"replicas", "slaves"} {
		t.Run(sub, func(t *testing.T) {
			arr, ok := c.do("SENTINEL", sub, "mymaster").([]any)
			if !ok || len(arr) != 1 {
				t.Fatalf("SENTINEL %s = %#v, want one entry", sub, arr)
			}
			check(t, fieldMap(t, arr[0]), []string{"info-refresh", "role-reported", "role-reported-time",
				"master-link-down-time", "master-link-status", "master-host", "master-port", "slave-priority",
				"slave-repl-offset", "replica-announced"},
				map[string]string{"name": "127.0.0.1:6380", "ip": "127.0.0.1", "port": "6380", "flags": "slave",
					"master-link-status": "ok", "master-host": "127.0.0.1", "master-port": "6379",
					"slave-priority": "100", "slave-repl-offset": "1234"})
		})
	}
	t.Run("sentinels", func(t *testing.T) {
		arr, ok := c.do("SENTINEL", "sentinels", "mymaster").([]any)
		if !ok || len(arr) != 2 {
			t.Fatalf("SENTINEL sentinels = %#v, want two entries", arr)
		}
		check(t, fieldMap(t, arr[1]), []string{"last-hello-message", "voted-leader", "voted-leader-epoch"},
			map[string]string{"name": "c", "ip": "127.0.0.1", "port": "2", "flags": "sentinel", "runid": SentinelID("c")})
	})
	t.Run("info", func(t *testing.T) {
		info, _ := c.do("INFO").(string)
		for _, want := range []string{"# Server\r\n", "redis_mode:sentinel\r\n", "# Sentinel\r\n", "sentinel_masters:1\r\n",
			"sentinel_tilt:0\r\n", "master0:name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=3\r\n"} {
			if !strings.Contains(info, want) {
				t.Errorf("INFO lacks %q:\n%s", want, info)
			}
		}
		only, _ := c.do("INFO", "sentinel").(string)
		if strings.Contains(only, "# Server") || !strings.HasPrefix(only, "# Sentinel\r\n") {
			t.Errorf("INFO sentinel = %q, want only the Sentinel section", only)
		}
	})
}

func TestSentinelNoPrimary(t *testing.T) {
	src := newTestSource(snapshotOf(failover.Node{}))
	_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	c := dialRESP(t, addr)
	if diff := cmp.Diff(c.do("SENTINEL", "get-master-addr-by-name", "mymaster"), any(nullArray{})); diff != "" {
		t.Errorf("get-master-addr-by-name (-got +want):\n%s", diff)
	}
	m := fieldMap(t, c.do("SENTINEL", "master", "mymaster"))
	if got := m["flags"]; !strings.Contains(got, "s_down") || m["port"] != "0" {
		t.Errorf("master without primary: flags %q port %q, want s_down and port 0", got, m["port"])
	}
}

// redisCLI runs redis-cli against the endpoint and returns its output.
func redisCLI(t *testing.T, port string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestSentinelRedisCLI(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed (Debian package redis-tools)")
	}
	src := shapeSource()
	_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	_, port := splitAddr(addr)

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SENTINEL", "get-master-addr-by-name", "mymaster"}, "127.0.0.1\n6379\n"},
		{[]string{"SENTINEL", "get-master-addr-by-name", "nosuch"}, "\n"},
		{[]string{"ROLE"}, "sentinel\nmymaster\n"},
		{[]string{"SENTINEL", "myid"}, SentinelID("a") + "\n"},
		// redis-cli adds an empty line after an error.
		{[]string{"SENTINEL", "master", "nosuch"}, "ERR No such master with that name\n\n"},
		{[]string{"FOO", "bar"}, "ERR unknown command 'FOO', with args beginning with: 'bar' \n\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if diff := cmp.Diff(redisCLI(t, port, tt.args...), tt.want); diff != "" {
				t.Errorf("output (-got +want):\n%s", diff)
			}
		})
	}

	t.Run("SUBSCRIBE +switch-master", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", port, "SUBSCRIBE", "+switch-master")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func() string {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("redis-cli exited")
				}
				return l
			case <-ctx.Done():
				t.Fatal("timed out waiting for redis-cli output")
			}
			return ""
		}
		// redis-cli prints the confirmation: subscribe, channel, count.
		if got := []string{next(), next(), next()}; !cmp.Equal(got, []string{"subscribe", "+switch-master", "1"}) {
			t.Fatalf("confirmation = %q", got)
		}
		src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, Epoch: 4,
			OldPrimary: node("a", "127.0.0.1:6379", monitor.RolePrimary),
			NewPrimary: node("b", "127.0.0.1:6380", monitor.RolePrimary)})
		got := []string{next(), next(), next()}
		want := []string{"message", "+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("message (-got +want):\n%s", diff)
		}
		if n := len(strings.Split(got[2], " ")); n != 5 {
			t.Errorf("payload has %d fields, want 5", n)
		}
	})
}

// group starts a real primary and a synced replica and a topology naming them.
func group(t *testing.T) (primary, replica *redistest.Server, src *testSource) {
	t.Helper()
	primary = redistest.Start(t, redistest.Options{})
	replica = redistest.Start(t, redistest.Options{ReplicaOf: primary.Addr()})
	replica.WaitSynced(t)
	src = newTestSource(snapshotOf(node("a", primary.Addr(), monitor.RolePrimary), node("b", replica.Addr(), monitor.RoleReplica)))
	return primary, replica, src
}

func TestSentinelGoRedisSentinelClient(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) { testGoRedisSentinelClient(t, proto) })
	}
}

// wantProto fails unless every open connection of s speaks proto: go-redis
// falls back to RESP2 silently, so a RESP3 test must check it did not.
func wantProto(t *testing.T, s *Sentinel, proto int) {
	t.Helper()
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if len(s.conns) == 0 {
		t.Fatal("no open connection")
	}
	for c := range s.conns {
		if got := int(c.proto.Load()); got != proto {
			t.Errorf("connection %d speaks RESP%d, want RESP%d", c.id, got, proto)
		}
	}
}

func testGoRedisSentinelClient(t *testing.T, proto int) {
	primary, replica, src := group(t)
	s, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Protocol: proto})
	defer sc.Close()

	if err := sc.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	wantProto(t, s, proto)
	got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []string{primary.Host(), strconv.Itoa(primary.Port())}); diff != "" {
		t.Errorf("GetMasterAddrByName (-got +want):\n%s", diff)
	}
	if err := sc.GetMasterAddrByName(ctx, "nosuch").Err(); err != redis.Nil {
		t.Errorf("GetMasterAddrByName(nosuch) err = %v, want redis.Nil", err)
	}
	sentinels, err := sc.Sentinels(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	var sentAddrs []string
	for _, s := range sentinels {
		sentAddrs = append(sentAddrs, s["ip"]+":"+s["port"])
	}
	if diff := cmp.Diff(sentAddrs, []string{"127.0.0.1:1", "127.0.0.1:2"}); diff != "" {
		t.Errorf("Sentinels (-got +want):\n%s", diff)
	}
	replicas, err := sc.Replicas(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(replicas) != 1 || replicas[0]["ip"]+":"+replicas[0]["port"] != replica.Addr() || replicas[0]["flags"] != "slave" {
		t.Errorf("Replicas = %v, want %s with flags slave", replicas, replica.Addr())
	}
	masters, err := sc.Masters(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(masters) != 1 {
		t.Fatalf("Masters = %v, want one", masters)
	}
	master, err := sc.Master(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	if master["ip"]+":"+master["port"] != primary.Addr() || master["flags"] != "master" {
		t.Errorf("Master = %v", master)
	}
	if got, err := sc.CkQuorum(ctx, "mymaster").Result(); err != nil || !strings.HasPrefix(got, "OK 3 usable") {
		t.Errorf("CkQuorum = %q, %v", got, err)
	}

	// After a failover the same connection discovers the new primary and
	// the old one as a replica.
	oldP, newP := src.Snapshot().Primary, node("b", replica.Addr(), monitor.RolePrimary)
	demoted := node("a", primary.Addr(), monitor.RoleReplica)
	src.Set(func(s *failover.Snapshot) { s.Primary, s.Replicas, s.Epoch = newP, []failover.Node{demoted}, 4 })
	src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, Epoch: 4, OldPrimary: oldP, NewPrimary: newP})
	got, err = sc.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []string{replica.Host(), strconv.Itoa(replica.Port())}); diff != "" {
		t.Errorf("GetMasterAddrByName after failover (-got +want):\n%s", diff)
	}
	replicas, err = sc.Replicas(ctx, "mymaster").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(replicas) != 1 || replicas[0]["ip"]+":"+replicas[0]["port"] != primary.Addr() {
		t.Errorf("Replicas after failover = %v, want %s", replicas, primary.Addr())
	}
	wantProto(t, s, proto)
}

func TestSentinelGoRedisFailoverClient(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) { testGoRedisFailoverClient(t, proto) })
	}
}

func testGoRedisFailoverClient(t *testing.T, proto int) {
	primary, replica, src := group(t)
	// The other sidecars are unreachable in this test; keep go-redis from
	// adding them to its sentinel list.
	src.Set(func(s *failover.Snapshot) { s.Sentinels = nil })
	s, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		Protocol:      proto,
		MasterName:    "mymaster",
		SentinelAddrs: []string{addr},
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    3,
	})
	defer fc.Close()
	if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatalf("set before switch: %v", err)
	}
	if got := primary.Client().Get(ctx, "before").Val(); got != "1" {
		t.Fatalf("primary has before=%q, want 1", got)
	}
	if proto == 3 {
		// go-redis's sentinel connections speak RESP3 whatever Protocol
		// says, so only the RESP3 run can check this.
		wantProto(t, s, proto)
	}
	// go-redis subscribes to +switch-master in the background: publish
	// only once it listens, or it never hears of the switch.
	redistest.Eventually(t, 10*time.Second, func() error {
		if n, _ := s.pubsubCounts(); n == 0 {
			return errors.New("go-redis has not subscribed yet")
		}
		return nil
	})

	// Promote the replica ourselves, as failover would, then publish.
	if err := replica.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	oldP, newP := src.Snapshot().Primary, node("b", replica.Addr(), monitor.RolePrimary)
	src.Set(func(s *failover.Snapshot) { s.Primary, s.Replicas, s.Epoch = newP, nil, 4 })
	src.Publish(failover.Event{Kind: failover.EventSwitchPrimary, Epoch: 4, OldPrimary: oldP, NewPrimary: newP})

	// The old primary is still a writable primary: only where the writes
	// land tells which one the client follows. (A write cut off by the
	// switch may be retried and land on both, so wait for the first write
	// on the new primary, then require that the next ones land only there.)
	i := 0
	redistest.Eventually(t, 15*time.Second, func() error {
		i++
		key := fmt.Sprintf("after-%d", i)
		if err := fc.Set(ctx, key, "1", 0).Err(); err != nil {
			return fmt.Errorf("set: %w", err)
		}
		if replica.Client().Exists(ctx, key).Val() != 1 {
			return fmt.Errorf("%s went to the old primary", key)
		}
		return nil
	})
	t.Logf("writes reached the new primary after %d attempts", i)
	for j := range 20 {
		key := fmt.Sprintf("later-%d", j)
		if err := fc.Set(ctx, key, "1", 0).Err(); err != nil {
			t.Fatalf("set %s: %v", key, err)
		}
		if a, b := primary.Client().Exists(ctx, key).Val(), replica.Client().Exists(ctx, key).Val(); a != 0 || b != 1 {
			t.Fatalf("%s: on old primary %d, on new primary %d; want only on the new one", key, a, b)
		}
	}
}

// systemPython finds a python3 that has redis-py (Debian's python3-redis
// lives in /usr/bin/python3, which a pyenv shim may hide).
func systemPython(t *testing.T) string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import redis.sentinel").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with redis-py (Debian package python3-redis)")
	return ""
}

const pyDiscover = `
import json, sys
from redis.sentinel import Sentinel
s = Sentinel([('127.0.0.1', int(sys.argv[1]))], socket_timeout=2)
m = s.discover_master('mymaster')
sl = s.discover_slaves('mymaster')
w = s.master_for('mymaster', socket_timeout=2)
w.set('from-python', 'yes')
print(json.dumps({'master': [m[0], m[1]], 'slaves': [[x[0], x[1]] for x in sl]}))
`

func TestSentinelRedisPy(t *testing.T) {
	py := systemPython(t)
	primary, replica, src := group(t)
	_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	_, port := splitAddr(addr)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", pyDiscover, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got struct {
		Master []any   `json:"master"`
		Slaves [][]any `json:"slaves"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	want := struct {
		Master []any   `json:"master"`
		Slaves [][]any `json:"slaves"`
	}{
		Master: []any{primary.Host(), float64(primary.Port())},
		Slaves: [][]any{{replica.Host(), float64(replica.Port())}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("redis-py discovery (-got +want):\n%s", diff)
	}
	if v := primary.Client().Get(ctx, "from-python").Val(); v != "yes" {
		t.Errorf("master_for write did not reach the primary: %q", v)
	}
}

func TestSentinelAuth(t *testing.T) {
	cfg := testSentinelConfig()
	cfg.Password = "s3cret"
	primary, _, src := group(t)
	_, addr, _ := startSentinel(t, cfg, "mymaster", src)

	c := dialRESP(t, addr)
	steps := []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, respError(errNoAuth)},
		{[]string{"SENTINEL", "get-master-addr-by-name", "mymaster"}, respError(errNoAuth)},
		{[]string{"HELLO", "2"}, respError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")},
		{[]string{"AUTH", "wrong"}, respError(errWrongPass)},
		{[]string{"AUTH", "other", "s3cret"}, respError(errWrongPass)},
		{[]string{"AUTH", "s3cret"}, "OK"},
		{[]string{"PING"}, "PONG"},
	}
	for _, s := range steps {
		if diff := cmp.Diff(c.do(s.args...), s.want); diff != "" {
			t.Errorf("%v (-got +want):\n%s", s.args, diff)
		}
	}

	// go-redis authenticates with HELLO 3 AUTH, falls back to AUTH on -NOPROTO.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, pw := range []string{"s3cret", "wrong"} {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: pw})
		got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		sc.Close()
		if pw == "wrong" {
			if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
				t.Errorf("wrong password: err = %v, want WRONGPASS", err)
			}
			continue
		}
		if err != nil || got[1] != strconv.Itoa(primary.Port()) {
			t.Errorf("with password: %v, %v", got, err)
		}
	}
}

func TestSentinelPubSub(t *testing.T) {
	src := shapeSource()
	_, addr, reg := startSentinel(t, testSentinelConfig(), "mymaster", src)

	// go-redis, as its failover client subscribes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer sc.Close()
	ps := sc.Subscribe(ctx, "+switch-master", "+replica-reconf-done")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ps.Ping(ctx); err != nil {
		t.Errorf("go-redis ping while subscribed: %v", err)
	}

	// A raw PSUBSCRIBE * client, as Lettuce.
	raw := dialRESP(t, addr)
	if diff := cmp.Diff(raw.do("PSUBSCRIBE", "*"), any([]any{"psubscribe", "*", int64(1)})); diff != "" {
		t.Fatalf("psubscribe (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(raw.do("PING"), any([]any{"pong", ""})); diff != "" {
		t.Errorf("PING while subscribed (-got +want):\n%s", diff)
	}
	if got := raw.do("SENTINEL", "myid"); got != respError("ERR Can't execute 'sentinel': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context") {
		t.Errorf("SENTINEL while subscribed = %#v", got)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		if n := metricValue(t, reg, "vigil_sentinel_subscribers"); n != 2 {
			return fmt.Errorf("%v subscribers, want 2", n)
		}
		return nil
	})

	a := node("a", "127.0.0.1:6379", monitor.RolePrimary)
	b := node("b", "127.0.0.1:6380", monitor.RoleReplica)
	events := []struct {
		ev      failover.Event
		channel string
		msg     string
	}{
		{failover.Event{Kind: failover.EventSDown, Node: a}, "+sdown", "master mymaster 127.0.0.1 6379"},
		{failover.Event{Kind: failover.EventODown, Node: a, Votes: 2, Quorum: 2}, "+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2"},
		{failover.Event{Kind: failover.EventPromotedReplica, Node: b, OldPrimary: a}, "+promoted-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"},
		{failover.Event{Kind: failover.EventSwitchPrimary, OldPrimary: a, NewPrimary: b}, "+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"},
	}
	for _, e := range events {
		src.Publish(e.ev)
	}
	for _, e := range events {
		got := raw.read()
		want := []any{"pmessage", "*", e.channel, e.msg}
		if diff := cmp.Diff(got, any(want)); diff != "" {
			t.Errorf("pmessage (-got +want):\n%s", diff)
		}
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Channel != "+switch-master" || len(strings.Split(msg.Payload, " ")) != 5 {
		t.Errorf("go-redis got %q %q, want +switch-master with 5 fields", msg.Channel, msg.Payload)
	}

	// Replies pipelined before a SUBSCRIBE arrive before its confirmation,
	// and commands pipelined after it are answered in subscribed mode.
	pipe := dialRESP(t, addr)
	pipe.write([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\n+sdown\r\n*1\r\n$4\r\nPING\r\n"))
	for _, want := range []any{"PONG", []any{"subscribe", "+sdown", int64(1)}, []any{"pong", ""}} {
		if diff := cmp.Diff(pipe.read(), want); diff != "" {
			t.Errorf("pipelined (-got +want):\n%s", diff)
		}
	}

	// Unsubscribing from everything returns to normal mode.
	if diff := cmp.Diff(raw.do("PUNSUBSCRIBE"), any([]any{"punsubscribe", "*", int64(0)})); diff != "" {
		t.Errorf("punsubscribe (-got +want):\n%s", diff)
	}
	if got := raw.do("SENTINEL", "myid"); got != SentinelID("a") {
		t.Errorf("SENTINEL myid after unsubscribing = %#v", got)
	}
	if got := raw.do("QUIT"); got != "OK" {
		t.Errorf("QUIT = %#v", got)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(idleHelperEnv) != "" {
		os.Exit(idleHelper())
	}
	os.Exit(m.Run())
}

// A sidecar cut off from the group names no primary: the one it knows may
// have been replaced, and a client should ask another Sentinel.
func TestSentinelIsolatedNamesNoPrimary(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*failover.Snapshot)
	}{
		{"isolated", func(s *failover.Snapshot) { s.Isolated = true }},
		// Chaos seed 12806 (N=3): a lagging sidecar named its own Redis,
		// a replica of the new primary, and clients read stale values.
		{"lagging", func(s *failover.Snapshot) { s.Lagging = true }},
	} {
		snap := snapshotOf(failover.Node{Name: "a", Addr: "127.0.0.1:6379"})
		tt.set(&snap)
		_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", newTestSource(snap))
		c := dialRESP(t, addr)
		if diff := cmp.Diff(c.do("SENTINEL", "get-master-addr-by-name", "mymaster"), any(nullArray{})); diff != "" {
			t.Errorf("get-master-addr-by-name while %s (-got +want):\n%s", tt.name, diff)
		}
	}
}
