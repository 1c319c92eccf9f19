// Package gatehost runs ralph's network gate for one sandbox on this
// host: its folder (the socket and a static copy of ralph, mounted
// read-only into the sandbox; the decision log beside it, out of the
// sandbox's reach), the policy watcher, and the serving goroutine for the
// length of a run. Attach is the one wiring run and selftest share: it
// starts a gate for a backend whose only way out it is
// (sandbox.GateUser) and points the Spec at it.
package gatehost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ralphloop/ralph/internal/atomicfile"
	"github.com/ralphloop/ralph/internal/helperbin"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Host is where this host's gates live and which rules they serve.
type Host struct {
	// Dir holds one folder per sandbox ($XDG_STATE_HOME/ralph/gates).
	Dir string
	// Policies are the rule files (global and per sandbox).
	Policies policyfile.Store
}

// GateDir is where a sandbox's gate lives on the host: mnt/ (mounted
// read-only into the sandbox: the socket and a static ralph) and
// log.jsonl (the decisions, outside the sandbox's reach).
func (h Host) GateDir(name string) string {
	return filepath.Join(h.Dir, gateKey(h.Dir, name))
}

// runGates holds root's gate folders that must not live in the state
// folder: bwrap's (the agent's uid reaches them directly) and any whose
// socket's path would be too long there.
const runGates = "/run/ralph/gates"

// MountDir is the folder a sandbox's gate is served from (its socket and
// a static ralph; mounted read-only into the sandbox): mnt/ in GateDir,
// or, for bwrap as root (owner set) and whenever the socket's path would
// pass what a Unix socket takes there (a long XDG_STATE_HOME), a short
// folder of root's under /run or of the user's under XDG_RUNTIME_DIR.
func (h Host) MountDir(name string, owner *[2]int) string {
	root := os.Geteuid() == 0
	if owner != nil && root {
		return filepath.Join(runGates, gateKey(runGates, name))
	}
	mnt := filepath.Join(h.GateDir(name), "mnt")
	if len(filepath.Join(mnt, "gate.sock")) <= maxSocketPath {
		return mnt
	}
	if root {
		return filepath.Join(runGates, gateKey(runGates, name))
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		base := filepath.Join(d, "ralph", "gates")
		return filepath.Join(base, gateKey(base, name))
	}
	return mnt
}

// Logs are the decision logs of every sandbox's gate.
func (h Host) Logs() []string {
	files, _ := filepath.Glob(filepath.Join(h.Dir, "*", "log.jsonl"))
	return files
}

// maxSocketPath is what a Unix socket's path may hold (sun_path is 108
// bytes with its NUL; some systems allow less).
const maxSocketPath = 100

// gateKey names a sandbox's gate folder under base: the sandbox's name,
// or, when the socket's path would pass the limit (a long home folder, a
// long project name), a short hash of it. Deterministic either way.
func gateKey(base, name string) string {
	if len(filepath.Join(base, name, "mnt", "gate.sock")) <= maxSocketPath {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "h-" + hex.EncodeToString(sum[:8])
}

// Running is a gate serving one sandbox for the length of a run.
type Running struct {
	cancel context.CancelFunc
	done   chan error
	died   chan error // gets Serve's error when the gate stops on its own
	log    *netgate.LogFile
	after  func(context.Context) error // removes the relay, if any
	Mount  string
}

// Close stops the gate and waits for it; connections in flight end. A
// relay ends too, within 20 seconds.
func (g *Running) Close() error {
	g.cancel()
	err := <-g.done
	if g.after != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if aerr := g.after(ctx); err == nil {
			err = aerr
		}
		cancel()
	}
	g.log.Close()
	return err
}

// Died gets the reason when the gate stops while the run still needs it
// (the run must stop too; it fails closed: without the gate the sandbox
// has no way out at all); it is closed when the gate ends either way.
func (g *Running) Died() <-chan error { return g.died }

// ErrDied stops a run whose gate stopped.
var ErrDied = errors.New("the network gate stopped")

// PolicyError is a rule file the gate cannot serve: a usage error.
type PolicyError struct{ Err error }

func (e *PolicyError) Error() string { return e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

// Start prepares the gate directory of a sandbox and serves its
// policy on the Unix socket there. owner, when set, is the uid:gid that
// reaches the folder itself (bwrap runs as the agent's uid): the folder
// then lives under /run/ralph/gates, owned by root with the agent's group
// allowed to enter and read (never to write), so neither the agent nor
// another local user can swap the socket or the binary in it.
func (h Host) Start(ctx context.Context, name string, defaults []policy.Rule, owner *[2]int, creds ...netgate.Credential) (*Running, error) {
	dir, mnt, err := h.prepare(name, owner)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(mnt, "gate.sock")
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("gate: the socket path %s is %d bytes, past the %d a Unix socket takes: set XDG_RUNTIME_DIR (or XDG_STATE_HOME) to a shorter folder", sock, len(sock), maxSocketPath)
	}
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("gate: listen %s: %w", sock, err)
	}
	// The agent's uid is not ralph's: the socket is reachable through the
	// sandbox's mount only (its host folder is closed to others). The
	// folder is root's, so nobody can swap the name before the chmod.
	os.Chmod(sock, 0o666)
	g, logf, err := h.open(name, dir, defaults, creds)
	if err != nil {
		l.Close()
		return nil, err
	}
	return serveGate(ctx, g, l, logf, mnt), nil
}

