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
}

func (m *mockGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.mu.Unlock()
	_, verb, _ := strings.Cut(r.URL.Path, ":")
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
		b, _ := json.Marshal(answer(text))
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

// TestRealGeminiInBwrap runs the real Gemini CLI (a Node bundle, run by
// the host's /usr/bin/node) through the loop inside bubblewrap against a
// scripted Gemini API on loopback, reached only through the gate with
// GOOGLE_GEMINI_BASE_URL set on the host. Never on the host backend: the
// CLI also reaches for Google's own hosts, which only a gate refuses.
func TestRealGeminiInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	bundle := os.Getenv("RALPH_REAL_GEMINI")
	if bundle == "" {
		sandboxtest.Require(t, "gemini (the real CLI from npm)", fmt.Errorf("RALPH_REAL_GEMINI is not set: npm install @google/gemini-cli and point it at its bundle folder"))
	}
	if _, err := exec.LookPath("/usr/bin/node"); err != nil {
		sandboxtest.Require(t, "node under /usr (the Gemini CLI's runtime)", err)
	}
	ralph, _ := build(t)
	for _, tc := range promiseCases {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockGemini{texts: tc.texts}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			proj := project(t, 1000)
			// The bundle goes into the project (hard links): the one host
			// folder bwrap shows besides /usr.
			if out, err := exec.Command("cp", "-al", bundle, filepath.Join(proj, ".gemini-cli")).CombinedOutput(); err != nil {
				if out, err = exec.Command("cp", "-a", bundle, filepath.Join(proj, ".gemini-cli")).CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			}
			// gemini 0.61 takes GOOGLE_GEMINI_BASE_URL for a "gateway" auth type
			// that its own headless check then rejects ("Invalid auth method
			// selected", exit 41); naming the API-key method in the project's
			// settings is the way through.
			os.MkdirAll(filepath.Join(proj, ".gemini"), 0o755)
			os.WriteFile(filepath.Join(proj, ".gemini", "settings.json"), []byte(`{"security": {"auth": {"selectedType": "gemini-api-key"}}}`), 0o644)
			exec.Command("chown", "-R", "1000:1000", filepath.Join(proj, ".gemini-cli"), filepath.Join(proj, ".gemini")).Run()
			state := t.TempDir()
			cmd := exec.Command(ralph, "-n", "2", "--sandbox", "bwrap", "--agent", "gemini", "--agent-cmd", "/work/.gemini-cli/gemini.js",
				"--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m")
			cmd.Dir = proj
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
				"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF"),
				"GEMINI_API_KEY=test-key", fmt.Sprintf("GOOGLE_GEMINI_BASE_URL=http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)}
			code, out := runCmd(t, cmd)
			seen, streams := mock.requests()
			checkEnd(t, tc, code, out, seen, streams, state)
		})
	}
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
		checkBuild(t, out, tag, hadBase)
	}
	label, _ := exec.Command("docker", "inspect", "--format", `{{index .Config.Labels "ralph.agent-version"}}`, tag).Output()
	if strings.TrimSpace(string(label)) != "0.61.0" {
		t.Errorf("label ralph.agent-version = %q", label)
	}
	for _, tc := range engines() { // docker and gVisor share the image; podman builds its own
		t.Run(tc.backend, func(t *testing.T) {
			if err := tc.b.Available(t.Context()); err != nil {
				sandboxtest.Require(t, tc.backend, err)
			}
			if tc.bin == "podman" {
				t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })
				hadBase := exec.Command("podman", "image", "inspect", image.DefaultBase).Run() == nil
				code, out := runRalph(t, ralph, t.TempDir(), os.Environ(), "image", "build", "--engine", "podman", "--agent", "gemini", "--cli-version", "0.61.0", "--tag", tag)
				if code != 0 {
					t.Fatalf("ralph image build --engine podman: exit %d\n%s", code, out)
				}
				checkBuild(t, out, tag, hadBase)
			}
			mock := &mockGemini{texts: []string{"<promise>COMPLETE</promise>"}}
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
				"--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", "3m")
			cmd.Dir = proj
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
				"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF"),
				"GEMINI_API_KEY=test-key", fmt.Sprintf("GOOGLE_GEMINI_BASE_URL=http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)}
			code, out := runCmd(t, cmd)
			seen, streams := mock.requests()
			checkEnd(t, completed, code, out, seen, streams, state)
			rm := exec.Command(ralph, "rm", "-f", name)
			rm.Env = cmd.Env
			rm.Run()
		})
	}
}

// checkBuild reads ralph image build's output: the base made when it was
// missing, the closing hint with the version and --image.
func checkBuild(t *testing.T, out, tag string, hadBase bool) {
	t.Helper()
	if !hadBase && !strings.Contains(out, "making it from the Debian archive") {
		t.Errorf("the missing base was not made:\n%s", out)
	}
	if !strings.Contains(out, "built "+tag+" with 0.61.0; run: ralph --agent gemini --image "+tag) {
		t.Errorf("the closing hint lacks the version or --image:\n%s", out)
	}
}
