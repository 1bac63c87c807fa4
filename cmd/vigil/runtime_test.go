package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// TestRuntimeDefaults runs the real binary: the sidecar runs on one P with
// GOGC 50 unless the environment sets GOMAXPROCS or GOGC, which then
// decide. Its Redis is unreachable; the sidecar reports that and serves
// /metrics all the same.
func TestRuntimeDefaults(t *testing.T) {
	bin := vigilBinary(t)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") {
			base = append(base, kv)
		}
	}
	for _, tt := range []struct {
		name  string
		env   []string
		wants []string
	}{
		{"defaults", nil, []string{"go_sched_gomaxprocs_threads 1\n", "go_gc_gogc_percent 50\n"}},
		{"set by the operator", []string{"GOMAXPROCS=2", "GOGC=100"}, []string{"go_sched_gomaxprocs_threads 2\n", "go_gc_gogc_percent 100\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			web := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1"))
			cmd := exec.Command(bin, "run", "--node.name", "a", "--node.data_dir", t.TempDir(),
				"--redis.addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
				"--http.listen_addr", web, "--gossip.encryption_key", testGossipKey,
				"--gossip.bind_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")),
				"--sentinel.listen_addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t, "127.0.0.1")))
			cmd.Env = append(append([]string(nil), base...), tt.env...)
			var logs syncBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("log:\n%s", tailLines(logs.String(), 40))
				}
			}()
			redistest.Eventually(t, 15*time.Second, func() error {
				resp, err := http.Get("http://" + web + "/metrics")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				for _, want := range tt.wants {
					if !strings.Contains(string(b), want) {
						return fmt.Errorf("/metrics lacks %q", strings.TrimSpace(want))
					}
				}
				return nil
			})
		})
	}
}
