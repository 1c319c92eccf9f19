package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// gateDir is where a sandbox's gate lives on the host: mnt/ (mounted
// read-only into the sandbox: the socket and a static ralph) and
// log.jsonl (the decisions, outside the sandbox's reach).
func gateDir(name string) string { return filepath.Join(stateDir("gates"), name) }

// runningGate is a gate serving one sandbox for the length of a run.
type runningGate struct {
	cancel context.CancelFunc
	done   chan error
	log    *os.File
	Mount  string
}

// Close stops the gate and waits for it; connections in flight end.
func (g *runningGate) Close() error {
	g.cancel()
	err := <-g.done
	g.log.Close()
	return err
}

// startGate prepares the gate directory of a sandbox and serves its
// policy on the Unix socket there. owner, when set, is the uid:gid that
// reaches the folder itself (bwrap runs as the agent's uid): the folder
// then lives under /run/ralph/gates, owned by it and closed to others.
func startGate(ctx context.Context, name string, defaults []policy.Rule, owner *[2]int) (*runningGate, error) {
	dir := gateDir(name)
	mnt := filepath.Join(dir, "mnt")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	if owner != nil && os.Geteuid() == 0 {
		for _, d := range []string{"/run/ralph", "/run/ralph/gates"} {
			os.MkdirAll(d, 0o711)
			os.Chmod(d, 0o711)
		}
		mnt = filepath.Join("/run/ralph/gates", name)
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	os.Chmod(mnt, 0o755)
	if owner != nil && os.Geteuid() == 0 {
		os.Chown(mnt, owner[0], owner[1])
		os.Chmod(mnt, 0o700)
	}
	if err := installSelf(filepath.Join(mnt, "ralph")); err != nil {
		return nil, err
	}
	sock := filepath.Join(mnt, "gate.sock")
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("gate: listen %s: %w", sock, err)
	}
	// The agent's uid is not ralph's: the socket is reachable through the
	// sandbox's mount only (its host directory is private to this user).
	os.Chmod(sock, 0o666)
	logf, err := os.OpenFile(filepath.Join(dir, "log.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("gate: %w", err)
	}
	w := &policyfile.Watcher{Store: policyfile.Default(), Name: name, Defaults: defaults}
	w.Current()
	if err := w.Err(); err != nil {
		l.Close()
		logf.Close()
		return nil, usageErr("%v", err)
	}
	g := &netgate.Gate{Sandbox: name, Policy: w.Current, Log: logf}
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rg := &runningGate{cancel: cancel, done: make(chan error, 1), log: logf, Mount: mnt}
	go func() { rg.done <- g.Serve(gctx, l) }()
	return rg, nil
}

// installSelf copies the running ralph to dst (atomically), after checking
// it is statically linked: it has to run inside images of any libc.
func installSelf(dst string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if !sandbox.Static(exe) {
		return fmt.Errorf("%w: the network gate runs ralph inside the sandbox and needs a static build: reinstall with CGO_ENABLED=0 go install ./cmd/ralph",
			sandbox.ErrUnavailable)
	}
	src, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".ralph-*")
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("gate: copy ralph: %w", err)
	}
	tmp.Chmod(0o755)
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// describeRules says what the gate lets through, for the run's header.
func describeRules(name string, defaults []policy.Rule) string {
	rules, err := policyfile.Default().Effective(name, defaults)
	if err != nil {
		return "deny by default (" + err.Error() + ")"
	}
	var allow []string
	for _, r := range rules {
		if r.Action == policy.Allow {
			allow = append(allow, r.Pattern)
		}
	}
	if len(allow) == 0 {
		return "deny all (ralph policy allow network " + name + " HOSTS)"
	}
	if len(allow) > 4 {
		allow = append(allow[:4], fmt.Sprintf("and %d more", len(allow)-4))
	}
	return "deny by default, allow " + strings.Join(allow, ", ")
}
