package retryq

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/config/tlsconfig"
	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/testcerts"
	"github.com/vigil-redis/vigil/retryq/client"
)

func TestPolicyCheck(t *testing.T) {
	def, err := NewPolicy(DefaultAllowedCommands())
	if err != nil {
		t.Fatalf("default policy: %v", err)
	}
	cases := []struct {
		cmd  []string
		want string // substring of the error; "" accepts
	}{
		{[]string{"SET", "k", "v"}, ""},
		{[]string{"set", "k", "v"}, ""},
		{[]string{"HSET", "h", "f", "v"}, ""},
		{[]string{"XADD", "s", "*", "f", "v"}, ""},
		{[]string{"EXPIRE", "k", "10"}, ""},
		{[]string{"ZADD", "z", "1", "m"}, ""},
		{[]string{"FLUSHALL"}, `"FLUSHALL" is administrative`},
		{[]string{"flushdb", "async"}, `"FLUSHDB" is administrative`},
		{[]string{"CONFIG", "SET", "dir", "/tmp"}, `"CONFIG" is administrative`},
		{[]string{"SHUTDOWN", "NOSAVE"}, `"SHUTDOWN" is administrative`},
		{[]string{"SCRIPT", "FLUSH"}, `"SCRIPT"`},
		{[]string{"FUNCTION", "FLUSH"}, `"FUNCTION"`},
		{[]string{"DEBUG", "SLEEP", "10"}, `"DEBUG"`},
		{[]string{"REPLICAOF", "evil", "6379"}, `"REPLICAOF"`},
		{[]string{"SLAVEOF", "evil", "6379"}, `"SLAVEOF"`},
		{[]string{"CLIENT", "KILL", "TYPE", "normal"}, `"CLIENT"`},
		{[]string{"ACL", "SETUSER", "x", "on"}, `"ACL"`},
		{[]string{"MODULE", "LOAD", "/x.so"}, `"MODULE"`},
		{[]string{"MIGRATE", "h", "1", "k", "0", "1"}, `"MIGRATE"`},
		{[]string{"KEYS", "*"}, `"KEYS"`},
		{[]string{"EVAL", "return 1", "0"}, `"EVAL"`},
		{[]string{"EVALSHA", "abc", "0"}, `"EVALSHA"`},
		{[]string{"FCALL", "f", "0"}, `"FCALL"`},
		{[]string{"GET", "k"}, `"GET" is not in retryq.allowed_commands`},
		{[]string{"NOSUCHCOMMAND"}, `"NOSUCHCOMMAND" is not in retryq.allowed_commands`},
	}
	for _, c := range cases {
		args := make([][]byte, len(c.cmd))
		for i, a := range c.cmd {
			args[i] = []byte(a)
		}
		err := def.Check(args)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want accepted", c.cmd, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Check(%q) = %v, want an error containing %s", c.cmd, err, c.want)
		}
	}
}

func TestPolicyRefusesDeniedInConfig(t *testing.T) {
	_, err := NewPolicy([]string{"set", "FLUSHALL", "eval", ""})
	if err == nil {
		t.Fatal("NewPolicy accepted FLUSHALL, EVAL and an empty name")
	}
	for _, want := range []string{"FLUSHALL", "EVAL", "empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := NewPolicy(nil); err == nil {
		t.Error("NewPolicy(nil) accepted an empty list")
	}
	p, err := NewPolicy([]string{"SET", " Incr "})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allows("set") || !p.Allows("INCR") || p.Allows("del") {
		t.Errorf("policy {SET, INCR}: Allows set=%v INCR=%v del=%v", p.Allows("set"), p.Allows("INCR"), p.Allows("del"))
	}
}

func TestConfigValidateNamesDeniedCommand(t *testing.T) {
	c := DefaultConfig()
	c.AllowedCommands = append(c.AllowedCommands, "config")
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "retryq.allowed_commands: CONFIG") {
		t.Fatalf("Validate = %v, want retryq.allowed_commands naming CONFIG", err)
	}
}

