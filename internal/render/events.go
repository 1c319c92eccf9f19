// Package render turns each agent's structured stream into readable
// lines while it runs: assistant text, each tool call with a short form
// of its arguments, a shortened tool result, errors. It decodes one line
// at a time and keeps nothing between lines but a pending text buffer.
package render

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Kind is what an event is.
type Kind int

const (
	Text Kind = iota
	Tool
	Result
	Error
)

// Event is one thing worth showing.
type Event struct {
	Kind Kind
	Name string // the tool's name
	Text string
	Fail bool // a tool result that failed
}

type m = map[string]any

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) m {
	o, _ := v.(m)
	return o
}

// args shortens a tool's arguments to what a person wants to see.
func args(in m) string {
	for _, k := range []string{"command", "cmd", "file_path", "filePath", "path", "pattern", "query", "url", "description"} {
		if s := str(in[k]); s != "" {
			return s
		}
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if s, ok := in[k].(string); ok {
			parts = append(parts, k+"="+s)
		}
	}
	return strings.Join(parts, " ")
}

// content flattens a tool result's content (a string or content blocks).
func content(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, x := range c {
			if t := str(obj(x)["text"]); t != "" {
				b.WriteString(t)
			}
		}
		return b.String()
	case m:
		if t := str(c["content"]); t != "" {
			return t
		}
		return str(c["text"])
	}
	return ""
}

// Decode returns the events of one line of agent's output.
func Decode(agent string, line []byte) []Event {
	if agent == "claude" {
		return claude(line)
	}
	var ev m
	if json.Unmarshal(line, &ev) != nil {
		if agent == "custom" && len(strings.TrimSpace(string(line))) > 0 {
			return []Event{{Kind: Text, Text: string(line)}}
		}
		return nil
	}
	switch agent {
	case "codex":
		return codex(ev)
	case "gemini":
		return gemini(ev)
	case "cursor":
		return cursor(ev)
	case "opencode":
		return opencode(ev)
	case "copilot":
		return copilot(ev)
	}
	return nil
}

// claudeLine is the part of a claude stream-json line the renderer
// reads; decoding into it is much faster than into maps.
type claudeLine struct {
	Type    string `json:"type"`
	Parent  any    `json:"parent_tool_use_id"`
	IsError bool   `json:"is_error"`
	Result  string `json:"result"`
	Message struct {
		Content []struct {
			Type    string         `json:"type"`
			Text    string         `json:"text"`
			Name    string         `json:"name"`
			Input   map[string]any `json:"input"`
			Content any            `json:"content"`
			IsError bool           `json:"is_error"`
		} `json:"content"`
	} `json:"message"`
	RateLimit struct {
		Status string `json:"status"`
		Type   string `json:"rateLimitType"`
	} `json:"rate_limit_info"`
}

func claude(line []byte) []Event {
	var ev claudeLine
	if json.Unmarshal(line, &ev) != nil {
		return nil
	}
	var out []Event
	switch ev.Type {
	case "assistant":
		if ev.Parent != nil {
			return nil // a sub-agent's turn
		}
		for _, blk := range ev.Message.Content {
			switch blk.Type {
			case "text":
				out = append(out, Event{Kind: Text, Text: blk.Text})
			case "tool_use":
				out = append(out, Event{Kind: Tool, Name: blk.Name, Text: args(blk.Input)})
			}
		}
	case "user":
		for _, blk := range ev.Message.Content {
			if blk.Type == "tool_result" {
				out = append(out, Event{Kind: Result, Text: content(blk.Content), Fail: blk.IsError})
			}
		}
	case "result":
		if ev.IsError {
			out = append(out, Event{Kind: Error, Text: ev.Result})
		}
	case "rate_limit_event":
		if ev.RateLimit.Status == "rejected" {
			out = append(out, Event{Kind: Error, Text: "rate limit reached (" + ev.RateLimit.Type + ")"})
		}
	}
	return out
}

