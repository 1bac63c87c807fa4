package chaos

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestZZRecheck(t *testing.T) {
	for _, path := range strings.Fields(os.Getenv("RECHECK")) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var h History
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		for i, f := range h.Faults {
			if (f.Kind == KillRedis || f.Kind == KillBoth) && (strings.Contains(f.Desc, "no-persistence") || strings.Contains(f.Desc, "wipe")) {
				h.Faults[i].DataLost = true
			}
		}
		r := Check(&h, DefaultParams(len(h.Nodes)))
		for _, v := range r.Violations {
			m := v.Msg
			if len(m) > 400 {
				m = m[:400]
			}
			t.Logf("%s: %s at %s: %s", path, v.Rule, fmtDur(v.At), m)
		}
		t.Logf("RESULT %s: %s lost %d/%d dual %s unavail %s lin %s", path, Summary(h.Seed, len(h.Nodes), 0, r)[strings.Index(Summary(h.Seed, len(h.Nodes), 0, r), "| verdict"):], r.Stats.Lost, r.Stats.Acknowledged, r.Stats.DualPrimary, r.Stats.Unavailable, r.Stats.Linearizable)
	}
}
