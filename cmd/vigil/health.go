package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/failover/redirect"
	"github.com/vigil-redis/vigil/monitor"
)

// Patroni-style health endpoints, beside /primary and /replica:
//
//	/read-write  200 on the writable primary (as /primary)
//	/read-only   200 on the writable primary or a replica whose link is up
//	             (and, with ?lag=, at most that far behind)
//	/liveness    200 while the sidecar runs
//	/readiness   200 when the local Redis is reachable and settled (as /-/ready)
//
// Every one answers GET, HEAD and OPTIONS with the same status.
func addHealthRoutes(mux *http.ServeMux, d httpDeps, check func(func(*http.Request) (int, string)) http.HandlerFunc) {
	mux.Handle("/read-write", check(func(*http.Request) (int, string) {
		if d.fo.IsPrimary() {
			return http.StatusOK, "primary"
		}
		return http.StatusServiceUnavailable, "not the writable primary"
	}))
	mux.Handle("/read-only", check(func(r *http.Request) (int, string) {
		if d.fo.IsPrimary() {
			return http.StatusOK, "primary"
		}
		return replicaCheck(d.local.Last(), r.URL.Query().Get("lag"))
	}))
	mux.Handle("/liveness", check(func(*http.Request) (int, string) {
		return http.StatusOK, "alive"
	}))
	mux.Handle("/readiness", check(func(*http.Request) (int, string) {
		return readiness(d.local.Last(), d.fo.Ready(), d.fo.Snapshot())
	}))
}

// readiness is /-/ready and /readiness: the local Redis answers, the
// sidecar has settled (it follows the group's current configuration and no
// failover is under way) and Redis's role agrees with that configuration.
func readiness(obs monitor.Observation, ready bool, snap failover.Snapshot) (int, string) {
	switch {
	case obs.Time.IsZero():
		return http.StatusServiceUnavailable, "not ready: redis not probed yet"
	case !obs.Reachable():
		return http.StatusServiceUnavailable, "not ready: redis unreachable: " + string(obs.Reason)
	case !ready:
		return http.StatusServiceUnavailable, "not ready: the group's configuration is not settled"
	case snap.InFailover:
		return http.StatusServiceUnavailable, "not ready: failover in progress"
	case snap.Primary.Name == "":
		return http.StatusServiceUnavailable, "not ready: no primary known"
	case snap.Primary.Name == snap.Self && obs.Role != monitor.RolePrimary:
		return http.StatusServiceUnavailable, "not ready: redis is not yet the primary"
	case snap.Primary.Name != snap.Self && obs.Role != monitor.RoleReplica:
		return http.StatusServiceUnavailable, "not ready: redis is not yet a replica"
	case snap.Primary.Name != snap.Self && !obs.LinkUp:
		return http.StatusServiceUnavailable, "not ready: replication link down"
	}
	return http.StatusOK, "ready"
}

// byteUnits are the ?lag= suffixes. As in Patroni (PostgreSQL's units),
// kB, MB, GB and TB are powers of 1024, the same as KiB, MiB, GiB, TiB.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1 << 10}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40},
	{"B", 1},
}

// parseBytes reads a byte count: plain bytes ("1048576") or a number with
// a unit ("16MB", "1GiB", "512kB").
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count: use bytes or a unit (16MB, 1GiB)", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// settingsView is what GET/POST /v1/config need: the group-wide settings
// in Sentinel's key names (redirect.SettingKeys).
type settingsView = redirect.SettingsStore

// errSettingsUnwired is the answer of a server built without a settings
// store (tests of the other routes); `vigil run` always has one.
var errSettingsUnwired = errors.New("group-wide settings need the replicated configuration, which this server does not have")

// configRoutes mounts configHandler: reading the settings is open
// (auth-pass is masked), changing them is an admin call.
func configRoutes(mux *http.ServeMux, guard *accessGuard, store settingsView) {
	h := configHandler(store)
	mux.Handle("/v1/config", h)
	mux.Handle("POST /v1/config", guard.admin(h))
}

// configHandler serves GET /v1/config (the group-wide settings) and POST
// /v1/config ({"key": "value", ...}, admin token required) for `vigil
// config show|set`. A nil store (never in `vigil run`) answers 501.
func configHandler(store settingsView) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if store == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": errSettingsUnwired.Error()})
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, maskSettings(store.Settings()))
		case http.MethodPost:
			var kv map[string]string
			dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
			if err := dec.Decode(&kv); err != nil || len(kv) == 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object of settings"})
				return
			}
			if err := validateSettings(kv); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			if err := store.SetSettings(r.Context(), kv); err != nil {
				writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, maskSettings(store.Settings()))
		default:
			w.Header().Set("Allow", "GET, POST")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		}
	})
}

