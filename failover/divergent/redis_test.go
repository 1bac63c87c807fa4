package divergent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-redis/vigil/internal/redistest"
	"github.com/vigil-redis/vigil/internal/tcprelay"
)

// pair is a primary A with a replica B in sync, as before a failover.
type pair struct {
	a, b *redistest.Server
}

func newPair(t *testing.T, args ...string) pair {
	t.Helper()
	a := redistest.Start(t, redistest.Options{Args: args})
	b := redistest.Start(t, redistest.Options{ReplicaOf: a.Addr()})
	b.WaitSynced(t)
	return pair{a, b}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func offset(t testing.TB, s *redistest.Server) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s.Info(t, "replication")["master_repl_offset"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// promoteB is promote for benchmarks.
func (p pair) promoteB(t testing.TB) Fork {
	t.Helper()
	redistest.Eventually(t, 15*time.Second, func() error {
		if a, b := offset(t, p.a), offset(t, p.b); a != b {
			return fmt.Errorf("replica at %d, primary at %d", b, a)
		}
		return nil
	})
	ctx := ctxT(t)
	if err := p.b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	txt, err := p.b.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFork(txt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// promote waits until B has everything A sent, then promotes B and
// returns the fork point B records.
func (p pair) promote(t *testing.T) Fork {
	t.Helper()
	redistest.Eventually(t, 15*time.Second, func() error {
		if a, b := offset(t, p.a), offset(t, p.b); a != b {
			return fmt.Errorf("replica at %d, primary at %d", b, a)
		}
		return nil
	})
	return p.promoteNow(t)
}

// promoteNow promotes B without waiting, as a failover does.
func (p pair) promoteNow(t *testing.T) Fork {
	t.Helper()
	ctx := ctxT(t)
	if err := p.b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	txt, err := p.b.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFork(txt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func pauseWrites(t *testing.T, s *redistest.Server) {
	t.Helper()
	if err := s.Client().Do(ctxT(t), "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
}

// TestForkOffsetIsExact proves the off-by-one on real servers: with
// nothing written after the promotion the capture is empty, and after one
// SET it is exactly that SET, byte for byte — one byte more or less and the
// stream would not parse or would lack a byte.
func TestForkOffsetIsExact(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	if err := p.a.Client().Set(ctx, "pre", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	aInfo := p.a.Info(t, "replication")
	fork := p.promote(t)
	if fork.OldReplID != aInfo["master_replid"] || strconv.FormatInt(fork.Offset, 10) != aInfo["master_repl_offset"] {
		t.Fatalf("fork %+v, primary had replid %s offset %s", fork, aInfo["master_replid"], aInfo["master_repl_offset"])
	}
	res, err := Capture(ctx, p.a.Addr(), RedisOptions{}, fork)
	if err != nil || res.Bytes() != 0 || len(res.Stream) != 0 {
		t.Fatalf("capture with nothing divergent: %d bytes, err %v", res.Bytes(), err)
	}
	if err := p.a.Client().Set(ctx, "after", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	res, err = Capture(ctx, p.a.Addr(), RedisOptions{}, fork)
	if err != nil {
		t.Fatal(err)
	}
	if want := cmdBytes("set", "after", "x"); !bytes.Equal(res.Stream, want) {
		t.Fatalf("stream %q, want %q", res.Stream, want)
	}
	// While a capture's connection is open, Redis counts it as a good
	// replica (PSYNC alone does that, for min-replicas-max-lag seconds);
	// once Capture returns it must count no more.
	if err := p.a.Client().ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := Capture(ctx, p.a.Addr(), RedisOptions{}, fork); err != nil {
		t.Fatal(err)
	}
	if err := p.a.Client().Set(ctx, "after2", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS") {
		t.Fatalf("write after the capture with min-replicas-to-write 1: %v, want NOREPLICAS", err)
	}
	if res.StartDB != 0 {
		t.Fatalf("db at fork %d, want 0", res.StartDB)
	}
}

// TestNoForkFromAReplica: a replica C of B, when B is promoted, moves to
// B's new history and keeps A's as master_replid2, at the offset it was at:
// what INFO shows then is no promotion's fork, and ParseFork refuses it
// until C itself is promoted. Chaos seed 12269 (N=3): the fork read from
// the switchover's target before its promotion was 9600 bytes behind it.
func TestNoForkFromAReplica(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	c := redistest.Start(t, redistest.Options{ReplicaOf: p.b.Addr()})
	c.WaitSynced(t)
	if err := p.a.Client().Set(ctx, "pre", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fork := p.promote(t)
	redistest.Eventually(t, 15*time.Second, func() error {
		if info := c.Info(t, "replication"); info["master_replid2"] != fork.OldReplID || info["master_link_status"] != "up" {
			return fmt.Errorf("chained replica: replid2 %s link %s, want %s up", info["master_replid2"], info["master_link_status"], fork.OldReplID)
		}
		return nil
	})
	txt, err := c.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseFork(txt); !errors.Is(err, ErrNotPromoted) {
		t.Fatalf("ParseFork of a replica = %+v, %v; want ErrNotPromoted", got, err)
	}
	if err := c.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	txt, err = c.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseFork(txt)
	if err != nil || got.OldReplID == fork.OldReplID {
		t.Fatalf("ParseFork once promoted = %+v, %v; want the fork from B's history, not A's", got, err)
	}
}

// write is one write acknowledged by A and how Redis propagates it: the
// client's arguments as sent (go-redis spells command names in lower
// case), EXPIRE as PEXPIREAT with an absolute time.
type write struct {
	db   int
	args []string // as propagated; "~" for an absolute time checked loosely
	tx   string   // "MULTI" or "EXEC" markers
}

// divergentMix writes a mix of commands to A after the fork, starting in
// database 3 (selected before the fork, so the stream has no SELECT for
// it) and returns what A acknowledged, in order.
func divergentMix(t *testing.T, a *redistest.Server, n int) []write {
	t.Helper()
	ctx := ctxT(t)
	db3 := redis.NewClient(&redis.Options{Addr: a.Addr(), DB: 3, MaxRetries: -1})
	defer db3.Close()
	c := a.Client()
	var ws []write
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db3.Set(ctx, "d3:first", "in three", 0).Err())
	ws = append(ws, write{db: 3, args: []string{"set", "d3:first", "in three"}})
	for i := range n {
		k := "div:" + strconv.Itoa(i)
		must(c.Set(ctx, k, "v\x00\r\n"+strconv.Itoa(i), 0).Err())
		ws = append(ws, write{args: []string{"set", k, "v\x00\r\n" + strconv.Itoa(i)}})
		must(c.Incr(ctx, "div:counter").Err())
		ws = append(ws, write{args: []string{"incr", "div:counter"}})
		must(c.HSet(ctx, "div:h", "f"+strconv.Itoa(i), i).Err())
		ws = append(ws, write{args: []string{"hset", "div:h", "f" + strconv.Itoa(i), strconv.Itoa(i)}})
		must(c.Expire(ctx, k, time.Hour).Err())
		ws = append(ws, write{args: []string{"PEXPIREAT", k, "~"}})
		if i%5 == 0 {
			must(c.Set(ctx, k+":ex", "e", time.Hour).Err())
			ws = append(ws, write{args: []string{"SET", k + ":ex", "e", "PXAT", "~"}})
		}
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "div:tx")
			p.LPush(ctx, "div:list", i)
			return nil
		})
		must(err)
		ws = append(ws, write{tx: "MULTI"}, write{args: []string{"incr", "div:tx"}},
			write{args: []string{"lpush", "div:list", strconv.Itoa(i)}}, write{tx: "EXEC"})
		if i%10 == 0 {
			must(db3.Incr(ctx, "d3:n").Err())
			ws = append(ws, write{db: 3, args: []string{"incr", "d3:n"}})
		}
	}
	return ws
}

// checkArchive asserts that the archive holds exactly ws, in order, byte
// for byte (PEXPIREAT's time within the window of the test).
func checkArchive(t *testing.T, file []byte, m Manifest, ws []write, from, to time.Time) {
	t.Helper()
	cmds, err := splitStream(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	db := -1
	i := 0
	for _, c := range cmds {
		if c.is("SELECT") {
			db, _ = strconv.Atoi(string(c.args[1]))
			continue
		}
		if i >= len(ws) {
			t.Fatalf("archive has more commands than A acknowledged: %q", c.raw)
		}
		w := ws[i]
		i++
		if w.tx != "" {
			if !c.is(w.tx) {
				t.Fatalf("command %d: %q, want %s", i, c.raw, w.tx)
			}
			continue
		}
		if db != w.db {
			t.Fatalf("command %d %q runs in db %d, want %d", i, c.raw, db, w.db)
		}
		want := cmdBytes(w.args...)
		if w.args[len(w.args)-1] == "~" {
			ms, err := strconv.ParseInt(string(c.args[len(c.args)-1]), 10, 64)
			lo, hi := from.Add(time.Hour).UnixMilli(), to.Add(time.Hour).UnixMilli()
			if err != nil || ms < lo || ms > hi {
				t.Fatalf("command %d: %q, want PEXPIREAT between %d and %d", i, c.raw, lo, hi)
			}
			want = cmdBytes(append(w.args[:len(w.args)-1:len(w.args)-1], string(c.args[len(c.args)-1]))...)
		}
		if !bytes.Equal(c.raw, want) {
			t.Fatalf("command %d: %q, want %q", i, c.raw, want)
		}
	}
	if i != len(ws) {
		t.Fatalf("archive has %d of the %d writes A acknowledged", i, len(ws))
	}
	if m.Commands != len(ws)-2*strings.Count(fmt.Sprint(ws), "MULTI") {
		t.Fatalf("manifest counts %d commands", m.Commands)
	}
}

// sameKeys asserts that every key of db on want exists on got with the
// same serialized value.
func sameKeys(t *testing.T, want, got *redistest.Server, db int, pattern string) int {
	t.Helper()
	ctx := ctxT(t)
	w := redis.NewClient(&redis.Options{Addr: want.Addr(), DB: db, MaxRetries: -1})
	defer w.Close()
	g := redis.NewClient(&redis.Options{Addr: got.Addr(), DB: db, MaxRetries: -1})
	defer g.Close()
	keys, err := w.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		wv, err := w.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		gv, err := g.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("db %d key %q on %s: %v", db, k, got.Addr(), err)
		}
		if wv != gv {
			t.Fatalf("db %d key %q differs", db, k)
		}
		wt, _ := w.PTTL(ctx, k).Result()
		gt, _ := g.PTTL(ctx, k).Result()
		if (wt > 0) != (gt > 0) {
			t.Fatalf("db %d key %q: ttl %v, want %v", db, k, gt, wt)
		}
	}
	return len(keys)
}

func keeperCfg(mode Mode) Config {
	cfg := DefaultConfig()
	cfg.DivergentWrites = mode
	return cfg
}

// TestKeepArchivesEveryDivergentWrite: the whole path on real servers. A
// keeps taking writes after B's promotion, with a third server attached
// to A meanwhile so the stream carries pings and REPLCONF GETACK; Keep
// archives exactly the writes A acknowledged after the fork, and the
// archive applied with redis-cli --pipe to a fresh server reproduces them.
func TestKeepArchivesEveryDivergentWrite(t *testing.T) {
	p := newPair(t, "--repl-ping-replica-period", "1")
	ctx := ctxT(t)
	db3 := redis.NewClient(&redis.Options{Addr: p.a.Addr(), DB: 3, MaxRetries: -1})
	defer db3.Close()
	if err := p.a.Client().Set(ctx, "pre:0", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db3.Set(ctx, "pre:3", "x", 0).Err(); err != nil { // db 3 selected at the fork
		t.Fatal(err)
	}
	fork := p.promote(t)

	from := time.Now()
	ws := divergentMix(t, p.a, 20)
	// A replica of A makes it ping and, with WAIT, ask for ACKs: both
	// travel in the stream and must not reach the archive.
	c := redistest.Start(t, redistest.Options{ReplicaOf: p.a.Addr()})
	c.WaitSynced(t)
	ws = append(ws, divergentMix(t, p.a, 5)...)
	if err := p.a.Client().Wait(ctx, 1, time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		if pingsSince(t, p.a) {
			return nil
		}
		return errors.New("no ping in the stream yet")
	})
	ws = append(ws, divergentMix(t, p.a, 5)...)
	to := time.Now()
	pauseWrites(t, p.a)

	k, _ := newTestKeeper(t, keeperCfg(ModeArchive), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 2, Node: "a", Addr: p.a.Addr(), Fork: fork})
	if err != nil {
		t.Fatal(err)
	}
	m, err := k.Get(res.Archive)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StatePending || m.Missing != 0 || !m.StartDBKnown || m.StartDB != 3 || len(m.Dropped) == 0 {
		t.Fatalf("manifest: %+v", m)
	}
	if m.OffsetAfter < m.EndOffset { // A pings C meanwhile: it may move on
		t.Fatalf("offset after the capture %d, before %d", m.OffsetAfter, m.EndOffset)
	}
	path := filepath.Join(k.Dir(), "2-a.resp")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, file, m, ws, from, to)

	// The capture connection is gone: A lists only C as its replica.
	redistest.Eventually(t, 10*time.Second, func() error {
		if n := p.a.Info(t, "replication")["connected_slaves"]; n != "1" {
			return fmt.Errorf("connected_slaves %s", n)
		}
		return nil
	})

	fresh := redistest.Start(t, redistest.Options{})
	pipe(t, fresh, path)
	if n := sameKeys(t, p.a, fresh, 0, "div:*"); n < 20 {
		t.Fatalf("only %d keys compared", n)
	}
	if n := sameKeys(t, p.a, fresh, 3, "d3:*"); n != 2 {
		t.Fatalf("%d db 3 keys compared, want 2", n)
	}
	if n, _ := fresh.Client().Exists(ctx, "pre:0").Result(); n != 0 {
		t.Fatal("a write from before the fork is in the archive")
	}
}

// pingsSince reports whether A pings its replicas: its offset advances
// with no client writing.
func pingsSince(t *testing.T, a *redistest.Server) bool {
	t.Helper()
	before := offset(t, a)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if offset(t, a) > before {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func pipe(t *testing.T, s *redistest.Server, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctxT(t), "redis-cli", "-h", s.Host(), "-p", strconv.Itoa(s.Port()), "--pipe")
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0") {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
}

// TestKeepReplaysOnce: replay mode puts every divergent write on the new
// primary, and replaying the archive again applies none twice.
func TestKeepReplaysOnce(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	db3 := redis.NewClient(&redis.Options{Addr: p.a.Addr(), DB: 3, MaxRetries: -1})
	defer db3.Close()
	if err := db3.Set(ctx, "pre:3", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fork := p.promote(t)
	ws := divergentMix(t, p.a, 30)
	pauseWrites(t, p.a)

	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 5, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replay == nil || !res.Replay.Complete() || res.ReplayError != "" || res.Replay.CommandErrors != 0 {
		t.Fatalf("replay: %+v %s", res.Replay, res.ReplayError)
	}
	if res.Commands != len(ws)-2*30 {
		t.Fatalf("%d commands archived, A acknowledged %d", res.Commands, len(ws)-2*30)
	}
	check := func() {
		t.Helper()
		if n := sameKeys(t, p.a, p.b, 0, "div:*"); n < 30 {
			t.Fatalf("only %d keys compared", n)
		}
		if n := sameKeys(t, p.a, p.b, 3, "d3:*"); n != 2 {
			t.Fatalf("%d db 3 keys compared, want 2", n)
		}
		for _, k := range []string{"div:counter", "div:tx"} {
			if v, _ := p.b.Client().Get(ctx, k).Result(); v != "30" {
				t.Fatalf("%s on the new primary = %q, want 30", k, v)
			}
		}
	}
	check()
	m, err := k.Get(res.Archive)
	if err != nil || m.State != StateReplayed {
		t.Fatalf("manifest state %s, err %v", m.State, err)
	}
	if _, err := k.Replay(ctx, res.Archive, p.b.Addr(), false); !errors.Is(err, ErrAlreadyReplayed) {
		t.Fatalf("second replay without force: %v", err)
	}
	m, err = k.Replay(ctx, res.Archive, p.b.Addr(), true)
	if err != nil {
		t.Fatal(err)
	}
	if m.Replay.Applied != 0 || m.Replay.Duplicates != m.Units {
		t.Fatalf("second replay: %+v", m.Replay)
	}
	check()
	// Keep again (as after a crash of the shell before the demotion): the
	// archive stays, and nothing is applied twice.
	res2, err := k.Keep(ctx, Request{Epoch: 5, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil || res2.Replay == nil || res2.Replay.Applied != 0 || res2.Replay.Duplicates != m.Units {
		t.Fatalf("keep again: %+v, err %v", res2.Replay, err)
	}
	check()
	// Another sidecar capturing the same former primary: its own archive,
	// the same markers, nothing applied twice.
	other, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res3, err := other.Keep(ctx, Request{Epoch: 5, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil || res3.Replay == nil || res3.Replay.Applied != 0 || res3.Replay.Duplicates != m.Units {
		t.Fatalf("keep by another sidecar: %+v, err %v", res3.Replay, err)
	}
	check()
}

// TestKeepBacklogTooShort: 10 MiB of divergent writes through a 1 MiB
// backlog: Keep says how much is lost, records it, replays nothing.
func TestKeepBacklogTooShort(t *testing.T) {
	p := newPair(t, "--repl-backlog-size", "1mb")
	ctx := ctxT(t)
	fork := p.promote(t)
	val := strings.Repeat("x", 10<<10)
	pipe := p.a.Client().Pipeline()
	for i := range 1024 {
		pipe.Set(ctx, "big:"+strconv.Itoa(i), val, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	pauseWrites(t, p.a)
	info := p.a.Info(t, "replication")
	first, _ := strconv.ParseInt(info["repl_backlog_first_byte_offset"], 10, 64)

	k, reg := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 3, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if !errors.Is(err, ErrBacklogShort) {
		t.Fatalf("Keep: %v, want ErrBacklogShort", err)
	}
	if want := first - fork.PSYNCOffset(); res.Missing != want || res.Bytes < 10<<20 {
		t.Fatalf("missing %d of %d bytes, want %d missing", res.Missing, res.Bytes, want)
	}
	for _, s := range []string{strconv.FormatInt(res.Missing, 10), "backlog starts at"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
	m, err := k.Get(res.Archive)
	if err != nil || m.State != StatePending || m.Missing != res.Missing || m.File != "" {
		t.Fatalf("loss record %+v, err %v", m, err)
	}
	if _, err := k.Replay(ctx, m.Name, p.b.Addr(), true); !errors.Is(err, ErrNothingToReplay) {
		t.Fatalf("replay of a loss record: %v", err)
	}
	if n, _ := p.b.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("new primary has %d keys, want 0", n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "vigil_divergent_missing_bytes_total" && int64(mf.GetMetric()[0].GetCounter().GetValue()) != res.Missing {
			t.Fatalf("missing bytes metric %v", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// The old primary was never asked for a full resync (no fork for it).
	if n := p.a.Info(t, "stats")["sync_full"]; n != "1" {
		t.Fatalf("sync_full %s, want 1 (B's initial sync only)", n)
	}
}

// TestKeepAfterStall: A stalls (SIGSTOP) with writes queued to it, B is
// promoted meanwhile, A resumes and acknowledges them: every write A
// acknowledged after the fork is archived, in order.
func TestKeepAfterStall(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	writer := redis.NewClient(&redis.Options{Addr: p.a.Addr(), MaxRetries: -1, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, PoolSize: 1})
	defer writer.Close()
	if err := writer.Set(ctx, "pre", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 15*time.Second, func() error {
		if a, b := offset(t, p.a), offset(t, p.b); a != b {
			return fmt.Errorf("replica at %d, primary at %d", b, a)
		}
		return nil
	})
	p.a.Stop(t)
	stopped := true
	defer func() {
		if stopped {
			p.a.Cont(t)
		}
	}()
	type ack struct {
		i   int
		err error
	}
	acks := make(chan ack, 1000)
	go func() {
		for i := range 300 {
			err := writer.Set(ctx, "stall:"+strconv.Itoa(i), i, 0).Err()
			acks <- ack{i, err}
			if err != nil {
				close(acks)
				return
			}
		}
		close(acks)
	}()
	fork := p.promoteNow(t)
	time.Sleep(500 * time.Millisecond) // the stall outlasts the promotion
	p.a.Cont(t)
	stopped = false
	var acked []write
	for a := range acks {
		if a.err != nil {
			t.Fatalf("write %d: %v", a.i, a.err)
		}
		acked = append(acked, write{args: []string{"set", "stall:" + strconv.Itoa(a.i), strconv.Itoa(a.i)}})
	}
	pauseWrites(t, p.a)
	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 9, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := k.Get(res.Archive)
	file, err := k.File(res.Archive)
	if err != nil {
		t.Fatal(err)
	}
	checkArchive(t, file, m, acked, time.Now(), time.Now())
	if n := sameKeys(t, p.a, p.b, 0, "stall:*"); n != 300 {
		t.Fatalf("%d keys compared, want 300", n)
	}
}

// TestRunRetriesFailedReplay: the new primary cannot be reached when Keep
// replays; Run replays the pending archive again once a primary is known,
// and it ends on the new primary exactly once.
func TestRunRetriesFailedReplay(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	fork := p.promote(t)
	for range 50 {
		if err := p.a.Client().Incr(ctx, "retry:n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	pauseWrites(t, p.a)
	nowhere := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t, "127.0.0.1"))
	cfg := keeperCfg(ModeReplay)
	cfg.ReplayRetry = 50 * time.Millisecond // retry at once in the test
	primary := make(chan string, 1)
	k, _ := newTestKeeper(t, cfg, Deps{Primary: func() (string, bool) {
		select {
		case a := <-primary:
			primary <- a
			return a, true
		default:
			return "", false
		}
	}})
	res, err := k.Keep(ctx, Request{Epoch: 4, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: nowhere})
	if err != nil || res.ReplayError == "" || res.Replay == nil || res.Replay.Failed != 50 || !res.Replay.Interrupted {
		t.Fatalf("keep with an unreachable new primary: %+v %+v, err %v", res, res.Replay, err)
	}
	if m, _ := k.Get(res.Archive); m.State != StatePending {
		t.Fatalf("state %s after a failed replay, want pending", m.State)
	}
	runUntilReplayed(t, ctx, k, res.Archive, func() { primary <- p.b.Addr() })
	if v := p.b.Client().Get(ctx, "retry:n").Val(); v != "50" {
		t.Fatalf("counter on the new primary %q, want 50", v)
	}
}

// A new primary that refuses writes until a replica attaches
// (min-replicas-to-write, NOREPLICAS) interrupts the replay as a whole, so
// Run replays it again once the primary takes writes; counted as failures
// of single units it was never retried.
func TestRunRetriesReplayRefusedForWantOfReplicas(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	fork := p.promote(t)
	for range 20 {
		if err := p.a.Client().Incr(ctx, "norep:n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	pauseWrites(t, p.a)
	if err := p.b.Client().ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := keeperCfg(ModeReplay)
	cfg.ReplayRetry = 50 * time.Millisecond
	k, _ := newTestKeeper(t, cfg, Deps{Primary: func() (string, bool) { return p.b.Addr(), true }})
	res, err := k.Keep(ctx, Request{Epoch: 4, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil || res.Replay == nil || !res.Replay.Interrupted || !strings.Contains(res.ReplayError, "NOREPLICAS") {
		t.Fatalf("keep into a primary without replicas: %+v %+v, err %v", res, res.Replay, err)
	}
	runUntilReplayed(t, ctx, k, res.Archive, func() {
		if err := p.b.Client().ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil { // a replica attached
			t.Fatal(err)
		}
	})
	if v := p.b.Client().Get(ctx, "norep:n").Val(); v != "20" {
		t.Fatalf("counter on the new primary %q, want 20", v)
	}
}

// A new primary that holds the replay's script (its writes paused, as
// during a promotion's hold) interrupts the replay at Request.ReplayWait,
// and Run replays it once the primary takes writes. Without the bound the
// caller, a demotion, waited on: chaos seed 2103 (N=3), a's sidecar waited
// 29.6 s for b's answer (held by b's pause, then lost to a one-way
// partition), was named the primary meanwhile and neither promoted nor
// detached its Redis, which full-synced b's empty restart.
func TestRunRetriesReplayHeldByAPausedPrimary(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	fork := p.promote(t)
	for range 20 {
		if err := p.a.Client().Incr(ctx, "held:n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	pauseWrites(t, p.a)
	if err := p.b.Client().Do(ctx, "CLIENT", "PAUSE", "20000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := keeperCfg(ModeReplay)
	cfg.ReplayRetry = 50 * time.Millisecond
	k, _ := newTestKeeper(t, cfg, Deps{Primary: func() (string, bool) { return p.b.Addr(), true }})
	start := time.Now()
	res, err := k.Keep(ctx, Request{Epoch: 4, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr(), ReplayWait: 500 * time.Millisecond})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("keep into a paused primary took %s, want the replay cut at 500ms", took)
	}
	if err != nil || res.Replay == nil || !res.Replay.Interrupted || res.ReplayError == "" {
		t.Fatalf("keep into a paused primary: %+v %+v, err %v", res, res.Replay, err)
	}
	runUntilReplayed(t, ctx, k, res.Archive, func() {
		if err := p.b.Client().Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Fatal(err)
		}
	})
	if v := p.b.Client().Get(ctx, "held:n").Val(); v != "20" {
		t.Fatalf("counter on the new primary %q, want 20", v)
	}
}

// runUntilReplayed runs k, calls then (the new primary becomes writable),
// and waits until archive is replayed.
func runUntilReplayed(t *testing.T, ctx context.Context, k *Keeper, archive string, then func()) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Run(rctx) }()
	then()
	redistest.Eventually(t, 20*time.Second, func() error {
		m, err := k.Get(archive)
		if err != nil {
			return err
		}
		if m.State != StateReplayed {
			return fmt.Errorf("state %s", m.State)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEnsureBacklog(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"--repl-backlog-size", "1mb"}})
	ctx := ctxT(t)
	for range 2 { // the second call finds it set
		if err := EnsureBacklog(ctx, s.Client(), 64<<20); err != nil {
			t.Fatal(err)
		}
		if got := s.Client().ConfigGet(ctx, "repl-backlog-size").Val()["repl-backlog-size"]; got != strconv.Itoa(64<<20) {
			t.Fatalf("repl-backlog-size %s", got)
		}
		if got := s.Client().ConfigGet(ctx, "repl-backlog-ttl").Val()["repl-backlog-ttl"]; got != "0" {
			t.Fatalf("repl-backlog-ttl %s", got)
		}
	}
}

// TestKeepReportsWhatCannotBeCaptured: an unreachable node, a node already
// demoted, and a node that restarted empty each give a clear error and
// no archive, never a panic.
func TestKeepReportsWhatCannotBeCaptured(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	fork := p.promote(t)
	if err := p.a.Client().Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	k, reg := newTestKeeper(t, keeperCfg(ModeArchive), Deps{})
	nowhere := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t, "127.0.0.1"))
	if _, err := k.Keep(ctx, Request{Epoch: 1, Node: "gone", Addr: nowhere, Fork: fork}); err == nil ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable: %v", err)
	}
	// B is a primary on another history: asking it for A's history is refused.
	if _, err := k.Keep(ctx, Request{Epoch: 1, Node: "b", Addr: p.b.Addr(), Fork: Fork{OldReplID: strings.Repeat("e", 40), Offset: fork.Offset}}); !errors.Is(err, ErrOtherHistory) {
		t.Fatalf("other history: %v", err)
	}
	// A demoted already: nothing left to capture.
	if err := p.a.Client().ReplicaOf(ctx, p.b.Host(), strconv.Itoa(p.b.Port())).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: p.a.Addr(), Fork: fork}); !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("demoted: %v", err)
	}
	// A restarted without persistence: a new history.
	p.a.Restart(t)
	if _, err := k.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: p.a.Addr(), Fork: fork}); !errors.Is(err, ErrOtherHistory) {
		t.Fatalf("restarted: %v", err)
	}
	if ms, _ := k.List(); len(ms) != 0 {
		t.Fatalf("archives written: %+v", ms)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "vigil_divergent_captures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == resultFailed && m.GetCounter().GetValue() != 4 {
				t.Fatalf("failed captures %v, want 4", m.GetCounter().GetValue())
			}
		}
	}
}

// TestKeepAfterPartition: B replicates from A through a relay that is cut
// while a writer hammers A, so B misses the unreplicated tail; B is
// promoted and A keeps acknowledging writes. With replay, every write A
// acknowledged is on B afterwards; without it, the ones counted as
// "missing" would be lost.
func TestKeepAfterPartition(t *testing.T) {
	ctx := ctxT(t)
	a := redistest.Start(t, redistest.Options{})
	relay := tcprelay.Start(t, a.Addr())
	b := redistest.Start(t, redistest.Options{ReplicaOf: relay.Addr()})
	b.WaitSynced(t)

	wctx, stop := context.WithCancel(ctx)
	acked := make(chan int, 1<<20)
	done := make(chan error, 1)
	go func() {
		defer close(acked)
		for i := 0; ; i++ {
			if err := a.Client().Set(wctx, "w:"+strconv.Itoa(i), i, 0).Err(); err != nil {
				if wctx.Err() != nil {
					done <- nil
				} else {
					done <- err
				}
				return
			}
			acked <- i
		}
	}()
	wrote := func(n int) {
		t.Helper()
		redistest.Eventually(t, 20*time.Second, func() error {
			if got := len(acked); got < n {
				return fmt.Errorf("%d writes acknowledged", got)
			}
			return nil
		})
	}
	wrote(200)
	relay.Cut() // mid-stream: B keeps what it received
	wrote(len(acked) + 200)
	fork := pair{a, b}.promoteNow(t)
	wrote(len(acked) + 200)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var all []int
	for i := range acked {
		all = append(all, i)
	}
	missing := 0
	for _, i := range all {
		if b.Client().Exists(ctx, "w:"+strconv.Itoa(i)).Val() == 0 {
			missing++
		}
	}
	if missing == 0 {
		t.Fatal("the new primary missed none of A's writes: the scenario did not diverge")
	}
	t.Logf("%d writes acknowledged by A, %d of them not on the new primary before the replay", len(all), missing)

	pauseWrites(t, a)
	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 3, Node: "a", Addr: a.Addr(), Fork: fork, NewPrimary: b.Addr()})
	if err != nil || res.Replay == nil || !res.Replay.Complete() || res.Commands != missing {
		t.Fatalf("keep: %+v %+v, err %v (want %d commands)", res, res.Replay, err, missing)
	}
	for _, i := range all {
		if v := b.Client().Get(ctx, "w:"+strconv.Itoa(i)).Val(); v != strconv.Itoa(i) {
			t.Fatalf("write %d acknowledged by A: %q on the new primary", i, v)
		}
	}
}

// TestReplayUnitsOutcomes: applied, applied before, a run-time command
// error (applied, as EXEC would), and a unit whose database does not exist
// on the target (not applied, and tried again next time).
func TestReplayUnitsOutcomes(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	ctx := ctxT(t)
	args := func(a ...string) [][]byte {
		out := make([][]byte, len(a))
		for i, x := range a {
			out[i] = []byte(x)
		}
		return out
	}
	units := []unit{
		{offset: 10, db: 0, cmds: [][][]byte{args("SET", "k", "v")}},
		{offset: 20, db: 2, cmds: [][][]byte{args("LPUSH", "k2", "x"), args("INCR", "k2"), args("INCR", "n2")}},
		{offset: 30, db: 99, cmds: [][][]byte{args("SET", "nowhere", "x")}},
		{offset: 40, db: 0, cmds: [][][]byte{args("INCR", "n")}},
	}
	res, err := replayUnits(ctx, s.Client(), "rid", units, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 3 || res.Failed != 1 || res.CommandErrors != 1 || res.Duplicates != 0 || res.Complete() {
		t.Fatalf("first replay: %+v", res)
	}
	res, err = replayUnits(ctx, s.Client(), "rid", units, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || res.Failed != 1 || res.Duplicates != 3 {
		t.Fatalf("second replay: %+v", res)
	}
	db2 := redis.NewClient(&redis.Options{Addr: s.Addr(), DB: 2, MaxRetries: -1})
	defer db2.Close()
	if v := db2.Get(ctx, "n2").Val(); v != "1" {
		t.Fatalf("n2 in db 2 = %q, want 1", v)
	}
	if v := s.Client().Get(ctx, "n").Val(); v != "1" {
		t.Fatalf("n in db 0 = %q, want 1", v)
	}
	if n := s.Client().Exists(ctx, MarkerPrefix+"rid:30").Val(); n != 0 {
		t.Fatal("the unit that was not applied kept its marker")
	}
	if ttl := s.Client().PTTL(ctx, MarkerPrefix+"rid:10").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("marker ttl %v", ttl)
	}
}

// TestKeepWithPassword: AUTH before the replication handshake and for the
// replay; a wrong password is a clear error.
func TestKeepWithPassword(t *testing.T) {
	const pw = "s3cret"
	a := redistest.Start(t, redistest.Options{Password: pw})
	b := redistest.Start(t, redistest.Options{Password: pw, ReplicaOf: a.Addr()})
	b.WaitSynced(t)
	p := pair{a, b}
	ctx := ctxT(t)
	fork := p.promote(t)
	if err := a.Client().Set(ctx, "auth:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pauseWrites(t, a)
	bad, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{Redis: RedisOptions{Password: "wrong"}})
	if _, err := bad.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: a.Addr(), Fork: fork, NewPrimary: b.Addr()}); err == nil ||
		!strings.Contains(err.Error(), "auth") || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{Redis: RedisOptions{Password: pw}})
	res, err := k.Keep(ctx, Request{Epoch: 1, Node: "a", Addr: a.Addr(), Fork: fork, NewPrimary: b.Addr()})
	if err != nil || res.Replay == nil || !res.Replay.Complete() || res.Commands != 1 {
		t.Fatalf("keep: %+v %+v, err %v", res, res.Replay, err)
	}
	if v := b.Client().Get(ctx, "auth:k").Val(); v != "v" {
		t.Fatalf("auth:k on the new primary = %q", v)
	}
}

// An item the retry queue applied on the old primary after the fork, and
// again on the new primary when it did not hear back, is not replayed a
// second time: its done marker on the new primary proves it applied there.
// An item only the old primary took is replayed.
func TestReplaySkipsItemsTheRetryQueueAppliedAgain(t *testing.T) {
	p := newPair(t)
	ctx := ctxT(t)
	fork := p.promote(t)
	// What the retry queue's script does: claim the marker, then write;
	// the stream carries the effects (SET marker, INCR) in MULTI/EXEC.
	const item = `if redis.call('SET', KEYS[1], '1', 'NX', 'PX', 60000) then return redis.call('INCR', KEYS[2]) end return 0`
	apply := func(s *redistest.Server, id string) {
		t.Helper()
		if err := s.Client().Eval(ctx, item, []string{RetryQueueMarkerPrefix + id, "rq:" + id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	apply(p.a, "both") // on the old primary after the fork...
	apply(p.b, "both") // ...and again on the new one
	apply(p.a, "only-a")
	pauseWrites(t, p.a)

	k, _ := newTestKeeper(t, keeperCfg(ModeReplay), Deps{})
	res, err := k.Keep(ctx, Request{Epoch: 5, Node: "a", Addr: p.a.Addr(), Fork: fork, NewPrimary: p.b.Addr()})
	if err != nil || res.Replay == nil || !res.Replay.Complete() {
		t.Fatalf("keep: %+v, err %v", res.Replay, err)
	}
	for id, want := range map[string]string{"both": "1", "only-a": "1"} {
		if v, _ := p.b.Client().Get(ctx, "rq:"+id).Result(); v != want {
			t.Errorf("rq:%s on the new primary = %q, want %s", id, v, want)
		}
	}
	if res.Replay.Duplicates != 1 || res.Replay.Applied != res.Replay.Units-1 {
		t.Errorf("replay %+v: want exactly the item applied twice counted as a duplicate", res.Replay)
	}
}
