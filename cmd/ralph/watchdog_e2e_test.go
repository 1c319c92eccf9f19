//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCmd runs cmd; it returns the exit code and what it printed. The
// output goes to a file, not a pipe, so a process cmd leaves behind
// cannot hold the test up; such a process is looked for instead (any
// process whose command line names cmd's folder once cmd has exited),
// and one found fails the test. A cmd running past its bound (see
// runBound) gets SIGQUIT, whose stack dump of every goroutine lands in
// the output the test prints, then SIGKILL.
func runCmd(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bound := runBound(cmd.Args)
	fired := make(chan struct{})
	timer := time.AfterFunc(bound, func() {
		close(fired)
		cmd.Process.Signal(syscall.SIGQUIT)
		time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	})
	err = cmd.Wait()
	timer.Stop()
	data, _ := os.ReadFile(f.Name())
	out := string(data)
	select {
	case <-fired:
		t.Fatalf("%s ran past %v; its output (with the stacks of SIGQUIT), then the processes naming its folder:\n%s\n%s",
			filepath.Base(cmd.Path), bound, out, strings.Join(procsNaming(cmd.Dir), "\n"))
	default:
	}
	if left := lingering(cmd.Dir); len(left) > 0 {
		t.Errorf("%s exited, and processes naming its folder outlived it:\n%s\noutput:\n%s", filepath.Base(cmd.Path), strings.Join(left, "\n"), out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out
}

// runBound is how long a ralph run may take: its iterations at their
// timeout, and three minutes more; ten minutes when it names no timeout.
func runBound(args []string) time.Duration {
	n, each := 1, 10*time.Minute
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-n":
			if v, err := strconv.Atoi(args[i+1]); err == nil {
				n = v
			}
		case "--iteration-timeout":
			if d, err := time.ParseDuration(args[i+1]); err == nil {
				each = d
			}
		}
	}
	return time.Duration(n)*each + 3*time.Minute
}

// lingering waits up to five seconds for the processes naming dir to
// end (bwrap's --die-with-parent and a pid namespace's end are not
// instant) and returns those still there.
func lingering(dir string) []string {
	if dir == "" || !strings.HasPrefix(dir, os.TempDir()) {
		return nil
	}
	var left []string
	for range 50 {
		if left = procsNaming(dir); len(left) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return left
}

// procsNaming lists "PID: command line" of every process whose command
// line contains s.
func procsNaming(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		argv, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(argv, []byte(s)) {
			continue
		}
		out = append(out, e.Name()+": "+strings.Join(strings.Split(strings.TrimRight(string(argv), "\x00"), "\x00"), " "))
	}
	return out
}