// maskSettings hides auth-pass: GET /v1/config needs no token.
func maskSettings(kv map[string]string) map[string]string {
	out := make(map[string]string, len(kv))
	for k, v := range kv {
		if k == "auth-pass" && v != "" {
			v = "********"
		}
		out[k] = v
	}
	return out
}

// validateSettings checks keys and values before anything is sent.
func validateSettings(kv map[string]string) error {
	var errs []error
	for k, v := range kv {
		known := false
		for _, s := range redirect.SettingKeys {
			known = known || s == k
		}
		if !known {
			best, bestD := "", 4
			for _, s := range redirect.SettingKeys {
				if d := config.EditDistance(k, s); d < bestD {
					best, bestD = s, d
				}
			}
			if best != "" {
				errs = append(errs, fmt.Errorf("unknown setting %q (did you mean %q?)", k, best))
			} else {
				errs = append(errs, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(redirect.SettingKeys, ", ")))
			}
			continue
		}
		if k == "auth-pass" {
			errs = append(errs, errAuthPass)
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("setting %s: %q is not a positive integer", k, v))
		}
	}
	return errors.Join(errs...)
}

// sentinelAdmin gives the Sentinel endpoint's admin commands (and
// /v1/config) the failover component: switchover, the group-wide settings
// in Sentinel's names (redirect.SettingsStore) and SENTINEL RESET
// (redirect.Resetter). Settings are committed through the Raft leader and
// every sidecar applies them without a restart; file is this sidecar's
// configuration, shown for each setting the group does not override.
type sentinelAdmin struct {
	fo   *failover.Failover
	file failover.Config
}

func (a sentinelAdmin) Switchover(ctx context.Context, to string) error {
	_, err := a.fo.Switchover(ctx, to)
	return err
}

// Settings returns the effective group-wide settings: the replicated
// value where one is set, else this sidecar's file value. auth-pass is not
// a group-wide setting in vigil (redis.password is per sidecar) and is
// never listed.
func (a sentinelAdmin) Settings() map[string]string {
	s := a.fo.Settings()
	pick := func(v, file time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return file
	}
	quorum, syncs := a.file.Quorum, a.file.ParallelSyncs
	if s.Quorum > 0 {
		quorum = s.Quorum
	}
	if s.ParallelSyncs > 0 {
		syncs = s.ParallelSyncs
	}
	return map[string]string{
		"down-after-milliseconds": strconv.FormatInt(pick(s.DownAfter, a.file.DownAfter).Milliseconds(), 10),
		"failover-timeout":        strconv.FormatInt(pick(s.FailoverTimeout, a.file.SwitchoverTimeout).Milliseconds(), 10),
		"quorum":                  strconv.Itoa(quorum),
		"parallel-syncs":          strconv.Itoa(syncs),
	}
}

// errAuthPass refuses auth-pass: replicating the Redis password through
// the Raft log would write it to every sidecar's raft.db.
var errAuthPass = errors.New("auth-pass is not a group-wide setting in vigil (the Redis password must never enter the replicated Raft log, raft.db): " +
	"set redis.password or redis.password_file in each sidecar's configuration")

// SetSettings changes the given settings on every sidecar: it overlays kv
// (Sentinel's names, positive integers as validated by the callers) on the
// current group-wide settings and commits the result through the leader.
// Two concurrent changes of different keys may overwrite each other (the
// last commit wins), as two operators' SENTINEL SETs would.
func (a sentinelAdmin) SetSettings(ctx context.Context, kv map[string]string) error {
	s := a.fo.Settings()
	for k, v := range kv {
		if k == "auth-pass" {
			return errAuthPass
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("setting %s: %q is not a positive integer", k, v)
		}
		switch k {
		case "down-after-milliseconds":
			s.DownAfter = time.Duration(n) * time.Millisecond
		case "failover-timeout":
			s.FailoverTimeout = time.Duration(n) * time.Millisecond
		case "quorum":
			s.Quorum = int(n)
		case "parallel-syncs":
			s.ParallelSyncs = int(n)
		default:
			return fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(redirect.SettingKeys, ", "))
		}
	}
	return a.fo.SetSettings(ctx, s)
}

// Reset is SENTINEL RESET. On the Raft authority there is nothing left for
// it to drop: the leader removes members that vanish before they vote, and
// each sidecar registers its addresses again whenever the replicated state
// lacks them. Voters are never touched (only `vigil forget` removes one).
// It reports 0 members dropped.
func (a sentinelAdmin) Reset(context.Context, string) (int, error) { return 0, nil }
