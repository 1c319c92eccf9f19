//go:build unix

package agenttest

import "syscall"

// mkfifo plants a named pipe at p, as a hostile agent would.
func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }

// newSession starts a process in a session of its own (what an agent's
// tools do, out of reach of its process group).
func newSession() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
