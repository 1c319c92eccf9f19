// Package helperbin finds the binary ralph puts into sandboxes and boots
// as a microVM's init: ralph-helper beside ralph when it is a static
// build of the same source (7 MB), else ralph itself (32 MB), which holds
// the same helper code.
package helperbin

import (
	"debug/buildinfo"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Name is the helper's file name beside ralph.
const Name = "ralph-helper"

// Find returns the helper to use with the ralph at self, and whether it
// is the slim one: ralph-helper in self's folder when it is static and
// built from the same source as self (same Go, module version and sum,
// VCS revision, time and dirty flag: a helper of another build may not
// speak the same arguments), else self.
func Find(self string) (path string, slim bool) {
	if runtime.GOOS != "linux" {
		return self, false
	}
	cand := filepath.Join(filepath.Dir(self), Name)
	if fi, err := os.Stat(cand); err != nil || !fi.Mode().IsRegular() || !sandbox.Static(cand) {
		return self, false
	}
	if !SameBuild(self, cand) {
		return self, false
	}
	return cand, true
}

// SameBuild reports whether the Go binaries a and b were built from the
// same source by the same Go (their build settings other than the
// linker's flags, which a release sets for ralph alone).
func SameBuild(a, b string) bool {
	ia, err := buildinfo.ReadFile(a)
	if err != nil {
		return false
	}
	ib, err := buildinfo.ReadFile(b)
	if err != nil {
		return false
	}
	if ia.GoVersion != ib.GoVersion || ia.Main.Path != ib.Main.Path || ia.Main.Version != ib.Main.Version || ia.Main.Sum != ib.Main.Sum {
		return false
	}
	set := func(i *buildinfo.BuildInfo) map[string]string {
		m := map[string]string{}
		for _, s := range i.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "GOOS", "GOARCH":
				m[s.Key] = s.Value
			}
		}
		return m
	}
	sa, sb := set(ia), set(ib)
	if len(sa) != len(sb) {
		return false
	}
	for k, v := range sa {
		if sb[k] != v {
			return false
		}
	}
	return true
}
