//go:build linux

package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
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
	turns    int      // streamed requests: the script's steps
	keys     []string // the x-api-key of each request
	auths    []string // the Authorization of each request
	tool     string   // the name of the shell tool BASH: calls (Claude Code's Bash when empty)
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
	usage := map[string]any{"input_tokens": 10, "output_tokens": 5}
	m.mu.Lock()
	m.requests++
	m.keys = append(m.keys, r.Header.Get("x-api-key"))
	m.auths = append(m.auths, r.Header.Get("Authorization"))
	n := m.requests
	if !req.Stream || strings.Contains(string(body), "You are a title generator") {
		// The CLI's side questions (a title, a quota check; opencode
		// streams its title's): not the script's turns.
		m.mu.Unlock()
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, e := range []string{
				`{"type":"message_start","message":{"id":"msg_title","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}`,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"A title"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}`,
				`{"type":"message_stop"}`} {
				var ev struct{ Type string }
				json.Unmarshal([]byte(e), &ev)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, e)
			}
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": req.Model,
			"content": []any{map[string]any{"type": "text", "text": "ok"}}, "stop_reason": "end_turn", "usage": usage})
		return
	}
	text := m.texts[min(m.turns, len(m.texts)-1)]
	m.turns++
	m.mu.Unlock()
	switch text {
	case "STATUS:429":
		w.Header().Set("retry-after", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`)
		return
	case "STATUS:529":
		w.WriteHeader(529)
		fmt.Fprint(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		return
	case "CUT":
		// The stream starts, then the connection drops mid-way.
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_cut\",\"type\":\"message\",\"role\":\"assistant\",\"model\":%q,\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n", req.Model)
		w.(http.Flusher).Flush()
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
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
	if cmd, ok := strings.CutPrefix(text, "BASH:"); ok {
		// A call of Claude Code's Bash tool: the CLI runs the command
		// for real and comes back with its result for the next step.
		input, _ := json.Marshal(map[string]any{"command": cmd, "description": "run a command"})
		tool := cmp.Or(m.tool, "Bash")
		ev("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_mock_%d", n), "name": tool, "input": map[string]any{}}})
		ev("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "input_json_delta", "partial_json": string(input)}})
		ev("content_block_stop", map[string]any{"index": 0})
		ev("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "tool_use"}, "usage": map[string]any{"output_tokens": 5}})
		ev("message_stop", map[string]any{})
		return
	}
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
	for _, tc := range promiseCases {
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
			code, out := runCmd(t, cmd)
			if code != tc.code || !strings.Contains(out, tc.want) {
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
	needBwrapAsRoot(t)
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
			linkInto(t, claude, bin)
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
			code, out := runCmd(t, cmd)
			switch {
			case allowed && (code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || mock.requests == 0):
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
	needRoot(t)
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
			code, out := runCmd(t, cmd)
			if code != 0 || !strings.Contains(out, "COMPLETE after 2 iteration") || mock.requests < 2 {
				t.Errorf("exit %d, %d API requests:\n%s", code, mock.requests, out)
			}
			rm := exec.Command(ralph, "rm", "-f", name)
			rm.Env = env
			rm.Run()
		})
	}
}

