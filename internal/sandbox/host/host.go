// Package host runs the agent as a plain child process, in the project
// directory. As the host backend it is no boundary at all, and ralph only
// uses it when the user passes --sandbox host --dangerously-run-on-host.
// As the pod backend it runs inside a Kubernetes pod made by `ralph fleet
// run`, where the pod (its RuntimeClass, its security context, its network
// policy) is the boundary.
package host

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/reap"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Host runs commands on the host.
type Host struct {
	name     string
	boundary sandbox.Boundary
	pass     []string // variables of ralph's own environment the agent gets
	mu       sync.Mutex
	projects map[string]string // name -> project dir while a loop runs
}

var _ sandbox.Backend = (*Host)(nil)

// New returns a host backend.
func New() *Host {
	return &Host{name: "host", boundary: sandbox.NoBoundary, pass: []string{"PATH", "HOME"}, projects: map[string]string{}}
}

// Pod returns the backend of a loop inside a pod of `ralph fleet run`. The
// agent gets the pod's PATH, HOME and proxy variables (which lead to the
// fleet's gate).
func Pod() *Host {
	return &Host{name: "pod", boundary: sandbox.PodBoundary, projects: map[string]string{},
		pass: []string{"PATH", "HOME", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "NO_PROXY", "no_proxy"}}
}

func (h *Host) Name() string               { return h.name }
func (h *Host) Boundary() sandbox.Boundary { return h.boundary }

// Available: the host always is; the pod backend only in a pod that ralph
// fleet made (never on a machine, where it would be the host backend
// without its warning).
func (h *Host) Available(ctx context.Context) error {
	if h.name != "pod" {
		return nil
	}
	if os.Getenv("RALPH_FLEET_RUN") == "" || os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return sandbox.Unavailable("--sandbox pod runs only inside a pod made by ralph fleet run (the pod is its boundary)")
	}
	return nil
}

// Ensure records the project directory; there is nothing to create.
func (h *Host) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.projects[spec.Name] = spec.Project
	return false, nil
}

// Exec runs cmd in the project directory with cmd.Env plus the host's
// PATH and HOME (an agent on the host uses its own login and config), and
// in a pod its proxy variables.
func (h *Host) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	h.mu.Lock()
	dir, ok := h.projects[name]
	h.mu.Unlock()
	if !ok {
		return -1, sandbox.ErrNotFound
	}
	var env []string
	for _, k := range h.pass {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, cmd.EnvList()...)
	// What the agent's tools start in sessions of their own (outside its
	// process group) carries this mark, and is killed when the agent ends.
	id := fmt.Sprintf("host-%d-%d", os.Getpid(), time.Now().UnixNano())
	env = append(env, reap.Var+"="+id)
	err := proc.Run(ctx, proc.Cmd{Argv: cmd.Argv, Env: env, Dir: dir, Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, Group: true})
	reap.Kill(id)
	if err == nil {
		return 0, nil
	}
	if code := proc.ExitCode(err); code >= 0 {
		return code, nil
	}
	return -1, err
}

func (h *Host) Stop(ctx context.Context, name string) error { return nil }

func (h *Host) Remove(ctx context.Context, name string, force bool) error {
	return sandbox.ErrNotFound
}

func (h *Host) List(ctx context.Context) ([]sandbox.Info, error) { return nil, nil }

var _ sandbox.OwnNetwork = (*Host)(nil)

// Network: the host's own, or in a fleet's pod the fleet's gate.
func (h *Host) Network() string {
	if h.boundary == sandbox.PodBoundary {
		return fmt.Sprintf("the fleet's gate only (%s; its rules: ralph fleet policy ls)", os.Getenv("HTTPS_PROXY"))
	}
	return "unrestricted (the host's own)"
}

var _ sandbox.Doctor = (*Host)(nil)

// Health: no isolation, so never usable for auto.
func (h *Host) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	return sandbox.Health{Found: true, Problem: "no isolation: only with --dangerously-run-on-host",
		Gate: "not enforced: the host's own network", Limits: "none", Disk: "none"}
}
