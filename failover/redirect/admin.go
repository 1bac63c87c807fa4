package redirect

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/match"
	"github.com/tidwall/redcon"
)

// Admin is what the endpoint's admin commands need beyond Source.
// *failover.Failover provides Switchover through a small adapter (its
// Switchover also returns the new configuration).
type Admin interface {
	// Switchover hands the primary role to the replica named to, or to the
	// best replica when to is "", without losing acknowledged writes.
	Switchover(ctx context.Context, to string) error
}

// Resetter is the optional part of an Admin behind SENTINEL RESET: it
// drops the state of dead non-voting members and re-announces this
// sidecar. It must never shrink the voter set. It returns how many
// members it dropped.
type Resetter interface {
	Reset(ctx context.Context, pattern string) (int, error)
}

// SettingsStore is the optional part of an Admin behind SENTINEL SET and
// SENTINEL CONFIG GET|SET: the group-wide settings, replicated to every
// sidecar, under Sentinel's key names (SettingKeys).
type SettingsStore interface {
	// Settings returns the current group-wide settings.
	Settings() map[string]string
	// SetSettings changes the given settings on every sidecar.
	SetSettings(ctx context.Context, kv map[string]string) error
}

// SettingKeys are the group-wide settings in Sentinel's names, as SENTINEL
// SET accepts them.
var SettingKeys = []string{"down-after-milliseconds", "quorum", "parallel-syncs", "failover-timeout", "auth-pass"}

// sentinelGlobalKeys are Sentinel's own CONFIG keys. vigil has no such
// settings: they answer Sentinel's defaults and cannot be set.
var sentinelGlobalKeys = []string{"resolve-hostnames", "no", "announce-hostnames", "no", "announce-ip", "", "announce-port", "0", "sentinel-user", "", "sentinel-pass", ""}

// adminTimeout bounds one admin command; a switchover waits for the target
// to catch up, so it is generous.
const adminTimeout = 2 * time.Minute

// errNeedPassword refuses commands that change the group on an endpoint
// anyone can reach without a secret.
func errNeedPassword(what string) string {
	return fmt.Sprintf("ERR %s changes the group: it needs sentinel.password to be set", what)
}

// adminCtx is the context an admin command's call runs under.
func (s *Sentinel) adminCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.runCtx, adminTimeout)
}

// failoverCmd is SENTINEL FAILOVER: a switchover to the best replica. Unlike
// Sentinel, it answers once the switchover is complete (or failed), so a
// preStop hook that waits for OK knows the primary has moved.
func (s *Sentinel) failoverCmd(b []byte) []byte {
	if s.cfg.Password == "" {
		return redcon.AppendError(b, errNeedPassword("SENTINEL FAILOVER"))
	}
	if s.admin == nil {
		return redcon.AppendError(b, "ERR SENTINEL FAILOVER is not available: this endpoint has no failover control")
	}
	ctx, cancel := s.adminCtx()
	defer cancel()
	s.logger.Info("switchover requested through the sentinel endpoint")
	if err := s.admin.Switchover(ctx, ""); err != nil {
		s.logger.Warn("switchover failed", "err", err)
		return redcon.AppendError(b, "ERR "+oneLine(err.Error()))
	}
	return redcon.AppendOK(b)
}

// resetCmd is SENTINEL RESET <pattern>: it answers the number of masters
// matched (0 or 1), as Sentinel does.
func (s *Sentinel) resetCmd(pattern []byte, b []byte) []byte {
	if !match.Match(s.masterName, string(pattern)) {
		return redcon.AppendInt(b, 0)
	}
	if s.cfg.Password == "" {
		return redcon.AppendError(b, errNeedPassword("SENTINEL RESET"))
	}
	r, ok := s.admin.(Resetter)
	if !ok {
		return redcon.AppendError(b, "ERR SENTINEL RESET needs the replicated group membership, which this build does not wire")
	}
	ctx, cancel := s.adminCtx()
	defer cancel()
	n, err := r.Reset(ctx, string(pattern))
	if err != nil {
		return redcon.AppendError(b, "ERR "+oneLine(err.Error()))
	}
	s.logger.Info("reset through the sentinel endpoint", "dropped", n)
	return redcon.AppendInt(b, 1)
}

// setCmd is SENTINEL SET <name> <key> <value> ...: kv are the pairs.
func (s *Sentinel) setCmd(kv [][]byte, b []byte) []byte {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := strings.ToLower(string(kv[i])), string(kv[i+1])
		if err := checkSetting(k, v); err != "" {
			return redcon.AppendError(b, err)
		}
		m[k] = v
	}
	return s.applySettings("SENTINEL SET", m, b)
}

// checkSetting validates one group-wide setting as Sentinel would and
// returns Sentinel's error text, or "" when it is acceptable.
func checkSetting(k, v string) string {
	switch k {
	case "down-after-milliseconds", "failover-timeout", "quorum", "parallel-syncs":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Sprintf("ERR Invalid argument '%s' for SENTINEL SET '%s'", clip(v), k)
		}
	case "auth-pass":
	case "notification-script", "client-reconfig-script":
		return fmt.Sprintf("ERR SENTINEL SET '%s' is not supported by vigil: use hooks.* in vigil's configuration file", k)
	default:
		return fmt.Sprintf("ERR Unknown option or number of arguments for SENTINEL SET '%s'", clip(k))
	}
	return ""
}

