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

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// mockAnthropic is a scripted stand-in for the Messages API on loopback:
// each request to /v1/messages gets the next text (the last one again
// when the script runs out), streamed as the API streams it.
type mockAnthropic struct {
	mu       sync.Mutex
	texts    []string
	requests int
}

func (m *mockAnthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1/messages" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	json.Unmarshal(body, &req)
	m.mu.Lock()
	text := m.texts[min(m.requests, len(m.texts)-1)]
	m.requests++
	m.mu.Unlock()
	usage := map[string]any{"input_tokens": 10, "output_tokens": 5}
	if !req.Stream {
		json.NewEncoder(w).Encode(map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": req.Model,
			"content": []any{map[string]any{"type": "text", "text": text}}, "stop_reason": "end_turn", "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	ev := func(name string, data map[string]any) {
		data["type"] = name
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	}
	ev("message_start", map[string]any{"message": map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": req.Model,
		"content": []any{}, "stop_reason": nil, "usage": map[string]any{"input_tokens": 10, "output_tokens": 1}}})
	ev("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	ev("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": text}})
	ev("content_block_stop", map[string]any{"index": 0})
	ev("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 5}})
	ev("message_stop", map[string]any{})
}

// realClaude is the real Claude Code binary, installed from npm by
// scripts/test.sh (RALPH_REAL_CLAUDE); without it the test skips, or
// fails under RALPH_REQUIRE_ENGINES.
func realClaude(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RALPH_REAL_CLAUDE")
	if p == "" {
		sandboxtest.Require(t, "claude (the real CLI from npm)", fmt.Errorf("RALPH_REAL_CLAUDE is not set: npm install @anthropic-ai/claude-code and point it at the binary"))
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		sandboxtest.Require(t, "claude (the real CLI from npm)", fmt.Errorf("%s --version: %v %s", p, err, out))
	}
	t.Logf("claude %s", strings.TrimSpace(string(out)))
	return p
}

// TestRealClaude runs the real Claude Code CLI through ralph's loop
// against a scripted API on loopback: the promises in its final message
// give 0, 2 and 3; a promise quoted in a code fence, or narrated before a
// tool call, does not stop the loop.
func TestRealClaude(t *testing.T) {
	sandboxtest.SkipShort(t)
	claude := realClaude(t)
	ralph, _ := build(t)
	for _, tc := range []struct {
		name  string
		texts []string
		code  int
		want  string
	}{
		{"complete", []string{"Done with the last task.\n\n<promise>COMPLETE</promise>"}, 0, "COMPLETE after 1 iteration"},
		{"blocked", []string{"I cannot go on.\n\n<promise>BLOCKED:the staging key is missing</promise>"}, 2, "BLOCKED after 1 iteration(s): the staging key is missing"},
		{"decide", []string{"<promise>DECIDE:Postgres or SQLite?</promise>"}, 3, "DECISION NEEDED after 1 iteration(s): Postgres or SQLite?"},
		{"a quoted promise is no promise", []string{"The prompt says to end with:\n```\n<promise>COMPLETE</promise>\n```\nso I will, later.", "<promise>COMPLETE</promise>"}, 0, "COMPLETE after 2 iteration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockAnthropic{texts: tc.texts}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			proj := project(t, 0)
			home := t.TempDir()
			cmd := exec.Command(ralph, "-n", "3", "--sandbox", "host", "--dangerously-run-on-host", "--agent", "claude", "--agent-cmd", claude, "--stall-after", "0",
				"--env", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "--env", "HTTPS_PROXY", "--env", "HTTP_PROXY", "--env", "NO_PROXY", "--env", "DISABLE_AUTOUPDATER")
			cmd.Dir = proj
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
				"ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=" + srv.URL, "DISABLE_AUTOUPDATER=1",
				// On the host there is no gate: nothing but the mock on loopback
				// may be reached. Non-essential traffic off, and everything else
				// sent to a proxy on a dead loopback port.
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
				"NO_PROXY=127.0.0.1,localhost"}
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
			if mock.requests == 0 {
				t.Error("the CLI never reached the mock API")
			}
			if _, err := os.Stat(filepath.Join(home, ".claude")); err != nil {
				t.Logf("no ~/.claude made (%v)", err)
			}
		})
	}
}

