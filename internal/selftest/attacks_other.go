//go:build !linux

package selftest

import (
	"fmt"
	"runtime"
)

// The attacks run inside sandboxes, which are Linux; a ralph built for
// another system has none to run.
var errNotLinux = fmt.Errorf("selftest attacks run only on Linux, not %s", runtime.GOOS)

// Attack is the child side of an attack.
func Attack(args []string) error { return errNotLinux }

func forkMany(n int) bool { return false }

func escapeSyscalls(f *finding, ralphPID int, userKernel bool) {
	f.tried = append(f.tried, "runtime escape system calls: "+errNotLinux.Error())
}

// mkfifo: the probe runs in a Linux sandbox.
func mkfifo(p string) error { return errNotLinux }
