// Package agent holds one adapter per coding-agent CLI: the headless,
// permission-bypassing command line of that CLI, the environment variables
// it needs, the API hosts it talks to, and a streaming parser that pulls the
// final message, the outcome and the usage out of its structured output.
//
// Adapters never run anything; the loop runs the Invocation they build
// inside a sandbox and feeds the output to their Parser through a Stream.
package agent

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Invocation is one run of an agent CLI.
type Invocation struct {
	Argv []string
	// Stdin is fed to the agent's standard input; empty means none.
	Stdin string
	// Env holds fixed variables the adapter sets (never secrets).
	Env map[string]string
}

// Usage is what an agent reports about tokens and cost.
type Usage struct {
	InputTokens  int64   `json:"input_tokens,omitempty"`
	OutputTokens int64   `json:"output_tokens,omitempty"`
	CostUSD      float64 `json:"cost_usd,omitempty"`
}

// Result is what a Parser learned from one run.
type Result struct {
	// Final is the agent's final message: the only text a promise counts in.
	Final string
	// Terminal is true when the CLI's terminal event was seen. A run
	// without one (killed, crashed, cut stream) never counts as a success.
	Terminal bool
	// Failed is true when the terminal event reports an error.
	Failed bool
	// Error is the error text the agent reported, if any.
	Error string
	// RateLimited is set when the agent's structured events say a rate or
	// usage limit stopped it (never from tool output or prose); ResetAt is
	// when the limit lifts, when the agent says.
	RateLimited bool
	ResetAt     time.Time
	Usage       Usage
}

// Parser consumes an agent's output one line at a time.
type Parser interface {
	// Line is called for every line, without its newline. The slice is
	// only valid during the call.
	Line(line []byte)
	// Result reports what was learned so far.
	Result() Result
}

// Adapter describes one agent CLI.
type Adapter struct {
	// Name is what users pass to --agent.
	Name string
	// Binary is the default executable name.
	Binary string
	// KeyVars are the environment variables that carry the agent's
	// credentials and settings; those set on the host pass into the sandbox.
	KeyVars []string
	// Hosts are the API host patterns the agent needs (for the network gate).
	Hosts []string
	// EndpointVars hold the API's base URL when the user points the agent
	// elsewhere (an LLM gateway, a mirror, a local model server); each is
	// also in KeyVars. The gate allows the host:port of those that are
	// set, as it allows Hosts.
	EndpointVars []string
	// Source is where the command line was checked.
	Source string
	// Tested is the CLI's version the end-to-end tests run (pinned in
	// scripts/test.sh; a test keeps the two the same); "" when no CLI
	// can be installed here (cursor) or for a custom command.
	Tested string

	build     func(bin, prompt string, extra []string) Invocation
	newParser func() Parser
	// envArgs are arguments the CLI needs for variables passed in (codex
	// reads its endpoint from -c, not from OPENAI_BASE_URL).
	envArgs func(env map[string]string) []string
}

// EnvArgs are the arguments that make the CLI use what env passes in
// (put before the user's own, which can override them); nil for most.
func (a Adapter) EnvArgs(env map[string]string) []string {
	if a.envArgs == nil {
		return nil
	}
	return a.envArgs(env)
}

// Command builds the invocation for one iteration. bin overrides the
// executable when non-empty; extra is appended to the agent's own flags.
func (a Adapter) Command(bin, prompt string, extra []string) Invocation {
	if bin == "" {
		bin = a.Binary
	}
	return a.build(bin, prompt, extra)
}

// NewParser returns a fresh parser for one run.
func (a Adapter) NewParser() Parser { return a.newParser() }

// Registry lists the known adapters, keyed by name. Each call returns a new
// map, so callers may not change another's view.
func Registry() map[string]Adapter {
	out := map[string]Adapter{}
	for _, a := range []Adapter{claude(), codex(), copilot(), cursor(), gemini(), opencode()} {
		if _, dup := out[a.Name]; dup {
			panic("agent: duplicate adapter " + a.Name)
		}
		out[a.Name] = a
	}
	return out
}

// Names returns the known agent names, sorted, custom included.
func Names() []string {
	var names []string
	for n := range Registry() {
		names = append(names, n)
	}
	names = append(names, "custom")
	sort.Strings(names)
	return names
}

// Lookup returns the adapter called name. For "custom", cmd is the user's
// command line (with {prompt} where the prompt goes, else on stdin).
func Lookup(name, cmd string) (Adapter, error) {
	if name == "custom" || (name == "" && cmd != "") {
		return Custom(cmd)
	}
	a, ok := Registry()[name]
	if !ok {
		return Adapter{}, fmt.Errorf("unknown agent %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return a, nil
}

// withExtra returns base + extra, then tail.
func withExtra(base, extra []string, tail ...string) []string {
	argv := make([]string, 0, len(base)+len(extra)+len(tail))
	argv = append(argv, base...)
	argv = append(argv, extra...)
	return append(argv, tail...)
}
