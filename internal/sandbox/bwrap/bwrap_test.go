package bwrap

import (
	"os"
	"os/exec"
	"path/filepath"
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
	b := New("", t.TempDir(), nil)
	if err := b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the pids and memory caps of bwrap sandboxes need root (cgroups)")
	}
	b.Ralph = ralphBinary(t)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: b})
}

func TestArgs(t *testing.T) {
	spec := sandbox.Spec{Name: "n", Project: "/src/app", GateDir: "/x"}
	got := strings.Join(Args(spec, 1000, 1000, []string{"claude", "-p"}), " ")
	for _, want := range []string{"--unshare-all", "--die-with-parent", "--new-session", "--disable-userns", "--uid 1000", "--cap-drop ALL",
		"--ro-bind /usr /usr", "--proc /proc", "--dev /dev", "--tmpfs /tmp", "--bind /src/app /work", "--remount-ro /",
		"--ro-bind /x /.ralph", "/.ralph/ralph sandbox-helper run --listen 127.0.0.1:3128 --socket /.ralph/gate.sock -- claude -p"} {
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
