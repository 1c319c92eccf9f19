package bwrap

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// closedTo returns the first folder on the way to dir that uid:gid
// cannot pass through by its mode bits (owner, group, others; neither
// supplementary groups nor ACLs are looked at), or "". bwrap mounts the
// project after dropping to the agent's uid, so such a folder makes it
// fail with "Can't find source path".
func closedTo(dir string, uid, gid int) string {
	var path []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		path = append([]string{p}, path...)
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, p := range path {
		st, err := os.Stat(p)
		if err != nil {
			return ""
		}
		owner, group, ok := sandbox.FileOwner(st)
		if !ok {
			return ""
		}
		var bit fs.FileMode = 0o001
		switch {
		case owner == uid:
			bit = 0o100
		case group == gid:
			bit = 0o010
		}
		if st.Mode().Perm()&bit == 0 {
			return p
		}
	}
	return ""
}
