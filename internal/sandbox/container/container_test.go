package container

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

func foreign(bin, image string) func(t *testing.T, name string) {
	return func(t *testing.T, name string) {
		sandboxtest.Cleanup(t, bin, name)
		if out, err := exec.Command(bin, "run", "-d", "--name", name, "--label", LabelBackend+"=docker", image, "sleep", "60").CombinedOutput(); err != nil {
			t.Fatalf("foreign container: %v: %s", err, out)
		}
	}
}

func TestConformanceDocker(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Docker()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("docker", "ralph-test:busybox")})
}

// TestContract: the Backend contract, the same on every backend (fakes
// included).
func TestContract(t *testing.T) {
	sandboxtest.SkipShort(t)
	for _, e := range []*Engine{Docker(), GVisor(""), Podman()} {
		t.Run(e.name, func(t *testing.T) {
			if err := e.Available(t.Context()); err != nil {
				sandboxtest.Require(t, e.name, err)
			}
			sandboxtest.BusyboxImage(t, e.bin, "ralph-test:busybox", nil)
			sandboxtest.Contract(t, sandboxtest.ContractHarness{Backend: e, Image: "ralph-test:busybox"})
		})
	}
}

func TestConformanceGVisor(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := GVisor("")
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "gvisor", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("docker", "ralph-test:busybox")})
}

func TestConformancePodman(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Podman()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "podman", err)
	}
	sandboxtest.BusyboxImage(t, "podman", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("podman", "ralph-test:busybox")})
}

func TestMissingImageIsUnavailable(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Docker()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	proj := sandboxtest.Project(t, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name("missing", proj), Agent: "claude", Project: proj, Image: "ralph-no-such-image:latest"}
	sandboxtest.Cleanup(t, "docker", spec.Name)
	_, err := e.Ensure(t.Context(), spec)
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "ralph image build --agent claude") {
		t.Errorf("Ensure with a missing image: %v, want ErrUnavailable with a hint", err)
	}
	if st, _ := e.inspect(t.Context(), spec.Name); st.exists {
		t.Error("a failed create left a container behind")
	}
}

func TestNotRunningEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	err := Docker().Available(t.Context())
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Available with no daemon: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	err = Docker().Available(t.Context())
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "apt-get install docker.io") {
		t.Errorf("Available with no docker: %v", err)
	}
}

