//go:build linux

package reap

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillFindsEscapedSessions: a process in a session of its own (as a
// tool of the agent's starts one) is found by its marker and killed; an
// unmarked one is left alone.
func TestKillFindsEscapedSessions(t *testing.T) {
	start := func(marked bool) *exec.Cmd {
		c := exec.Command("sleep", "60")
		c.Env = os.Environ()
		if marked {
			c.Env = append(c.Env, Var+"=test-1234")
		}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	marked, other := start(true), start(false)
	time.Sleep(100 * time.Millisecond)
	if n := Kill("test-1234"); n != 1 {
		t.Errorf("Kill found %d processes, want 1", n)
	}
	done := make(chan error, 1)
	go func() { done <- marked.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the marked process lives on")
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the unmarked process was killed: %v", err)
	}
}
