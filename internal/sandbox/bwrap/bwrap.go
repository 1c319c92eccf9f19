// Package bwrap is the lightest backend: bubblewrap, no daemon and no
// image. The agent runs from the host's own /usr, read-only, in fresh
// user, pid, ipc, uts, cgroup and network namespaces, as a non-root uid,
// with no capabilities, no-new-privileges, a fresh /proc, /dev, /tmp and
// HOME, a read-only root, and only the project directory writable. As
// root, ralph caps pids and memory with cgroups. It shares the host's
// kernel.
//
// A bwrap sandbox has no life between commands: each Exec is a new
// bwrap. The name still identifies its state (the lock, the policy, the
// logs), kept in a small record so ls shows it.
package bwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Bwrap runs commands in bubblewrap.
type Bwrap struct {
	// Ralph is a static ralph binary: its helper joins the cgroups, drops
	// to the agent's uid and starts bwrap; inside, it forwards the gate.
	Ralph string
	// StateDir keeps one record per sandbox (for ls).
	StateDir string
	// LockDir is where the loop's locks are: a held lock means running.
	LockDir string
	// Held reports whether a sandbox's lock is held (its loop is running).
	Held func(name string) bool

	mu    sync.Mutex
	specs map[string]sandbox.Spec
	home  string
}

var _ sandbox.Backend = (*Bwrap)(nil)

// New returns the backend.
func New(ralph, stateDir string, held func(string) bool) *Bwrap {
	home, _ := os.UserHomeDir()
	return &Bwrap{Ralph: ralph, StateDir: stateDir, Held: held, specs: map[string]sandbox.Spec{}, home: home}
}

func (b *Bwrap) Name() string               { return "bwrap" }
func (b *Bwrap) Boundary() sandbox.Boundary { return sandbox.SharedKernel }

// Available checks that bwrap runs and may make a user namespace.
func (b *Bwrap) Available(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return sandbox.Unavailable("bubblewrap exists only on Linux (this is %s)", runtime.GOOS)
	}
	p, err := proc.Look("bwrap")
	if err != nil {
		return sandbox.Unavailable("bubblewrap is not installed (Debian: apt-get install bubblewrap)")
	}
	check := []string{p, "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--", "/bin/true"}
	if err := proc.Run(ctx, proc.Cmd{Argv: check}); err != nil {
		return sandbox.Unavailable("bwrap cannot make its namespaces here (unprivileged user namespaces off?): %v", err)
	}
	return nil
}

// LimitsEnforced reports whether pids and memory caps apply (they need
// root for cgroups).
func (b *Bwrap) LimitsEnforced() bool { return os.Geteuid() == 0 }

type record struct {
	Name    string `json:"name"`
	Agent   string `json:"agent"`
	Project string `json:"project"`
}

func (b *Bwrap) recordPath(name string) string { return filepath.Join(b.StateDir, name+".json") }

// Ensure records the sandbox; created is true the first time.
func (b *Bwrap) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	if err := sandbox.Validate(spec, b.home); err != nil {
		return false, err
	}
	if err := os.MkdirAll(b.StateDir, 0o700); err != nil {
		return false, err
	}
	// The record is made with O_EXCL: of two Ensure calls at once (or two
	// ralphs), exactly one creates the sandbox.
	created := false
	f, err := os.OpenFile(b.recordPath(spec.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	switch {
	case err == nil:
		data, _ := json.Marshal(record{spec.Name, spec.Agent, spec.Project})
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(b.recordPath(spec.Name))
			return false, fmt.Errorf("bwrap: %w", werr)
		}
		created = true
	case !errors.Is(err, os.ErrExist):
		return false, fmt.Errorf("bwrap: %w", err)
	}
	b.mu.Lock()
	b.specs[spec.Name] = spec
	b.mu.Unlock()
	return created, nil
}

// Placeholders in Args that ralph's helper replaces with the numbers of
// the descriptors holding the files bwrap copies in. bwrap runs as the
// agent's uid: the project and the gate folder must be reachable by it.
const (
	FDPasswd = "{fd:passwd}"
	FDGroup  = "{fd:group}"
	// FDSeccomp holds the seccomp filter (SeccompFilter).
	FDSeccomp = "{fd:seccomp}"
)

// Args is the bwrap command line for spec and argv (exported for tests
// and for ralph audit-style inspection).
func Args(spec sandbox.Spec, uid, gid int, argv []string) []string {
	workdir := spec.Workdir
	if workdir == "" {
		workdir = sandbox.DefaultWorkdir
	}
	tmpBytes, _ := spec.TmpBytes() // checked by Validate
	tmp := strconv.FormatInt(tmpBytes, 10)
	a := []string{"bwrap",
		"--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--disable-userns",
		"--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(gid),
		"--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
	}
	for _, p := range []string{"/etc/ssl", "/etc/ca-certificates", "/etc/alternatives", "/etc/ld.so.cache"} {
		if _, err := os.Stat(p); err == nil {
			a = append(a, "--ro-bind", p, p)
		}
	}
	a = append(a,
		"--ro-bind-data", FDPasswd, "/etc/passwd", "--ro-bind-data", FDGroup, "/etc/group",
		// /dev read-only (bwrap's is an uncapped tmpfs), with a capped
		// /dev/shm of its own as in a container.
		"--proc", "/proc", "--dev", "/dev", "--size", strconv.FormatInt(min(tmpBytes, 64<<20), 10), "--tmpfs", "/dev/shm",
		"--remount-ro", "/dev", "--size", tmp, "--tmpfs", "/tmp",
		"--size", tmp, "--tmpfs", sandbox.HomeDir, "--chmod", "0700", sandbox.HomeDir,
		"--bind", spec.Project, workdir, "--chdir", workdir,
	)
	if spec.GateDir != "" {
		a = append(a, "--ro-bind", spec.GateDir, sandbox.GateMount)
	}
	if SeccompFilter() != nil {
		a = append(a, "--seccomp", FDSeccomp)
	}
	a = append(a, "--remount-ro", "/", "--")
	if spec.GateDir != "" {
		a = append(a, sandbox.GateMount+"/ralph", "sandbox-helper", "run", "--landlock", "--workdir", workdir,
			"--listen", sandbox.ProxyAddr, "--socket", sandbox.GateMount+"/gate.sock", "--")
	}
	return append(a, argv...)
}

