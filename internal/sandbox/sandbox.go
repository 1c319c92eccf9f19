// Package sandbox defines the contract between the loop and the isolation
// backends (docker, podman, gVisor, host, ...): the Backend interface, the
// Spec a sandbox is made from, the deterministic naming rule, and the
// sentinel errors callers branch on.
package sandbox

import (
	"context"
	"errors"
	"io"
	"sort"
)

// Sentinel errors. Backends wrap them with detail and, where there is one,
// the one-line fix.
var (
	// ErrUnavailable: the backend cannot be used here (not installed,
	// engine not running, image missing).
	ErrUnavailable = errors.New("sandbox backend unavailable")
	// ErrNotFound: no sandbox of that name exists.
	ErrNotFound = errors.New("no such sandbox")
	// ErrRefused: the spec asks for something ralph never does (a mount of
	// an engine socket, of / or of $HOME, ...).
	ErrRefused = errors.New("refused")
)

// Boundary says what stands between the agent and the host.
type Boundary string

const (
	MicroVM      Boundary = "microVM"
	UserKernel   Boundary = "user-space kernel"
	SharedKernel Boundary = "shared kernel"
	NoBoundary   Boundary = "none: runs on the host"
	// PodBoundary: a Kubernetes pod of ralph fleet, whose RuntimeClass,
	// security context and network policy are the boundary.
	PodBoundary    Boundary = "the pod"
	DefaultWorkdir          = "/work"
)

// Spec describes a sandbox. The loop builds it once per run.
type Spec struct {
	// Name is the deterministic sandbox name (see Name).
	Name string
	// Agent is the agent's name, recorded as a label.
	Agent string
	// Project is the absolute host path of the project directory: the
	// only host path shared with the sandbox.
	Project string
	// Workdir is where Project appears inside (default /work).
	Workdir string
	// Image is the container image, for backends that use one.
	Image string
	// User is "uid:gid" inside the sandbox; empty means the owner of
	// Project (a project owned by root is refused: see RunAs).
	User string
	// GateDir, when set, is the host directory holding the network gate's
	// Unix socket and a static ralph. Backends mount it read-only at
	// /.ralph and point the sandbox's proxy variables at the forwarder
	// ralph runs inside: the sandbox's only way out. Empty means no
	// network at all.
	GateDir string
	// Memory ("4g"), CPUs ("2") and Pids (512) cap resources.
	Memory string
	CPUs   string
	Pids   int
	// TmpSize ("1g") caps each of the sandbox's in-memory file systems,
	// /tmp and HOME: a write past it fails with ENOSPC.
	TmpSize string
}

// DefaultTmpSize caps /tmp and HOME when Spec.TmpSize is empty.
const DefaultTmpSize = "1g"

// TmpBytes is spec.TmpSize in bytes.
func (s Spec) TmpBytes() (int64, error) {
	if s.TmpSize == "" {
		return ParseSize(DefaultTmpSize)
	}
	return ParseSize(s.TmpSize)
}

// Cmd is one command to run inside a sandbox.
type Cmd struct {
	Argv []string
	// Env is the complete environment passed in, NAME -> value. Nothing
	// else of the host's environment reaches the sandbox.
	Env    map[string]string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY asks for an interactive terminal (ralph shell).
	TTY bool
}

// Info describes an existing sandbox for ls.
type Info struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	Agent   string `json:"agent,omitempty"`
	Project string `json:"project,omitempty"`
	State   string `json:"state"`
	Image   string `json:"image,omitempty"`
	Created string `json:"created,omitempty"`
}

// Backend is an isolation technology. Implementations must be safe for
// use by one loop at a time; the project lock guarantees that.
type Backend interface {
	// Name is what users pass to --sandbox.
	Name() string
	// Boundary says what isolates the agent.
	Boundary() Boundary
	// Available returns nil when the backend can be used now, or an error
	// wrapping ErrUnavailable that says how to fix it.
	Available(ctx context.Context) error
	// Ensure makes the sandbox named spec.Name exist and run: it creates
	// it on the first call and attaches to (starting if stopped) an
	// existing one after that. created reports which. It is idempotent. It
	// returns an error wrapping ErrRefused for a spec ralph must not run.
	Ensure(ctx context.Context, spec Spec) (created bool, err error)
	// Exec runs cmd inside the running sandbox and returns the command's
	// exit status. err is non-nil only when the command could not be run
	// or waited for (ErrNotFound when the sandbox is gone). When ctx is
	// cancelled, the command is killed inside the sandbox before Exec
	// returns.
	Exec(ctx context.Context, name string, cmd Cmd) (exitCode int, err error)
	// Stop stops the sandbox, keeping it for reuse. Stopping a stopped or
	// missing sandbox returns nil. It returns within the context's
	// deadline.
	Stop(ctx context.Context, name string) error
	// Remove deletes the sandbox; force removes a running one. A missing
	// sandbox yields ErrNotFound. Only sandboxes made by ralph are removed.
	Remove(ctx context.Context, name string, force bool) error
	// List returns the sandboxes made by ralph on this backend, and only
	// those.
	List(ctx context.Context) ([]Info, error)
}

// EnvKeys returns the names of cmd's variables, sorted (so command lines
// and logs are stable).
func (c Cmd) EnvKeys() []string {
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EnvList returns cmd's variables as sorted NAME=value pairs.
func (c Cmd) EnvList() []string {
	out := make([]string, 0, len(c.Env))
	for _, k := range c.EnvKeys() {
		out = append(out, k+"="+c.Env[k])
	}
	return out
}
