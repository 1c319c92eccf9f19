package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/ralphloop/ralph/internal/image"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestImageBuildOpencodeCopilot builds the opencode and copilot images
// with ralph image build (pinned CLIs, the default base, the host's CA
// bundle) and runs each real CLI in its image, in docker, gVisor, the
// microVM (from docker's image store) and podman (its own build),
// against the scripted OpenAI-compatible API through the gate.
func TestImageBuildOpencodeCopilot(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t)
	if err := engines()[0].b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	ralph, _ := build(t)
	for _, a := range []struct{ agent, version string }{{"opencode", "1.18.33"}, {"copilot", "1.0.102"}} {
		t.Run(a.agent, func(t *testing.T) {
			tag := "ralph-" + a.agent + ":e2e"
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
			if code, out := runRalph(t, ralph, t.TempDir(), os.Environ(), "image", "build", "--agent", a.agent, "--cli-version", a.version, "--tag", tag); code != 0 {
				t.Fatalf("ralph image build: exit %d\n%s", code, out)
			}
			for _, tc := range append(engines(), microVMEngine(t, ralph)) {
				t.Run(tc.backend, func(t *testing.T) {
					if err := tc.b.Available(t.Context()); err != nil {
						sandboxtest.Require(t, tc.backend, err)
					}
					if tc.bin == "podman" {
						podmanBuild(t, ralph, a.agent, a.version, tag)
					}
					mock := &mockChat{texts: []string{"<promise>COMPLETE</promise>"}}
					srv := httptest.NewServer(mock)
					defer srv.Close()
					port := srv.Listener.Addr().(*net.TCPAddr).Port
					proj := project(t, 1000)
					name := sandbox.Name(a.agent, proj)
					sandboxtest.Cleanup(t, tc.bin, name)
					state := t.TempDir()
					env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
						"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF")}
					args := []string{"-n", "2", "--sandbox", tc.backend, "--image", tag, "--agent", a.agent,
						"--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", imageRunTimeout(tc)}
					if a.agent == "copilot" {
						env = append(env, fmt.Sprintf("COPILOT_PROVIDER_BASE_URL=http://localhost:%d/v1", port), "COPILOT_PROVIDER_API_KEY=sk-test",
							"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true")
					} else {
						env = append(env, "OPENCODE_CONFIG_CONTENT="+opencodeConfig(port))
						args = append(args, "--env", "OPENCODE_CONFIG_CONTENT")
						if code, out := runRalph(t, ralph, proj, env, "policy", "allow", "network", "-g", fmt.Sprintf("localhost:%d,127.0.0.1:%d", port, port)); code != 0 {
							t.Fatalf("policy: %s", out)
						}
					}
					code, out := runRalph(t, ralph, proj, env, args...)
					seen, streams := mock.requests()
					checkEnd(t, completed, code, out, seen, streams, state)
					runRalph(t, ralph, proj, env, "rm", "-f", name)
				})
			}
		})
	}
}

// podmanBuild builds the agent's image with podman (its own store),
// removed when the test ends.
func podmanBuild(t *testing.T, ralph, agent, version, tag string) (out string, hadBase bool) {
	t.Helper()
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })
	hadBase = exec.Command("podman", "image", "inspect", image.DefaultBase).Run() == nil
	code, out := runRalph(t, ralph, t.TempDir(), os.Environ(), "image", "build", "--engine", "podman", "--agent", agent, "--cli-version", version, "--tag", tag)
	if code != 0 {
		t.Fatalf("ralph image build --engine podman: exit %d\n%s", code, out)
	}
	return out, hadBase
}

// imageRunTimeout is an iteration's bound for a real CLI on tc: the
// microVM runs under TCG on machines without a working KVM.
func imageRunTimeout(tc engine) string {
	if tc.backend == "microvm" {
		return "10m"
	}
	return "3m"
}
