// Package helperbin finds the binary ralph puts into sandboxes and boots
// as a microVM's init: ralph-helper beside ralph when it is a static
// build of the same source (7 MB), else ralph itself (32 MB), which holds
// the same helper code.
package helperbin

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Name is the helper's file name beside ralph.
const Name = "ralph-helper"

// Find returns the helper to use with the ralph at self, and whether it
// is the slim one: ralph-helper in self's folder when it is static and
// built from the same source as self (same Go, module version and sum,
// VCS revision, time and dirty flag: a helper of another build may not
// speak the same arguments), else self. On macOS and Windows self cannot
// run in a Linux sandbox: the helper must be there, a Linux build for
// this machine's architecture (Docker Desktop's and podman machine's VM
// run the host's), or Find returns "".
func Find(self string) (path string, slim bool) { return find(self, runtime.GOOS) }

// Found is where the running ralph is and which helper goes with it.
type Found struct {
	Self string // the running ralph
	Path string // its helper: "" when there is none (off Linux)
	Slim bool   // the helper is ralph-helper, not ralph itself
}

// Running is Find for the running ralph, worked out once per process.
var Running = sync.OnceValue(func() Found {
	self, err := os.Executable()
	if err != nil {
		return Found{}
	}
	p, slim := Find(self)
	return Found{self, p, slim}
})

func find(self, goos string) (string, bool) {
	cand := filepath.Join(filepath.Dir(self), Name)
	if fi, err := os.Stat(cand); err == nil && fi.Mode().IsRegular() && sandbox.Static(cand) {
		ia, ib := read(self), read(cand)
		if ia != nil && ib != nil && setting(ib, "GOOS") == "linux" && same(ia, ib) {
			return cand, true
		}
	}
	if goos != "linux" {
		return "", false
	}
	return self, false
}

func read(p string) *buildinfo.BuildInfo {
	info, err := buildinfo.ReadFile(p)
	if err != nil {
		return nil
	}
	return info
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Missing says why Find found no helper on this OS, and how to get one.
func Missing(self string) string {
	return fmt.Sprintf("ralph's Linux helper, which runs inside the sandbox, is not beside ralph (%s, a static linux/%s build of the same source): "+
		"install ralph from its release archive, which holds it, or build it: GOOS=linux GOARCH=%s CGO_ENABLED=0 go build -o %s ./cmd/ralph-helper",
		filepath.Join(filepath.Dir(self), Name), runtime.GOARCH, runtime.GOARCH, filepath.Join(filepath.Dir(self), Name))
}

// SameBuild reports whether the Go binaries a and b were built from the
// same source by the same Go (their build settings other than the
// linker's flags, which a release sets for ralph alone; and the OS: the
// helper of a macOS ralph is a Linux build).
func SameBuild(a, b string) bool {
	ia, ib := read(a), read(b)
	return ia != nil && ib != nil && same(ia, ib)
}

func same(ia, ib *buildinfo.BuildInfo) bool {
	if ia.GoVersion != ib.GoVersion || ia.Main.Path != ib.Main.Path || ia.Main.Version != ib.Main.Version || ia.Main.Sum != ib.Main.Sum {
		return false
	}
	for _, k := range []string{"vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "GOARCH"} {
		if setting(ia, k) != setting(ib, k) {
			return false
		}
	}
	return true
}
