//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// build compiles ralph and the static fake agent once per test binary.
func build(t testing.TB) (ralph, fake string) {
	t.Helper()
	sandboxtest.SkipShort(t) // every end-to-end test builds ralph first
	return buildAll(t)
}

// buildAll is build in -short mode too (for benchmarks CI runs short).
func buildAll(t testing.TB) (ralph, fake string) {
	t.Helper()
	dir := t.TempDir()
	ralph, fake = filepath.Join(dir, "ralph"), filepath.Join(dir, "claude")
	// ralph-helper beside ralph, as installed: what the sandboxes get.
	helper := filepath.Join(dir, "ralph-helper")
	for out, pkg := range map[string]string{ralph: ".", fake: "../../internal/agent/agenttest/fakeagent", helper: "../ralph-helper"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return ralph, fake
}

type run struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func start(t *testing.T, ralph, project string, env []string, args ...string) *run {
	t.Helper()
	cmd := exec.Command(ralph, args...)
	cmd.Dir = project
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &run{cmd, &stderr}
}

func (r *run) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("ralph did not finish:\n%s", r.stderr)
	}
	return r.cmd.ProcessState.ExitCode()
}

// waitFor polls the stderr of r until it holds s.
func (r *run) waitFor(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if strings.Contains(r.stderr.String(), s) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %q in:\n%s", s, r.stderr)
}

func project(t *testing.T, uid int) string {
	t.Helper()
	dir := sandboxtest.Project(t, uid, uid)
	os.MkdirAll(filepath.Join(dir, ".ralph"), 0o755)
	os.WriteFile(filepath.Join(dir, ".ralph", "PROMPT.md"), []byte("Do one task. End with <promise>COMPLETE</promise> when all are done.\n"), 0o644)
	os.Chown(filepath.Join(dir, ".ralph"), uid, uid)
	return dir
}

func TestSignalsExitCodes(t *testing.T) {
	ralph, fake := build(t)
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		proj := project(t, 0)
		env := []string{"PATH=" + filepath.Dir(fake) + ":" + os.Getenv("PATH"), "FAKE_PLAN=sleep:30", "XDG_STATE_HOME=" + t.TempDir()}
		r := start(t, ralph, proj, env, "-n", "2", "--sandbox", "host", "--dangerously-run-on-host", "--env", "FAKE_PLAN")
		r.waitFor(t, "iteration 1 of 2")
		time.Sleep(300 * time.Millisecond)
		r.cmd.Process.Signal(sig)
		if got := r.wait(t); got != want {
			t.Errorf("%v: exit %d, want %d\n%s", sig, got, want, r.stderr)
		}
	}
}

// engine is a real container backend the end-to-end tests run on.
type engine struct {
	backend, bin string
	b            sandbox.Backend
}

// prepare checks the engine is there (or fails under
// RALPH_REQUIRE_ENGINES), imports the e2e image with the fake agent as
// claude, and makes a project owned by 1000 whose sandbox is cleaned up.
func (tc engine) prepare(t *testing.T, fake string) (image, proj, name string) {
	t.Helper()
	if err := tc.b.Available(context.Background()); err != nil {
		sandboxtest.Require(t, tc.backend, err)
	}
	image = "ralph-e2e:claude"
	sandboxtest.BusyboxImage(t, tc.bin, image, map[string]string{"/usr/local/bin/claude": fake})
	proj = project(t, 1000)
	name = sandbox.Name("claude", proj)
	sandboxtest.Cleanup(t, tc.bin, name)
	return image, proj, name
}

func engines() []engine {
	return []engine{
		{"docker", "docker", container.Docker()},
		{"gvisor", "docker", container.GVisor("")},
		{"podman", "podman", container.Podman()},
	}
}