// TestRealClaudeTools: the real CLI's own Bash tool runs inside the
// sandbox and edits the project (the file belongs to the agent's uid);
// and an iteration timeout ends the agent and the tool it started, leaving
// no process behind on the host. In bwrap and docker.
func TestRealClaudeTools(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t)
	claude := realClaude(t)
	ralph, _ := build(t)
	for _, backend := range []string{"bwrap", "docker"} {
		t.Run(backend, func(t *testing.T) {
			var b sandbox.Backend = bwrap.New("", t.TempDir(), nil)
			if backend == "docker" {
				b = engines()[0].b
			}
			if err := b.Available(t.Context()); err != nil {
				sandboxtest.Require(t, backend, err)
			}
			args := []string{"--sandbox", backend, "--agent", "claude", "--stall-after", "0", "--max-retries", "0"}
			setup := func(t *testing.T) (proj string) {
				proj = project(t, 1000)
				if backend == "bwrap" {
					bin := filepath.Join(proj, "claude-bin")
					linkInto(t, claude, bin)
					return proj
				}
				sandboxtest.Cleanup(t, "docker", sandbox.Name("claude", proj))
				return proj
			}
			agentCmd := "/work/claude-bin"
			if backend == "docker" {
				// Claude Code's Bash tool wants bash: the host's, with its library.
				image := "ralph-e2e:real-claude-bash"
				extra := map[string]string{"/usr/local/bin/claude": claude, "/bin/bash": "/usr/bin/bash"}
				for _, lib := range []string{"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/librt.so.1",
					"/lib/x86_64-linux-gnu/libpthread.so.0", "/lib/x86_64-linux-gnu/libdl.so.2", "/lib/x86_64-linux-gnu/libm.so.6",
					"/lib/x86_64-linux-gnu/libtinfo.so.6"} {
					extra[lib] = lib
				}
				sandboxtest.BusyboxImage(t, "docker", image, extra)
				agentCmd = "/usr/local/bin/claude"
				args = append(args, "--image", image, "--memory", "1g")
			}
			args = append(args, "--agent-cmd", agentCmd)
			run := func(t *testing.T, proj string, mock *mockAnthropic, more ...string) (int, string) {
				srv := httptest.NewServer(mock)
				defer srv.Close()
				_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
				cmd := exec.Command(ralph, append(append([]string{}, args...), more...)...)
				cmd.Dir = proj
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
					"CONTAINERS_CONF=" + os.Getenv("CONTAINERS_CONF"), "ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=http://localhost:" + port}
				code, out := runCmd(t, cmd)
				rm := exec.Command(ralph, "rm", "-f", sandbox.Name("claude", proj))
				rm.Env = cmd.Env
				rm.Run()
				return code, out
			}

			t.Run("a tool edits the project", func(t *testing.T) {
				proj := setup(t)
				mock := &mockAnthropic{texts: []string{"BASH:echo made-by-the-agent > tool-proof.txt", "Written.\n\n<promise>COMPLETE</promise>"}}
				code, out := run(t, proj, mock, "-n", "2")
				data, err := os.ReadFile(filepath.Join(proj, "tool-proof.txt"))
				if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || err != nil || strings.TrimSpace(string(data)) != "made-by-the-agent" {
					t.Fatalf("exit %d, file %q (%v):\n%s", code, data, err, out)
				}
				if st, err := os.Stat(filepath.Join(proj, "tool-proof.txt")); err == nil && st.Sys().(*syscall.Stat_t).Uid != 1000 {
					t.Errorf("the file belongs to uid %d, want the agent's 1000", st.Sys().(*syscall.Stat_t).Uid)
				}
			})

			t.Run("a timeout ends the agent and its tool", func(t *testing.T) {
				proj := setup(t)
				marker := fmt.Sprintf("sleep 987%d", os.Getpid()%1000)
				mock := &mockAnthropic{texts: []string{"BASH:" + marker}}
				code, out := run(t, proj, mock, "-n", "1", "--iteration-timeout", "20s")
				if code != 1 || !strings.Contains(out, "timed out") {
					t.Errorf("exit %d, want 1 with the iteration timed out:\n%s", code, out)
				}
				if left, _ := exec.Command("pgrep", "-f", marker).Output(); len(left) > 0 {
					t.Errorf("the tool outlived its agent: pids %s", left)
					exec.Command("pkill", "-f", marker).Run()
				}
			})
		})
	}
}

