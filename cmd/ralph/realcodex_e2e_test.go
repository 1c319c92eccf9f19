//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// mockResponses is a scripted stand-in for OpenAI's Responses API on
// loopback, as codex speaks it: each POST /v1/responses gets the next
// text (the last one again when the script runs out) as a streamed
// assistant message. It records every request it sees.
type mockResponses struct {
	mu    sync.Mutex
	texts []string
	seen  []string // "METHOD /path"
	posts int
	tools []string // offered in the first turn
	keys  []string // the credential header of each request
}

func (m *mockResponses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.keys = append(m.keys, r.Header.Get("Authorization"))
	if m.tools == nil && r.Method == http.MethodPost && r.URL.Path == "/v1/responses" {
		m.tools = append([]string{}, toolNames(body)...)
	}
	m.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{map[string]any{"id": "gpt-5.5", "object": "model"}}})
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/responses":
		http.NotFound(w, r)
		return
	}
	m.mu.Lock()
	text := m.texts[min(m.posts, len(m.texts)-1)]
	m.posts++
	n := m.posts
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	id := fmt.Sprintf("resp_mock_%d", n)
	ev := func(data map[string]any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", data["type"], b)
	}
	ev(map[string]any{"type": "response.created", "response": map[string]any{"id": id}})
	usage := map[string]any{"input_tokens": 12, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": 6, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 18}
	if cmd, ok := strings.CutPrefix(text, "BASH:"); ok {
		// A call of codex's exec_command tool (offered with -m gpt-5.5):
		// the CLI runs it for real and comes back with its output.
		args, _ := json.Marshal(map[string]any{"cmd": cmd})
		call := map[string]any{"type": "function_call", "id": "fc_" + id, "call_id": "call_" + id, "name": "exec_command", "arguments": string(args), "status": "completed"}
		ev(map[string]any{"type": "response.output_item.added", "output_index": 0, "item": call})
		ev(map[string]any{"type": "response.output_item.done", "output_index": 0, "item": call})
		ev(map[string]any{"type": "response.completed", "response": map[string]any{"id": id, "usage": usage}})
		return
	}
	item := map[string]any{"type": "message", "role": "assistant", "id": "msg_" + id,
		"content": []any{map[string]any{"type": "output_text", "text": text}}}
	ev(map[string]any{"type": "response.output_item.added", "output_index": 0, "item": map[string]any{"type": "message", "role": "assistant", "id": "msg_" + id, "content": []any{}}})
	ev(map[string]any{"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "item_id": "msg_" + id, "delta": text})
	ev(map[string]any{"type": "response.output_item.done", "output_index": 0, "item": item})
	ev(map[string]any{"type": "response.completed", "response": map[string]any{"id": id, "usage": usage}})
}

func (m *mockResponses) requests() (seen []string, posts int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...), m.posts
}

// realCodex is the real codex binary (static), installed from npm by
// scripts/test.sh (RALPH_REAL_CODEX).
func realCodex(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RALPH_REAL_CODEX")
	if p == "" {
		sandboxtest.Require(t, "codex (the real CLI from npm)", fmt.Errorf("RALPH_REAL_CODEX is not set: npm install @openai/codex and point it at the binary"))
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		sandboxtest.Require(t, "codex (the real CLI from npm)", fmt.Errorf("%s --version: %v %s", p, err, out))
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	return p
}

// gateDenials are the hosts a run's gate refused, from its decision logs.
func gateDenials(t *testing.T, state string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(state, "ralph", "gates", "*", "log.jsonl"))
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var e netgate.Entry
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Decision == "deny" {
				out = append(out, fmt.Sprintf("%s %s:%d (%s)", e.Method, e.Host, e.Port, e.Rule))
			}
		}
		fh.Close()
	}
	return out
}

// TestAgentFlagsDrift fails, naming the flag, when a pinned real CLI no
// longer lists a flag ralph's adapter passes it (a new CLI version
// renamed or dropped it): the adapters follow the CLIs as they are.
func TestAgentFlagsDrift(t *testing.T) {
	sandboxtest.SkipShort(t)
	needRoot(t) // each --help runs in a network namespace of its own: nothing leaves
	for _, tc := range []struct{ agent, env string }{{"claude", "RALPH_REAL_CLAUDE"}, {"codex", "RALPH_REAL_CODEX"},
		{"gemini", "RALPH_REAL_GEMINI"}, {"opencode", "RALPH_REAL_OPENCODE"}, {"copilot", "RALPH_REAL_COPILOT"}} {
		t.Run(tc.agent, func(t *testing.T) {
			bin := os.Getenv(tc.env)
			if bin == "" {
				sandboxtest.Require(t, tc.agent+" (the real CLI from npm)", fmt.Errorf("%s is not set", tc.env))
			}
			run := []string{"unshare", "-n", bin}
			if tc.agent == "gemini" {
				run = []string{"unshare", "-n", "/usr/bin/node", filepath.Join(bin, "gemini.js")} // a Node bundle
			}
			ad, _ := agent.Lookup(tc.agent, "")
			argv := ad.Command(bin, "PROMPT", append(ad.EnvArgs(map[string]string{"OPENAI_BASE_URL": "http://x"}), "--model", "m")).Argv
			helpArgv := []string{"--help"}
			if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
				helpArgv = []string{argv[1], "--help"} // a subcommand: codex exec, opencode run
			}
			cmd := exec.Command(run[0], append(run[1:], helpArgv...)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
			help, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %q: %v\n%s", bin, helpArgv, err, help)
			}
			for _, a := range argv[1:] {
				if !strings.HasPrefix(a, "-") || a == "-" {
					continue
				}
				flag, _, _ := strings.Cut(a, "=")
				if !regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(flag) + `([\s,=<\[]|$)`).Match(help) {
					t.Errorf("%s (%s) no longer lists %s, which ralph's adapter passes: update internal/agent/%s.go\n%s", tc.agent, tc.env, flag, tc.agent, help)
				}
			}
		})
	}
}