func TestRunArgsHardened(t *testing.T) {
	spec := sandbox.Spec{Name: "ralph-claude-app-12345678", Agent: "claude", Project: "/src/app", Image: "img"}
	if got := strings.Join(Docker().runArgs(spec, "1000:1000", "/p.json"), " "); !strings.Contains(got, "--pids-limit 512 ") {
		t.Errorf("docker run args lack --pids-limit 512:\n%s", got)
	}
	got := strings.Join(GVisor("").runArgs(spec, "1000:1000", "/p.json"), " ")
	for _, want := range []string{
		"--user 1000:1000", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--read-only",
		"--tmpfs /tmp:", "--memory 4g", "--memory-swap 4g", "--cpus 2",
		"--pids-limit 2048", // the Sentry's room; the guest gets 512 (limitGuest)
		"--network none", "--volume /src/app:/work", "--workdir /work", "--runtime runsc", "--pull never",
		"--label ralph.managed=true", "--init",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("run args lack %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"--privileged", "--cap-add", "docker.sock", "--network host", "-v /:"} {
		if strings.Contains(got, bad) {
			t.Errorf("run args hold %q", bad)
		}
	}
}

// TestExecNamesSecretsOnly attacks the claim that no secret reaches a
// command line: values go through the client's environment, by name.
func TestExecNamesSecretsOnly(t *testing.T) {
	cmd := sandbox.Cmd{Argv: []string{"claude", "-p"}, Env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant-secret", "B": "two"}}
	for _, gated := range []bool{false, true} {
		argv := strings.Join(Docker().execArgv("ralph-x", cmd, gated, "id"), " ")
		if strings.Contains(argv, "sk-ant-secret") || strings.Contains(argv, "two") {
			t.Errorf("a value on the command line: %s", argv)
		}
		if !strings.Contains(argv, "--env ANTHROPIC_API_KEY --env B --env RALPH_EXEC_ID ralph-x") || !strings.HasSuffix(argv, " claude -p") {
			t.Errorf("argv %s", argv)
		}
	}
}

// TestStopOnlyOurs swaps ralph's sandbox for someone else's container of
// the same name between Ensure and the exit trap's Stop: Stop addresses
// the container it made, by ID, and must leave the impostor running.
func TestStopOnlyOurs(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Docker()
	spec := ensured(t, e, "impostor")
	if out, err := exec.Command("docker", "rm", "--force", spec.Name).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	foreign("docker", "ralph-test:busybox")(t, spec.Name)
	if err := e.Stop(t.Context(), spec.Name); err != nil {
		t.Errorf("Stop after the swap: %v", err)
	}
	if st, _ := e.inspect(t.Context(), spec.Name); !st.running {
		t.Error("Stop stopped a container ralph did not make")
	}
	// Another process knows no ID: it looks, and refuses.
	if err := Docker().Stop(t.Context(), spec.Name); !errors.Is(err, sandbox.ErrRefused) {
		t.Errorf("Stop from a fresh process: %v, want ErrRefused", err)
	}
}

// doctor looks for the agent's CLI inside its image.
func TestCommandsInImage(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Docker()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	got, err := e.Commands(t.Context(), "ralph-test:busybox", "claude", "sh", "no-such-cli")
	if err != nil || strings.Join(got, " ") != "sh" {
		t.Errorf("Commands = %q, %v; want [sh]", got, err)
	}
	if _, err := e.Commands(t.Context(), "ralph-no-such-image:latest", "sh"); err == nil {
		t.Error("Commands in a missing image: no error")
	}
}

// TestExecEndsWhenRemoved removes the sandbox under a running exec: Exec
// must end with ErrNotFound soon, whatever the engine client does (docker
// exec into gVisor was seen to hang there).
func TestExecEndsWhenRemoved(t *testing.T) {
	sandboxtest.SkipShort(t)
	for _, e := range []*Engine{Docker(), GVisor("")} {
		t.Run(e.name, func(t *testing.T) {
			spec := ensured(t, e, "removed")
			go func() {
				time.Sleep(2 * time.Second)
				exec.Command("docker", "rm", "--force", spec.Name).Run()
			}()
			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			_, err := e.Exec(ctx, spec.Name, sandbox.Cmd{Argv: []string{"sleep", "120"}})
			if !errors.Is(err, sandbox.ErrNotFound) {
				t.Errorf("Exec under a removal: %v, want ErrNotFound", err)
			}
			if d := time.Since(start); d > 2*time.Second+2*watchEvery {
				t.Errorf("Exec took %v to notice the removal", d)
			}
		})
	}
}

// ensured makes a running sandbox of e (a docker engine) from the busybox
// test image, removed when the test ends.
func ensured(t *testing.T, e *Engine, label string) sandbox.Spec {
	t.Helper()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, e.name, err)
	}
	sandboxtest.BusyboxImage(t, e.bin, "ralph-test:busybox", nil)
	proj := sandboxtest.Project(t, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name(label, proj), Agent: "claude", Project: proj, Image: "ralph-test:busybox"}
	sandboxtest.Cleanup(t, e.bin, spec.Name)
	if _, err := e.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

// On macOS and Windows docker and podman run with the Linux helper
// beside ralph and say plainly how to get it when it is missing; gVisor
// is Linux-only.
func TestHostSupported(t *testing.T) {
	there := func() string { return "" }
	missing := func() string { return "ralph's Linux helper ... is not beside ralph" }
	for _, c := range []struct {
		e       *Engine
		goos    string
		missing func() string
		want    string
	}{
		{Docker(), "linux", missing, ""},
		{Podman(), "linux", missing, ""},
		{Docker(), "darwin", there, ""},
		{Podman(), "windows", there, ""},
		{Docker(), "darwin", missing, "docker on darwin: ralph's Linux helper"},
		{Podman(), "windows", missing, "podman on windows: ralph's Linux helper"},
		{GVisor(""), "darwin", there, "gVisor runs on Linux hosts only"},
	} {
		err := c.e.hostSupported(c.goos, c.missing)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sandbox.ErrUnavailable)) {
			t.Errorf("%s on %s: %v, want %q", c.e.Name(), c.goos, err, c.want)
		}
	}
}

// TestOOMLeavesNoFile: podman 4's conmon writes an empty "oom" file into
// the folder podman was started in when the memory limit kills a
// process; ralph starts the engine in a folder of its own, so nothing
// appears where ralph runs (the project, for a loop).
func TestOOMLeavesNoFile(t *testing.T) {
	sandboxtest.SkipShort(t)
	e := Podman()
	e.SeccompDir = filepath.Join(t.TempDir(), "seccomp")
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, e.name, err)
	}
	sandboxtest.BusyboxImage(t, e.bin, "ralph-test:busybox", nil)
	proj := sandboxtest.Project(t, 1000, 1000)
	t.Chdir(proj)
	spec := sandbox.Spec{Name: sandbox.Name("oom", proj), Agent: "claude", Project: proj, Image: "ralph-test:busybox", Memory: "32m"}
	sandboxtest.Cleanup(t, e.bin, spec.Name)
	if _, err := e.Ensure(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	code, err := e.Exec(t.Context(), spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", "head -c 200m /dev/zero | tail >/dev/null"}, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil || code != 137 {
		t.Fatalf("the memory fill ended with %d, %v; want 137 (killed by the limit), or the test proves nothing", code, err)
	}
	e.Stop(t.Context(), spec.Name)
	if _, err := os.Stat(filepath.Join(proj, "oom")); err == nil {
		t.Error(`an "oom" file appeared in the folder ralph ran from`)
	}
	if _, err := os.Stat(filepath.Join(e.cwd(), "oom")); err != nil {
		t.Logf("conmon wrote no oom file in ralph's engine folder either (%v)", err)
	}
}
