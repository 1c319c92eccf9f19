// Package container is the backend for OCI engines driven through their
// CLIs: docker and podman, with the default runtime (runc: a shared
// kernel) or gVisor's runsc (a separate kernel in user space). Every
// container it makes is hardened with the same flag set (see runArgs) and
// labelled as ralph's.
package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/ralphloop/ralph/internal/helperbin"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Labels ralph puts on every container it makes.
const (
	LabelManaged = "ralph.managed"
	LabelAgent   = "ralph.agent"
	LabelProject = "ralph.project"
	LabelBackend = "ralph.backend"
	LabelGate    = "ralph.gate"
	// LabelHardening names the hardening a sandbox was made with (ralph's
	// seccomp profile, by its hash): one made with another is not reused.
	LabelHardening = "ralph.hardening"
)

// Engine is one engine CLI with one runtime.
type Engine struct {
	name    string // backend name: docker, podman, gvisor
	bin     string // docker or podman
	runtime string // OCI runtime for --runtime; empty for the default
	home    string // the user's home directory, never shared
	relay   bool   // the gate through a relay container (Relays)
	// SeccompDir is where ralph's seccomp profile is written for the
	// engine to read (default: $XDG_STATE_HOME/ralph/seccomp).
	SeccompDir string

	cwdOnce sync.Once
	cwdDir  string

	mu      sync.Mutex
	gated   map[string]bool   // sandboxes known to have the gate mount
	limited map[string]bool   // gVisor sandboxes whose guest pids limit this process set
	ids     map[string]string // name -> ID of the container Ensure made or found to be ralph's
	gateway string            // the default network's gateway, once asked (bridgeGateway)
}

var _ sandbox.Backend = (*Engine)(nil)

// Docker returns the docker backend (default runtime).
func Docker() *Engine { return newEngine("docker", "docker", "") }

// Podman returns the podman backend (default runtime).
func Podman() *Engine { return newEngine("podman", "podman", "") }

// GVisor returns the gVisor backend: the docker engine with the runsc
// runtime registered under runtime (normally "runsc").
func GVisor(runtime string) *Engine {
	if runtime == "" {
		runtime = "runsc"
	}
	return newEngine("gvisor", "docker", runtime)
}

func newEngine(name, bin, runtime string) *Engine {
	home, _ := os.UserHomeDir()
	return &Engine{name: name, bin: bin, runtime: runtime, home: home, relay: relayWanted(goruntime.GOOS, runtime), gated: map[string]bool{}, limited: map[string]bool{}, ids: map[string]string{}}
}

func (e *Engine) Name() string { return e.name }

func (e *Engine) Boundary() sandbox.Boundary {
	if e.runtime == "runsc" {
		return sandbox.UserKernel
	}
	return sandbox.SharedKernel
}

// hostSupported says whether this backend can run on a host of goos.
// On macOS and Windows the engine runs in a VM (Docker Desktop, podman
// machine): the sandbox reaches the gate through a relay (decision 014),
// and the helper inside is the Linux ralph-helper beside ralph, which
// missing says is not there (or ""). gVisor is Linux only.
func (e *Engine) hostSupported(goos string, missing func() string) error {
	switch {
	case goos == "linux":
		return nil
	case e.runtime != "":
		return sandbox.Unavailable("gVisor runs on Linux hosts only (this is %s)", goos)
	}
	if m := missing(); m != "" {
		return sandbox.Unavailable("%s on %s: %s", e.name, goos, m)
	}
	return nil
}

// helperMissing says why there is no Linux helper beside this ralph, or "".
func helperMissing() string {
	if f := helperbin.Running(); f.Path == "" {
		return helperbin.Missing(f.Self)
	}
	return ""
}

