package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-redis/vigil/internal/redistest"
)

// procStat reads pid's parent, state and start time (in clock ticks
// since boot, which tells a reused pid apart) from /proc/pid/stat.
func procStat(pid int) (ppid int, state byte, start string, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, "", false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return 0, 0, "", false
	}
	f := strings.Fields(string(b[i+1:])) // state, ppid, ... starttime is field 22
	if len(f) < 20 {
		return 0, 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0][0], f[19], true
}

// childrenOf returns the live children of pid with their start times.
func childrenOf(pid int) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, start, ok := procStat(p); ok && ppid == pid && state != 'Z' {
			out[p] = start
		}
	}
	return out
}

// stillRunning returns the processes of procs (pid, start time) alive now.
func stillRunning(procs map[int]string) []int {
	var pids []int
	for pid, start := range procs {
		if _, state, s, ok := procStat(pid); ok && s == start && state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// `vigil demo`, the real binary: the group becomes healthy with the client
// writing through the Sentinel endpoints, and SIGINT stops every
// redis-server and sidecar it started and removes its directory.
func TestDemoSmoke(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (make deps)")
	}
	var out syncBuffer
	cmd := exec.Command(vigilBinary(t), "demo")
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe() // open: the demo reads commands from it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var dir string
	children := map[int]string{}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			if len(children) == 0 {
				children = childrenOf(cmd.Process.Pid)
			}
			_ = cmd.Process.Kill()
			<-done
		}
		// Whatever the demo left behind was started by this test.
		for _, pid := range stillRunning(children) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
		if t.Failed() {
			t.Logf("demo output (last screen):\n%s", tailLines(out.String(), 30))
		}
	})

	filesIn := regexp.MustCompile(`files in (/[^)\s]+)\)`)
	healthy := regexp.MustCompile(`status: healthy: primary [abc], 2 replicas`)
	writes := regexp.MustCompile(`: ([1-9][0-9]*) writes ok`)
	redistest.Eventually(t, 60*time.Second, func() error {
		s := out.String()
		if m := filesIn.FindStringSubmatch(s); m != nil {
			dir = m[1]
		}
		// The last screen only: an earlier one may have been healthy.
		if i := bytes.LastIndex([]byte(s), []byte("\033[H\033[2J")); i >= 0 {
			s = s[i:]
		}
		if dir == "" || !healthy.MatchString(s) || !writes.MatchString(s) {
			return fmt.Errorf("demo not healthy with client writes yet; last screen:\n%s", tailLines(s, 12))
		}
		return nil
	})
	children = childrenOf(cmd.Process.Pid)
	if len(children) != 6 {
		t.Errorf("the demo runs %d processes, want 6 (three redis-server, three sidecars)", len(children))
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Errorf("demo exit after SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo still running 60s after SIGINT")
	}
	if pids := stillRunning(children); len(pids) > 0 {
		t.Errorf("processes of the demo left running after it exited: %v", pids)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("demo directory %s not removed: %v", dir, err)
	}
}
