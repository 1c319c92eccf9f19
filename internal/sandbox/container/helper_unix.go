//go:build unix

package container

import (
	"os"
	"os/exec"
	"os/signal"
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

// ExecReap runs argv as a child in a process group of its own, recorded
// in pidfile (for KillHelper, when the host cancels), and waits for it;
// then it kills what is left of that group and every process marked with
// this exec's id (reap.Var in its environment), and returns the child's
// exit status (128+N when signal N ended it, as a shell says). An
// agent's leftovers so end inside the sandbox, without a second exec
// from the host. SIGTERM, SIGINT and SIGHUP are passed to the group.
func ExecReap(pidfile string, argv []string) (int, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, exec.ErrNotFound
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		return 126, err
	}
	pgid := cmd.Process.Pid
	os.WriteFile(pidfile, []byte(strconv.Itoa(pgid)), 0o600)
	go func() {
		for s := range sigs {
			syscall.Kill(-pgid, s.(syscall.Signal))
		}
	}()
	cmd.Wait()
	signal.Stop(sigs)
	syscall.Kill(-pgid, syscall.SIGKILL)
	if id := os.Getenv(reap.Var); id != "" {
		reap.Kill(id)
	}
	os.Remove(pidfile)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
