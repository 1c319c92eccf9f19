//go:build unix

package gatehost

import (
	"io/fs"
	"strconv"
	"syscall"
)

// inode is the file's device and inode number, for telling a replaced
// file from the one recorded.
func inode(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
}
