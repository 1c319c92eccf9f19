// Package agenttest writes realistic output streams in each agent CLI's
// documented format (see shared/agent-formats), for the parsers' tests and
// for the fake agent binary of the end-to-end scripts.
package agenttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Script is what one fake run says and does.
type Script struct {
	// Narration is assistant text said before the tool calls.
	Narration []string
	// ToolOutputs are results of tool calls (a file printed, a command's
	// output); each comes after a tool call.
	ToolOutputs []string
	// Final is the final message.
	Final string
	// Fail, when set, makes the terminal event an error with this text.
	Fail string
	// NoTerminal cuts the stream before its terminal event.
	NoTerminal bool
	// Limited makes the run end on the agent's own rate-limit events;
	// ResetAt, when set, is the reset time the agent reports (claude only).
	Limited bool
	ResetAt time.Time
}

// Agents lists the formats Emit knows.
func Agents() []string {
	return []string{"claude", "codex", "copilot", "cursor", "gemini", "opencode"}
}

// Emit writes s in the format of agent to w.
func Emit(w io.Writer, agent string, s Script) error {
	e := &emitter{w: w}
	switch agent {
	case "claude":
		e.claude(s)
	case "codex":
		e.codex(s)
	case "gemini":
		e.gemini(s)
	case "cursor":
		e.cursor(s)
	case "opencode":
		e.opencode(s)
	case "copilot":
		e.copilot(s)
	default:
		_, err := fmt.Fprintf(w, "%s\n\n%s\n", joinLines(s.Narration, s.ToolOutputs), s.Final)
		return err
	}
	return e.err
}

func joinLines(a, b []string) string {
	out := ""
	for _, s := range append(append([]string{}, a...), b...) {
		out += s + "\n"
	}
	return out
}

type emitter struct {
	w   io.Writer
	err error
}

type m = map[string]any

func (e *emitter) line(v any) {
	if e.err != nil {
		return
	}
	b, err := typeFirst(v)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(append(b, '\n'))
}

