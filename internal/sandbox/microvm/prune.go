package microvm

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// What the cache keeps: an image's exported root is kept while some VM
// runs on it (QEMU holds a shared lock on <entry>.use for its life), and
// otherwise while it is among the keepRoots used last or was used within
// minIdle; an initramfs (one per ralph binary) likewise among the
// keepInitrds made last. Without this every image ralph image build made
// stayed exported for good, a few hundred megabytes each.
const (
	keepRoots   = 4
	keepInitrds = 3
	minIdle     = time.Hour
)

// touchUse marks an exported root as used now (its folder's time).
func touchUse(dir string) {
	now := time.Now()
	os.Chtimes(dir, now, now)
}

// pruneCache removes what the cache no longer needs (see keepRoots). It
// never waits: an entry another ralph holds is skipped.
func pruneCache(cacheDir string, now time.Time) (removed []string) {
	roots := filepath.Join(cacheDir, "rootfs")
	entries, _ := os.ReadDir(roots)
	type entry struct {
		path string
		used time.Time
	}
	var dirs []entry
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil {
			dirs = append(dirs, entry{filepath.Join(roots, e.Name()), info.ModTime()})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].used.After(dirs[j].used) })
	for i, d := range dirs {
		if i < keepRoots || now.Sub(d.used) < minIdle {
			continue
		}
		unlock, ok := tryLock(d.path + ".lock")
		if !ok {
			continue
		}
		inUse, free := tryLock(d.path + ".use")
		if !free {
			unlock()
			continue
		}
		os.RemoveAll(d.path)
		os.Remove(d.path + ".use")
		os.Remove(d.path + ".lock")
		inUse()
		unlock()
		removed = append(removed, d.path)
	}
	initrds, _ := filepath.Glob(filepath.Join(cacheDir, "initramfs-*.cpio"))
	var files []entry
	for _, p := range initrds {
		if st, err := os.Stat(p); err == nil && !strings.HasSuffix(p, ".tmp") {
			files = append(files, entry{p, st.ModTime()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.After(files[j].used) })
	for i, f := range files {
		if i >= keepInitrds && now.Sub(f.used) >= minIdle {
			if os.Remove(f.path) == nil {
				removed = append(removed, f.path)
			}
		}
	}
	return removed
}
