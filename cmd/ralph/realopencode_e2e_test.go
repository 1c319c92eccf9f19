package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// mockChat is a scripted OpenAI-compatible chat completions API on
// loopback, as opencode's openai-compatible provider speaks it: each
// streamed POST /v1/chat/completions gets the next text (the last one
// again when the script runs out). It records every request it sees.
type mockChat struct {
	mu      sync.Mutex
	texts   []string
	seen    []string
	streams int
}

func (m *mockChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	json.Unmarshal(body, &req)
	m.mu.Lock()
	text := m.texts[min(m.streams, len(m.texts)-1)]
	if !req.Stream || strings.Contains(string(body), "You are a title generator") {
		text = "A title" // a side question, not the script's turn
	} else {
		m.streams++
	}
	m.mu.Unlock()
	usage := map[string]any{"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
	if !req.Stream {
		json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-mock", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": text}}}, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta map[string]any, finish any, u any) {
		c := map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		if u != nil {
			c["usage"] = u
		}
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	chunk(map[string]any{"role": "assistant", "content": ""}, nil, nil)
	chunk(map[string]any{"content": text}, nil, nil)
	chunk(map[string]any{}, "stop", usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (m *mockChat) requests() ([]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...), m.streams
}

// TestRealOpencodeInBwrap runs the real opencode CLI through the loop
// inside bubblewrap against a scripted OpenAI-compatible API on loopback,
// configured as opencode's own provider (OPENCODE_CONFIG_CONTENT, passed
// in with --env) and allowed at the gate by hand: opencode has no
// endpoint variable ralph could read.
func TestRealOpencodeInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	opencode := os.Getenv("RALPH_REAL_OPENCODE")
	if opencode == "" {
		sandboxtest.Require(t, "opencode (the real CLI from npm)", fmt.Errorf("RALPH_REAL_OPENCODE is not set: npm install opencode-ai and point it at its binary"))
	}
	ralph, _ := build(t)
	for _, tc := range promiseCases {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockChat{texts: tc.texts}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			proj := project(t, 1000)
			linkInto(t, opencode, filepath.Join(proj, "opencode-bin"))
			state, cfg := t.TempDir(), t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + cfg,
				"OPENCODE_CONFIG_CONTENT=" + opencodeConfig(port), "OPENCODE_DISABLE_AUTOUPDATE=1"}
			// The rules a user writes for a local server: its name and address.
			if code, out := runRalph(t, ralph, proj, env, "policy", "allow", "network", "-g", fmt.Sprintf("localhost:%d,127.0.0.1:%d", port, port)); code != 0 {
				t.Fatalf("policy: %s", out)
			}
			code, out := runRalph(t, ralph, proj, env, "-n", "3", "--sandbox", "bwrap", "--agent", "opencode", "--agent-cmd", "/work/opencode-bin",
				"--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m", "--env", "OPENCODE_CONFIG_CONTENT", "--env", "OPENCODE_DISABLE_AUTOUPDATE")
			seen, streams := mock.requests()
			checkEnd(t, tc, code, out, seen, streams, state)
		})
	}
}

// opencodeConfig is opencode's own config (OPENCODE_CONFIG_CONTENT) with a
// provider at the scripted API on port.
func opencodeConfig(port int) string {
	config, _ := json.Marshal(map[string]any{
		"model":      "mock/mock-model",
		"autoupdate": false,
		"share":      "disabled",
		"provider": map[string]any{"mock": map[string]any{"npm": "@ai-sdk/openai-compatible", "name": "Mock",
			"options": map[string]any{"baseURL": fmt.Sprintf("http://localhost:%d/v1", port), "apiKey": "sk-test"},
			"models":  map[string]any{"mock-model": map[string]any{"name": "Mock model"}}}},
	})
	return string(config)
}
