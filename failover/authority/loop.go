package authority

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vigil-redis/vigil/monitor"
)

// loop is the authority's housekeeping: bootstrap while there is no
// group, advertise raft state in gossip, register this member's
// addresses, keep Ready current and, on the leader, reconcile the raft
// configuration with gossip.
func (a *Authority) loop(ctx context.Context, r *raft.Raft, hasState bool, caught *catchUp, wg *sync.WaitGroup) {
	// On the wall-clock grid the probes and the failover loop share
	// (monitor.NewTicker): a separate phase cost an idle sidecar ten more
	// wake-ups a second.
	every := housekeepingPeriod(a.deps.Interval)
	settle := settleTicks(every)
	t := monitor.NewTicker(every)
	defer t.Stop()
	var (
		lastAlive    []string
		stableTicks  int
		healthySince map[string]time.Time
		leading      bool
		registering  = make(chan struct{}, 1) // holds a token while a register is in flight
		lastLeader   raft.ServerID
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Next()
		}
		if !hasState && r.LastIndex() > 0 {
			hasState = true
			a.advertise(true)
		}
		alive := a.addrs.refresh()
		if !hasState {
			names := make([]string, 0, len(alive))
			for _, p := range alive {
				names = append(names, p.Name+"@"+p.Addr)
			}
			slices.Sort(names)
			if slices.Equal(names, lastAlive) {
				stableTicks++
			} else {
				lastAlive, stableTicks = names, 0
			}
			if servers, ok := bootstrapServers(a.cfg.BootstrapExpect, a.deps.Self.Name, false, alive); ok && stableTicks >= settle {
				err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
				switch {
				case err == nil:
					a.logger.Info("group bootstrapped", "servers", len(servers))
					caught.held()
					hasState = true
					a.advertise(true)
				case errors.Is(err, raft.ErrCantBootstrap):
					hasState = true
					a.advertise(true)
				default:
					a.logger.Error("bootstrap failed", "err", err)
				}
			}
		}

		addr, leaderID := r.LeaderWithID()
		if leaderID != lastLeader {
			a.logger.Info("raft leader changed", "peer", string(leaderID), "leader_addr", string(addr), "term", r.CurrentTerm())
			lastLeader = leaderID
		}
		st := a.fsm.state()
		// raft's applied index counts the entries the FSM never sees (a new
		// leader's no-op), so it, not State.Index, is compared with the
		// commit index. It moves when raft hands entries to the FSM
		// goroutine, a moment before the FSM has applied them.
		a.ready.Store(leaderID != "" && st.Index > 0 && r.AppliedIndex() >= r.CommitIndex())

		// Register this member's addresses while the state does not hold them.
		if self := a.selfMember(); leaderID != "" && needsRegister(st, self) {
			select {
			case registering <- struct{}{}:
				wg.Go(func() {
					defer func() { <-registering }()
					a.register(ctx, self)
				})
			default:
			}
		}

		isLeader := r.State() == raft.Leader
		if isLeader {
			caught.held()
		}
		if isLeader != leading {
			leading, healthySince = isLeader, nil
		}
		if isLeader {
			healthySince = a.reconcile(ctx, r, st, alive, healthySince)
		}
	}
}

// housekeepingPeriod is the loop's period for a sidecar probing every
// interval: that interval, but never shorter than loopInterval.
func housekeepingPeriod(interval time.Duration) time.Duration {
	return max(interval, loopInterval)
}

// settleTicks is how many consecutive unchanged ticks of period every
// make bootstrapSettle, at least one.
func settleTicks(every time.Duration) int {
	return max(1, int((bootstrapSettle+every-1)/every))
}

// needsRegister reports whether self's record in st differs from what
// self announces. A member not yet in the configuration cannot register.
func needsRegister(st State, self Member) bool {
	cur, ok := st.Members[self.Name]
	if !ok {
		return false
	}
	return cur.RaftAddr != self.RaftAddr || cur.RedisAddr != self.RedisAddr ||
		cur.SentinelAddr != self.SentinelAddr || cur.HTTPAddr != self.HTTPAddr ||
		cur.Priority != self.Priority || cur.Since.IsZero()
}

func (a *Authority) register(ctx context.Context, self Member) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m := self
	if _, err := a.Apply(ctx, Command{Op: OpRegister, Member: &m, Start: time.Now()}); err != nil {
		if ctx.Err() == nil || !errors.Is(err, ErrNoLeader) {
			a.logger.Warn("register addresses", "err", err)
		}
		return
	}
	a.logger.Info("addresses registered", "redis_addr", self.RedisAddr, "raft_addr", self.RaftAddr)
}

// reconcile applies the leader's membership decisions.
func (a *Authority) reconcile(ctx context.Context, r *raft.Raft, st State, alive []PeerInfo, healthySince map[string]time.Time) map[string]time.Time {
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return healthySince
	}
	registered := make(map[string]bool, len(st.Members))
	var canVote map[string]bool
	if a.deps.CanVote != nil {
		canVote = make(map[string]bool, len(st.Members))
	}
	for name, m := range st.Members {
		registered[name] = !m.Since.IsZero()
		if canVote != nil {
			canVote[name] = registered[name] && a.deps.CanVote(m)
		}
	}
	changes, since := reconcileMembership(membershipInput{
		now:           time.Now(),
		stabilization: a.cfg.Stabilization,
		servers:       f.Configuration().Servers,
		alive:         alive,
		registered:    registered,
		canVote:       canVote,
		healthySince:  healthySince,
	})
	for _, c := range changes {
		if ctx.Err() != nil || r.State() != raft.Leader {
			break
		}
		id, addr := raft.ServerID(c.id), raft.ServerAddress(c.addr)
		var err error
		switch c.kind {
		case addNonvoter:
			err = r.AddNonvoter(id, addr, 0, time.Second).Error()
		case promote:
			err = r.AddVoter(id, addr, 0, time.Second).Error()
			delete(since, c.id)
		case removeNonvoter:
			err = r.RemoveServer(id, 0, time.Second).Error()
		}
		a.readVoters(r) // also after an error: the change may be in the log
		if err != nil {
			a.logger.Warn("membership change failed", "change", c.kind.String(), "peer", c.id, "err", err)
			continue
		}
		a.logger.Info("membership changed", "change", c.kind.String(), "peer", c.id, "addr", c.addr)
	}
	return since
}
