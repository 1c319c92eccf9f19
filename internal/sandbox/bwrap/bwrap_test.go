//go:build linux

package bwrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// ralphBinary builds the static ralph whose helper the backend runs.
func ralphBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ralph")
	cmd := exec.Command("go", "build", "-o", out, "../../../cmd/ralph")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build ralph: %v\n%s", err, b)
	}
	return out
}

func TestConformanceBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	b := New("", t.TempDir(), nil)
	if err := b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the pids and memory caps of bwrap sandboxes need root (cgroups)")
	}
	b.Ralph = ralphBinary(t)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: b})
	// A bwrap sandbox is a fresh process per exec: a stopped one starts
	// again on exec, as sbx's does.
	t.Run("contract", func(t *testing.T) {
		sandboxtest.Contract(t, sandboxtest.ContractHarness{Backend: b, ExecStarts: true})
	})
}

func TestArgs(t *testing.T) {
	spec := sandbox.Spec{Name: "n", Project: "/src/app", GateDir: "/x"}
	got := strings.Join(Args(spec, 1000, 1000, []string{"claude", "-p"}), " ")
	for _, want := range []string{"--unshare-all", "--die-with-parent", "--new-session", "--disable-userns", "--uid 1000", "--cap-drop ALL",
		"--ro-bind /usr /usr", "--proc /proc", "--dev /dev", "--tmpfs /tmp", "--bind /src/app /work", "--remount-ro /",
		"--ro-bind /x /.ralph", "/.ralph/ralph sandbox-helper run --landlock --workdir /work --listen 127.0.0.1:3128 --socket /.ralph/gate.sock -- claude -p"} {
		if !strings.Contains(got, want) {
			t.Errorf("bwrap args lack %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"--share-net", "--bind / ", "docker.sock", "--cap-add"} {
		if strings.Contains(got, bad) {
			t.Errorf("bwrap args hold %q", bad)
		}
	}
}

func TestSeccompFilterLoaded(t *testing.T) {
	sandboxtest.SkipShort(t)
	b := New("", t.TempDir(), nil)
	if err := b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if SeccompFilter() == nil {
		t.Skip("no seccomp filter for this architecture")
	}
	b.Ralph = ralphBinary(t)
	proj := sandboxtest.Project(t, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name("seccomp", proj), Agent: "x", Project: proj}
	if _, err := b.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	defer b.Remove(t.Context(), spec.Name, true)
	var out strings.Builder
	code, err := b.Exec(t.Context(), spec.Name, sandbox.Cmd{Argv: []string{"grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"}, Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if !strings.Contains(out.String(), "Seccomp:\t2") {
		t.Errorf("no seccomp filter in the sandbox: %q", out.String())
	}
}

func TestSeccompProgram(t *testing.T) {
	p := SeccompFilter()
	if p == nil {
		t.Skip("architecture")
	}
	x32 := 0
	if runtime.GOARCH == "amd64" {
		x32 = 1
	}
	if len(p)%8 != 0 || len(p)/8 != 4+x32+len(denied)+2 {
		t.Errorf("program of %d bytes for %d denied calls", len(p), len(denied))
	}
}

func TestClosedTo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make folders of another owner")
	}
	top, err := os.MkdirTemp("", "closedto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	os.Chmod(top, 0o711)
	closed := filepath.Join(top, "closed")
	os.Mkdir(closed, 0o700)
	proj := filepath.Join(closed, "proj")
	os.Mkdir(proj, 0o755)
	os.Chown(proj, 1000, 1000)
	if got := closedTo(proj, 1000, 1000); got != closed {
		t.Errorf("closedTo = %q, want %q", got, closed)
	}
	os.Chmod(closed, 0o711)
	if got := closedTo(proj, 1000, 1000); got != "" {
		t.Errorf("closedTo an open path = %q", got)
	}
	os.Chmod(closed, 0o700)
	os.Chown(closed, 1000, 1000)
	if got := closedTo(proj, 1000, 1000); got != "" {
		t.Errorf("closedTo through the uid's own folder = %q", got)
	}
}
