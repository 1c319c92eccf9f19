// Package backends is the registry: every sandbox backend ralph has,
// listed once, strongest boundary first, and how --sandbox names pick
// one. Adding a backend means writing its package under internal/sandbox
// and one line in Isolating; everything else (run, doctor, selftest,
// policy, ls) asks the backend through the optional interfaces of
// internal/sandbox and never names its type.
package backends

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralphloop/ralph/internal/helperbin"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/host"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/sandbox/sbx"
)

// Registry makes the backends with their places on this machine.
type Registry struct {
	// State is ralph's state folder ($XDG_STATE_HOME/ralph): records,
	// locks, caches.
	State string
	// Self is the running ralph; Helper what goes into sandboxes and
	// boots as a microVM's init (ralph-helper beside it, else Self).
	Self, Helper string
}

// New is the registry of this process: state under stateDir.
func New(stateDir string) *Registry {
	f := helperbin.Running()
	return &Registry{State: stateDir, Self: f.Self, Helper: f.Path}
}

// Isolating lists the isolating backends, strongest boundary first: the
// order --sandbox auto tries them in. A name listed twice panics.
func (r *Registry) Isolating() []sandbox.Backend {
	held := func(name string) bool {
		l, err := lock.Acquire(filepath.Join(r.State, "locks"), name)
		if err != nil {
			return true
		}
		l.Release()
		return false
	}
	list := []sandbox.Backend{
		sbx.New(),
		r.microVM(),
		container.GVisor(""),
		container.Docker(),
		container.Podman(),
		bwrap.New(r.Self, filepath.Join(r.State, "bwrap"), held),
	}
	seen := map[string]bool{}
	for _, b := range list {
		if seen[b.Name()] {
			panic("backends: " + b.Name() + " registered twice")
		}
		seen[b.Name()] = true
	}
	return list
}

// Host is the backend without isolation (--dangerously-run-on-host).
func (r *Registry) Host() sandbox.Backend { return host.New() }

// Pod is the backend of a fleet's pod, whose boundary is the pod.
func (r *Registry) Pod() sandbox.Backend { return host.Pod() }

// microVM places the microvm backend's files: records with the other
// state; sockets and consoles under /run (root) or XDG_RUNTIME_DIR; the
// initramfs and exported root filesystems in a cache QEMU can read.
func (r *Registry) microVM() *microvm.VM {
	base := filepath.Join(r.State, "microvm")
	run, cache := filepath.Join(base, "run"), filepath.Join(base, "cache")
	if os.Geteuid() == 0 {
		run, cache = "/run/ralph/microvm", "/var/cache/ralph/microvm"
	} else if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		run = filepath.Join(d, "ralph", "microvm")
	}
	vm := microvm.New(r.Helper, filepath.Join(base, "records"), run, cache)
	vm.Log = os.Stderr
	return vm
}

// Names are what --sandbox takes: auto, the isolating backends, host.
func Names(isolating []sandbox.Backend) []string {
	names := []string{"auto"}
	for _, b := range isolating {
		names = append(names, b.Name())
	}
	return append(names, "host")
}

// Lookup is the backend called name in list.
func Lookup(list []sandbox.Backend, name string) (sandbox.Backend, bool) {
	for _, b := range list {
		if b.Name() == name {
			return b, true
		}
	}
	return nil, false
}

// Auto is the first isolating backend usable here that auto may pick
// (sandbox.AutoPicker), or ErrUnavailable listing why each was passed.
func Auto(ctx context.Context, isolating []sandbox.Backend) (sandbox.Backend, error) {
	var tried []string
	for _, b := range isolating {
		err := b.Available(ctx)
		if ap, ok := b.(sandbox.AutoPicker); ok && err == nil {
			err = ap.AutoSkip(ctx)
		}
		if err == nil {
			return b, nil
		}
		tried = append(tried, fmt.Sprintf("  %s: %s", b.Name(), sandbox.Detail(err)))
	}
	return nil, sandbox.Unavailable("no isolating backend is usable here (ralph never falls back to the host):\n%s\n"+
		"install one: Docker Sandboxes (sbx), or apt-get install docker.io (then start dockerd), or apt-get install podman; ralph doctor says more",
		strings.Join(tried, "\n"))
}

// Describe says in words what a boundary means for the user.
func Describe(b sandbox.Boundary) string {
	switch b {
	case sandbox.MicroVM:
		return "microVM: its own guest kernel behind a virtual machine monitor"
	case sandbox.UserKernel:
		return "user-space kernel: gVisor stands between the agent and the host kernel"
	case sandbox.SharedKernel:
		return "shared kernel: a hardened container on the host's kernel"
	case sandbox.PodBoundary:
		rc := os.Getenv("RALPH_FLEET_RUNTIME_CLASS")
		if rc == "" {
			rc = "the cluster's default runtime"
		}
		return "the pod: a Kubernetes pod of ralph fleet (" + rc + ", restricted security context, egress only to the gate) is the boundary; ralph adds none inside it"
	}
	return string(b)
}
