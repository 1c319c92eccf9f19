//go:build windows

package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// terminate ends p: Windows has no SIGTERM to ask with.
func terminate(p *os.Process) error { return p.Kill() }

// inGroup starts cmd in a process group of its own (so a Ctrl-C to
// ralph's console does not reach it twice); cancelling kills it.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killGroup kills p. Windows offers no kill of a whole group short of a
// job object; the programs ralph groups there (engine clients) end with it.
func killGroup(p *os.Process) { p.Kill() }
