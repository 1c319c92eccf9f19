package agent

import (
	"encoding/json"

	"github.com/ralphloop/ralph/internal/jsonscan"
)

// copilot: GitHub Copilot CLI in prompt mode.
// Source: https://docs.github.com/en/copilot/how-tos/copilot-cli and
// shared/agent-formats/copilot.md (JSONL since 0.0.422; --allow-all is
// --allow-all-tools + paths + urls; --no-ask-user removes the ask tool).
// Copilot takes the prompt as an argument only: Linux caps one argument at
// 128 KiB, so very long prompts fail with E2BIG.
func copilot() Adapter {
	return Adapter{
		Name:   "copilot",
		Binary: "copilot",
		// GitHub sign-in, or BYOK (docs: use-byok-models): a provider's base
		// URL, type, key and model, and offline mode (no GitHub at all).
		KeyVars: []string{"COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN",
			"COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_TYPE", "COPILOT_PROVIDER_API_KEY", "COPILOT_MODEL", "COPILOT_OFFLINE"},
		Hosts:        []string{"api.githubcopilot.com", "api.individual.githubcopilot.com", "api.business.githubcopilot.com", "api.enterprise.githubcopilot.com", "api.github.com"},
		EndpointVars: []string{"COPILOT_PROVIDER_BASE_URL"},
		Source:       "https://docs.github.com/en/copilot/how-tos/copilot-cli",
		Tested:       "1.0.102",
		build: func(bin, prompt string, extra []string) Invocation {
			return Invocation{
				Argv: withExtra([]string{bin, "-p", prompt, "--output-format", "json", "--allow-all", "--no-ask-user"}, extra),
			}
		},
		newParser: func() Parser { return &copilotParser{} },
	}
}

// copilotParser keeps the last non-empty top-level assistant.message
// (sub-agents carry an agentId); the result event closes the run.
type copilotParser struct {
	last    string
	limited bool
	res     Result
}

func (p *copilotParser) Line(line []byte) {
	t, _ := jsonscan.TopString(line, "type")
	switch t {
	case "assistant.message":
		var ev struct {
			AgentID string `json:"agentId"`
			Data    struct {
				Content string `json:"content"`
			} `json:"data"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.AgentID == "" && ev.Data.Content != "" {
			p.last = ev.Data.Content
		}
	case "session.error":
		var ev struct {
			Data struct {
				ErrorType string `json:"errorType"`
				Message   string `json:"message"`
			} `json:"data"`
		}
		if json.Unmarshal(line, &ev) == nil {
			p.res.Error = ev.Data.Message
			p.limited = ev.Data.ErrorType == "rate_limit" || ev.Data.ErrorType == "quota"
		}
	case "result":
		var ev struct {
			ExitCode int `json:"exitCode"`
		}
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		p.res.Terminal = true
		if ev.ExitCode != 0 {
			p.res.Failed = true
			p.res.RateLimited = p.limited
			if p.res.Error == "" {
				p.res.Error = "copilot: exit code in result event"
			}
			return
		}
		p.res.Final = p.last
	}
}

func (p *copilotParser) Result() Result { return p.res }
