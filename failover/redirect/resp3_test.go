package redirect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/monitor"
)

// readRaw reads one RESP2/RESP3 reply and returns its exact bytes.
func readRaw(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	out := line
	body := string(bytes.TrimRight(line[1:], "\r\n"))
	switch line[0] {
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return out, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return append(out, buf...), nil
	case '*', '%', '~', '>':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if line[0] == '%' {
			n *= 2
		}
		for range max(n, 0) {
			b, err := readRaw(rd)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
		}
	}
	return out, nil
}

// rawDo sends a command and returns the raw bytes of its reply.
func (r *respConn) rawDo(args ...string) []byte {
	r.t.Helper()
	r.send(args...)
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := readRaw(r.rd)
	if err != nil {
		r.t.Fatalf("%v: read reply: %v", args, err)
	}
	return b
}

// startRedisSentinel runs a real redis-sentinel monitoring primary as
// "mymaster" and returns its address; it skips the test when the binary is
// not installed.
func startRedisSentinel(t *testing.T, primary *redistest.Server) string {
	t.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Skip("redis-sentinel not installed (make deps): the side-by-side comparison needs it")
	}
	dir := t.TempDir()
	port := redistest.FreePort(t, "127.0.0.1")
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %d 1\nsentinel down-after-milliseconds mymaster 60000\n",
		port, dir, primary.Host(), primary.Port())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	redistest.Eventually(t, 10*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return addr
}