// Available checks that the engine answers and, for gVisor, that the
// runtime is registered.
func (e *Engine) Available(ctx context.Context) error {
	if err := e.hostSupported(goruntime.GOOS, helperMissing); err != nil {
		return err
	}
	out, err := e.run(ctx, "version", "--format", "{{.Server.Version}}")
	if errors.Is(err, proc.ErrNotFound) {
		return sandbox.Unavailable("%s is not installed; install it (Debian: apt-get install %s)", e.bin, pkg(e.bin))
	}
	if err != nil {
		return fmt.Errorf("%w: the %s engine is not running: start it (systemctl start %s, or run %s in the background): %v",
			sandbox.ErrUnavailable, e.bin, e.bin, daemon(e.bin), err)
	}
	_ = out
	if e.runtime != "" {
		rt, err := e.run(ctx, "info", "--format", "{{json .Runtimes}}")
		if err != nil {
			return sandbox.Unavailable("%s info: %v", e.bin, err)
		}
		const fix = `("runtimes": {"runsc": {"path": "/usr/local/bin/runsc", "runtimeArgs": ["--host-uds=open", "--oci-seccomp"]}}) and reload the daemon (kill -HUP $(pidof dockerd); scripts/engines.sh does it)`
		if !strings.Contains(string(rt), `"`+e.runtime+`"`) {
			return fmt.Errorf("%w: the %s runtime %q is not registered with %s: add it to /etc/docker/daemon.json "+fix,
				sandbox.ErrUnavailable, e.name, e.runtime, e.bin)
		}
		if !strings.Contains(string(rt), "host-uds=open") && !strings.Contains(string(rt), "host-uds=all") {
			return fmt.Errorf("%w: the %s runtime %q lacks --host-uds=open, which the network gate's socket needs: set it in /etc/docker/daemon.json "+fix,
				sandbox.ErrUnavailable, e.name, e.runtime)
		}
		// Without --oci-seccomp, runsc ignores the container's seccomp
		// profile: inside gVisor the agent can then create user
		// namespaces, mount a fresh cgroupfs and leave its pids limit.
		if !strings.Contains(string(rt), "oci-seccomp") {
			return fmt.Errorf("%w: the %s runtime %q lacks --oci-seccomp: without it gVisor ignores ralph's seccomp profile and the agent can create user namespaces and leave its pids limit; set it in /etc/docker/daemon.json "+fix,
				sandbox.ErrUnavailable, e.name, e.runtime)
		}
	}
	return nil
}

func pkg(bin string) string {
	if bin == "docker" {
		return "docker.io"
	}
	return bin
}

func daemon(bin string) string {
	if bin == "docker" {
		return "dockerd"
	}
	return "podman system service"
}

// run runs the engine CLI and returns its standard output.
func (e *Engine) run(ctx context.Context, args ...string) ([]byte, error) {
	return proc.Output(ctx, proc.Cmd{Argv: append([]string{e.bin}, args...), Dir: e.cwd()})
}

// cwd is the folder the engine's CLI runs in: one of ralph's own, never
// the project. podman 4's conmon, which lives as long as the container,
// writes an empty file named "oom" into the folder podman was started in
// when the container's memory limit kills a process: run from the
// project, that would put a file of root's into the user's workspace.
func (e *Engine) cwd() string {
	e.cwdOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(e.seccompDir()), "engine")
		if os.MkdirAll(dir, 0o700) == nil {
			e.cwdDir = dir
		} else {
			e.cwdDir = os.TempDir()
		}
	})
	return e.cwdDir
}

// Version reports the engine's version (and the runtime's, for gVisor),
// or "" when it does not answer.
func (e *Engine) Version(ctx context.Context) string {
	format := "{{.Server.Version}}"
	if e.bin == "podman" {
		format = "{{.Version}}"
	}
	out, err := e.run(ctx, "version", "--format", format)
	if err != nil {
		return ""
	}
	v := e.bin + " " + strings.TrimSpace(string(out))
	if e.runtime != "" {
		if p, err := proc.Look("runsc"); err == nil {
			if rv, err := proc.Output(ctx, proc.Cmd{Argv: []string{p, "--version"}}); err == nil {
				first, _, _ := strings.Cut(string(rv), "\n")
				v += ", " + strings.TrimSpace(first)
			}
		}
	}
	return v
}

// HasImage reports whether the engine has image locally.
func (e *Engine) HasImage(ctx context.Context, image string) bool {
	_, err := e.run(ctx, "image", "inspect", "--format", "{{.Id}}", image)
	return err == nil
}

// Label is the image's label key, or "".
func (e *Engine) Label(ctx context.Context, image, key string) string {
	out, err := e.run(ctx, "image", "inspect", "--format", "{{index .Config.Labels "+strconv.Quote(key)+"}}", image)
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	if v == "<no value>" {
		return ""
	}
	return v
}

// Import makes an image named tag from a root filesystem tarball.
func (e *Engine) Import(ctx context.Context, tag string, rootfs io.Reader) error {
	return proc.Run(ctx, proc.Cmd{Argv: []string{e.bin, "import", "-", tag}, Stdin: rootfs, Stdout: io.Discard, Dir: e.cwd()})
}

// Bin is the engine's CLI (docker or podman).
func (e *Engine) Bin() string { return e.bin }

// Commands reports which of bins the image has on its PATH, from a
// throwaway container with the hardened flags and no network.
func (e *Engine) Commands(ctx context.Context, image string, bins ...string) ([]string, error) {
	args := []string{"run", "--rm", "--pull", "never", "--network", "none", "--cap-drop=ALL",
		"--security-opt=no-new-privileges", "--read-only", "--user", "65534:65534", "--entrypoint", "sh", image,
		"-c", `for b in "$@"; do command -v "$b" >/dev/null 2>&1 && echo "$b"; done; exit 0`, "sh"}
	out, err := e.run(ctx, append(args, bins...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: look inside %s: %s", e.name, image, why(err))
	}
	return strings.Fields(string(out)), nil
}
