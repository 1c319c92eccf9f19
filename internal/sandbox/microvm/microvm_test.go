package microvm

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// staticRalph builds the static ralph the guest boots as its init.
func staticRalph(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ralph")
	cmd := exec.Command("go", "build", "-o", out, "github.com/ralphloop/ralph/cmd/ralph")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func newTestVM(t testing.TB) *VM {
	t.Helper()
	dir, err := os.MkdirTemp("", "ralph-vm-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return New(staticRalph(t), filepath.Join(dir, "state"), filepath.Join(dir, "run"), filepath.Join(dir, "cache"))
}

func TestConformanceMicroVM(t *testing.T) {
	v := newTestVM(t)
	if err := v.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		sandboxtest.Require(t, "docker (to export the image)", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: v, Image: "ralph-test:busybox"})
}
