//go:build unix

package policyfile

import (
	"os"
	"syscall"
)

// inode is fi's inode number: a policy file replaced by a rename has a
// new one even when its size and time match.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
