package agent

import (
	"encoding/json"
	"github.com/ralphloop/ralph/internal/jsonscan"
	"strings"
)

// cursor: Cursor Agent CLI in print mode.
// Source: https://cursor.com/docs/cli/reference/output-format and
// shared/agent-formats/cursor.md. The binary is `cursor-agent`: `agent`
// is its newer name but collides with other tools; --agent-cmd overrides.
// The final message is the last assistant event: result.result glues all
// segments together without separators.
func cursor() Adapter {
	return Adapter{
		Name:    "cursor",
		Binary:  "cursor-agent",
		KeyVars: []string{"CURSOR_API_KEY"},
		Hosts:   []string{"*.cursor.sh", "*.cursor-cdn.com", "*.cursorapi.com"},
		Source:  "https://cursor.com/docs/cli/headless",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv:  withExtra([]string{bin, "-p", "--force", "--trust", "--output-format", "stream-json"}, extra),
				Stdin: prompt,
			}
		},
		newParser: func() Parser { return &cursorParser{} },
	}
}

type cursorParser struct {
	last string
	res  Result
}

func (p *cursorParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	switch t {
	case "assistant":
		var ev struct {
			Message struct {
				Content []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"content"`
			} `json:"message"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		var b strings.Builder
		for _, c := range ev.Message.Content {
			if c.Type == "text" {
				b.WriteString(c.Text)
			}
		}
		p.last = b.String()
	case "result":
		var ev struct {
			IsError bool   `json:"is_error"`
			Result  string `json:"result"`
			Usage   struct {
				InputTokens  int64 `json:"inputTokens"`
				OutputTokens int64 `json:"outputTokens"`
			} `json:"usage"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		p.res = Result{Terminal: true, Failed: ev.IsError, Final: p.last,
			Usage: Usage{InputTokens: ev.Usage.InputTokens, OutputTokens: ev.Usage.OutputTokens}}
		if ev.IsError {
			p.res.Final, p.res.Error = "", ev.Result
		}
	}
}

func (p *cursorParser) Result() Result { return p.res }
