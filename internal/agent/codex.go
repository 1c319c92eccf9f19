package agent

import (
	"encoding/json"
	"github.com/ralphloop/ralph/internal/jsonscan"
	"strconv"
)

// codex: OpenAI Codex CLI, `codex exec`.
// Source: https://developers.openai.com/codex/noninteractive and
// shared/agent-formats/codex.md (JSONL on stdout; "-" reads the prompt
// from stdin; --skip-git-repo-check lets it run in any folder).
func codex() Adapter {
	return Adapter{
		Name:    "codex",
		Binary:  "codex",
		KeyVars: []string{"CODEX_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"},
		Hosts:   []string{"api.openai.com"},

		EndpointVars: []string{"OPENAI_BASE_URL"},
		Source:       "https://developers.openai.com/codex/noninteractive",
		Tested:       "0.171.0",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv:  withExtra([]string{bin, "exec", "--dangerously-bypass-approvals-and-sandbox", "--json", "--skip-git-repo-check"}, extra, "-"),
				Stdin: prompt,
			}
		},
		newParser: func() Parser { return &codexParser{} },
		// codex 0.171 ignores OPENAI_BASE_URL; its built-in provider takes
		// the endpoint as openai_base_url (issue 16, item 4).
		envArgs: func(env map[string]string) []string {
			if u := env["OPENAI_BASE_URL"]; u != "" {
				return []string{"-c", "openai_base_url=" + strconv.Quote(u)}
			}
			return nil
		},
	}
}

// codexParser keeps the last agent_message item; turn.completed or
// turn.failed closes the run. Stream-level "error" events are retries and
// do not end it.
type codexParser struct {
	last string
	res  Result
}

func (p *codexParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	switch t {
	case "item.completed":
		var ev struct {
			Item struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"item"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Item.Type == "agent_message" {
			p.last = ev.Item.Text
		}
	case "turn.completed":
		var ev struct {
			Usage struct {
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		p.res = Result{Terminal: true, Final: p.last,
			Usage: Usage{InputTokens: ev.Usage.InputTokens, OutputTokens: ev.Usage.OutputTokens}}
	case "turn.failed":
		var ev struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		p.res = Result{Terminal: true, Failed: true, Error: ev.Error.Message, RateLimited: limitText(ev.Error.Message)}
	}
}

func (p *codexParser) Result() Result { return p.res }
