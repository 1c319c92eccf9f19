//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// dockerd is a private Docker daemon of one test: its own socket, data
// and state, so the test can kill it without touching the shared one.
type dockerd struct {
	dir, host string
	cmd       *exec.Cmd
}

func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		sandboxtest.Require(t, "dockerd", err)
	}
	if os.Geteuid() != 0 {
		sandboxtest.Require(t, "root, to start a private dockerd", errors.New("not root"))
	}
	// A short path: Unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ralph-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}"), 0o644)
	d := &dockerd{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock")}
	d.start(t)
	t.Cleanup(func() {
		// Its own host, explicitly: t.Setenv's restore runs before this.
		rm := exec.Command("sh", "-c", `docker ps -aq | xargs -r docker rm -f`)
		rm.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
		rm.Run()
		if d.cmd != nil && d.cmd.Process != nil {
			d.cmd.Process.Signal(syscall.SIGTERM)
			d.cmd.Wait()
		}
		os.RemoveAll(dir)
	})
	return d
}

func (d *dockerd) start(t *testing.T) {
	t.Helper()
	os.Remove(filepath.Join(d.dir, "docker.pid")) // left by a killed daemon
	log, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// In a network namespace of its own: a dockerd with --bridge none
	// deletes the host's docker0, which the shared daemon needs.
	d.cmd = exec.Command("unshare", "--net", "--", "dockerd", "--config-file", filepath.Join(d.dir, "daemon.json"),
		"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "docker.pid"), "--host", d.host,
		"--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ {
		cmd := exec.Command("docker", "version")
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
		if cmd.Run() == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	t.Fatalf("the private dockerd did not start:\n%s", b)
}

// kill ends the daemon as a crash would: SIGKILL (its containerd goes
// with it; the containers stop when it comes back).
func (d *dockerd) kill() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

// TestEngineDiesMidIteration kills a real dockerd while the agent runs
// inside one of its containers and starts it again a few seconds later:
// the iteration fails with a clear error, the loop waits for the engine,
// brings the stopped sandbox back, retries the iteration (not counted) and
// finishes the run.
func TestEngineDiesMidIteration(t *testing.T) {
	d := startDockerd(t)
	t.Setenv("DOCKER_HOST", d.host)
	ralph, fake := build(t)
	image := "ralph-e2e:claude"
	sandboxtest.BusyboxImage(t, "docker", image, map[string]string{"/usr/local/bin/claude": fake})
	proj := project(t, 1000)
	name := sandbox.Name("claude", proj)
	env := []string{"FAKE_PLAN=sleep:30,complete", "XDG_STATE_HOME=" + t.TempDir(), "ANTHROPIC_API_KEY=sk-e2e"}
	r := start(t, ralph, proj, env, "-n", "3", "--sandbox", "docker", "--image", image,
		"--env", "FAKE_PLAN", "--memory", "512m", "--engine-wait", "90s")
	r.waitFor(t, "iteration 1 of 3")
	// The fake agent counts its runs in the workspace as it starts: once
	// the count is there, it runs inside; crash the engine under it.
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(proj, ".fake-agent-n")); err == nil {
			break
		}
		if i == 300 {
			t.Fatalf("the agent never started:\n%s", r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	d.kill()
	r.waitFor(t, "waiting up to 1m30s for the engine to answer again")
	time.Sleep(3 * time.Second) // the engine stays away a while
	d.start(t)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, r.stderr)
	}
	for _, want := range []string{"the docker engine stopped answering during the run", "the engine answers again", "COMPLETE after 1 iteration"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("no %q in:\n%s", want, r.stderr)
		}
	}
	if s := containerState(t, "docker", name); s != "exited" {
		t.Errorf("after the run the sandbox is %q, want exited", s)
	}
	if strings.Count(r.stderr.String(), "created sandbox") != 1 {
		t.Errorf("the sandbox was made again instead of restarted:\n%s", r.stderr)
	}
}