// sameShape compares two parsed replies: the same RESP types all the way
// down and, for maps, the same keys in the same order; leaf values may
// differ (they describe different processes).
func sameShape(a, b any) string {
	switch x := a.(type) {
	case respMap:
		y, ok := b.(respMap)
		if !ok || len(x) != len(y) {
			return fmt.Sprintf("map of %d vs %T %v", len(x)/2, b, b)
		}
		for i := 0; i < len(x); i += 2 {
			if x[i] != y[i] {
				return fmt.Sprintf("key %d: %v vs %v", i/2, x[i], y[i])
			}
			if d := sameShape(x[i+1], y[i+1]); d != "" {
				return fmt.Sprintf("%v: %s", x[i], d)
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok {
			return fmt.Sprintf("array vs %T", b)
		}
		if len(x) != len(y) {
			return fmt.Sprintf("array of %d vs %d", len(x), len(y))
		}
		for i := range x {
			if d := sameShape(x[i], y[i]); d != "" {
				return fmt.Sprintf("[%d]: %s", i, d)
			}
		}
		return ""
	}
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return fmt.Sprintf("%T vs %T", a, b)
	}
	return ""
}

// TestSentinelRESP3SideBySide sends the same commands to a real
// redis-sentinel and to the endpoint, both speaking RESP3, and compares
// the replies: byte for byte where they describe nothing process-specific,
// type for type (and key for key) elsewhere.
func TestSentinelRESP3SideBySide(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{})
	real := startRedisSentinel(t, primary)
	p := node("a", primary.Addr(), monitor.RolePrimary)
	src := newTestSource(snapshotOf(p))
	src.Set(func(s *failover.Snapshot) { s.Sentinels = nil })
	_, ours, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)

	rc, oc := dialRESP(t, real), dialRESP(t, ours)
	version := regexp.MustCompile(`\$\d+\r\n\d+\.\d+\.\d+\r\n`)
	id := regexp.MustCompile(`id\r\n:\d+\r\n`)
	norm := func(b []byte) string {
		b = version.ReplaceAll(b, []byte("$V\r\nVERSION\r\n"))
		return string(id.ReplaceAll(b, []byte("id\r\n:ID\r\n")))
	}
	for _, hello := range []string{"2", "3"} {
		r, o := norm(rc.rawDo("HELLO", hello)), norm(oc.rawDo("HELLO", hello))
		if r != o {
			t.Errorf("HELLO %s:\nredis-sentinel %q\nvigil          %q", hello, r, o)
		}
	}
	// Now both speak RESP3.
	exact := [][]string{
		{"PING"},
		{"CLIENT", "GETNAME"},
		{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"},
		{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"},
		{"SENTINEL", "MASTER", "nosuch"},
		{"SENTINEL", "IS-MASTER-DOWN-BY-ADDR", primary.Host(), strconv.Itoa(primary.Port()), "0", "*"},
		{"SENTINEL", "CONFIG", "GET", "*"},
		{"SENTINEL", "RESET", "nomatch"},
		{"ROLE"},
		{"ACL", "WHOAMI"},
		{"CLIENT", "SETNAME", "cmp"},
		{"CLIENT", "GETNAME"},
		{"UNSUBSCRIBE"},
	}
	for _, cmd := range exact {
		r, o := rc.rawDo(cmd...), oc.rawDo(cmd...)
		if !bytes.Equal(r, o) {
			t.Errorf("%v:\nredis-sentinel %q\nvigil          %q", cmd, r, o)
		}
	}
	shape := [][]string{
		{"SENTINEL", "MASTER", "mymaster"},
		{"SENTINEL", "MASTERS"},
		{"SENTINEL", "INFO-CACHE", "mymaster"},
		{"SENTINEL", "MYID"},
		{"COMMAND", "COUNT"},
		{"COMMAND", "INFO", "ping"},
		{"COMMAND", "INFO", "nosuchcommand"},
		{"INFO"},
		{"CLIENT", "INFO"},
		{"CLIENT", "LIST"},
	}
	for _, cmd := range shape {
		r, o := rc.do(cmd...), oc.do(cmd...)
		if cmd[0] == "SENTINEL" && cmd[1] == "INFO-CACHE" {
			// Sentinel lists its cached INFO texts; vigil keeps none.
			r.([]any)[1], o.([]any)[1] = nil, nil
		}
		if d := sameShape(r, o); d != "" {
			t.Errorf("%v: %s\nredis-sentinel %v\nvigil          %v", cmd, d, r, o)
		}
	}
	// INFO sections, as in redis-sentinel: Server, Clients, Stats, CPU, Sentinel.
	sections := regexp.MustCompile(`# (\w+)`)
	rinfo, oinfo := rc.do("INFO").(string), oc.do("INFO").(string)
	if diff := cmp.Diff(sections.FindAllString(string(rinfo), -1), sections.FindAllString(string(oinfo), -1)); diff != "" {
		t.Errorf("INFO sections (-redis-sentinel +vigil):\n%s", diff)
	}
	for _, f := range []string{"redis_version", "redis_mode", "run_id", "tcp_port", "uptime_in_seconds", "connected_clients",
		"total_connections_received", "total_commands_processed", "rejected_connections", "used_cpu_sys", "used_cpu_user",
		"sentinel_masters", "master0"} {
		if !bytes.Contains([]byte(oinfo), []byte("\r\n"+f+":")) {
			t.Errorf("vigil's INFO lacks %s", f)
		}
	}

	// Subscribed mode: the push frames, PING's answer and the way out.
	for _, cmd := range [][]string{{"PSUBSCRIBE", "*"}, {"SUBSCRIBE", "foo"}, {"PING"}, {"UNSUBSCRIBE"}, {"PUNSUBSCRIBE"}, {"UNSUBSCRIBE"}, {"PING"}} {
		r, o := rc.rawDo(cmd...), oc.rawDo(cmd...)
		if !bytes.Equal(r, o) {
			t.Errorf("%v:\nredis-sentinel %q\nvigil          %q", cmd, r, o)
		}
	}
}

// TestSentinelRESP3Push checks the published messages' RESP3 frames: a
// push of message or pmessage, as Redis frames them.
func TestSentinelRESP3Push(t *testing.T) {
	src := shapeSource()
	s, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", src)
	c := dialRESP(t, addr)
	// redis-sentinel 7.0.15's answer, captured with a raw socket, with
	// this endpoint's version and the connection's id.
	hello := regexp.MustCompile(`^%6\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$5\r\n` + regexp.QuoteMeta(redisVersion) +
		`\r\n\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$8\r\nsentinel\r\n\$7\r\nmodules\r\n\*0\r\n$`)
	if got := c.rawDo("HELLO", "3"); !hello.Match(got) {
		t.Fatalf("HELLO 3 = %q", got)
	}
	if got := c.rawDo("SUBSCRIBE", "+switch-master"); string(got) != ">3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n" {
		t.Fatalf("SUBSCRIBE = %q", got)
	}
	if got := c.rawDo("PSUBSCRIBE", "+*"); string(got) != ">3\r\n$10\r\npsubscribe\r\n$2\r\n+*\r\n:2\r\n" {
		t.Fatalf("PSUBSCRIBE = %q", got)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		if n, _ := s.pubsubCounts(); n == 0 {
			return fmt.Errorf("not subscribed yet")
		}
		return nil
	})
	s.Publish("+switch-master", "mymaster 1.1.1.1 1 2.2.2.2 2")
	want := map[string]bool{
		">3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$28\r\nmymaster 1.1.1.1 1 2.2.2.2 2\r\n":              true,
		">4\r\n$8\r\npmessage\r\n$2\r\n+*\r\n$14\r\n+switch-master\r\n$28\r\nmymaster 1.1.1.1 1 2.2.2.2 2\r\n": true,
	}
	for range 2 {
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := readRaw(c.rd)
		if err != nil {
			t.Fatal(err)
		}
		if !want[string(got)] {
			t.Errorf("unexpected frame %q", got)
		}
		delete(want, string(got))
	}
	// RESET returns to RESP2: the next HELLO without a version says 2.
	c.send("RESET")
	if got := c.read(); got != "RESET" {
		t.Fatalf("RESET = %v", got)
	}
	if got := fieldMap(t, c.do("HELLO"))["mode"]; got != "sentinel" {
		t.Errorf("HELLO after RESET mode = %q", got)
	}
}

