//go:build linux

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

// imageAgent is a real CLI run from the image ralph image build makes.
type imageAgent struct {
	agent, version string
	mock           func(texts []string) scripted
	env            func(port int) []string // the host environment the run needs
	flags, after   []string                // ralph's flags; the CLI's, after --
	localRule      bool                    // the user allows the local server (no endpoint variable)
}

// anthropicScripted is mockAnthropic as a scripted mock.
type anthropicScripted struct{ *mockAnthropic }

func (m anthropicScripted) offered() []string { return nil }
func (m anthropicScripted) calls() []string   { return nil }
func (m anthropicScripted) creds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.keys...)
}
func (m anthropicScripted) turns() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mockAnthropic.turns
}

var imageAgents = []imageAgent{
	{agent: "claude", version: "2.1.332",
		mock: func(texts []string) scripted { return anthropicScripted{&mockAnthropic{texts: texts}} },
		env: func(port int) []string {
			return []string{"ANTHROPIC_API_KEY=sk-ant-test", fmt.Sprintf("ANTHROPIC_BASE_URL=http://localhost:%d", port)}
		}},
	{agent: "codex", version: "0.171.0", after: []string{"-m", "gpt-5.5"},
		mock: func(texts []string) scripted { return &mockResponses{texts: texts} },
		env: func(port int) []string {
			return []string{"CODEX_API_KEY=sk-test", fmt.Sprintf("OPENAI_BASE_URL=http://localhost:%d/v1", port)}
		}},
	{agent: "opencode", version: "1.18.33", flags: []string{"--env", "OPENCODE_CONFIG_CONTENT"}, localRule: true,
		mock: func(texts []string) scripted { return &mockChat{texts: texts} },
		env:  func(port int) []string { return []string{"OPENCODE_CONFIG_CONTENT=" + opencodeConfig(port)} }},
	{agent: "copilot", version: "1.0.102",
		mock: func(texts []string) scripted { return &mockChat{texts: texts} },
		env: func(port int) []string {
			return []string{fmt.Sprintf("COPILOT_PROVIDER_BASE_URL=http://localhost:%d/v1", port), "COPILOT_PROVIDER_API_KEY=sk-test",
				"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true"}
		}},
}

// TestImageBuildRealAgents builds the claude, codex, opencode and copilot
// images with ralph image build (pinned CLIs, the default base, the
// host's CA bundle), with docker and with podman, and runs each real CLI
// in its image in docker, gVisor, podman and the microVM (from docker's
// image store) against its scripted API, reached only through the gate:
// its own shell tool edits the project, then it completes. (gemini's
// image has a test of its own, which also checks the base and the label.)
func TestImageBuildRealAgents(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t)
	if err := engines()[0].b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	ralph, _ := build(t)
	for _, a := range imageAgents {
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
					mock := a.mock(toolThenComplete(tc.backend))
					srv := httptest.NewServer(mock)
					defer srv.Close()
					port := srv.Listener.Addr().(*net.TCPAddr).Port
					proj := project(t, 1000)
					name := sandbox.Name(a.agent, proj)
					sandboxtest.Cleanup(t, tc.bin, name)
					state := t.TempDir()
					env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
						"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF")}, a.env(port)...)
					if a.localRule {
						if code, out := runRalph(t, ralph, proj, env, "policy", "allow", "network", "-g", fmt.Sprintf("localhost:%d,127.0.0.1:%d", port, port)); code != 0 {
							t.Fatalf("policy: %s", out)
						}
					}
					args := append([]string{"-n", "2", "--sandbox", tc.backend, "--image", tag, "--agent", a.agent,
						"--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", imageRunTimeout(tc)}, a.flags...)
					if len(a.after) > 0 {
						args = append(append(args, "--"), a.after...)
					}
					code, out := runRalph(t, ralph, proj, env, args...)
					checkEnd(t, completed, code, out, mock.calls(), mock.turns(), state)
					checkToolProof(t, proj, tc.backend)
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
