//go:build unix

package container

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/ralphloop/ralph/internal/reap"
)

// The inside halves of Exec and killExec, run by ralph's hidden helper in
// a gated sandbox (the same static binary, mounted at /.ralph/ralph).

// ExecHelper records this process group in pidfile, then becomes argv. It
// returns only on failure (exec.ErrNotFound when argv is not there).
func ExecHelper(pidfile string, argv []string) error {
	syscall.Setpgid(0, 0)
	os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())), 0o600)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return exec.ErrNotFound
	}
	return syscall.Exec(path, argv, os.Environ())
}

// KillHelper kills the process group recorded in pidfile and, when id is
// set, every process the exec's id marks (what its tools started in
// sessions of their own).
func KillHelper(pidfile, id string) {
	if b, err := os.ReadFile(pidfile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	if id != "" {
		reap.Kill(id)
	}
}