// StartRelayed serves the gate of spec's sandbox on TCP for r's relay
// (decision 014): on the address r gives, taking only connections that
// greet with a token made for this run, which r's relay alone is given;
// the relay is started here and removed when the gate closes. spec's
// GateDir is set to the gate folder (the helper, mounted read-only).
func (h Host) StartRelayed(ctx context.Context, r sandbox.Relayer, spec *sandbox.Spec, defaults []policy.Rule, creds ...netgate.Credential) (*Running, error) {
	dir, mnt, err := h.prepare(spec.Name, nil)
	if err != nil {
		return nil, err
	}
	listen, dial, err := r.RelayAddrs(ctx)
	if err != nil {
		return nil, err
	}
	g, logf, err := h.open(spec.Name, dir, defaults, creds)
	if err != nil {
		return nil, err
	}
	token := netgate.NewToken()
	spec.GateDir = mnt
	raw, port, err := listenOrLater(listen)
	if err != nil {
		logf.Close()
		return nil, err
	}
	stop, err := r.StartRelay(ctx, *spec, net.JoinHostPort(dial, strconv.Itoa(port)), token)
	if err == nil && raw == nil {
		// The relay dials at its first connection, not before: the
		// address is taken now that the relay's network is up.
		if raw, err = listenRetry(listen, port); err != nil {
			stop(context.WithoutCancel(ctx))
		}
	}
	if err != nil {
		if raw != nil {
			raw.Close()
		}
		logf.Close()
		return nil, err
	}
	l := netgate.TokenListener(raw, token, g.Refused)
	rg := serveGate(ctx, g, l, logf, mnt)
	rg.after = stop
	return rg, nil
}

// listenOrLater listens on listen (a host:0) and returns the port it got;
// when the host has no such address yet (podman makes its bridge with the
// first container on it), it returns no listener and a port free now on
// the loopback, for listenRetry once the relay is up.
func listenOrLater(listen string) (net.Listener, int, error) {
	l, err := net.Listen("tcp", listen)
	if err == nil {
		return l, l.Addr().(*net.TCPAddr).Port, nil
	}
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil, 0, fmt.Errorf("gate: listen on %s for the relay: %w", listen, err)
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, fmt.Errorf("gate: a port for the relay: %w", err)
	}
	defer probe.Close()
	return nil, probe.Addr().(*net.TCPAddr).Port, nil
}

// listenRetry listens on listen's host at port, trying for ten seconds
// while the address is not there yet.
func listenRetry(listen string, port int) (net.Listener, error) {
	host, _, _ := net.SplitHostPort(listen)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	for i := 0; ; i++ {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) || i == 100 {
			return nil, fmt.Errorf("gate: listen on %s for the relay: %w", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prepare makes the gate folders of a sandbox (see Start for owner) and
// puts ralph's helper in the one the sandbox mounts: it returns the
// gate's folder and that one.
func (h Host) prepare(name string, owner *[2]int) (dir, mnt string, err error) {
	dir = h.GateDir(name)
	mnt = h.MountDir(name, owner)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("gate: %w", err)
	}
	if strings.HasPrefix(mnt, runGates+"/") {
		for _, d := range []string{"/run/ralph", runGates} {
			if err := rootDir(d, 0o711); err != nil {
				return "", "", err
			}
		}
		mode := os.FileMode(0o755)
		if owner != nil {
			mode = 0o750
		}
		if err := rootDir(mnt, mode); err != nil {
			// A folder left by an older ralph (owned by the agent): remade.
			os.RemoveAll(mnt)
			if err := rootDir(mnt, mode); err != nil {
				return "", "", err
			}
		}
		if owner != nil {
			if err := os.Lchown(mnt, 0, owner[1]); err != nil {
				return "", "", fmt.Errorf("gate: %w", err)
			}
		}
	} else {
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			return "", "", fmt.Errorf("gate: %w", err)
		}
		os.Chmod(mnt, 0o755)
	}
	if err := installSelf(filepath.Join(mnt, "ralph"), filepath.Join(dir, "ralph.installed")); err != nil {
		return "", "", err
	}
	return dir, mnt, nil
}

// open opens the gate's decision log in dir and its policy: a gate
// ready to serve.
func (h Host) open(name, dir string, defaults []policy.Rule, creds []netgate.Credential) (*netgate.Gate, *netgate.LogFile, error) {
	logf, err := netgate.OpenLog(filepath.Join(dir, "log.jsonl"), 0)
	if err != nil {
		return nil, nil, err
	}
	w := &policyfile.Watcher{Store: h.Policies, Name: name, Defaults: defaults}
	w.Current()
	if err := w.Err(); err != nil {
		logf.Close()
		return nil, nil, &PolicyError{Err: err}
	}
	g := &netgate.Gate{Sandbox: name, Policy: w.Current, Log: logf, Credentials: creds}
	g.Errors = func(err error) {
		fmt.Fprintf(logf, "{\"sandbox\":%q,\"decision\":\"error\",\"rule\":%q}\n", name, "accept: "+err.Error())
	}
	return g, logf, nil
}

// serveGate serves g on l until Close; Died tells when it stops first.
func serveGate(ctx context.Context, g *netgate.Gate, l net.Listener, logf *netgate.LogFile, mnt string) *Running {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rg := &Running{cancel: cancel, done: make(chan error, 1), died: make(chan error, 1), log: logf, Mount: mnt}
	go func() {
		err := g.Serve(gctx, l)
		if gctx.Err() == nil {
			if err == nil {
				err = errors.New("it stopped serving")
			}
			rg.died <- err
		}
		close(rg.died)
		rg.done <- err
	}()
	return rg
}

// rootDir makes (or finds) the folder p, owned by root, without following
// a link, with mode.
func rootDir(p string, mode os.FileMode) error {
	if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("gate: %w", err)
	}
	st, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	owner, _, ok := sandbox.FileOwner(st)
	if !st.IsDir() || !ok || owner != 0 {
		return fmt.Errorf("gate: %s is not a folder owned by root (a link, or left by someone else): remove it", p)
	}
	return os.Chmod(p, mode)
}

