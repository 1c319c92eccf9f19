//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
	tools   []string // offered in the first turn
	keys    []string // the credential header of each request
}

func (m *mockChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.keys = append(m.keys, r.Header.Get("Authorization"))
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
		if m.tools == nil {
			m.tools = append([]string{}, toolNames(body)...)
		}
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
	if cmd, ok := strings.CutPrefix(text, "BASH:"); ok {
		// A call of the CLI's bash tool (opencode's and copilot's are both
		// named bash; copilot requires a description): the CLI runs the
		// command for real and comes back with its output.
		args, _ := json.Marshal(map[string]any{"command": cmd, "description": "run a command"})
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_mock", "type": "function",
			"function": map[string]any{"name": "bash", "arguments": string(args)}}}}, nil, nil)
		chunk(map[string]any{}, "tool_calls", usage)
		fmt.Fprint(w, "data: [DONE]\n\n")
		return
	}
	chunk(map[string]any{"content": text}, nil, nil)
	chunk(map[string]any{}, "stop", usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (m *mockChat) requests() ([]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...), m.streams
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
