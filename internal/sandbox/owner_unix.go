//go:build unix

package sandbox

import (
	"os"
	"syscall"
)

// FileOwner is the uid and gid owning fi.
func FileOwner(fi os.FileInfo) (uid, gid int, ok bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(s.Uid), int(s.Gid), true
}
