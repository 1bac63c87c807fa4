package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/failover/authority"
	"github.com/vigil-redis/vigil/internal/redistest"
)

// The README's admin endpoints POST /v1/handover and GET/POST /v1/settings
// answer on the real binary (they once answered 404: the router never
// mounted them), behind the admin guard, and `vigil handover` hands the
// primary role over.
func TestHandoverAndSettingsOnTheBinary(t *testing.T) {
	const token = "admin-routes-secret"
	g, procs := newProcGroup(t, "--http.admin_token", token)
	st := g.waitConverged(30*time.Second, "")
	if st.Topology.Primary.Name != "a" {
		t.Fatalf("group converged on %s, want a", st.Topology.Primary.Name)
	}
	epoch := st.Topology.Epoch

	// Settings: reading is open, changing needs the admin token, and every
	// sidecar applies the change.
	if code, body := procs["b"].request(t, http.MethodGet, "/v1/settings", "", ""); code != http.StatusOK {
		t.Fatalf("GET /v1/settings = %d %s, want 200", code, body)
	}
	const lag = 987654321
	set := fmt.Sprintf(`{"max_lag_bytes":%d}`, lag)
	if code, body := procs["b"].request(t, http.MethodPost, "/v1/settings", "", set); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/settings without a token = %d %s, want 401", code, body)
	}
	code, body := procs["b"].request(t, http.MethodPost, "/v1/settings", token, set)
	var got authority.Settings
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.MaxLagBytes != lag {
		t.Fatalf("POST /v1/settings = %d %s, want 200 with max_lag_bytes %d", code, body, lag)
	}
	redistest.Eventually(t, 10*time.Second, func() error {
		code, body := procs["c"].request(t, http.MethodGet, "/v1/settings", "", "")
		var s authority.Settings
		if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.MaxLagBytes != lag {
			return fmt.Errorf("GET /v1/settings on c = %d %s, want max_lag_bytes %d", code, body, lag)
		}
		return nil
	})

	// Handover: admin only; on a replica's sidecar it changes nothing.
	if code, body := procs["b"].request(t, http.MethodPost, "/v1/handover", "", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/handover without a token = %d %s, want 401", code, body)
	}
	if code, body := procs["b"].request(t, http.MethodPost, "/v1/handover", token, ""); code != http.StatusOK {
		t.Errorf("POST /v1/handover on a replica = %d %s, want 200", code, body)
	}
	if st, err := procs["c"].status(); err != nil || st.Topology.Primary.Name != "a" || st.Topology.Epoch != epoch {
		t.Errorf("after a replica's handover: primary %s at epoch %d (%v), want a at %d",
			st.Topology.Primary.Name, st.Topology.Epoch, err, epoch)
	}

	// `vigil handover` on the primary's sidecar: refused without the
	// token, then the primary role moves to a replica.
	cli := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(procs["a"].bin, append([]string{"handover", "--addr", procs["a"].http}, args...)...)
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli([]string{"VIGIL_TOKEN="}); err == nil || !strings.Contains(out, "bearer token") {
		t.Errorf("vigil handover without a token: %v\n%s\nwant a failure naming the bearer token", err, out)
	}
	if out, err := cli([]string{"VIGIL_TOKEN=" + token}); err != nil {
		t.Fatalf("vigil handover: %v\n%s", err, out)
	}
	redistest.Eventually(t, 20*time.Second, func() error {
		for _, name := range []string{"a", "b", "c"} {
			st, err := procs[name].status()
			if err != nil {
				return err
			}
			if p := st.Topology.Primary.Name; p == "a" || p == "" || st.Topology.Epoch <= epoch {
				return fmt.Errorf("%s names primary %q at epoch %d after vigil handover", name, p, st.Topology.Epoch)
			}
		}
		return nil
	})
}
