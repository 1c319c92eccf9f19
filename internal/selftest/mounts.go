package selftest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writableMounts lists the mount points of the sandbox the probe (as the
// agent) can create a file in, found by trying each one in
// /proc/self/mountinfo (and a few well-known folders that live on the
// root file system), apart from /proc and /sys (kernel interfaces, row 14)
// and /dev/mqueue (bounded by RLIMIT_MSGQUEUE).
func writableMounts() []string {
	out, _ := scanMounts()
	return out
}

// inMemoryMounts is the writable mounts that live in memory (tmpfs,
// ramfs): the ones a cap must bound, and safe to fill on any host.
func inMemoryMounts() []string {
	_, mem := scanMounts()
	return mem
}

func scanMounts() (writable, inMemory []string) {
	seen := map[string]bool{}
	fstype := map[string]string{}
	var out []string
	try := func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		if dir == "/proc" || strings.HasPrefix(dir, "/proc/") || dir == "/sys" || strings.HasPrefix(dir, "/sys/") || dir == "/dev/mqueue" {
			return
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return
		}
		if create(filepath.Join(dir, ".ralph-selftest-w")) {
			out = append(out, dir)
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 {
				dir := unescapeMount(fields[4])
				for i, f := range fields {
					if f == "-" && i+1 < len(fields) {
						fstype[dir] = fields[i+1]
					}
				}
				try(dir)
			}
		}
		f.Close()
	}
	for _, d := range []string{"/", "/run", "/var/tmp", "/var", "/etc", "/dev", "/dev/shm", "/usr", "/opt", "/srv", "/mnt", "/root"} {
		try(d)
	}
	for _, d := range out {
		if t := fstype[d]; t == "tmpfs" || t == "ramfs" {
			inMemory = append(inMemory, d)
		}
	}
	return out, inMemory
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// allowedWritable reports whether dir is one of the places the agent may
// write: the workspace (and what is under it), /tmp and HOME (capped),
// and /dev/shm (capped like /tmp).
func allowedWritable(dir, workspace, home string) bool {
	for _, a := range []string{workspace, "/tmp", home, "/dev/shm"} {
		if a != "" && (dir == a || strings.HasPrefix(dir, strings.TrimSuffix(a, "/")+"/")) {
			return true
		}
	}
	return false
}
