//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ralphloop/ralph/internal/image"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// mockGemini is a scripted stand-in for the Gemini API on loopback:
// each streamGenerateContent call gets the next text (the last one again
// when the script runs out) as server-sent events; generateContent (the
// CLI's own side questions) gets the same text whole; countTokens a count.
// It records every request it sees.
type mockGemini struct {
	mu      sync.Mutex
	texts   []string
	seen    []string
	streams int
	tools   []string // offered in the first turn
	keys    []string // the credential header of each request
}

func (m *mockGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, verb, _ := strings.Cut(r.URL.Path, ":")
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.keys = append(m.keys, r.Header.Get("X-Goog-Api-Key"))
	if m.tools == nil && verb == "streamGenerateContent" {
		m.tools = append([]string{}, toolNames(body)...)
	}
	m.mu.Unlock()
	usage := map[string]any{"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18}
	answer := func(text string) map[string]any {
		return map[string]any{"candidates": []any{map[string]any{"index": 0, "finishReason": "STOP",
			"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}}, "usageMetadata": usage}
	}
	switch {
	case r.Method != http.MethodPost:
		http.NotFound(w, r)
	case verb == "countTokens":
		json.NewEncoder(w).Encode(map[string]any{"totalTokens": 12})
	case verb == "generateContent":
		json.NewEncoder(w).Encode(answer(`{"reasoning": "the model is done", "next_speaker": "user"}`))
	case verb == "streamGenerateContent":
		m.mu.Lock()
		text := m.texts[min(m.streams, len(m.texts)-1)]
		m.streams++
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		a := answer(text)
		if cmd, ok := strings.CutPrefix(text, "BASH:"); ok {
			// A call of the CLI's run_shell_command tool: it runs the
			// command for real and comes back with its output.
			a = map[string]any{"candidates": []any{map[string]any{"index": 0, "finishReason": "STOP",
				"content": map[string]any{"role": "model", "parts": []any{map[string]any{"functionCall": map[string]any{
					"name": "run_shell_command", "args": map[string]any{"command": cmd, "description": "run a command"}}}}}}}, "usageMetadata": usage}
		}
		b, _ := json.Marshal(a)
		fmt.Fprintf(w, "data: %s\r\n\r\n", b)
	default:
		http.NotFound(w, r)
	}
}

func (m *mockGemini) requests() ([]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...), m.streams
}

// TestImageBuildRealGemini builds an agent image the way a user on this
// machine must (no Docker Hub, a TLS-inspecting proxy): ralph image build
// with its defaults (a base made from the Debian archive, the host's CA
// bundle) and the CLI pinned; then the real Gemini CLI in that image completes
// a loop in docker and gVisor against the mock, through the gate; then the
// same with podman (its own build, its own base).
func TestImageBuildRealGemini(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t)
	docker := engines()[0]
	if err := docker.b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "docker", err)
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		sandboxtest.Require(t, "mmdebstrap (ralph image base)", err)
	}
	ralph, _ := build(t)
	// As a user runs it (the README's first line): the default base, made
	// from the Debian archive when missing (kept afterwards, as a user's
	// would be), and the host's CA certificates.
	tag := "ralph-gemini:e2e"
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	hadBase := exec.Command("docker", "image", "inspect", image.DefaultBase).Run() == nil
	if code, out := runRalph(t, ralph, t.TempDir(), os.Environ(), "image", "build", "--agent", "gemini", "--cli-version", "0.61.0", "--tag", tag); code != 0 {
		t.Fatalf("ralph image build: exit %d\n%s", code, out)
	} else {
		checkBuild(t, tag)(out, hadBase)
	}
	label, _ := exec.Command("docker", "inspect", "--format", `{{index .Config.Labels "ralph.agent-version"}}`, tag).Output()
	if strings.TrimSpace(string(label)) != "0.61.0" {
		t.Errorf("label ralph.agent-version = %q", label)
	}
	// docker, gVisor and the microVM share docker's image; podman builds its own.
	for _, tc := range append(engines(), microVMEngine(t, ralph)) {
		t.Run(tc.backend, func(t *testing.T) {
			if err := tc.b.Available(t.Context()); err != nil {
				sandboxtest.Require(t, tc.backend, err)
			}
			if tc.bin == "podman" {
				checkBuild(t, tag)(podmanBuild(t, ralph, "gemini", "0.61.0", tag))
			}
			mock := &mockGemini{texts: toolThenComplete(tc.backend)}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			proj := project(t, 1000)
			os.MkdirAll(filepath.Join(proj, ".gemini"), 0o755)
			os.WriteFile(filepath.Join(proj, ".gemini", "settings.json"), []byte(`{"security": {"auth": {"selectedType": "gemini-api-key"}}}`), 0o644)
			exec.Command("chown", "-R", "1000:1000", filepath.Join(proj, ".gemini")).Run()
			name := sandbox.Name("gemini", proj)
			sandboxtest.Cleanup(t, tc.bin, name)
			state := t.TempDir()
			cmd := exec.Command(ralph, "-n", "2", "--sandbox", tc.backend, "--image", tag, "--agent", "gemini",
				"--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", imageRunTimeout(tc))
			cmd.Dir = proj
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
				"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF"),
				"GEMINI_API_KEY=test-key", fmt.Sprintf("GOOGLE_GEMINI_BASE_URL=http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)}
			code, out := runCmd(t, cmd)
			seen, streams := mock.requests()
			checkEnd(t, completed, code, out, seen, streams, state)
			checkToolProof(t, proj, tc.backend)
			rm := exec.Command(ralph, "rm", "-f", name)
			rm.Env = cmd.Env
			rm.Run()
		})
	}
}

// checkBuild reads ralph image build's output: the base made when it was
// missing, the closing hint with the version and --image.
func checkBuild(t *testing.T, tag string) func(out string, hadBase bool) {
	return func(out string, hadBase bool) {
		t.Helper()
		if !hadBase && !strings.Contains(out, "making it from the Debian archive") {
			t.Errorf("the missing base was not made:\n%s", out)
		}
		if !strings.Contains(out, "built "+tag+" with 0.61.0; run: ralph --agent gemini --image "+tag) {
			t.Errorf("the closing hint lacks the version or --image:\n%s", out)
		}
	}
}
