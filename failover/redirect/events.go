package redirect

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
)

// formatEvent renders ev as Sentinel publishes it: the channel is the event
// name and the message is either the five fields of +switch-master or an
// instance description, "<type> <name> <ip> <port> @ <master> <mip> <mport>"
// ("master <name> <ip> <port>" for the primary itself). ok is false when
// the event lacks the addresses a well-formed message needs; clients split
// these messages by position and some panic on short ones.
func formatEvent(masterName string, snap failover.Snapshot, ev failover.Event) (channel, msg string, ok bool) {
	channel = string(ev.Kind)
	if channel == "" || strings.ContainsAny(channel, " \r\n") {
		return "", "", false
	}
	switch ev.Kind {
	case failover.EventNewEpoch:
		// Sentinel's message is the epoch alone.
		e := ev.Epoch
		if e == 0 {
			e = snap.Epoch
		}
		return channel, strconv.FormatUint(e, 10), true

	case failover.EventConfigUpdateFrom:
		// "sentinel <runid> <ip> <port> @ <master> <mip> <mport>": the
		// sidecar whose configuration was adopted, and the master as it
		// was before.
		ip, port := splitAddr(ev.Node.SentinelAddr)
		if ip == "" || ev.Node.Name == "" {
			return "", "", false
		}
		master := ev.OldPrimary
		if master.Addr == "" {
			master = snap.Primary
		}
		mip, mport := splitAddr(master.Addr)
		if mip == "" {
			mip = "?"
		}
		return channel, fmt.Sprintf("sentinel %s %s %s @ %s %s %s", SentinelID(ev.Node.Name), ip, port, masterName, mip, mport), true

	case failover.EventTryFailover, failover.EventElectedLeader, failover.EventStateSelectReplica, failover.EventStateReconfReplicas:
		// Steps of a failover reported on the master instance, still at
		// the failed primary's address.
		n := ev.OldPrimary
		if n.Addr == "" {
			n = ev.Node
		}
		if n.Addr == "" {
			n = snap.Primary
		}
		s, ok := masterInstance(masterName, n)
		return channel, s, ok

	case failover.EventSelectedReplica, failover.EventStateSendNoOne, failover.EventStateWaitPromotion,
		failover.EventReplicaReconfSent, failover.EventReplicaReconfInProg, failover.EventReplicaReconfDone:
		// Steps reported on a replica, described as a replica of the
		// failed primary: Sentinel switches its view only at +switch-master.
		n := ev.Node
		promoting := ev.Kind == failover.EventSelectedReplica || ev.Kind == failover.EventStateSendNoOne || ev.Kind == failover.EventStateWaitPromotion
		if n.Addr == "" && promoting {
			n = ev.NewPrimary // the replica being promoted
		}
		master := ev.OldPrimary
		if master.Addr == "" {
			master = snap.Primary
		}
		s, ok := replicaInstance(masterName, n, master)
		return channel, s, ok

	case failover.EventSwitchPrimary:
		newp := ev.NewPrimary
		if newp.Addr == "" {
			newp = ev.Node
		}
		nip, nport := splitAddr(newp.Addr)
		if nip == "" {
			return "", "", false
		}
		oip, oport := splitAddr(ev.OldPrimary.Addr)
		if oip == "" {
			// No previous primary (first discovery): Sentinel always has
			// one, and clients only read the last two fields, so repeat
			// the new address rather than send fewer than five fields.
			oip, oport = nip, nport
		}
		return channel, fmt.Sprintf("%s %s %s %s %s", masterName, oip, oport, nip, nport), true

	case failover.EventFailoverEnd:
		// Sentinel reports it on the master instance, still at its old address.
		n := ev.OldPrimary
		if n.Addr == "" {
			n = ev.Node
		}
		if n.Addr == "" {
			n = ev.NewPrimary
		}
		s, ok := masterInstance(masterName, n)
		return channel, s, ok

	case failover.EventPromotedReplica:
		n := ev.Node
		if n.Addr == "" {
			n = ev.NewPrimary
		}
		master := ev.OldPrimary
		if master.Addr == "" {
			master = snap.Primary
		}
		s, ok := replicaInstance(masterName, n, master)
		return channel, s, ok

	case failover.EventConvertToReplica, failover.EventReplicaAdded:
		// The instance is (now) a replica of the current primary.
		master := ev.NewPrimary
		if master.Addr == "" {
			master = snap.Primary
		}
		s, ok := replicaInstance(masterName, ev.Node, master)
		return channel, s, ok
	}

	// Instance events about either the primary or a replica: +sdown,
	// +odown, +role-change, +fenced and any kind added later.
	master := ev.OldPrimary
	if master.Addr == "" {
		master = snap.Primary
	}
	var s string
	if isSameNode(ev.Node, master) {
		s, ok = masterInstance(masterName, ev.Node)
	} else {
		s, ok = replicaInstance(masterName, ev.Node, master)
	}
	if !ok {
		return "", "", false
	}
	switch ev.Kind {
	case failover.EventODown:
		q := ev.Quorum
		if q == 0 {
			q = snap.Quorum
		}
		s += fmt.Sprintf(" #quorum %d/%d", ev.Votes, q)
	case failover.EventRoleChange, failover.EventRoleMismatch:
		if r := roleName(ev.Node.Role); r != "" {
			s += " new reported role is " + r
		}
	}
	return channel, s, true
}

// masterInstance is Sentinel's description of the master instance: its
// name is the master name.
func masterInstance(masterName string, n failover.Node) (string, bool) {
	ip, port := splitAddr(n.Addr)
	if ip == "" {
		return "", false
	}
	return fmt.Sprintf("master %s %s %s", masterName, ip, port), true
}

// replicaInstance is Sentinel's description of a replica: its name is its
// "ip:port", followed by the master it belongs to.
func replicaInstance(masterName string, n, master failover.Node) (string, bool) {
	ip, port := splitAddr(n.Addr)
	if ip == "" {
		return "", false
	}
	mip, mport := splitAddr(master.Addr)
	if mip == "" {
		// Sentinel always knows its master; "?" keeps the field count.
		mip = "?"
	}
	return fmt.Sprintf("slave %s %s %s @ %s %s %s", n.Addr, ip, port, masterName, mip, mport), true
}

// isSameNode reports whether a and b describe the same instance.
func isSameNode(a, b failover.Node) bool {
	if a.Name != "" && b.Name != "" {
		return a.Name == b.Name
	}
	return a.Addr != "" && a.Addr == b.Addr
}

// roleName is the role as Sentinel spells it.
func roleName(r monitor.Role) string {
	switch r {
	case monitor.RolePrimary:
		return "master"
	case monitor.RoleReplica:
		return "slave"
	}
	return ""
}
