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

	"github.com/ralphloop/ralph/internal/jsonscan"
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
	// Summary: Text is already a tool result's first line (after leading
	// space) and More the count of lines after it.
	Summary bool
	More    int
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

// claude reads a line with one jsonscan walk, decoding only the fields
// it shows: a tool result's first line, a tool call's arguments of
// interest, however long the rest of the line. What it cannot read that
// way, and lines other than assistant and user turns, go to claudeJSON.
func claude(line []byte) []Event {
	c := jsonscan.NewCursor(line)
	var typ string
	var msg []byte // the message, when it came before the type
	var out []Event
	sub, done := false, false
	turn := func() bool { return typ == "assistant" || typ == "user" }
	c.Object(func(k []byte) bool {
		switch string(k) {
		case "type":
			if c.Peek() != '"' {
				return c.Skip()
			}
			var ok bool
			typ, ok = c.String()
			return ok && turn()
		case "parent_tool_use_id":
			v, ok := c.Raw()
			sub = sub || ok && string(v) != "null"
			return ok
		case "message":
			if turn() && !done {
				out, done = claudeMessage(c, typ), true
				return !c.Err()
			}
			var ok bool
			msg, ok = c.Raw()
			return ok
		}
		return c.Skip()
	})
	switch {
	case c.Err() || !turn():
		return claudeJSON(line)
	case typ == "assistant" && sub:
		return nil // a sub-agent's turn
	case !done && msg != nil:
		c = jsonscan.NewCursor(msg)
		out = claudeMessage(c, typ)
	}
	if c.Err() {
		return claudeJSON(line)
	}
	return out
}

// claudeMessage consumes a turn's message and returns the events of its
// content blocks.
func claudeMessage(c *jsonscan.Cursor, typ string) []Event {
	var out []Event
	if c.Peek() != '{' {
		c.Skip()
		return nil
	}
	c.Object(func(k []byte) bool {
		if string(k) != "content" || c.Peek() != '[' {
			return c.Skip()
		}
		return c.Array(func() bool {
			e, keep := claudeBlock(c, typ)
			if keep {
				out = append(out, e)
			}
			return !c.Err()
		})
	})
	return out
}

// claudeBlock consumes one content block and returns its event, if it
// shows one; a block jsonscan cannot read as claudeJSON would sets the
// cursor's error.
func claudeBlock(c *jsonscan.Cursor, typ string) (Event, bool) {
	var btype, text, name string
	var result Event
	var input []byte
	isErr := false
	str := func(dst *string) bool {
		if c.Peek() == 'n' {
			return c.Skip() // null
		}
		var ok bool
		*dst, ok = c.String()
		return ok
	}
	c.Object(func(k []byte) bool {
		switch string(k) {
		case "type":
			return str(&btype)
		case "text":
			return str(&text)
		case "name":
			return str(&name)
		case "input":
			var ok bool
			input, ok = c.Raw()
			return ok
		case "content":
			var ok bool
			result, ok = contentScan(c)
			return ok
		case "is_error":
			v, ok := c.Raw()
			isErr = string(v) == "true"
			return ok
		}
		return c.Skip()
	})
	if c.Err() {
		return Event{}, false
	}
	switch {
	case typ == "assistant" && btype == "text":
		return Event{Kind: Text, Text: text}, true
	case typ == "assistant" && btype == "tool_use":
		a, ok := argsScan(input)
		if !ok {
			c.Refuse()
			return Event{}, false
		}
		return Event{Kind: Tool, Name: name, Text: a}, true
	case typ == "user" && btype == "tool_result":
		result.Kind, result.Fail = Result, isErr
		return result, true
	}
	return Event{}, false
}

// argsScan is args of a tool call's raw input object.
func argsScan(input []byte) (string, bool) {
	if len(input) == 0 || string(input) == "null" {
		return "", true
	}
	strs := map[string]string{}
	if !jsonscan.Object(input, func(k, v []byte) bool {
		if len(v) > 0 && v[0] == '"' {
			key, ok := jsonscan.String(append(append([]byte{'"'}, k...), '"'))
			s, ok2 := jsonscan.String(v)
			if !ok || !ok2 {
				return false
			}
			strs[key] = s // the last of a repeated key, as encoding/json
		}
		return true
	}) {
		return "", false
	}
	in := make(m, len(strs))
	for k, v := range strs {
		in[k] = v
	}
	return args(in), true
}

// contentScan consumes a tool result's content and returns its event's
// text: a string is summarized without being decoded whole (summarize);
// blocks' text fields join; anything else (an object) sets the cursor's
// error, for claudeJSON.
func contentScan(c *jsonscan.Cursor) (Event, bool) {
	switch c.Peek() {
	case 'n':
		return Event{}, c.Skip()
	case '"':
		raw, ok := c.RawString()
		if !ok {
			return Event{}, false
		}
		if first, more, ok := summarize(raw); ok {
			return Event{Text: first, More: more, Summary: true}, true
		}
		s, ok := jsonscan.String(append(append([]byte{'"'}, raw...), '"'))
		if !ok {
			c.Refuse()
		}
		return Event{Text: s}, ok
	case '[':
		var b strings.Builder
		ok := c.Array(func() bool {
			if c.Peek() != '{' {
				return c.Skip() // content() skips what is not a block
			}
			return c.Object(func(k []byte) bool {
				if string(k) != "text" || c.Peek() != '"' {
					return c.Skip()
				}
				s, ok := c.String()
				b.WriteString(s)
				return ok
			})
		})
		return Event{Text: b.String()}, ok
	}
	c.Refuse()
	return Event{}, false
}

// claudeJSON decodes the whole line with encoding/json.
func claudeJSON(line []byte) []Event {
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
