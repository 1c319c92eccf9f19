package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/host"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/sandbox/sbx"
)

// isolating lists the isolating backends, strongest boundary first: the
// order --sandbox auto tries them in.
func isolating() []sandbox.Backend {
	self, _ := os.Executable()
	held := func(name string) bool {
		l, err := lock.Acquire(stateDir("locks"), name)
		if err != nil {
			return true
		}
		l.Release()
		return false
	}
	return []sandbox.Backend{sbx.New(), newMicroVM(self), container.GVisor(""), container.Docker(), container.Podman(),
		bwrap.New(self, stateDir("bwrap"), held)}
}

// newMicroVM places the microvm backend's files: records with the other
// state; sockets and consoles under /run (root) or XDG_RUNTIME_DIR; the
// initramfs and exported root filesystems in a cache QEMU can read.
func newMicroVM(self string) *microvm.VM {
	run, cache := filepath.Join(stateDir("microvm"), "run"), filepath.Join(stateDir("microvm"), "cache")
	if os.Geteuid() == 0 {
		run, cache = "/run/ralph/microvm", "/var/cache/ralph/microvm"
	} else if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		run = filepath.Join(d, "ralph", "microvm")
	}
	vm := microvm.New(self, filepath.Join(stateDir("microvm"), "records"), run, cache)
	vm.Log = os.Stderr
	return vm
}

func backendNames() []string {
	names := []string{"auto"}
	for _, b := range isolating() {
		names = append(names, b.Name())
	}
	return append(names, "host")
}

// describe says in words what a boundary means for the user.
func describe(b sandbox.Boundary) string {
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

const hostWarning = "ralph: WARNING: --sandbox host: the agent runs on this machine with no isolation, with your files, keys and network"

// backend picks the backend the user asked for, checks it can be used,
// and returns the warning to print every iteration, if any.
func (o *runOptions) backend(ctx context.Context) (sandbox.Backend, string, error) {
	switch o.sandboxName {
	case "host":
		if !o.onHost {
			return nil, "", usageErr("--sandbox host runs the agent with no isolation; pass --dangerously-run-on-host as well if you mean it")
		}
		return host.New(), hostWarning, nil
	case "pod":
		b := host.Pod()
		return b, "", b.Available(ctx)
	case "auto", "":
		var tried []string
		for _, b := range isolating() {
			err := b.Available(ctx)
			if ap, ok := b.(sandbox.AutoPicker); ok && err == nil {
				err = ap.AutoSkip(ctx)
			}
			if err == nil {
				return b, "", nil
			}
			tried = append(tried, fmt.Sprintf("  %s: %s", b.Name(), strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")))
		}
		return nil, "", fmt.Errorf("%w: no isolating backend is usable here (ralph never falls back to the host):\n%s\n"+
			"install one: Docker Sandboxes (sbx), or apt-get install docker.io (then start dockerd), or apt-get install podman; ralph doctor says more",
			sandbox.ErrUnavailable, strings.Join(tried, "\n"))
	}
	for _, b := range isolating() {
		if b.Name() == o.sandboxName {
			if err := b.Available(ctx); err != nil {
				return nil, "", err
			}
			return b, "", nil
		}
	}
	return nil, "", usageErr("unknown sandbox %q (known: %s)", o.sandboxName, strings.Join(backendNames(), ", "))
}
