package helper

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestHandles(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"ralph", "sandbox-helper", "forward"}, true},
		{[]string{"/.ralph/ralph", "sandbox-helper", "exec", "/tmp/p", "--", "claude"}, true},
		{[]string{"ralph", "sandbox-helper", "cgexec", "--", "bwrap"}, false}, // bwrap's host side: ralph's CLI
		{[]string{"ralph", "sandbox-helper"}, false},
		{[]string{"ralph", "-n", "5"}, false},
		{[]string{"ralph"}, false},
	} {
		if got := Handles(c.args); got != c.want {
			t.Errorf("Handles(%q) = %v", c.args, got)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"ralph-helper"}, {"ralph", "sandbox-helper", "nope"}, {"ralph", "sandbox-helper", "exec", "/tmp/p"},
		{"ralph", "sandbox-helper", "kill"}, {"ralph", "sandbox-helper", "pids-max", "0"}, {"ralph", "sandbox-helper", "run"},
		{"ralph", "sandbox-helper", "probe", "{not json"}, {"ralph", "sandbox-helper", "forward", "extra"},
	} {
		if code := Main(args); code != 64 {
			t.Errorf("%q: exit %d, want 64", args, code)
		}
	}
}

func TestDashed(t *testing.T) {
	if got := dashed([]string{"--", "a", "--", "b"}); !slices.Equal(got, []string{"a", "--", "b"}) {
		t.Errorf("dashed = %q", got)
	}
	if got := dashed([]string{"a"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("dashed = %q", got)
	}
}

// TestExecNotFoundIs127: a command that is not there ends the exec with
// the shell's 127, which the container backend reads as "not found" (run
// in a child: the exec wrapper changes its process group).
func TestExecNotFoundIs127(t *testing.T) {
	if os.Getenv("HELPER_TEST_EXEC") == "1" {
		os.Exit(Main([]string{"ralph", "sandbox-helper", "exec", filepath.Join(t.TempDir(), "pid"), "--", "/nonexistent/agent"}))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecNotFoundIs127$")
	cmd.Env = append(os.Environ(), "HELPER_TEST_EXEC=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 127 {
		t.Errorf("exit %v, want 127", err)
	}
}