// TestRealClaudeInBwrap runs the real CLI inside a bubblewrap sandbox,
// where its only way to the API is ralph's gate: with the mock's address
// allowed it completes; without, the run fails and the API sees nothing.
func TestRealClaudeInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	if err := bwrap.New("", t.TempDir(), nil).Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("as root only: the project is made for uid 1000")
	}
	claude := realClaude(t)
	ralph, _ := build(t)
	for _, allowed := range []bool{true, false} {
		t.Run(fmt.Sprintf("allowed=%v", allowed), func(t *testing.T) {
			mock := &mockAnthropic{texts: []string{"<promise>COMPLETE</promise>"}}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			proj := project(t, 1000)
			// The CLI inside: the project is the one host folder bwrap shows.
			bin := filepath.Join(proj, "claude-bin")
			if err := os.Link(claude, bin); err != nil {
				data, rerr := os.ReadFile(claude)
				if rerr != nil {
					t.Fatal(rerr)
				}
				os.WriteFile(bin, data, 0o755)
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
				"ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=http://localhost:" + port}
			// ANTHROPIC_BASE_URL alone is the allowance: ralph allows the
			// endpoint it passes in (issue 16, item 5); --no-agent-hosts
			// takes it away again.
			args := []string{"-n", "2", "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/claude-bin", "--stall-after", "0", "--max-retries", "0"}
			if !allowed {
				args = append(args, "--no-agent-hosts")
			}
			cmd := exec.Command(ralph, args...)
			cmd.Dir, cmd.Env = proj, env
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			switch {
			case allowed && (code != 0 || !strings.Contains(string(out), "COMPLETE after 1 iteration") || mock.requests == 0):
				t.Errorf("allowed: exit %d, %d API requests:\n%s", code, mock.requests, out)
			case !allowed && (code == 0 || mock.requests != 0):
				t.Errorf("not allowed: exit %d, %d API requests reached the mock:\n%s", code, mock.requests, out)
			}
		})
	}
}

// TestRealClaudeInContainers runs the real CLI in docker, gVisor and
// podman sandboxes (an image with the CLI and the C library it links),
// reaching the API only through the gate.
func TestRealClaudeInContainers(t *testing.T) {
	sandboxtest.SkipShort(t)
	if os.Geteuid() != 0 {
		t.Skip("as root only: the project is made for uid 1000")
	}
	claude := realClaude(t)
	ralph, _ := build(t)
	extra := map[string]string{"/usr/local/bin/claude": claude}
	for _, lib := range []string{"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/librt.so.1",
		"/lib/x86_64-linux-gnu/libpthread.so.0", "/lib/x86_64-linux-gnu/libdl.so.2", "/lib/x86_64-linux-gnu/libm.so.6"} {
		if _, err := os.Stat(lib); err != nil {
			sandboxtest.Require(t, "the C library the CLI links ("+lib+")", err)
		}
		extra[lib] = lib
	}
	for _, tc := range engines() {
		t.Run(tc.backend, func(t *testing.T) {
			if err := tc.b.Available(t.Context()); err != nil {
				sandboxtest.Require(t, tc.backend, err)
			}
			image := "ralph-e2e:real-claude"
			sandboxtest.BusyboxImage(t, tc.bin, image, extra)
			mock := &mockAnthropic{texts: []string{"Narrating first.", "<promise>COMPLETE</promise>"}}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			proj := project(t, 1000)
			name := sandbox.Name("claude", proj)
			sandboxtest.Cleanup(t, tc.bin, name)
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
				"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF"), "ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=http://localhost:" + port}
			// No rule written: the endpoint ralph passes in is allowed.
			cmd := exec.Command(ralph, "-n", "3", "--sandbox", tc.backend, "--image", image, "--agent", "claude",
				"--agent-cmd", "/usr/local/bin/claude", "--stall-after", "0", "--max-retries", "0", "--memory", "1g")
			cmd.Dir, cmd.Env = proj, env
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 0 || !strings.Contains(string(out), "COMPLETE after 2 iteration") || mock.requests < 2 {
				t.Errorf("exit %d, %d API requests:\n%s", code, mock.requests, out)
			}
			rm := exec.Command(ralph, "rm", "-f", name)
			rm.Env = env
			rm.Run()
		})
	}
}
