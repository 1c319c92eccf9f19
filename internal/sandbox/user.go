package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RunAs returns the uid and gid the agent runs as: spec.User ("uid:gid"
// or "uid") when set, else the owner of the project directory. It never
// picks root (uid 0 is refused, named or owning), and never guesses an
// account: a project owned by root needs --user (decision 008), because
// the agent, its files and (for the microVM) QEMU would otherwise run as
// whatever person holds uid 1000 on this machine. A project that does not
// exist yet (an internal probe) runs as 1000:1000.
func RunAs(spec Spec) (uid, gid int, err error) {
	if spec.User != "" {
		u, g, hasGid := strings.Cut(spec.User, ":")
		if uid, err = strconv.Atoi(u); err != nil {
			return 0, 0, fmt.Errorf("user %q: want uid:gid", spec.User)
		}
		gid = uid
		if hasGid {
			if gid, err = strconv.Atoi(g); err != nil {
				return 0, 0, fmt.Errorf("user %q: want uid:gid", spec.User)
			}
		}
		if uid == 0 || gid == 0 {
			return 0, 0, fmt.Errorf("user %q: the agent never runs as root (uid or gid 0)", spec.User)
		}
		return uid, gid, nil
	}
	st, err := os.Stat(spec.Project)
	if err != nil {
		return 1000, 1000, nil
	}
	owner, group, ok := FileOwner(st)
	if !ok {
		return 1000, 1000, nil
	}
	if owner == 0 {
		return 0, 0, fmt.Errorf("the project %s belongs to root, and the agent never runs as root: pass --user UID:GID, the account whose files the agent should write (its own, or a uid no person uses), or chown the project to it", spec.Project)
	}
	return owner, group, nil
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