// TestRealClaudeAPIFailures: the real CLI (its own retries off) meets a
// rate limit (429 with retry-after), an overloaded API (529) and a stream
// cut mid-way; ralph reads each from the CLI's own structured output and
// goes on to the promise (a rate limit waited out, or exit 5 with
// --no-wait; an overload retried), in bwrap.
func TestRealClaudeAPIFailures(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	claude := realClaude(t)
	ralph, _ := build(t)
	for _, tc := range []struct {
		name, step, outcome string
		extra               []string
		code                int
	}{
		{"rate limit waited out", "STATUS:429", "rate limited", nil, 0},
		{"rate limit with --no-wait", "STATUS:429", "rate limited", []string{"--no-wait"}, 5},
		{"overloaded, retried", "STATUS:529", "failed", nil, 0},
		// Claude Code answers a cut stream by asking again without
		// streaming (the mock's side answer, "ok"): no promise, the loop
		// goes on.
		{"stream cut, the CLI falls back", "CUT", "no promise", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockAnthropic{texts: []string{tc.step, "<promise>COMPLETE</promise>"}}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			proj := project(t, 1000)
			bin := filepath.Join(proj, "claude-bin")
			linkInto(t, claude, bin)
			args := append([]string{"-n", "2", "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/claude-bin", "--stall-after", "0",
				"--max-retries", "2", "--retry-backoff", "1s", "--limit-backoff", "1s", "--env", "CLAUDE_CODE_MAX_RETRIES"}, tc.extra...)
			cmd := exec.Command(ralph, args...)
			cmd.Dir = proj
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
				"ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=http://localhost:" + port, "CLAUDE_CODE_MAX_RETRIES=0"}
			code, out := runCmd(t, cmd)
			if code != tc.code || !regexp.MustCompile(`(?m)^1 .* `+tc.outcome+` `).MatchString(out) {
				t.Errorf("exit %d, want %d with a first attempt %q:\n%s", code, tc.code, tc.outcome, out)
			}
		})
	}
}

// TestRealClaudeInMicroVM runs the real Claude Code in ralph's own
// microVM (TCG on this machine): its only way to the API is the gate over
// the VM's serial channel.
func TestRealClaudeInMicroVM(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t)
	claude := realClaude(t)
	ralph, _ := build(t)
	vm := microVMEngine(t, ralph)
	if err := vm.b.Available(t.Context()); err != nil {
		sandboxtest.Require(t, "microvm", err)
	}
	image := "ralph-e2e:real-claude-bash"
	extra := map[string]string{"/usr/local/bin/claude": claude, "/bin/bash": "/usr/bin/bash"}
	for _, lib := range []string{"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/librt.so.1",
		"/lib/x86_64-linux-gnu/libpthread.so.0", "/lib/x86_64-linux-gnu/libdl.so.2", "/lib/x86_64-linux-gnu/libm.so.6",
		"/lib/x86_64-linux-gnu/libtinfo.so.6"} {
		extra[lib] = lib
	}
	sandboxtest.BusyboxImage(t, "docker", image, extra)
	mock := &mockAnthropic{texts: []string{"BASH:echo made-in-the-vm > vm-proof.txt", "<promise>COMPLETE</promise>"}}
	srv := httptest.NewServer(mock)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	proj := project(t, 1000)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(),
		"ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=http://localhost:" + port}
	t.Cleanup(func() { runRalph(t, ralph, proj, env, "rm", "-f", sandbox.Name("claude", proj)) })
	code, out := runRalph(t, ralph, proj, env, "-n", "2", "--sandbox", "microvm", "--image", image, "--agent", "claude",
		"--agent-cmd", "/usr/local/bin/claude", "--stall-after", "0", "--max-retries", "0", "--memory", "2g", "--iteration-timeout", "10m")
	data, _ := os.ReadFile(filepath.Join(proj, "vm-proof.txt"))
	if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || strings.TrimSpace(string(data)) != "made-in-the-vm" {
		t.Errorf("exit %d, file %q:\n%s", code, data, out)
	}
}
