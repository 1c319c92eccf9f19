package helper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/reap"
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

// TestExecReap: exec-reap returns the command's own exit status (127
// when it is not there, 128+N when signal N ended it) and, once the
// command exits, ends what it left: a process in its group and one in a
// session of its own that carries the exec's id (as an agent's Bash tool
// leaves them), not one without the id.
func TestExecReap(t *testing.T) {
	if argv := os.Getenv("HELPER_TEST_REAP"); argv != "" {
		var a []string
		json.Unmarshal([]byte(argv), &a)
		os.Exit(Main(append([]string{"ralph", "sandbox-helper", "exec-reap", filepath.Join(os.Getenv("HELPER_TEST_DIR"), "pid"), "--"}, a...)))
	}
	run := func(argv []string, env ...string) int {
		a, _ := json.Marshal(argv)
		cmd := exec.Command(os.Args[0], "-test.run=^TestExecReap$")
		cmd.Env = append(os.Environ(), append(env, "HELPER_TEST_REAP="+string(a), "HELPER_TEST_DIR="+t.TempDir())...)
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := run([]string{"/nonexistent/agent"}); code != 127 {
		t.Errorf("a missing command: exit %d, want 127", code)
	}
	if code := run([]string{"sh", "-c", "kill -TERM $$"}); code != 128+15 {
		t.Errorf("a command ended by SIGTERM: exit %d, want 143", code)
	}
	marker := fmt.Sprintf("98%d", os.Getpid()%100000)
	script := fmt.Sprintf("sleep %[1]s1 & setsid sleep %[1]s2 & env -u %[2]s setsid sleep %[1]s3 & sleep 0.3; exit 3", marker, reap.Var)
	if code := run([]string{"sh", "-c", script}, reap.Var+"=reap-test-"+marker); code != 3 {
		t.Errorf("exit %d, want the command's 3", code)
	}
	time.Sleep(200 * time.Millisecond)
	for i, want := range []bool{false, false, true} {
		n := fmt.Sprintf("sleep %s%d", marker, i+1)
		out, _ := exec.Command("pgrep", "-f", n).Output()
		if alive := len(out) > 0; alive != want {
			t.Errorf("%q alive %v after the exec, want %v", n, alive, want)
		}
		exec.Command("pkill", "-f", n).Run()
	}
}
