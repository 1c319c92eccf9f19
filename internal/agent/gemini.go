package agent

import (
	"encoding/json"
	"github.com/ralphloop/ralph/internal/jsonscan"
	"strings"
)

// gemini: Gemini CLI headless mode.
// Source: https://geminicli.com/docs/cli/headless and
// shared/agent-formats/gemini.md (the prompt on stdin triggers headless
// mode; --approval-mode=yolo replaces the deprecated --yolo; --skip-trust
// and GEMINI_CLI_TRUST_WORKSPACE avoid the untrusted-folder exit 55).
func gemini() Adapter {
	return Adapter{
		Name:    "gemini",
		Binary:  "gemini",
		KeyVars: []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GEMINI_BASE_URL"},
		Hosts:   []string{"generativelanguage.googleapis.com"},

		EndpointVars: []string{"GOOGLE_GEMINI_BASE_URL"},
		Source:       "https://geminicli.com/docs/cli/headless",
		Tested:       "0.61.0",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv:  withExtra([]string{bin, "--output-format", "stream-json", "--approval-mode=yolo", "--skip-trust"}, extra),
				Stdin: prompt,
				Env:   map[string]string{"GEMINI_CLI_TRUST_WORKSPACE": "true"},
			}
		},
		newParser: func() Parser { return &geminiParser{} },
	}
}

// geminiParser concatenates the assistant deltas after the last tool call
// or tool result; the result event closes the run.
type geminiParser struct {
	cur strings.Builder
	res Result
}

func (p *geminiParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	switch t {
	case "message":
		var ev struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Role == "assistant" {
			p.cur.WriteString(ev.Content)
		}
	case "tool_use", "tool_result":
		p.cur.Reset()
	case "result":
		var ev struct {
			Status string `json:"status"`
			Error  struct {
				Message string `json:"message"`
			} `json:"error"`
			Stats struct {
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
			} `json:"stats"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		p.res = Result{Terminal: true, Usage: Usage{InputTokens: ev.Stats.InputTokens, OutputTokens: ev.Stats.OutputTokens}}
		if ev.Status != "success" {
			p.res.Failed = true
			p.res.Error = ev.Error.Message
			p.res.RateLimited = limitText(ev.Error.Message)
			return
		}
		p.res.Final = p.cur.String()
	}
}

func (p *geminiParser) Result() Result { return p.res }
