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
		r := Check(&h, DefaultParams(len(h.Nodes)))
		for _, v := range r.Violations {
			m := v.Msg
			if len(m) > 400 {
				m = m[:400]
			}
			t.Logf("%s: %s at %s: %s", path, v.Rule, fmtDur(v.At), m)
		}
		t.Logf("%s: %s", path, Summary(h.Seed, len(h.Nodes), 0, r))
	}
}
