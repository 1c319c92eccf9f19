package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// RunAs returns the uid and gid the agent runs as: spec.User ("uid:gid"
// or "uid") when set, else the owner of the project directory when that
// is not root, so files written in the workspace belong to the user, else
// 1000:1000.
func RunAs(spec Spec) (uid, gid int, err error) {
	if spec.User != "" {
		u, g, hasGid := strings.Cut(spec.User, ":")
		if uid, err = strconv.Atoi(u); err != nil {
			return 0, 0, fmt.Errorf("user %q: want uid:gid", spec.User)
		}
		if !hasGid {
			return uid, uid, nil
		}
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("user %q: want uid:gid", spec.User)
		}
		return uid, gid, nil
	}
	if st, err := os.Stat(spec.Project); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok && s.Uid != 0 {
			return int(s.Uid), int(s.Gid), nil
		}
	}
	return 1000, 1000, nil
}

// ParseSize reads an engine size: 4g, 512m, 1024k or plain bytes.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for suf, m := range map[string]int64{"g": 1 << 30, "m": 1 << 20, "k": 1 << 10} {
		if strings.HasSuffix(t, suf) {
			mult, t = m, strings.TrimSuffix(t, suf)
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a number with k, m or g", s)
	}
	return n * mult, nil
}
