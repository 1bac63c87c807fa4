package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vigil-redis/vigil/failover"
)

// demoView is what the demo knows at one refresh of its screen.
type demoView struct {
	statuses []Status                // the sidecars that answered
	history  []failover.HistoryEntry // as the first answering sidecar reports it
	killed   string                  // node whose Redis the demo last killed, "" if none
	killedAt time.Time
	// resumedAt is the client's first successful write after the kill.
	resumedAt time.Time
}

// demoStatusLine says in one line what the group is doing and, when a
// failover cannot happen, why it is held.
func demoStatusLine(v demoView) string {
	if len(v.statuses) == 0 {
		return "starting: waiting for the sidecars to answer"
	}
	t := v.statuses[0].Topology
	for _, s := range v.statuses[1:] {
		if s.Topology.Epoch != t.Epoch || s.Topology.Primary.Name != t.Primary.Name {
			return "the sidecars are converging on the newest configuration"
		}
	}
	held := ""
	if t.WhyNot != "" {
		held = "; failover held: " + t.WhyNot
	}
	switch {
	case t.Conflict != "":
		return "held: " + t.Conflict
	case t.Primary.Name == "":
		return "no primary known yet" + held
	case t.InFailover:
		return fmt.Sprintf("failover in progress: electing a new primary at epoch %d", t.Epoch+1)
	case !t.Writable || t.Primary.SDown || t.Primary.ODown:
		p := t.Primary.Name
		switch {
		case t.Paused:
			return fmt.Sprintf("primary %s is down and automatic failover is PAUSED (vigil resume)", p)
		case held != "":
			return fmt.Sprintf("primary %s is down%s", p, held)
		case t.Primary.ODown:
			return fmt.Sprintf("primary %s is objectively down (a quorum agrees): electing a replica", p)
		case t.Primary.SDown:
			return fmt.Sprintf("primary %s does not answer: waiting failover.down_after before declaring it down", p)
		case t.Fenced:
			return fmt.Sprintf("primary %s is fenced: it cannot reach a majority of the sidecars", p)
		}
		return fmt.Sprintf("primary %s is not writable yet", p)
	}
	synced := 0
	for _, r := range t.Replicas {
		if r.Synced && r.LinkUp {
			synced++
		}
	}
	line := fmt.Sprintf("healthy: primary %s, %d replicas (%d in sync)", t.Primary.Name, len(t.Replicas), synced)
	if t.Paused {
		line += "; automatic failover paused"
	}
	return line
}

// demoFailoverLine reports the failover that followed the demo's last kill:
// how long the election took, and when the client wrote again.
func demoFailoverLine(v demoView, now time.Time) string {
	if v.killed == "" {
		return ""
	}
	var last *failover.HistoryEntry
	for i := range v.history {
		e := &v.history[i]
		if e.Old == v.killed && !e.Start.Before(v.killedAt.Add(-time.Second)) {
			last = e
		}
	}
	if last == nil {
		return fmt.Sprintf("primary %s killed %s ago; waiting for the failover", v.killed, now.Sub(v.killedAt).Round(100*time.Millisecond))
	}
	line := fmt.Sprintf("failover %s → %s at epoch %d: %s, election to announcement %s", last.Old, orDash(last.New), last.Epoch,
		last.Result, last.Duration.Round(time.Millisecond))
	if !v.resumedAt.IsZero() {
		line += fmt.Sprintf("; the client wrote again %s after the kill", v.resumedAt.Sub(v.killedAt).Round(time.Millisecond))
	}
	return line
}

// demoClientLog receives go-redis's own log lines (redis.SetLogger), which
// would otherwise garble the demo's screen, and writes them to a file.
type demoClientLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *demoClientLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, v...)
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	_, _ = io.WriteString(l.w, time.Now().Format(time.TimeOnly+".000")+" "+line)
}
