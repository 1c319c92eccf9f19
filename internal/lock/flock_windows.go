//go:build windows

package lock

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive LockFileEx lock on f without waiting; held
// reports that another process has it. Windows locks are mandatory, so
// the lock covers one byte far past the holder record, which other
// processes must still read. Windows drops it when its holder dies.
func tryLock(f *os.File) (held bool, err error) {
	ol := &windows.Overlapped{Offset: 0, OffsetHigh: 0x7fffffff}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}