// typeFirst marshals v with its top-level "type" first, as the agents'
// CLIs write their events (a map alone would sort it among the others).
func typeFirst(v any) ([]byte, error) {
	obj, ok := v.(m)
	t, has := obj["type"]
	if !ok || !has {
		return json.Marshal(v)
	}
	rest := make(m, len(obj))
	for k, x := range obj {
		if k != "type" {
			rest[k] = x
		}
	}
	tb, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	rb, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"type":`), tb...)
	if len(rest) > 0 {
		out = append(append(out, ','), rb[1:]...)
		return out, nil
	}
	return append(out, '}'), nil
}

func (e *emitter) claude(s Script) {
	sid := "0f6c2a7e-1b1d-4c38-9b7e-5d1f2a9c4e10"
	e.line(m{"type": "system", "subtype": "init", "cwd": "/work", "session_id": sid, "model": "claude-sonnet-4-6", "permissionMode": "bypassPermissions", "apiKeySource": "ANTHROPIC_API_KEY", "claude_code_version": "2.1.240"})
	asst := func(content ...m) {
		e.line(m{"type": "assistant", "message": m{"model": "claude-sonnet-4-6", "type": "message", "role": "assistant", "content": content, "usage": m{"input_tokens": 3, "output_tokens": 20}}, "parent_tool_use_id": nil, "session_id": sid})
	}
	for _, n := range s.Narration {
		asst(m{"type": "text", "text": n})
	}
	for i, out := range s.ToolOutputs {
		id := fmt.Sprintf("toolu_%02d", i)
		asst(m{"type": "tool_use", "id": id, "name": "Bash", "input": m{"command": "cat PROMPT.md", "description": "Show the prompt"}})
		e.line(m{"type": "user", "message": m{"role": "user", "content": []m{{"tool_use_id": id, "type": "tool_result", "content": out, "is_error": false}}}, "parent_tool_use_id": nil, "session_id": sid, "tool_use_result": m{"stdout": out, "stderr": "", "interrupted": false}})
	}
	if s.NoTerminal {
		return
	}
	if s.Limited {
		info := m{"status": "rejected", "rateLimitType": "five_hour", "overageStatus": "rejected", "isUsingOverage": false}
		if !s.ResetAt.IsZero() {
			info["resetsAt"] = s.ResetAt.Unix()
		}
		e.line(m{"type": "rate_limit_event", "rate_limit_info": info, "session_id": sid})
		e.line(m{"type": "result", "subtype": "success", "is_error": true, "api_error_status": 429, "result": "You've hit your limit · resets 3pm (UTC)", "session_id": sid, "total_cost_usd": 0, "usage": m{"input_tokens": 0, "output_tokens": 0}})
		return
	}
	if s.Fail != "" {
		e.line(m{"type": "result", "subtype": "success", "is_error": true, "api_error_status": 500, "result": s.Fail, "session_id": sid, "total_cost_usd": 0, "usage": m{"input_tokens": 0, "output_tokens": 0}})
		return
	}
	asst(m{"type": "text", "text": s.Final})
	e.line(m{"type": "result", "subtype": "success", "is_error": false, "num_turns": 3, "result": s.Final, "session_id": sid, "total_cost_usd": 0.0213, "usage": m{"input_tokens": 5, "cache_creation_input_tokens": 2310, "cache_read_input_tokens": 49300, "output_tokens": 97}})
}

func (e *emitter) codex(s Script) {
	e.line(m{"type": "thread.started", "thread_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"})
	e.line(m{"type": "turn.started"})
	n := 0
	item := func(typ string, fields m) {
		fields["id"] = fmt.Sprintf("item_%d", n)
		fields["type"] = typ
		n++
		e.line(m{"type": "item.completed", "item": fields})
	}
	for _, t := range s.Narration {
		item("agent_message", m{"text": t})
	}
	for _, out := range s.ToolOutputs {
		item("command_execution", m{"command": "/bin/bash -lc 'cat PROMPT.md'", "aggregated_output": out, "exit_code": 0, "status": "completed"})
	}
	if s.NoTerminal {
		return
	}
	if s.Limited {
		msg := "You've hit your usage limit. Upgrade to Pro or try again at Sep 19th, 2026 7:10 AM."
		e.line(m{"type": "error", "message": msg})
		e.line(m{"type": "turn.failed", "error": m{"message": msg}})
		return
	}
	if s.Fail != "" {
		e.line(m{"type": "error", "message": s.Fail})
		e.line(m{"type": "turn.failed", "error": m{"message": s.Fail}})
		return
	}
	item("agent_message", m{"text": s.Final})
	e.line(m{"type": "turn.completed", "usage": m{"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122}})
}

func (e *emitter) gemini(s Script) {
	ts := "2026-08-20T10:00:00.000Z"
	e.line(m{"type": "init", "timestamp": ts, "session_id": "3f1c9b0e", "model": "gemini-3.1-pro-preview"})
	for _, t := range s.Narration {
		e.line(m{"type": "message", "timestamp": ts, "role": "assistant", "content": t, "delta": true})
	}
	for i, out := range s.ToolOutputs {
		id := fmt.Sprintf("run_shell_command_%d", i)
		e.line(m{"type": "tool_use", "timestamp": ts, "tool_name": "run_shell_command", "tool_id": id, "parameters": m{"command": "cat PROMPT.md"}})
		e.line(m{"type": "tool_result", "timestamp": ts, "tool_id": id, "status": "success", "output": out})
	}
	if s.NoTerminal {
		return
	}
	if s.Limited {
		e.line(m{"type": "result", "timestamp": ts, "status": "error", "error": m{"type": "unknown", "message": "[API Error: You have exhausted your daily quota on this model.]"}})
		return
	}
	if s.Fail != "" {
		e.line(m{"type": "result", "timestamp": ts, "status": "error", "error": m{"type": "unknown", "message": s.Fail}})
		return
	}
	// The final message arrives as deltas, split mid-way.
	half := len(s.Final) / 2
	e.line(m{"type": "message", "timestamp": ts, "role": "assistant", "content": s.Final[:half], "delta": true})
	e.line(m{"type": "message", "timestamp": ts, "role": "assistant", "content": s.Final[half:], "delta": true})
	e.line(m{"type": "result", "timestamp": ts, "status": "success", "stats": m{"total_tokens": 25310, "input_tokens": 25120, "output_tokens": 190}})
}

func (e *emitter) cursor(s Script) {
	sid := "644c7cde-a660-4224-a26b-0b0a7e279293"
	e.line(m{"type": "system", "subtype": "init", "apiKeySource": "env", "cwd": "/work", "session_id": sid, "model": "Auto", "permissionMode": "default"})
	asst := func(t string) {
		e.line(m{"type": "assistant", "message": m{"role": "assistant", "content": []m{{"type": "text", "text": t}}}, "session_id": sid})
	}
	all := ""
	for _, t := range s.Narration {
		asst(t)
		all += t
	}
	for i, out := range s.ToolOutputs {
		id := fmt.Sprintf("call-%d", i)
		e.line(m{"type": "tool_call", "subtype": "started", "call_id": id, "tool_call": m{"shellToolCall": m{"args": m{"command": "cat PROMPT.md"}}}, "session_id": sid})
		e.line(m{"type": "tool_call", "subtype": "completed", "call_id": id, "tool_call": m{"shellToolCall": m{"args": m{"command": "cat PROMPT.md"}, "result": m{"success": m{"stdout": out, "exitCode": 0}}}}, "session_id": sid})
	}
	if s.NoTerminal || s.Fail != "" || s.Limited {
		return // cursor reports errors on stderr and ends without a result
	}
	asst(s.Final)
	all += s.Final
	e.line(m{"type": "result", "subtype": "success", "is_error": false, "result": all, "session_id": sid, "usage": m{"inputTokens": 4, "outputTokens": 122}})
}

func (e *emitter) opencode(s Script) {
	sid := "ses_1a2b3c4d"
	part := func(typ string, p m) {
		p["sessionID"] = sid
		e.line(m{"type": typ, "timestamp": 1786440000100, "sessionID": sid, "part": p})
	}
	part("step_start", m{"type": "step-start"})
	for _, t := range s.Narration {
		part("text", m{"type": "text", "text": t})
	}
	for i, out := range s.ToolOutputs {
		part("tool_use", m{"type": "tool", "callID": fmt.Sprintf("call_%d", i), "tool": "bash", "state": m{"status": "completed", "input": m{"command": "cat PROMPT.md"}, "output": out}})
	}
	part("step_finish", m{"type": "step-finish", "reason": "tool-calls", "cost": 0.0041, "tokens": m{"input": 12200, "output": 110, "cache": m{"read": 0, "write": 0}}})
	if s.NoTerminal {
		return
	}
	if s.Limited {
		e.line(m{"type": "error", "timestamp": 1786440000200, "sessionID": sid, "error": m{"type": "provider.rate-limit", "message": "Error 429: rate limited, resets in 1d 5h", "status": 429}})
		return
	}
	if s.Fail != "" {
		e.line(m{"type": "error", "timestamp": 1786440000200, "sessionID": sid, "error": m{"name": "APIError", "data": m{"message": s.Fail, "statusCode": 500, "isRetryable": false}}})
		return
	}
	part("step_start", m{"type": "step-start"})
	part("text", m{"type": "text", "text": s.Final})
	part("step_finish", m{"type": "step-finish", "reason": "stop", "cost": 0.0009, "tokens": m{"input": 260, "output": 30, "cache": m{"read": 12130, "write": 0}}})
}

func (e *emitter) copilot(s Script) {
	ev := func(typ string, data m) {
		e.line(m{"type": typ, "data": data, "id": "e", "timestamp": "2026-08-20T10:00:00.200Z", "parentId": nil})
	}
	ev("user.message", m{"content": "(prompt)", "interactionId": "i1"})
	for _, t := range s.Narration {
		ev("assistant.message", m{"messageId": "m0", "content": t, "toolRequests": []m{}})
	}
	for i, out := range s.ToolOutputs {
		id := fmt.Sprintf("call_%d", i)
		ev("tool.execution_start", m{"toolCallId": id, "toolName": "bash", "arguments": m{"command": "cat PROMPT.md"}})
		ev("tool.execution_complete", m{"toolCallId": id, "success": true, "result": m{"content": out, "detailedContent": out}})
	}
	if s.NoTerminal {
		return
	}
	result := func(code int) {
		e.line(m{"type": "result", "timestamp": "2026-08-20T10:00:04.400Z", "sessionId": "7d3b0c52", "exitCode": code, "usage": m{"premiumRequests": 1}})
	}
	if s.Limited {
		ev("session.error", m{"errorType": "rate_limit", "message": "Sorry, you've hit a rate limit. Please try again in 2 hours.", "statusCode": 429})
		result(1)
		return
	}
	if s.Fail != "" {
		ev("session.error", m{"errorType": "server", "message": s.Fail, "statusCode": 500})
		result(1)
		return
	}
	ev("assistant.message", m{"messageId": "m3", "content": s.Final, "toolRequests": []m{}})
	ev("assistant.turn_end", m{"turnId": "0"})
	result(0)
}

// StreamGiB writes 1 GiB of claude stream-json to w, one recorded turn (a
// 64 KiB tool result among it) at a time, and returns the turn and how
// much the heap in use grew at most meanwhile: what a transcript-size
// test checks.
func StreamGiB(w io.Writer) (turn []byte, grown int64, err error) {
	var chunk bytes.Buffer
	Emit(&chunk, "claude", Script{Narration: []string{"Reading."},
		ToolOutputs: []string{strings.Repeat("0123456789abcdef", 4096)}, Final: "ok"})
	runtime.GC()
	var before, peak runtime.MemStats
	runtime.ReadMemStats(&before)
	for n := 0; n < 1<<30; n += chunk.Len() {
		if _, err := w.Write(chunk.Bytes()); err != nil {
			return chunk.Bytes(), 0, err
		}
		if n%(64<<20) < chunk.Len() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak.HeapInuse = max(peak.HeapInuse, ms.HeapInuse)
		}
	}
	return chunk.Bytes(), int64(peak.HeapInuse) - int64(before.HeapInuse), nil
}

// Transcript is a claude stream-json transcript of about size bytes for
// benchmarks: tool results of 8 KiB of source text (dense with escaped
// quotes and newlines), narration, and a final COMPLETE.
func Transcript(size int) []byte {
	chunk := strings.Repeat("func main() { fmt.Println(\"hello, \\\"world\\\"\") }\n", 160)
	var outs []string
	for n := 0; n < size; n += 2*len(chunk) + 400 {
		outs = append(outs, chunk)
	}
	var buf bytes.Buffer
	Emit(&buf, "claude", Script{Narration: []string{"Looking."}, ToolOutputs: outs, Final: "<promise>COMPLETE</promise>"})
	return buf.Bytes()
}