// Issue 11: administrative and destructive enqueues answer 400 naming the
// command and queue nothing; a data write is accepted.
func TestEnqueueRefusesAdministrativeCommands(t *testing.T) {
	q := startQueue(t, testConfig(), t.TempDir(), nil)
	ts := serve(t, q, "")
	for _, c := range []struct{ body, want string }{
		{`{"items":[{"command":["FLUSHALL"]}]}`, `"FLUSHALL"`},
		{`{"items":[{"command":["SET","k","v"]},{"command":["CONFIG","SET","dir","/tmp"]}]}`, `items[1]: command "CONFIG"`},
		{`{"items":[{"command":["shutdown","nosave"]}]}`, `"SHUTDOWN"`},
		{`{"items":[{"command":["EVAL","redis.call('flushall')","0"]}]}`, `"EVAL"`},
		{`{"items":[{"command_b64":["UkVQTElDQU9G","aA==","MQ=="]}]}`, `"REPLICAOF"`},
		{`{"items":[{"command":["GET","k"]}]}`, `"GET" is not in retryq.allowed_commands`},
	} {
		code, body := post(t, ts.URL+"/v1/retryq", "", c.body)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("POST %s: %d %s, want 400 containing %s", c.body, code, body, c.want)
		}
	}
	if s, err := q.Stats(); err != nil || s.Items != 0 {
		t.Fatalf("stats %+v, %v: want nothing queued", s, err)
	}
	if code, body := post(t, ts.URL+"/v1/retryq", "", `{"items":[{"command":["SET","k","v"]}]}`); code != http.StatusAccepted {
		t.Fatalf("SET: %d %s, want 202", code, body)
	}
}

// The hook queues only what the policy accepts, even when Writes lists
// more: a write the queue would refuse keeps its original error.
func TestHookFollowsPolicy(t *testing.T) {
	ctx := context.Background()
	q := startQueue(t, testConfig(), t.TempDir(), nil)
	ts := serve(t, q, "")
	policy, err := NewPolicy([]string{"set"})
	if err != nil {
		t.Fatal(err)
	}
	writes := WriteCommands()
	writes["flushall"] = true
	hook := NewHook(client.New(ts.URL, "", nil), HookOptions{Policy: &policy, Writes: writes})
	nowhere := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t, "127.0.0.1"))
	down := redis.NewClient(&redis.Options{Addr: nowhere, MaxRetries: -1, DialTimeout: time.Second})
	defer down.Close()
	down.AddHook(hook)
	if err := down.Set(ctx, "k", "v", 0).Err(); !errors.Is(err, ErrQueued) {
		t.Fatalf("SET: %v, want ErrQueued", err)
	}
	for name, err := range map[string]error{
		"INCR":     down.Incr(ctx, "n").Err(),
		"FLUSHALL": down.FlushAll(ctx).Err(),
	} {
		if err == nil || errors.Is(err, ErrQueued) {
			t.Errorf("%s: %v, want the plain dial error (not in the policy)", name, err)
		}
	}
	if s, err := q.Stats(); err != nil || s.Items != 1 {
		t.Fatalf("stats %+v, %v: want exactly the SET queued", s, err)
	}
}

// The replay reaches a TLS-only primary through PrimaryAddr.SetTLS
// (redis.tls).
func TestReplayOverTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srvPair, cliPair := ca.Issue(t, "redis"), ca.Issue(t, "vigil")
	srv := redistest.Start(t, redistest.Options{TLS: &redistest.TLSFiles{CAFile: ca.CertFile, CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile}})
	tc, err := tlsconfig.NewClient("redis.tls", tlsconfig.ClientConfig{Enabled: true, CAFile: ca.CertFile, CertFile: cliPair.CertFile, KeyFile: cliPair.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	src := NewPrimaryAddr("", "", "")
	src.SetTLS(tc)
	q := startQueue(t, testConfig(), t.TempDir(), src)
	mustEnqueue(t, q, NewItem{Command: cmd("SET", "over", "tls")})
	src.Set(srv.Addr())
	waitDrained(t, q, 10*time.Second)
	if v, err := srv.Client().Get(context.Background(), "over").Result(); err != nil || v != "tls" {
		t.Fatalf("over = %q, %v; want tls", v, err)
	}
}