func (s *Sentinel) applySettings(what string, m map[string]string, b []byte) []byte {
	if s.cfg.Password == "" {
		return redcon.AppendError(b, errNeedPassword(what))
	}
	store, ok := s.admin.(SettingsStore)
	if !ok {
		return redcon.AppendError(b, "ERR group-wide settings need the replicated configuration, which this build does not wire")
	}
	ctx, cancel := s.adminCtx()
	defer cancel()
	if err := store.SetSettings(ctx, m); err != nil {
		return redcon.AppendError(b, "ERR "+oneLine(err.Error()))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.logger.Info("group-wide settings changed through the sentinel endpoint", "keys", strings.Join(keys, ","))
	return redcon.AppendOK(b)
}

// configCmd is SENTINEL CONFIG GET <pattern> ... | SET <key> <value> ....
// GET lists Sentinel's own keys (at their defaults: vigil has no such
// settings) and the group-wide settings; SET changes group-wide settings.
func (s *Sentinel) configCmd(proto int, args [][]byte, b []byte) []byte {
	if len(args) < 3 {
		return arityError(b, "sentinel|config")
	}
	switch strings.ToLower(string(args[2])) {
	case "get":
		if len(args) < 4 {
			return arityError(b, "sentinel|config")
		}
		all := slices.Clone(sentinelGlobalKeys)
		if store, ok := s.admin.(SettingsStore); ok {
			cur := store.Settings()
			for _, k := range SettingKeys {
				v, ok := cur[k]
				if !ok {
					continue
				}
				if k == "auth-pass" && v != "" {
					v = "*****" // never hand out a password
				}
				all = append(all, k, v)
			}
		}
		var kv []string
		for i := 0; i+1 < len(all); i += 2 {
			for _, p := range args[3:] {
				if match.Match(all[i], strings.ToLower(string(p))) {
					kv = append(kv, all[i], all[i+1])
					break
				}
			}
		}
		return appendStringMap(b, proto, kv)
	case "set":
		if len(args) < 5 || len(args)%2 == 0 {
			return arityError(b, "sentinel|config")
		}
		m := map[string]string{}
		for i := 3; i+1 < len(args); i += 2 {
			k, v := strings.ToLower(string(args[i])), string(args[i+1])
			if slices.Contains(sentinelGlobalKeys, k) {
				return redcon.AppendError(b, fmt.Sprintf("ERR SENTINEL CONFIG SET '%s' is not supported by vigil: set the equivalent in vigil's configuration file", clip(k)))
			}
			if err := checkSetting(k, v); err != "" {
				return redcon.AppendError(b, err)
			}
			m[k] = v
		}
		return s.applySettings("SENTINEL CONFIG SET", m, b)
	}
	return redcon.AppendError(b, "ERR Only SENTINEL CONFIG GET <param> [<param> ...] / SET <param> <value> [<param> <value> ...] are supported.")
}

// isMasterDownByAddr answers SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port>
// <epoch> <runid> in Sentinel's shape: down state, leader run id, leader
// epoch. vigil elects through its own protocol, so it never votes here:
// the leader is always "*" with epoch 0, what Sentinel answers to a plain
// down-state query.
func (s *Sentinel) isMasterDownByAddr(args [][]byte, b []byte) []byte {
	port, err1 := strconv.Atoi(string(args[3]))
	_, err2 := strconv.ParseUint(string(args[4]), 10, 64)
	if err1 != nil || err2 != nil {
		return redcon.AppendError(b, "ERR value is not an integer or out of range")
	}
	snap := s.src.Snapshot()
	down := 0
	ip, pport := splitAddr(snap.Primary.Addr)
	if ip == string(args[2]) && pport == strconv.Itoa(port) && (snap.Primary.SDown || snap.Primary.ODown) {
		down = 1
	}
	b = redcon.AppendArray(b, 3)
	b = redcon.AppendInt(b, int64(down))
	b = redcon.AppendBulkString(b, "*")
	return redcon.AppendInt(b, 0)
}

// infoCache answers SENTINEL INFO-CACHE <name> ... in Sentinel's shape:
// for each known master named, its name and a list of [age-ms, INFO text]
// per instance. vigil keeps no INFO text of its Redis nodes, so the list
// is empty.
func (s *Sentinel) infoCache(names [][]byte, b []byte) []byte {
	n := 0
	for _, nm := range names {
		if string(nm) == s.masterName {
			n++
		}
	}
	b = redcon.AppendArray(b, 2*n)
	for _, nm := range names {
		if string(nm) == s.masterName {
			b = redcon.AppendBulkString(b, s.masterName)
			b = redcon.AppendArray(b, 0)
		}
	}
	return b
}

// oneLine keeps an error reply on one line, as RESP requires.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
