package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Timeline renders the faults as carried out, in start order.
func Timeline(faults []FaultRecord) string {
	fs := append([]FaultRecord(nil), faults...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %9s .. %9s  #%-3d %s", fmtDur(f.Start), fmtDur(f.End), f.ID, f.Desc)
		if f.Failed != "" {
			fmt.Fprintf(&b, "  [not carried out: %s]", firstLine(f.Failed))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Around renders the ops within d of at, probes only for the dual-primary
// rule, at most max lines, and the faults active then.
func Around(h *History, v Violation, d time.Duration, maxLines int) string {
	var b strings.Builder
	for _, f := range h.Faults {
		if f.Start <= v.At+d && f.End >= v.At-d {
			fmt.Fprintf(&b, "  fault #%d %s [%s .. %s]\n", f.ID, f.Desc, fmtDur(f.Start), fmtDur(f.End))
		}
	}
	var ops []Op
	for _, o := range h.Ops {
		if o.Complete < v.At-d || o.Invoke > v.At+d {
			continue
		}
		if (o.Kind == OpProbe) != (v.Rule == RuleDualPrimary) {
			continue
		}
		ops = append(ops, o)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
	if len(ops) > maxLines {
		// Keep the ones nearest the violation.
		i := sort.Search(len(ops), func(i int) bool { return ops[i].Invoke >= v.At })
		lo := max(0, min(i-maxLines/2, len(ops)-maxLines))
		ops = ops[lo : lo+maxLines]
	}
	for _, o := range ops {
		fmt.Fprintf(&b, "  %v\n", o)
	}
	return b.String()
}

// Summary is the table that ends every run's output.
func Summary(seed uint64, nodes int, duration time.Duration, r Report) string {
	s := r.Stats
	verdict := "PASS"
	if !r.OK() {
		var rs []string
		seen := map[Rule]bool{}
		for _, v := range r.Violations {
			if !seen[v.Rule] {
				seen[v.Rule] = true
				rs = append(rs, string(v.Rule))
			}
		}
		verdict = "FAIL (" + strings.Join(rs, ", ") + ")"
	}
	rows := [][2]string{
		{"seed", fmt.Sprint(seed)},
		{"nodes", fmt.Sprint(nodes)},
		{"fault phase", duration.String()},
		{"faults injected", fmt.Sprint(s.Faults)},
		{"ops", fmt.Sprint(s.Ops)},
		{"acknowledged writes", fmt.Sprint(s.Acknowledged)},
		{"lost (within bound)", fmt.Sprintf("%d (%d)", s.Lost, s.LostExcused)},
		{"dual-primary ms", fmt.Sprint(s.DualPrimary.Milliseconds())},
		{"unavailable ms", fmt.Sprint(s.Unavailable.Milliseconds())},
		{"retryq enqueued/twice/never", fmt.Sprintf("%d/%d/%d", s.RQEnqueued, s.RQTwice, s.RQNever)},
		{"register linearizable", s.Linearizable},
		{"verdict", verdict},
	}
	var b strings.Builder
	b.WriteString("+-----------------------------+--------------------------------------------------------------+\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %-27s | %-60s |\n", r[0], r[1])
	}
	b.WriteString("+-----------------------------+--------------------------------------------------------------+\n")
	return b.String()
}

// Render is a run's full report: violations with the history around each,
// the fault timeline, then the summary table.
func Render(seed uint64, nodes int, duration time.Duration, h *History, r Report) string {
	var b strings.Builder
	if !r.OK() {
		fmt.Fprintf(&b, "chaos: seed %d broke %d promise(s); reproduce with: make chaos SEED=%d DURATION=%s NODES=%d\n",
			seed, len(r.Violations), seed, duration, nodes)
		for i, v := range r.Violations {
			fmt.Fprintf(&b, "\nviolation %d: %s at %s\n%s\nhistory around it:\n%s", i+1, v.Rule, fmtDur(v.At), v.Msg, Around(h, v, time.Second, 40))
		}
	}
	fmt.Fprintf(&b, "\nfault timeline (seed %d):\n%s", seed, Timeline(h.Faults))
	if h.Failovers != "" {
		fmt.Fprintf(&b, "\nfailovers as the group recorded them (the run started at %s):\n%s", h.Started.UTC().Format("15:04:05.000"), h.Failovers)
	}
	b.WriteString("\n")
	b.WriteString(Summary(seed, nodes, duration, r))
	return b.String()
}
