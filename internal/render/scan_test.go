package render

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

// shown is how a renderer prints events.
func shown(events []Event) string {
	var b bytes.Buffer
	r := New(&b, "claude", 80, false)
	for _, e := range events {
		r.show(e)
	}
	return b.String()
}

// TestClaudeScanMatchesJSON: the jsonscan reader shows every line of the
// recorded claude streams, and of emitted ones with awkward tool output
// (escapes, blank lines around it, multi-byte spaces, \u escapes, only
// space), exactly as decoding the whole line with encoding/json does.
func TestClaudeScanMatchesJSON(t *testing.T) {
	var lines [][]byte
	files, _ := filepath.Glob("../agent/testdata/claude-*.jsonl")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, bytes.Split(data, []byte("\n"))...)
	}
	var buf bytes.Buffer
	agenttest.Emit(&buf, "claude", agenttest.Script{Narration: []string{"Looking.", "a \"quoted\" \\ word"},
		ToolOutputs: []string{"\n\n  first line\nsecond\n\n", "only\\n escaped \\\\n not a newline\n", "\u00a0\u2003 spaced\u2028x\n\u3000", "x < y & \"z\"", "   \n\t\n", "", "\\", "tab\there\r\nwin\r\n", "é ü 日本\nline"},
		Final:       "<promise>COMPLETE</promise>"})
	lines = append(lines, bytes.Split(buf.Bytes(), []byte("\n"))...)
	// The same with a result as blocks, an error, a sub-agent's turn, and
	// the keys in another order.
	lines = append(lines,
		[]byte(`{"message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"a\nb"},{"type":"image"},{"type":"text","text":"c"}],"is_error":true}]},"type":"user"}`),
		[]byte(`{"type":"assistant","parent_tool_use_id":"toolu_1","message":{"content":[{"type":"text","text":"sub"}]}}`),
		[]byte(`{"message":{"content":[{"type":"tool_use","name":"Write","input":{"file_path":"/w/a.go","content":"package a\n"}}]},"parent_tool_use_id":null,"type":"assistant"}`),
		[]byte(`{"type":"assistant","message":{"content":[{"type":"tool_use","name":"X","input":{"b":"2","a":"1","n":3}}]}}`),
		[]byte(`{"type":"user","message":{"content":[{"type":"tool_result","content":{"text":"an object"}}]}}`),
	)
	n := 0
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		n++
		fast, slow := shown(claude(l)), shown(claudeJSON(l))
		if fast != slow {
			t.Errorf("line %.120s\nscan: %q\njson: %q", l, fast, slow)
		}
	}
	if n < 20 {
		t.Fatalf("only %d lines compared", n)
	}
}

// FuzzClaudeLine: no line, however malformed, makes the reader panic,
// and what it shows holds no terminal control character.
func FuzzClaudeLine(f *testing.F) {
	data, _ := os.ReadFile("../agent/testdata/claude-3a.jsonl")
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"type":"user","message":{"content":[{"type":"tool_result","content":"\u001b[2Jx\\u001b"}]}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		out := shown(claude(line))
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if strings.ContainsAny(sc.Text(), "\x1b\x07\r") {
				t.Errorf("control character shown: %q", sc.Text())
			}
		}
	})
}
