//go:build windows

package microvm

import (
	"errors"
	"os"
	"syscall"
)

// The microVM backend is unavailable on Windows (Available says so);
// these keep the package building there.

func qemuAttr(asRoot bool, uid, gid int, accel string) *syscall.SysProcAttr { return nil }

func killPid(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
		p.Release()
	}
}

func flock(path string) (unlock func(), err error) {
	return nil, errors.New("microvm: Linux only")
}

func sharedLock(path string) (*os.File, error) { return nil, errors.New("microvm: Linux only") }

func tryLock(path string) (unlock func(), ok bool) { return nil, false }
