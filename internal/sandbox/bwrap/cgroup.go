package bwrap

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupDirs are the sandbox's cgroups: v2 (one unified directory) or v1
// (memory and pids hierarchies).
func cgroupDirs(name string) []string {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []string{filepath.Join(cgroupRoot, "ralph", name)}
	}
	return []string{filepath.Join(cgroupRoot, "memory", "ralph", name), filepath.Join(cgroupRoot, "pids", "ralph", name)}
}

// JoinCgroups puts the calling process in the sandbox's cgroups with the
// memory (bytes, swap included) and pids caps.
func JoinCgroups(name string, memory int64, pids int) error {
	v2 := len(cgroupDirs(name)) == 1
	for _, d := range cgroupDirs(name) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", d, err)
		}
		var files map[string]string
		switch {
		case v2:
			os.WriteFile(filepath.Join(cgroupRoot, "ralph", "cgroup.subtree_control"), []byte("+memory +pids"), 0)
			files = map[string]string{"memory.max": strconv.FormatInt(memory, 10), "memory.swap.max": "0", "pids.max": strconv.Itoa(pids)}
		case strings.Contains(d, "/memory/"):
			files = map[string]string{"memory.limit_in_bytes": strconv.FormatInt(memory, 10), "memory.memsw.limit_in_bytes": strconv.FormatInt(memory, 10)}
		default:
			files = map[string]string{"pids.max": strconv.Itoa(pids)}
		}
		for f, v := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0); err != nil && f != "memory.memsw.limit_in_bytes" && f != "memory.swap.max" {
				return fmt.Errorf("cgroup %s/%s: %w", d, f, err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("cgroup %s: join: %w", d, err)
		}
	}
	return nil
}

// RemoveCgroups removes the sandbox's (empty) cgroups.
func RemoveCgroups(name string) {
	for _, d := range cgroupDirs(name) {
		os.Remove(d)
	}
}
