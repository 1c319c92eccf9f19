package microvm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// staticInit builds the static command pkg for the guest to boot as its
// init: ralph-helper, as installed (ralph itself works too).
func staticInit(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "github.com/ralphloop/ralph/"+pkg)
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
	return New(staticInit(t, "cmd/ralph-helper"), filepath.Join(dir, "state"), filepath.Join(dir, "run"), filepath.Join(dir, "cache"))
}

func TestConformanceMicroVM(t *testing.T) {
	sandboxtest.SkipShort(t)
	v := newTestVM(t)
	if err := v.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		sandboxtest.Require(t, "docker (to export the image)", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: v, Image: "ralph-test:busybox"})
	t.Run("contract", func(t *testing.T) {
		sandboxtest.Contract(t, sandboxtest.ContractHarness{Backend: v, Image: "ralph-test:busybox"})
	})
}

// TestSecondClientIsTold: a microVM's channel takes one client; a second
// ralph gets a clear error in seconds, not a boot-length wait.
func TestSecondClientIsTold(t *testing.T) {
	sandboxtest.SkipShort(t)
	v := newTestVM(t)
	if err := v.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	proj := sandboxtest.Project(t, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name("second", proj), Agent: "t", Project: proj, Image: "ralph-test:busybox", Memory: "256m"}
	if _, err := v.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Remove(context.Background(), spec.Name, true) })
	other := New(v.Ralph, v.StateDir, v.RunDir, v.CacheDir)
	start := time.Now()
	_, err := other.Exec(t.Context(), spec.Name, sandbox.Cmd{Argv: []string{"true"}})
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "another ralph") {
		t.Errorf("second client: %v", err)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("the second client waited %s", took)
	}
	// The first one still works.
	if code, err := v.Exec(t.Context(), spec.Name, sandbox.Cmd{Argv: []string{"true"}}); err != nil || code != 0 {
		t.Errorf("first client after the second tried: %d %v", code, err)
	}
	checkConfinement(t, v, spec.Name)
}

// checkConfinement attacks two claims of the design: QEMU does not run
// as root when ralph does (an escape into it lands on the sandbox's
// user), and the serial port to the host is not in the guest's /dev
// (the agent cannot speak the channel's protocol).
func checkConfinement(t *testing.T, v *VM, name string) {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(v.pid(name)), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" && os.Geteuid() == 0 && f[1] != "1000" {
			t.Errorf("QEMU runs as uid %s, want the sandbox's 1000", f[1])
		}
	}
	var out strings.Builder
	code, err := v.Exec(t.Context(), name, sandbox.Cmd{Argv: []string{"sh", "-c",
		"ls /dev; for p in /dev/vport* /dev/hvc* /dev/virtio-ports/*; do [ -e \"$p\" ] && echo \"PORT $p\"; done; cat /sys/class/virtio-ports/*/name 2>/dev/null; true"},
		Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if strings.Contains(out.String(), "PORT ") || !strings.Contains(out.String(), "null") {
		t.Errorf("the guest's /dev:\n%s", out.String())
	}
}

// TestExportRootfsConcurrent: two sandboxes of one image booting at once
// share one export; neither sees it half made.
func TestExportRootfsConcurrent(t *testing.T) {
	sandboxtest.SkipShort(t)
	if err := exec.Command("docker", "version").Run(); err != nil {
		sandboxtest.Require(t, "docker (to export the image)", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	cache := t.TempDir()
	errs := make(chan error, 4)
	roots := make(chan string, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r, err := exportRootfs(t.Context(), cache, "ralph-test:busybox", []string{"/work", "/.ralph"}, t.Logf)
			errs <- err
			roots <- r.Dir
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		root := <-roots
		for _, p := range []string{"bin/busybox", "work", ".ralph"} {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("export %d lacks %s: %v", i, p, err)
			}
		}
	}
}

// TestTTY: an exec that asks for a terminal gets one (ralph shell), of
// the size asked for, owned by the agent; one that does not, does not.
func TestTTY(t *testing.T) {
	sandboxtest.SkipShort(t)
	v := newTestVM(t)
	if err := v.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	proj := sandboxtest.Project(t, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name("tty", proj), Agent: "t", Project: proj, Image: "ralph-test:busybox", Memory: "256m"}
	if _, err := v.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Remove(context.Background(), spec.Name, true) })
	script := `tty; test -t 0 && echo interactive; stty size; stat -c %u "$(tty)"`
	for _, tty := range []bool{true, false} {
		var out strings.Builder
		code, err := v.Exec(t.Context(), spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", script}, TTY: tty, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out})
		got := strings.ReplaceAll(out.String(), "\r", "")
		t.Logf("tty %v: exit %d %v\n%s", tty, code, err, got)
		if err != nil {
			t.Fatal(err)
		}
		if tty != strings.Contains(got, "interactive") {
			t.Errorf("tty %v: %q", tty, got)
		}
		if tty && (!strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "24 80") || !strings.Contains(got, "\n1000\n")) {
			t.Errorf("terminal: %q, want /dev/pts/N, 24 80, owned by 1000", got)
		}
	}
}
