package agent

import (
	"encoding/json"
	"github.com/ralphloop/ralph/internal/jsonscan"
	"strings"
)

// opencode: `opencode run --format json`.
// Source: https://opencode.ai/docs/cli/#run and
// shared/agent-formats/opencode.md (--auto approves what is not denied in
// current releases; OPENCODE_PERMISSION does the same on every version).
func opencode() Adapter {
	return Adapter{
		Name:    "opencode",
		Binary:  "opencode",
		KeyVars: []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "OPENROUTER_API_KEY"},
		Hosts:   []string{"api.anthropic.com", "api.openai.com"},
		Source:  "https://opencode.ai/docs/cli/#run",
		Tested:  "1.18.33",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv:  withExtra([]string{bin, "run", "--format", "json", "--auto"}, extra),
				Stdin: prompt,
				Env: map[string]string{
					"OPENCODE_PERMISSION":           `{"*":"allow"}`,
					"OPENCODE_DISABLE_AUTOUPDATE":   "1",
					"OPENCODE_DISABLE_MODELS_FETCH": "1",
				},
			}
		},
		newParser: func() Parser { return &opencodeParser{} },
	}
}

// opencodeParser keeps the text of the current step; the step closed by a
// step_finish with reason "stop" is the final one. Tokens and cost are
// summed over every step.
type opencodeParser struct {
	cur strings.Builder
	res Result
}

func (p *opencodeParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	switch t {
	case "step_start":
		p.cur.Reset()
	case "text":
		var ev struct {
			Part struct {
				Text string `json:"text"`
			} `json:"part"`
		}
		if json.Unmarshal(line, &ev) == nil {
			p.cur.WriteString(ev.Part.Text)
		}
	case "step_finish":
		var ev struct {
			Part struct {
				Reason string  `json:"reason"`
				Cost   float64 `json:"cost"`
				Tokens struct {
					Input  int64 `json:"input"`
					Output int64 `json:"output"`
					Cache  struct {
						Read  int64 `json:"read"`
						Write int64 `json:"write"`
					} `json:"cache"`
				} `json:"tokens"`
			} `json:"part"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		u := &p.res.Usage
		u.InputTokens += ev.Part.Tokens.Input + ev.Part.Tokens.Cache.Read + ev.Part.Tokens.Cache.Write
		u.OutputTokens += ev.Part.Tokens.Output
		u.CostUSD += ev.Part.Cost
		if ev.Part.Reason == "stop" && !p.res.Failed {
			p.res.Terminal = true
			p.res.Final = p.cur.String()
		}
	case "error":
		var ev struct {
			Error struct {
				Type    string `json:"type"`
				Status  int    `json:"status"`
				Message string `json:"message"`
				Data    struct {
					Message    string `json:"message"`
					StatusCode int    `json:"statusCode"`
				} `json:"data"`
			} `json:"error"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		msg := ev.Error.Message
		if msg == "" {
			msg = ev.Error.Data.Message
		}
		p.res.Terminal, p.res.Failed, p.res.Error, p.res.Final = true, true, msg, ""
		p.res.RateLimited = ev.Error.Type == "provider.rate-limit" || ev.Error.Status == 429 || ev.Error.Data.StatusCode == 429
	}
}

func (p *opencodeParser) Result() Result { return p.res }
