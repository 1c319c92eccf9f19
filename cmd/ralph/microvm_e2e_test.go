//go:build linux

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// microVMEngine is the microvm backend as the ralph CLI places it when
// run as root (records aside), for the tests that drive it directly too.
func microVMEngine(t *testing.T, ralph string) engine {
	return engine{"microvm", "docker", microvm.New(ralph, filepath.Join(t.TempDir(), "records"), "/run/ralph/microvm", "/var/cache/ralph/microvm")}
}

// kvmWorks is the accelerator verdict ralph reaches here (a probe boot,
// cached in the same folder the CLI uses as root).
func kvmWorks(t *testing.T, ralph string) bool {
	return microVMEngine(t, ralph).b.(*microvm.VM).KVM(context.Background())
}

// TestLoopInMicroVM runs the fake agent in a QEMU microVM (TCG here) to a
// COMPLETE: the file it writes reaches the project as the project's
// owner, the VM is off after the run, and the next run boots it again
// without making a new sandbox.
func TestLoopInMicroVM(t *testing.T) {
	ralph, fake := build(t)
	image, proj, name := microVMEngine(t, ralph).prepare(t, fake)
	state := t.TempDir()
	env := []string{"FAKE_PLAN=write:made-inside.txt,none,complete", "XDG_STATE_HOME=" + state, "ANTHROPIC_API_KEY=sk-e2e"}
	args := []string{"-n", "5", "--sandbox", "microvm", "--image", image, "--env", "FAKE_PLAN", "--memory", "512m"}
	t.Cleanup(func() {
		rm := exec.Command(ralph, "rm", "-f", name)
		rm.Env = append(os.Environ(), env...)
		rm.Run()
	})
	r := start(t, ralph, proj, env, args...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, r.stderr)
	}
	wants := []string{"COMPLETE after 3 iteration", "created sandbox " + name, "microVM"}
	if !kvmWorks(t, ralph) {
		wants = append(wants, "no working KVM here")
	}
	checkCompleted(t, r, proj, wants...)
	ls := exec.Command(ralph, "ls", "--json")
	ls.Env = append(os.Environ(), env...)
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("ralph ls: %v", err)
	}
	var infos []sandbox.Info
	json.Unmarshal(out, &infos)
	found := false
	for _, i := range infos {
		if i.Name == name {
			found = true
			if i.State != "stopped" || i.Backend != "microvm" {
				t.Errorf("after the run: %+v, want a stopped microvm", i)
			}
		}
	}
	if !found {
		t.Errorf("ralph ls does not show %s: %s", name, out)
	}

	// The next run boots the same sandbox again.
	reuseToComplete(t, ralph, proj, env, args, "the second run")
}

// TestDoctorMicroVM: with a static ralph, doctor finds the microVM
// usable, says KVM or TCG, and reports a boot it measured just now.
func TestDoctorMicroVM(t *testing.T) {
	ralph, _ := build(t)
	if err := microVMEngine(t, ralph).b.Available(context.Background()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	cmd := exec.Command(ralph, "doctor", "--json")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	var rep struct {
		Backends []struct {
			Name, Accel string
			Usable      bool
			BootSeconds float64 `json:"boot_seconds"`
			Image       string
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Backends {
		if b.Name != "microvm" {
			continue
		}
		want := "tcg"
		if kvmWorks(t, ralph) {
			want = "kvm"
		}
		if !b.Usable || b.Accel != want || b.BootSeconds <= 0 || !strings.Contains(b.Image, "boot measured now") {
			t.Errorf("doctor's microvm: %+v", b)
		}
		return
	}
	t.Errorf("no microvm in doctor's report:\n%s", out)
}
