//go:build unix

package sbxtest

import (
	"os"
	"syscall"
)

// lockFile waits for an exclusive lock on f.
func lockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
