//go:build unix

package microvm

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The cache keeps the roots used last, those used lately, and any a
// running VM holds (QEMU's inherited shared lock); the rest go. So do old
// initramfs files past the newest few.
func TestPruneCacheKeepsWhatIsInUse(t *testing.T) {
	cache := t.TempDir()
	now := time.Now()
	root := func(i int, age time.Duration) string {
		d := filepath.Join(cache, "rootfs", fmt.Sprintf("img%02d", i))
		os.MkdirAll(filepath.Join(d, "root", "bin"), 0o755)
		os.WriteFile(filepath.Join(d, "env.json"), []byte("[]"), 0o644)
		os.Chtimes(d, now.Add(-age), now.Add(-age))
		return d
	}
	var dirs []string
	for i := range 8 {
		dirs = append(dirs, root(i, time.Duration(i+1)*2*time.Hour)) // img00 newest
	}
	recent := root(8, 10*time.Minute) // used ten minutes ago
	// A VM runs on img07, the oldest: QEMU holds the shared lock.
	held, err := sharedLock(dirs[7] + ".use")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var initrds []string
	for i := range 5 {
		p := filepath.Join(cache, fmt.Sprintf("initramfs-%d.cpio", i))
		os.WriteFile(p, nil, 0o644)
		os.Chtimes(p, now.Add(-time.Duration(i+1)*2*time.Hour), now.Add(-time.Duration(i+1)*2*time.Hour))
		initrds = append(initrds, p)
	}

	removed := pruneCache(cache, now)
	// Kept: the four used last (img08 recent, img00..img02), the one in
	// use (img07). Removed: img03..img06.
	want := []string{dirs[3], dirs[4], dirs[5], dirs[6], initrds[3], initrds[4]}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v,\nwant %v", removed, want)
	}
	for _, d := range append([]string{recent, dirs[7]}, dirs[:3]...) {
		if _, err := os.Stat(filepath.Join(d, "env.json")); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	// Once the VM is gone, its root goes at the next prune.
	held.Close()
	if removed := pruneCache(cache, now); !slices.Equal(removed, []string{dirs[7]}) {
		t.Errorf("after the VM ended: removed %v, want %s", removed, dirs[7])
	}
}
