//go:build unix

package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// terminate asks p to end (SIGTERM), so clients such as `docker exec`
// can clean up.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// inGroup starts cmd in a process group of its own and makes its
// cancellation reach the whole group.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
}

// killGroup kills p's whole process group.
func killGroup(p *os.Process) { syscall.Kill(-p.Pid, syscall.SIGKILL) }