// TestLoopInRealSandbox runs the fake agent inside a real container on
// each engine to a COMPLETE, then interrupts a run mid-iteration and checks
// the container is left stopped, and reused by the next run.
func TestLoopInRealSandbox(t *testing.T) {
	ralph, fake := build(t)
	for _, tc := range engines() {
		t.Run(tc.backend, func(t *testing.T) {
			image, proj, name := tc.prepare(t, fake)
			state := t.TempDir()
			// Iteration 2 leaves a process in a session of its own (as an
			// agent's Bash tool does); iteration 3 must not see it.
			env := []string{"FAKE_PLAN=write:made-inside.txt,linger:http://127.0.0.1:9/x,lingerers,complete", "XDG_STATE_HOME=" + state, "ANTHROPIC_API_KEY=sk-e2e"}
			args := []string{"-n", "5", "--sandbox", tc.backend, "--image", image, "--env", "FAKE_PLAN", "--memory", "512m"}

			r := start(t, ralph, proj, env, args...)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d, want 0:\n%s", code, r.stderr)
			}
			checkCompleted(t, r, proj, "COMPLETE after 4 iteration", "created sandbox "+name, string(tc.b.Boundary()))
			if b, err := os.ReadFile(filepath.Join(proj, ".fake-agent-lingerers")); err != nil || string(b) != "0\n" {
				t.Errorf("processes left by iteration 2, seen by iteration 3: %q %v, want 0", b, err)
			}
			os.Remove(filepath.Join(proj, ".fake-agent-lingerers"))
			env[0] = "FAKE_PLAN=write:made-inside.txt,none,complete"
			if s := containerState(t, tc.bin, name); s != "exited" {
				t.Errorf("after the run the sandbox is %q, want exited", s)
			}

			// Interrupted mid-iteration: stopped, exit 130; reused next time.
			r = midIteration(t, ralph, proj, env, args, "sleep:60")
			r.cmd.Process.Signal(syscall.SIGINT)
			if code := r.wait(t); code != 130 {
				t.Errorf("interrupted run: exit %d, want 130:\n%s", code, r.stderr)
			}
			if strings.Contains(r.stderr.String(), "created sandbox") {
				t.Errorf("the second run did not reuse the sandbox:\n%s", r.stderr)
			}
			if s := containerState(t, tc.bin, name); s != "exited" {
				t.Errorf("after Ctrl-C the sandbox is %q, want exited; ralph said:\n%s", s, r.stderr)
			}

			// Killed outright mid-iteration (SIGKILL: no exit trap): the
			// sandbox is left behind; the next run finds it, reuses it and
			// completes.
			r = midIteration(t, ralph, proj, env, args, "sleep:60")
			r.cmd.Process.Kill()
			r.wait(t)
			if s := containerState(t, tc.bin, name); s != "running" && s != "exited" {
				t.Fatalf("after SIGKILL the sandbox is %q", s)
			}
			reuseToComplete(t, ralph, proj, env, args, "the run after a SIGKILL")
			if s := containerState(t, tc.bin, name); s != "exited" {
				t.Errorf("after the run that followed a SIGKILL the sandbox is %q, want exited", s)
			}

			// Removed behind ralph's back during a run: the loop says so,
			// makes it again and completes.
			r = midIteration(t, ralph, proj, env, args, "sleep:30,complete")
			if out, err := exec.Command(tc.bin, "rm", "--force", name).CombinedOutput(); err != nil {
				t.Fatalf("rm behind ralph's back: %v: %s", err, out)
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("the run whose sandbox was removed: exit %d, want 0:\n%s", code, r.stderr)
			}
			for _, want := range []string{"is gone or stopped; bringing it back", "created sandbox " + name} {
				if !strings.Contains(r.stderr.String(), want) {
					t.Errorf("no %q after the sandbox was removed:\n%s", want, r.stderr)
				}
			}
			if s := containerState(t, tc.bin, name); s != "exited" {
				t.Errorf("after the run whose sandbox was removed, the sandbox is %q, want exited", s)
			}
		})
	}
}

// midIteration starts ralph in proj with the fake agent's plan (env[0])
// and returns once the first iteration's agent has been running a while.
func midIteration(t *testing.T, ralph, proj string, env, args []string, plan string) *run {
	t.Helper()
	os.Remove(filepath.Join(proj, ".fake-agent-n"))
	env[0] = "FAKE_PLAN=" + plan
	r := start(t, ralph, proj, env, args...)
	r.waitFor(t, "iteration 1 of")
	time.Sleep(2 * time.Second)
	return r
}

// reuseToComplete runs the fake agent to a COMPLETE in proj again: the
// run must reuse the sandbox an earlier run left, not create one.
func reuseToComplete(t *testing.T, ralph, proj string, env, args []string, what string) {
	t.Helper()
	os.Remove(filepath.Join(proj, ".fake-agent-n"))
	env[0] = "FAKE_PLAN=complete"
	r := start(t, ralph, proj, env, args...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("%s: exit %d, want 0:\n%s", what, code, r.stderr)
	}
	if strings.Contains(r.stderr.String(), "created sandbox") {
		t.Errorf("%s made a new sandbox:\n%s", what, r.stderr)
	}
}

// checkCompleted checks that r's log holds every want and that the file
// the fake agent wrote (FAKE_PLAN=write:made-inside.txt) reached the
// project as uid 1000.
func checkCompleted(t *testing.T, r *run, proj string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("no %q in:\n%s", want, r.stderr)
		}
	}
	st, err := os.Stat(filepath.Join(proj, "made-inside.txt"))
	if err != nil {
		t.Fatalf("the agent's file is not in the project: %v", err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 1000 {
		t.Errorf("the agent's file belongs to %d, want 1000", uid)
	}
}

func containerState(t *testing.T, bin, name string) string {
	out, err := exec.Command(bin, "container", "inspect", "--format", "{{.State.Status}}", name).Output()
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
