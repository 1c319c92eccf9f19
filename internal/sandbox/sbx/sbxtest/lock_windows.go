//go:build windows

package sbxtest

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile waits for an exclusive lock on f (one byte far past the
// state, which Windows would otherwise refuse to let others read).
func lockFile(f *os.File) {
	windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &windows.Overlapped{OffsetHigh: 0x7fffffff})
}
