package container

import (
	"os/exec"
	"testing"

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
	e := Docker()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("docker", "ralph-test:busybox")})
}

func TestConformanceGVisor(t *testing.T) {
	e := GVisor("")
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "gvisor", err)
	}
	sandboxtest.BusyboxImage(t, "docker", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("docker", "ralph-test:busybox")})
}

func TestConformancePodman(t *testing.T) {
	e := Podman()
	if err := e.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "podman", err)
	}
	sandboxtest.BusyboxImage(t, "podman", "ralph-test:busybox", nil)
	sandboxtest.Run(t, sandboxtest.Harness{Backend: e, Image: "ralph-test:busybox", Foreign: foreign("podman", "ralph-test:busybox")})
}