// Attach starts the network gate for a backend whose only way out it
// is (sandbox.GateUser), with the secrets it adds to their APIs' requests
// (creds), and points spec at it; nil for the others.
func (h Host) Attach(ctx context.Context, b sandbox.Backend, spec *sandbox.Spec, defaults []policy.Rule, creds ...netgate.Credential) (*Running, error) {
	gu, ok := b.(sandbox.GateUser)
	if !ok {
		return nil, nil
	}
	if r, ok := b.(sandbox.Relayer); ok && r.Relays() {
		return h.StartRelayed(ctx, r, spec, defaults, creds...)
	}
	owner, err := gu.GateOwner(*spec)
	if err != nil {
		return nil, err
	}
	g, err := h.Start(ctx, spec.Name, defaults, owner, creds...)
	if err != nil {
		return nil, err
	}
	spec.GateDir = g.Mount
	return g, nil
}

// NetworkLine says what governs the sandbox's egress, for the run's header.
func (h Host) NetworkLine(b sandbox.Backend, name string, defaults []policy.Rule) string {
	if on, ok := b.(sandbox.OwnNetwork); ok {
		return on.Network()
	}
	if _, ok := b.(sandbox.GateUser); ok {
		return h.describeRules(name, defaults) + " (ralph policy ls)"
	}
	return "unrestricted (the host's own)"
}

// installSelf copies ralph's helper (ralph-helper beside ralph, else
// ralph itself; helperbin) to dst (atomically), after checking it is
// statically linked: it has to run inside images of any libc. The copy
// is made once per build: stamp (outside the sandbox's reach) records
// which binary dst holds, and while neither has changed since, the next
// run finds it there.
func installSelf(dst, stamp string) error {
	f := helperbin.Running()
	if f.Path == "" {
		return sandbox.Unavailable("%s", helperbin.Missing(f.Self))
	}
	return install(f.Path, dst, stamp)
}

func install(exe, dst, stamp string) error {
	if !sandbox.Static(exe) {
		return sandbox.Unavailable("the network gate runs ralph inside the sandbox and needs a static build: reinstall with CGO_ENABLED=0 go install ./cmd/ralph")
	}
	if b, err := os.ReadFile(stamp); err == nil && string(b) == installed(exe, dst) {
		return nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	defer src.Close()
	if err := atomicfile.Copy(dst, src, 0o755); err != nil {
		return fmt.Errorf("gate: copy ralph: %w", err)
	}
	return atomicfile.Write(stamp, []byte(installed(exe, dst)), 0o600)
}

// installed identifies the pair (the ralph at exe, its copy at dst) by
// path, size, modification time and inode of each: "" when either is
// missing, which no stamp matches.
func installed(exe, dst string) string {
	id := func(p string) string {
		fi, err := os.Stat(p)
		if err != nil {
			return ""
		}
		return fmt.Sprintf("%s %d %d %v %s", p, fi.Size(), fi.ModTime().UnixNano(), fi.Mode().Perm(), inode(fi))
	}
	a, b := id(exe), id(dst)
	if a == "" || b == "" {
		return ""
	}
	return a + "\n" + b + "\n"
}

// describeRules says what the gate lets through, for the run's header.
func (h Host) describeRules(name string, defaults []policy.Rule) string {
	rules, err := h.Policies.Effective(name, defaults)
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