// RunsAs is the uid and gid a bwrap sandbox runs as: sandbox.RunAs as
// root; a regular user cannot switch, so bwrap runs as that user.
func RunsAs(spec sandbox.Spec) (int, int, error) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), nil
	}
	return sandbox.RunAs(spec)
}

// Exec runs cmd in a new bwrap, through ralph's helper: it joins the
// sandbox's cgroups (as root), sets no-new-privileges, opens the gate
// directory, drops to the agent's uid and becomes bwrap.
func (b *Bwrap) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	b.mu.Lock()
	spec, ok := b.specs[name]
	b.mu.Unlock()
	if !ok {
		if _, err := os.Stat(b.recordPath(name)); err != nil {
			return -1, fmt.Errorf("bwrap: %s: %w", name, sandbox.ErrNotFound)
		}
		return -1, fmt.Errorf("bwrap: %s: not prepared in this process (run Ensure first): %w", name, sandbox.ErrNotFound)
	}
	if _, err := os.Stat(b.recordPath(name)); err != nil {
		return -1, fmt.Errorf("bwrap: %s: %w", name, sandbox.ErrNotFound)
	}
	uid, gid, err := RunsAs(spec)
	if err != nil {
		return -1, fmt.Errorf("bwrap: %w", err)
	}
	helper := []string{b.Ralph, "sandbox-helper", "cgexec", "--name", name,
		"--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(gid),
		"--memory", orDefault(spec.Memory, sandbox.DefaultMemory),
		"--pids", strconv.Itoa(orInt(spec.Pids, sandbox.DefaultPids)),
		"--user-name", "ralph"}
	helper = append(helper, "--")
	argv := append(helper, Args(spec, uid, gid, cmd.Argv)...)
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + sandbox.HomeDir}
	if spec.GateDir != "" {
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
			env = append(env, k+"=http://"+sandbox.ProxyAddr)
		}
	}
	env = append(env, cmd.EnvList()...)
	err = proc.Run(ctx, proc.Cmd{Argv: argv, Env: env, Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr})
	if ctx.Err() != nil {
		return -1, ctx.Err() // bwrap died: --die-with-parent and the pid namespace end the rest
	}
	if err == nil {
		return 0, nil
	}
	if code := proc.ExitCode(err); code >= 0 {
		return code, nil
	}
	return -1, fmt.Errorf("bwrap: exec in %s: %w", name, err)
}

// Stop has nothing to stop: a bwrap sandbox ends with its command.
func (b *Bwrap) Stop(ctx context.Context, name string) error { return nil }

// Remove forgets the sandbox and its cgroups.
func (b *Bwrap) Remove(ctx context.Context, name string, force bool) error {
	if err := os.Remove(b.recordPath(name)); err != nil {
		return fmt.Errorf("bwrap: %s: %w", name, sandbox.ErrNotFound)
	}
	b.mu.Lock()
	delete(b.specs, name)
	b.mu.Unlock()
	RemoveCgroups(name)
	return nil
}

// List shows the sandboxes ralph recorded; running while a loop holds
// its lock.
func (b *Bwrap) List(ctx context.Context) ([]sandbox.Info, error) {
	entries, err := os.ReadDir(b.StateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var out []sandbox.Info
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(b.StateDir, e.Name()))
		if err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var r record
		if json.Unmarshal(bytes.TrimSpace(data), &r) != nil {
			continue
		}
		state := "idle"
		if b.Held != nil && b.Held(r.Name) {
			state = "running"
		}
		out = append(out, sandbox.Info{Name: r.Name, Backend: "bwrap", Agent: r.Agent, Project: r.Project, State: state})
	}
	return out, err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func orInt(n, d int) int {
	if n == 0 {
		return d
	}
	return n
}

var (
	_ sandbox.GateUser = (*Bwrap)(nil)
	_ sandbox.Warner   = (*Bwrap)(nil)
)

// GateOwner: bwrap runs the agent as its uid on the host, which must reach
// the gate folder itself.
func (b *Bwrap) GateOwner(spec sandbox.Spec) (*[2]int, error) {
	uid, gid, err := RunsAs(spec)
	if err != nil {
		return nil, sandbox.Refused("%v", err)
	}
	if os.Geteuid() != 0 {
		return nil, nil // the agent is ralph's own user
	}
	return &[2]int{uid, gid}, nil
}

// Warnings: as a regular user there are no cgroups, so no caps.
func (b *Bwrap) Warnings(ctx context.Context, spec sandbox.Spec) ([]string, error) {
	var out []string
	if !b.LimitsEnforced() {
		out = append(out, "warning: bwrap as a regular user: no pids or memory caps (they need root for cgroups)")
	}
	if uid, gid, err := RunsAs(spec); err == nil && spec.Project != "" {
		if d := closedTo(spec.Project, uid, gid); d != "" {
			out = append(out, fmt.Sprintf("warning: bwrap runs as uid %d, which cannot pass through %s on the way to the project %s: "+
				"bwrap will fail with \"Can't find source path\"; open it to that uid (chmod o+x), or run ralph as the project's owner", uid, d, spec.Project))
		}
	}
	return out, nil
}
