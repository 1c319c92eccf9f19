// Package host is the backend that is no boundary at all: it runs the
// agent directly on the host, in the project directory. ralph only uses it
// when the user passes --sandbox host --dangerously-run-on-host.
package host

import (
	"context"
	"os"
	"sync"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Host runs commands on the host.
type Host struct {
	mu       sync.Mutex
	projects map[string]string // name -> project dir while a loop runs
}

var _ sandbox.Backend = (*Host)(nil)

// New returns a host backend.
func New() *Host { return &Host{projects: map[string]string{}} }

func (h *Host) Name() string                        { return "host" }
func (h *Host) Boundary() sandbox.Boundary          { return sandbox.NoBoundary }
func (h *Host) Available(ctx context.Context) error { return nil }

// Ensure records the project directory; there is nothing to create.
func (h *Host) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.projects[spec.Name] = spec.Project
	return false, nil
}

// Exec runs cmd in the project directory with cmd.Env plus the host's
// PATH and HOME (an agent on the host uses its own login and config).
func (h *Host) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	h.mu.Lock()
	dir, ok := h.projects[name]
	h.mu.Unlock()
	if !ok {
		return -1, sandbox.ErrNotFound
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, cmd.EnvList()...)
	err := proc.Run(ctx, proc.Cmd{Argv: cmd.Argv, Env: env, Dir: dir, Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, Group: true})
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
