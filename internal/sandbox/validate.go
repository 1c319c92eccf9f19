package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sensitive are host paths whose mount would hand the agent the engine,
// the host or the user's credentials.
var sensitiveSuffixes = []string{
	"docker.sock", "podman.sock", "containerd.sock", "crio.sock", "buildkitd.sock",
}

// Validate refuses a spec whose shared directory would widen the
// boundary: the root, the home directory or one of its parents, a system
// directory, an engine socket or a folder holding one, a credentials
// folder. The error wraps ErrRefused. home is the user's home directory.
func Validate(spec Spec, home string) error {
	// A tmpfs of size 0 has no cap at all: never let a bad value get there.
	if n, err := spec.TmpBytes(); err != nil || n < 1<<20 {
		return Refused("--tmp-size %q: want a size of at least 1m, such as 512m or 2g", spec.TmpSize)
	}
	p := filepath.Clean(spec.Project)
	if !filepath.IsAbs(p) {
		return Refused("project path %q is not absolute", spec.Project)
	}
	refuse := func(why string) error {
		return Refused("will not share %s with a sandbox: %s; run ralph from the project's own folder", p, why)
	}
	if p == "/" {
		return refuse("it is the root of the host")
	}
	if home != "" {
		h := filepath.Clean(home)
		if p == h {
			return refuse("it is your home directory")
		}
		if strings.HasPrefix(h+"/", p+"/") {
			return refuse("it contains your home directory")
		}
	}
	for _, sys := range []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/var/lib", "/var/run"} {
		if p == sys || (sys != "/var" && sys != "/usr" && sys != "/var/lib" && strings.HasPrefix(p, sys+"/")) {
			return refuse("it is a system directory")
		}
	}
	base := filepath.Base(p)
	for _, s := range sensitiveSuffixes {
		if strings.HasSuffix(base, s) {
			return refuse("it is an engine socket")
		}
	}
	switch base {
	case ".ssh", ".aws", ".gnupg", ".kube", ".docker", ".config":
		return refuse("it is a credentials or configuration folder")
	}
	if entries, err := os.ReadDir(p); err == nil {
		for _, e := range entries {
			if e.Type()&os.ModeSocket != 0 {
				return refuse(fmt.Sprintf("it holds the socket %s (an engine or agent socket must never reach a sandbox)", e.Name()))
			}
		}
	}
	if spec.Workdir != "" && (!filepath.IsAbs(spec.Workdir) || filepath.Clean(spec.Workdir) == "/") {
		return Refused("workdir %q must be an absolute path other than /", spec.Workdir)
	}
	return nil
}
