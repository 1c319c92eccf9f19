package agent

import (
	"encoding/json"
	"github.com/ralphloop/ralph/internal/jsonscan"
	"time"
)

// claude: Claude Code headless mode.
// Source: https://code.claude.com/docs/en/headless and
// shared/agent-formats/claude.md (stream-json needs --verbose with -p;
// IS_SANDBOX=1 lets bypass mode run as uid 0 inside a sandbox).
func claude() Adapter {
	return Adapter{
		Name:    "claude",
		Binary:  "claude",
		KeyVars: []string{"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"},
		Hosts:   []string{"api.anthropic.com"},

		EndpointVars: []string{"ANTHROPIC_BASE_URL"},
		Source:       "https://code.claude.com/docs/en/headless",
		Tested:       "2.1.332",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv:  withExtra([]string{bin, "-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose"}, extra),
				Stdin: prompt,
				Env:   map[string]string{"IS_SANDBOX": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
			}
		},
		newParser: func() Parser { return &claudeParser{} },
	}
}

// claudeParser takes the final message from the result event, the only
// event that closes a run; assistant text before it is narration.
type claudeParser struct {
	res     Result
	limited bool
	reset   time.Time
}

func (p *claudeParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	if t == "rate_limit_event" {
		var ev struct {
			Info struct {
				Status   string `json:"status"`
				ResetsAt int64  `json:"resetsAt"`
			} `json:"rate_limit_info"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Info.Status == "rejected" {
			p.limited = true
			if ev.Info.ResetsAt > 0 {
				p.reset = time.Unix(ev.Info.ResetsAt, 0)
			}
		}
		return
	}
	if t != "result" {
		return
	}
	var ev struct {
		Subtype      string  `json:"subtype"`
		IsError      bool    `json:"is_error"`
		Status       int     `json:"api_error_status"`
		Result       string  `json:"result"`
		TotalCostUSD float64 `json:"total_cost_usd"`
		Usage        struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
			CacheRead    int64 `json:"cache_read_input_tokens"`
			CacheCreate  int64 `json:"cache_creation_input_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(line, &ev) != nil {
		return
	}
	p.res = Result{
		Terminal: true,
		Failed:   ev.IsError,
		Usage: Usage{
			InputTokens:  ev.Usage.InputTokens + ev.Usage.CacheRead + ev.Usage.CacheCreate,
			OutputTokens: ev.Usage.OutputTokens,
			CostUSD:      ev.TotalCostUSD,
		},
	}
	if ev.IsError {
		p.res.RateLimited = p.limited || ev.Status == 429
		p.res.ResetAt = p.reset
		p.res.Error = ev.Result
		if p.res.Error == "" {
			p.res.Error = ev.Subtype
		}
		return
	}
	p.res.Final = ev.Result
}

func (p *claudeParser) Result() Result { return p.res }