func codex(ev m) []Event {
	item := obj(ev["item"])
	switch str(ev["type"]) {
	case "item.started":
		if str(item["type"]) == "command_execution" {
			return []Event{{Kind: Tool, Name: "shell", Text: str(item["command"])}}
		}
	case "item.completed":
		switch str(item["type"]) {
		case "agent_message":
			return []Event{{Kind: Text, Text: str(item["text"])}}
		case "command_execution":
			code, _ := item["exit_code"].(float64)
			return []Event{{Kind: Result, Text: str(item["aggregated_output"]), Fail: code != 0}}
		case "file_change":
			var paths []string
			for _, c := range asSlice(item["changes"]) {
				paths = append(paths, str(obj(c)["kind"])+" "+str(obj(c)["path"]))
			}
			return []Event{{Kind: Tool, Name: "edit", Text: strings.Join(paths, ", ")}}
		case "mcp_tool_call":
			return []Event{{Kind: Tool, Name: str(item["server"]) + "." + str(item["tool"])}}
		}
	case "turn.failed":
		return []Event{{Kind: Error, Text: str(obj(ev["error"])["message"])}}
	case "error":
		return []Event{{Kind: Error, Text: str(ev["message"])}}
	}
	return nil
}

func gemini(ev m) []Event {
	switch str(ev["type"]) {
	case "message":
		if str(ev["role"]) == "assistant" {
			return []Event{{Kind: Text, Text: str(ev["content"]), Name: "delta"}}
		}
	case "tool_use":
		return []Event{{Kind: Tool, Name: str(ev["tool_name"]), Text: args(obj(ev["parameters"]))}}
	case "tool_result":
		if str(ev["status"]) == "error" {
			return []Event{{Kind: Result, Text: str(obj(ev["error"])["message"]), Fail: true}}
		}
		return []Event{{Kind: Result, Text: str(ev["output"])}}
	case "error":
		return []Event{{Kind: Error, Text: str(ev["message"])}}
	case "result":
		if str(ev["status"]) == "error" {
			return []Event{{Kind: Error, Text: str(obj(ev["error"])["message"])}}
		}
	}
	return nil
}

func cursor(ev m) []Event {
	switch str(ev["type"]) {
	case "assistant":
		return []Event{{Kind: Text, Text: content(obj(ev["message"])["content"])}}
	case "tool_call":
		for k, v := range obj(ev["tool_call"]) {
			if !strings.HasSuffix(k, "ToolCall") {
				continue // hookAdditionalContexts, toolCallId, ...
			}
			call := obj(v)
			name := strings.TrimSuffix(k, "ToolCall")
			if str(ev["subtype"]) == "started" {
				return []Event{{Kind: Tool, Name: name, Text: args(obj(call["args"]))}}
			}
			res := obj(call["result"])
			if s := obj(res["success"]); s != nil {
				out := str(s["stdout"]) + str(s["content"]) + str(s["message"])
				return []Event{{Kind: Result, Text: out}}
			}
			return []Event{{Kind: Result, Text: fmt.Sprint(res["error"]), Fail: true}}
		}
	case "result":
		if isErr, _ := ev["is_error"].(bool); isErr {
			return []Event{{Kind: Error, Text: str(ev["result"])}}
		}
	}
	return nil
}

func opencode(ev m) []Event {
	part := obj(ev["part"])
	switch str(ev["type"]) {
	case "text":
		return []Event{{Kind: Text, Text: str(part["text"])}}
	case "tool_use":
		st := obj(part["state"])
		out := []Event{{Kind: Tool, Name: str(part["tool"]), Text: args(obj(st["input"]))}}
		if o := str(st["output"]); o != "" || str(st["status"]) == "error" {
			out = append(out, Event{Kind: Result, Text: o + str(st["error"]), Fail: str(st["status"]) == "error"})
		}
		return out
	case "error":
		e := obj(ev["error"])
		msg := str(e["message"])
		if msg == "" {
			msg = str(obj(e["data"])["message"])
		}
		return []Event{{Kind: Error, Text: msg}}
	}
	return nil
}

func copilot(ev m) []Event {
	data := obj(ev["data"])
	switch str(ev["type"]) {
	case "assistant.message":
		if ev["agentId"] != nil {
			return nil
		}
		var out []Event
		if t := str(data["content"]); t != "" {
			out = append(out, Event{Kind: Text, Text: t})
		}
		for _, r := range asSlice(data["toolRequests"]) {
			out = append(out, Event{Kind: Tool, Name: str(obj(r)["name"]), Text: args(obj(obj(r)["arguments"]))})
		}
		return out
	case "tool.execution_complete":
		ok, _ := data["success"].(bool)
		return []Event{{Kind: Result, Text: content(data["result"]), Fail: !ok}}
	case "session.error":
		return []Event{{Kind: Error, Text: str(data["message"])}}
	}
	return nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
