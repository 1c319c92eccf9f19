//go:build windows

package agenttest

import (
	"errors"
	"syscall"
)

// mkfifo: Windows has no named pipes in the file system.
func mkfifo(p string) error { return errors.New("no FIFOs on Windows") }

// newSession starts a process in a process group of its own.
func newSession() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
