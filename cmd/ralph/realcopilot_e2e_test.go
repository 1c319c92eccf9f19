package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestRealCopilotInBwrap runs the real GitHub Copilot CLI through the
// loop inside bubblewrap with its own model provider (BYOK:
// COPILOT_PROVIDER_BASE_URL, offline, no GitHub sign-in) pointed at the
// scripted OpenAI-compatible API on loopback, which ralph allows at the
// gate from that variable alone.
func TestRealCopilotInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	copilot := os.Getenv("RALPH_REAL_COPILOT")
	if copilot == "" {
		sandboxtest.Require(t, "copilot (the real CLI from npm)", fmt.Errorf("RALPH_REAL_COPILOT is not set: npm install @github/copilot and point it at its binary"))
	}
	ralph, _ := build(t)
	for _, tc := range promiseCases {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockChat{texts: tc.texts}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			proj := project(t, 1000)
			linkInto(t, copilot, filepath.Join(proj, "copilot-bin"))
			state := t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
				fmt.Sprintf("COPILOT_PROVIDER_BASE_URL=http://localhost:%d/v1", port), "COPILOT_PROVIDER_API_KEY=sk-test",
				"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true"}
			code, out := runRalph(t, ralph, proj, env, "-n", "3", "--sandbox", "bwrap", "--agent", "copilot", "--agent-cmd", "/work/copilot-bin",
				"--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m")
			seen, streams := mock.requests()
			checkEnd(t, tc, code, out, seen, streams, state)
		})
	}
}

// TestImageBuildOpencodeCopilot builds the opencode and copilot images
// with ralph image build (pinned CLIs, the default base, the host's CA
// bundle) and runs each real CLI in its image, in docker and gVisor,
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
			for _, tc := range engines()[:2] {
				t.Run(tc.backend, func(t *testing.T) {
					if err := tc.b.Available(t.Context()); err != nil {
						sandboxtest.Require(t, tc.backend, err)
					}
					mock := &mockChat{texts: []string{"<promise>COMPLETE</promise>"}}
					srv := httptest.NewServer(mock)
					defer srv.Close()
					port := srv.Listener.Addr().(*net.TCPAddr).Port
					proj := project(t, 1000)
					name := sandbox.Name(a.agent, proj)
					sandboxtest.Cleanup(t, tc.bin, name)
					state := t.TempDir()
					env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}
					args := []string{"-n", "2", "--sandbox", tc.backend, "--image", tag, "--agent", a.agent,
						"--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", "3m"}
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
