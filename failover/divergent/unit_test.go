package divergent

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-redis/vigil/retryq"
)

func TestParseFork(t *testing.T) {
	for _, tc := range []struct {
		name string
		info string
		want Fork
		err  error
	}{
		{
			name: "promoted replica",
			info: "# Replication\r\nrole:master\r\nmaster_replid:bbbb\r\nmaster_replid2:aaaa\r\nmaster_repl_offset:500\r\nsecond_repl_offset:421\r\n",
			want: Fork{OldReplID: "aaaa", Offset: 420},
		},
		{
			name: "never promoted",
			info: "role:master\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nsecond_repl_offset:-1\r\n",
			err:  ErrNoFork,
		},
		{
			// Chaos seed 12269: a replica of a replica promoted since.
			name: "a replica's switch of histories is no fork",
			info: "role:slave\r\nmaster_replid:bbbb\r\nmaster_replid2:aaaa\r\nmaster_repl_offset:500\r\nsecond_repl_offset:421\r\n",
			err:  ErrNotPromoted,
		},
		{name: "no field", info: "role:master\r\n", err: errors.New("any")},
		{name: "bad offset", info: "master_replid2:aaaa\r\nsecond_repl_offset:x\r\n", err: errors.New("any")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFork(tc.info)
			if tc.err != nil {
				if err == nil || (errors.Is(tc.err, ErrNoFork) != errors.Is(err, ErrNoFork)) || errors.Is(tc.err, ErrNotPromoted) != errors.Is(err, ErrNotPromoted) {
					t.Fatalf("ParseFork: err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("ParseFork = %+v, want %+v", got, tc.want)
			}
			if got.PSYNCOffset() != 421 {
				t.Fatalf("PSYNCOffset = %d, want second_repl_offset 421", got.PSYNCOffset())
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	full := appendCommand(nil, []byte("SET"), []byte("k"), []byte("a\r\nb"))
	args, n, err := parseCommand(full)
	if err != nil || n != len(full) {
		t.Fatalf("parseCommand: n %d err %v", n, err)
	}
	if diff := cmp.Diff([][]byte{[]byte("SET"), []byte("k"), []byte("a\r\nb")}, args); diff != "" {
		t.Fatal(diff)
	}
	for i := range len(full) {
		if _, _, err := parseCommand(full[:i]); !errors.Is(err, errIncomplete) {
			t.Fatalf("prefix of %d bytes: err %v, want incomplete", i, err)
		}
	}
	for _, bad := range []string{"+OK\r\n", "*0\r\n", "*1\r\n:1\r\n", "*1\r\n$-1\r\n", "*1\r\n$1\r\nab\r\n", "*x\r\n"} {
		if _, _, err := parseCommand([]byte(bad)); !errors.Is(err, errMalformed) {
			t.Errorf("%q: err %v, want malformed", bad, err)
		}
	}
}

func cmdBytes(args ...string) []byte {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return appendCommand(nil, b...)
}

func TestSelectedAtEnd(t *testing.T) {
	whole := bytes.Join([][]byte{
		cmdBytes("SELECT", "2"), cmdBytes("SET", "a", "1"),
		// A value that looks like a SELECT must not fool it.
		cmdBytes("SELECT", "5"), cmdBytes("SET", "b", "*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n"),
		cmdBytes("PING"),
	}, nil)
	for cut := range len(whole) {
		db, ok := selectedAtEnd(whole[cut:])
		switch {
		case cut <= bytes.LastIndex(whole, cmdBytes("SELECT", "5")):
			if !ok || db != 5 {
				t.Fatalf("cut %d: db %d ok %v, want 5", cut, db, ok)
			}
		case ok:
			t.Fatalf("cut %d: db %d, want unknown", cut, db)
		}
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	stream := bytes.Join([][]byte{
		cmdBytes("SET", "a", "1"), // db 3, known from before the fork
		cmdBytes("PING"),
		cmdBytes("SELECT", "0"),
		cmdBytes("MULTI"), cmdBytes("INCR", "x"), cmdBytes("INCR", "y"), cmdBytes("EXEC"),
		cmdBytes("REPLCONF", "GETACK", "*"),
		cmdBytes("PEXPIREAT", "a", "99999999999999"),
		cmdBytes("PING"), cmdBytes("REPLCONF", "GETACK", "*"), // adjacent: one gap
	}, nil)
	fork := Fork{OldReplID: "r", Offset: 1000}
	cr := CaptureResult{Fork: fork, EndOffset: 1000 + int64(len(stream)), Stream: stream, StartDB: 3}
	file, m, err := buildArchive(cr)
	if err != nil {
		t.Fatal(err)
	}
	if m.Commands != 4 || m.Units != 3 || len(m.Dropped) != 3 || !m.StartDBKnown {
		t.Fatalf("manifest %+v", m)
	}
	if !bytes.HasPrefix(file, cmdBytes("SELECT", "3")) || bytes.Contains(file, []byte("PING")) || bytes.Contains(file, []byte("GETACK")) {
		t.Fatalf("file %q", file)
	}
	us, err := unitsOf(file, m)
	if err != nil {
		t.Fatal(err)
	}
	cmds, _ := splitStream(stream, 1001)
	want := []unit{
		{offset: cmds[0].offset, db: 3, cmds: [][][]byte{cmds[0].args}},
		{offset: cmds[3].offset, db: 0, cmds: [][][]byte{cmds[4].args, cmds[5].args}},
		{offset: cmds[8].offset, db: 0, cmds: [][][]byte{cmds[8].args}},
	}
	if diff := cmp.Diff(want, us, cmp.AllowUnexported(unit{})); diff != "" {
		t.Fatalf("units (-want +got):\n%s", diff)
	}
	m.EndOffset++
	if _, err := unitsOf(file, m); !errors.Is(err, errCorrupt) {
		t.Fatalf("wrong end offset: err %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := Config{DivergentWrites: "keep", BacklogBytes: 100, MarkerTTL: time.Second}
	err := c.Validate()
	for _, want := range []string{`failover.divergent_writes ("keep")`, "failover.backlog_bytes (100)",
		"failover.divergent_marker_ttl (1s)", "failover.divergent_capture_timeout (0s)",
		"failover.divergent_replay_retry (0s)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to name %s", err, want)
		}
	}
}

func TestArchiveName(t *testing.T) {
	for node, want := range map[string]string{"a": "7-a", "pod/x y": "7-pod_x_y", "": "7-_", "..": "7-_"} {
		if got := archiveName(7, node); got != want || !nameRE.MatchString(got) {
			t.Errorf("archiveName(7, %q) = %q, want %q", node, got, want)
		}
	}
}

func newTestKeeper(t *testing.T, cfg Config, deps Deps) (*Keeper, *prometheus.Registry) {
	t.Helper()
	return newTestKeeperTB(t, cfg, deps)
}

func newTestKeeperB(b *testing.B, cfg Config) (*Keeper, *prometheus.Registry) {
	b.Helper()
	return newTestKeeperTB(b, cfg, Deps{})
}

func newTestKeeperTB(t testing.TB, cfg Config, deps Deps) (*Keeper, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	k, err := New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), reg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return k, reg
}

func TestHandlerAndMetrics(t *testing.T) {
	k, reg := newTestKeeper(t, DefaultConfig(), Deps{})
	m := Manifest{Name: "4-a", Epoch: 4, Node: "a", File: "4-a.resp", FileBytes: 3, State: StatePending}
	if err := k.save(m, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(k.m.captures.WithLabelValues(resultNone)); got != 0 {
		t.Fatalf("captures none = %v", got)
	}
	probs, err := testutil.GatherAndLint(reg)
	if err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", err, probs)
	}
	pending := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "vigil_divergent_archives_pending" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no vigil_divergent_archives_pending")
		return 0
	}
	if pending() != 1 {
		t.Fatalf("pending = %v, want 1", pending())
	}
	srv := httptest.NewServer(k.Handler("s3cret"))
	defer srv.Close()
	do := func(method, path, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path, token string
		code                int
		body                string
	}{
		{"GET", "/v1/divergent", "", 401, "bearer token"},
		{"GET", "/v1/divergent", "wrong", 401, "bearer token"},
		{"GET", "/v1/divergent", "s3cret", 200, `"name":"4-a"`},
		{"GET", "/v1/divergent/4-a", "s3cret", 200, `"state":"pending"`},
		{"GET", "/v1/divergent/4-a/resp", "s3cret", 200, "abc"},
		{"GET", "/v1/divergent/..%2fx", "s3cret", 404, "not found"},
		{"GET", "/v1/divergent/9-zz", "s3cret", 404, "not found"},
		{"POST", "/v1/divergent/4-a/dismiss", "s3cret", 200, `"state":"dismissed"`},
		{"DELETE", "/v1/divergent/4-a", "", 401, "bearer token"},
		{"DELETE", "/v1/divergent/4-a", "s3cret", 200, `"deleted":"4-a"`},
		{"GET", "/v1/divergent/4-a", "s3cret", 404, "not found"},
	} {
		code, body := do(tc.method, tc.path, tc.token)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
		if tc.path == "/v1/divergent/4-a/dismiss" && pending() != 0 {
			t.Errorf("pending after dismiss = %v, want 0", pending())
		}
	}
}

func TestRetryQueueMarkerPrefix(t *testing.T) {
	if RetryQueueMarkerPrefix != retryq.DoneKeyPrefix {
		t.Errorf("RetryQueueMarkerPrefix %q, the retry queue marks items with %q", RetryQueueMarkerPrefix, retryq.DoneKeyPrefix)
	}
}

// A node deposed on a history the group then went on along another branch
// of is captured from where it left that history (chaos seed 108, N=5).
func TestBranchFrom(t *testing.T) {
	ri := replInfo{role: "master", replID: "b-own", replID2: "shared", secondOffset: 46389, offset: 50195}
	for _, tt := range []struct {
		name string
		fork Fork
		want Fork
	}{
		{"the group's fork is past where the node left", Fork{OldReplID: "shared", Offset: 50494}, Fork{OldReplID: "shared", Offset: 46388}},
		{"the fork is where the node left", Fork{OldReplID: "shared", Offset: 46388}, Fork{OldReplID: "shared", Offset: 46388}},
		{"the fork is before it left", Fork{OldReplID: "shared", Offset: 40000}, Fork{OldReplID: "shared", Offset: 40000}},
		{"the fork is on the node's own history", Fork{OldReplID: "b-own", Offset: 48000}, Fork{OldReplID: "b-own", Offset: 48000}},
		{"another history altogether", Fork{OldReplID: "other", Offset: 50494}, Fork{OldReplID: "other", Offset: 50494}},
	} {
		if got := ri.branchFrom(tt.fork); got != tt.want {
			t.Errorf("%s: branchFrom(%+v) = %+v, want %+v", tt.name, tt.fork, got, tt.want)
		}
		if got := ri.branchFrom(tt.fork); tt.fork.OldReplID != "other" && !ri.holds(got) {
			t.Errorf("%s: the node does not hold %+v", tt.name, got)
		}
	}
}

// A deposed primary whose history began at offset 0 (restarted without its
// data, then made a primary again) is captured from the start of that
// history when the new primary stood on another (chaos seed 617, N=5).
func TestBranchFromHistoryBegunAtZero(t *testing.T) {
	// b's Redis at the capture: REPLICAOF NO ONE at offset 0 moved 47fe…
	// to master_replid2 (second_repl_offset 1), and it took 38752 bytes
	// of writes on 513c24… since, all in its backlog.
	begun := replInfo{role: "master", replID: "513c24", replID2: "47fe", secondOffset: 1, offset: 38752,
		backlogActive: true, backlogFirst: 1, backlogLen: 38752}
	for _, tt := range []struct {
		name string
		ri   replInfo
		fork Fork
		want Fork
	}{
		{"the new primary stood on the history the node had before its restart", begun,
			Fork{OldReplID: "eb4446", Offset: 52462}, Fork{OldReplID: "47fe", Offset: 0}},
		{"the new primary was promoted with nothing replicated (it holds what it loaded from disk)", begun,
			Fork{OldReplID: "disk", Offset: 0}, Fork{OldReplID: "disk", Offset: 0}},
		{"the fork is on the node's own history", begun,
			Fork{OldReplID: "513c24", Offset: 30000}, Fork{OldReplID: "513c24", Offset: 30000}},
		{"a node promoted with data replicated before",
			replInfo{role: "master", replID: "b-own", replID2: "shared", secondOffset: 46389, offset: 50195},
			Fork{OldReplID: "eb4446", Offset: 52462}, Fork{OldReplID: "eb4446", Offset: 52462}},
		{"a node never promoted",
			replInfo{role: "master", replID: "b-own", replID2: noReplID, secondOffset: -1, offset: 50195},
			Fork{OldReplID: "eb4446", Offset: 52462}, Fork{OldReplID: "eb4446", Offset: 52462}},
	} {
		got := tt.ri.branchFrom(tt.fork)
		if got != tt.want {
			t.Errorf("%s: branchFrom(%+v) = %+v, want %+v", tt.name, tt.fork, got, tt.want)
			continue
		}
		if got != tt.fork && (!tt.ri.holds(got) || !tt.ri.inBacklog(got.PSYNCOffset())) {
			t.Errorf("%s: the node cannot serve PSYNC %s %d", tt.name, got.OldReplID, got.PSYNCOffset())
		}
	}
}

// replayedStream is the divergent stream of b at epoch 7 in chaos seed
// 1506 (N=3), in small: a's writes of a partition, captured at epoch 6
// (old history "A6"), replayed onto b as script calls, each replicated as
// one MULTI/EXEC block of every unit's marker and writes; then a retry-queue
// batch b's own queue applied, a client transaction, and a block in two
// databases.
func replayedStream() []byte {
	return bytes.Join([][]byte{
		cmdBytes("MULTI"),
		cmdBytes("SET", MarkerPrefix+"A6:15226", "1", "PXAT", "99999999999999"),
		cmdBytes("SET", "p:366", "366"),
		cmdBytes("SET", MarkerPrefix+"A6:15260", "1", "PXAT", "99999999999999"),
		cmdBytes("INCR", "q:195"),
		cmdBytes("SET", RetryQueueMarkerPrefix+"195", "1", "PXAT", "99999999999999"),
		cmdBytes("SET", MarkerPrefix+"A6:15330", "1", "PXAT", "99999999999999"),
		cmdBytes("SET", "w:1210", "1210"),
		cmdBytes("SET", MarkerPrefix+"A6:15360", "1", "PXAT", "99999999999999"), // found applied: no writes
		cmdBytes("SET", MarkerPrefix+"A6:15390", "1", "PXAT", "99999999999999"),
		cmdBytes("SELECT", "2"),
		cmdBytes("SET", "r:1", "4-1075"),
		cmdBytes("SELECT", "0"),
		cmdBytes("SET", MarkerPrefix+"A6:15420", "1", "PXAT", "99999999999999"),
		cmdBytes("SET", "w:1211", "1211"),
		cmdBytes("EXEC"),
		cmdBytes("MULTI"),
		cmdBytes("INCR", "q:199"),
		cmdBytes("SET", RetryQueueMarkerPrefix+"199", "1", "PXAT", "99999999999999"),
		cmdBytes("INCR", "q:200"),
		cmdBytes("SET", RetryQueueMarkerPrefix+"200", "1", "PXAT", "99999999999999"),
		cmdBytes("EXEC"),
		cmdBytes("MULTI"),
		cmdBytes("SET", "x", "1"),
		cmdBytes("SET", MarkerPrefix+"app", "1"), // not first: not a replay's block
		cmdBytes("EXEC"),
		cmdBytes("MULTI"),
		cmdBytes("SET", MarkerPrefix+"A6:15500", "1", "PXAT", "99999999999999"),
		cmdBytes("SET", "y", "1"),
		cmdBytes("SELECT", "3"),
		cmdBytes("SET", "z", "1"), // one unit in two databases: kept whole
		cmdBytes("EXEC"),
	}, nil)
}

func replayedUnitsOf(t *testing.T) []unit {
	t.Helper()
	stream := replayedStream()
	cr := CaptureResult{Fork: Fork{OldReplID: "B7", Offset: 15239}, EndOffset: 15239 + int64(len(stream)), Stream: stream, StartDB: 0}
	file, m, err := buildArchive(cr)
	if err != nil {
		t.Fatal(err)
	}
	us, err := unitsOf(file, m)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// Chaos seed 1506 (N=3): a block a replay's script call left in a deposed
// primary's stream is replayed as the units the call applied, so that the
// replay script's retry-queue check, which skips a unit whose retry-queue
// item the target already holds, skips that item's unit only, not the
// acknowledged writes replayed beside it (27 of them were lost).
func TestUnitsOfReplayedBlock(t *testing.T) {
	us := replayedUnitsOf(t)
	type want struct {
		DB   int
		Cmds string
	}
	var got []want
	for _, u := range us {
		var cs []string
		for _, c := range u.cmds {
			cs = append(cs, string(bytes.Join(c, []byte(" "))))
		}
		got = append(got, want{u.db, strings.Join(cs, "; ")})
	}
	pxat := " 1 PXAT 99999999999999"
	wantUnits := []want{
		{0, "SET p:366 366"},
		{0, "INCR q:195; SET " + RetryQueueMarkerPrefix + "195" + pxat},
		{0, "SET w:1210 1210"},
		{0, ""},
		{2, "SET r:1 4-1075"},
		{0, "SET w:1211 1211"},
		{0, "INCR q:199; SET " + RetryQueueMarkerPrefix + "199" + pxat + "; INCR q:200; SET " + RetryQueueMarkerPrefix + "200" + pxat},
		{0, "SET x 1; SET " + MarkerPrefix + "app 1"},
		{0, "SET " + MarkerPrefix + "A6:15500" + pxat + "; SET y 1; SET z 1"},
	}
	if diff := cmp.Diff(wantUnits, got); diff != "" {
		t.Fatalf("units (-want +got):\n%s", diff)
	}
	for _, u := range us {
		rq, other := false, false
		for _, c := range u.cmds {
			switch {
			case len(c) >= 2 && bytes.HasPrefix(c[1], []byte(RetryQueueMarkerPrefix)):
				rq = true
			case bytes.EqualFold(c[0], []byte("INCR")):
			default:
				other = true
			}
		}
		if rq && other {
			t.Errorf("unit at %d mixes a retry-queue item with other writes: %q", u.offset, u.cmds)
		}
	}
}

// The units of a replay's block keep the markers the first replay set:
// at most once across the two archives.
func TestReplayedUnitMarkers(t *testing.T) {
	us := replayedUnitsOf(t)
	var got []string
	for _, u := range us {
		got = append(got, strings.TrimPrefix(u.markerKey("B7"), MarkerPrefix))
	}
	want := []string{"A6:15226", "A6:15260", "A6:15330", "A6:15360", "A6:15390", "A6:15420"}
	if diff := cmp.Diff(want, got[:6]); diff != "" {
		t.Fatalf("markers (-want +got):\n%s", diff)
	}
	for i, u := range us[6:] {
		if u.marker != "" || got[6+i] != "B7:"+strconv.FormatInt(u.offset, 10) {
			t.Errorf("unit %d at %d: marker %q, want its offset on B7", 6+i, u.offset, got[6+i])
		}
	}
}

// TestReplayDialsOnce: the replay's client tries the new primary's address
// once and never retries a command. go-redis dials five times by default,
// each attempt up to DialTimeout, and Keep runs inside the sidecar's local
// effect (chaos seed 2201, N=5: 23.5 s against a primary cut off).
func TestReplayDialsOnce(t *testing.T) {
	k, _ := newTestKeeper(t, DefaultConfig(), Deps{})
	o := k.replayOptions("127.0.0.1:1")
	if o.DialerRetries != 1 || o.MaxRetries != -1 || o.PoolSize != 1 {
		t.Fatalf("replay options: DialerRetries %d, MaxRetries %d, PoolSize %d; want 1, -1, 1", o.DialerRetries, o.MaxRetries, o.PoolSize)
	}
}