// CLIENT INFO|LIST, COMMAND and ACL WHOAMI in RESP2, as redis-sentinel
// answers them.
func TestSentinelIntrospection(t *testing.T) {
	_, addr, _ := startSentinel(t, testSentinelConfig(), "mymaster", shapeSource())
	a, b := dialRESP(t, addr), dialRESP(t, addr)
	if got := a.do("CLIENT", "SETNAME", "alpha"); got != "OK" {
		t.Fatal(got)
	}
	b.do("HELLO", "3")
	b.do("SUBSCRIBE", "+switch-master")
	info, ok := a.do("CLIENT", "INFO").(string)
	if !ok || !strings.HasPrefix(info, "id=") || !strings.Contains(info, " name=alpha ") || !strings.Contains(info, " cmd=client|info ") ||
		!strings.Contains(info, " resp=2") || !strings.HasSuffix(info, "\n") {
		t.Errorf("CLIENT INFO = %q", info)
	}
	redistest.Eventually(t, 5*time.Second, func() error {
		list, _ := a.do("CLIENT", "LIST").(string)
		if n := strings.Count(list, "\n"); n != 2 || !strings.Contains(list, "flags=P") || !strings.Contains(list, "resp=3") {
			return fmt.Errorf("CLIENT LIST = %q", list)
		}
		return nil
	})
	if list, _ := a.do("CLIENT", "LIST", "TYPE", "pubsub").(string); strings.Count(list, "\n") != 1 || !strings.Contains(list, "sub=1") {
		t.Errorf("CLIENT LIST TYPE pubsub = %q", list)
	}
	if got := a.do("CLIENT", "LIST", "TYPE", "bogus"); got != respError("ERR Unknown client type 'bogus'") {
		t.Errorf("CLIENT LIST TYPE bogus = %v", got)
	}
	if got := a.do("ACL", "WHOAMI"); got != "default" {
		t.Errorf("ACL WHOAMI = %v", got)
	}
	if got, _ := a.do("COMMAND", "COUNT").(int64); got != int64(len(commandTable)) {
		t.Errorf("COMMAND COUNT = %v", got)
	}
	docs := fieldMap(t, flattenDocs(a.do("COMMAND", "DOCS", "ping")))
	if docs["ping"] == "" {
		t.Errorf("COMMAND DOCS ping = %v", docs)
	}
	if got, _ := a.do("COMMAND").([]any); len(got) != len(commandTable) {
		t.Errorf("COMMAND lists %d commands, want %d", len(got), len(commandTable))
	}
}

// flattenDocs turns COMMAND DOCS's RESP2 reply (name, [k, v, ...]) into
// name -> the summary, for fieldMap.
func flattenDocs(v any) any {
	arr, _ := v.([]any)
	var out []any
	for i := 0; i+1 < len(arr); i += 2 {
		m, _ := arr[i+1].([]any)
		summary := ""
		for j := 0; j+1 < len(m); j += 2 {
			if m[j] == "summary" {
				summary, _ = m[j+1].(string)
			}
		}
		out = append(out, arr[i], summary)
	}
	return out
}
