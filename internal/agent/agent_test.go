package agent_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/promise"
)

func parse(t testing.TB, a agent.Adapter, data []byte) agent.Result {
	t.Helper()
	p := a.NewParser()
	s := agent.NewStream(p)
	// Feed in odd-sized chunks to exercise line reassembly.
	for len(data) > 0 {
		n := min(len(data), 7)
		s.Write(data[:n])
		data = data[n:]
	}
	s.Close()
	return p.Result()
}

func mustLookup(t testing.TB, name string) agent.Adapter {
	t.Helper()
	a, err := agent.Lookup(name, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRecorded parses the samples of shared/agent-formats (VERBATIM and
// CONSTRUCTED streams of each CLI).
func TestRecorded(t *testing.T) {
	tests := []struct {
		file string
		want agent.Result
	}{
		{"claude-3a", agent.Result{Terminal: true, Final: "Created `stream-test.txt` with the content \"stream works\"."}},
		{"claude-3b", agent.Result{Terminal: true, Final: "notes.txt has 3 lines (alpha, beta, gamma).\n\n<promise>COMPLETE</promise>"}},
		{"claude-3c", agent.Result{Terminal: true, Failed: true, Error: "Prompt is too long"}},
		{"claude-3d", agent.Result{Terminal: true, Failed: true, Error: "You've hit your limit · resets 3pm (UTC)", RateLimited: true, ResetAt: time.Unix(1790452800, 0)}},
		{"codex-3a", agent.Result{Terminal: true, Final: "Created `stream-test.txt` with the content:\n\n`codex stream works`"}},
		{"codex-3b", agent.Result{Terminal: true, Final: "notes.txt has 3 lines (alpha, beta, gamma).\n\n<promise>COMPLETE</promise>"}},
		{"codex-3c", agent.Result{Terminal: true, Failed: true, RateLimited: true, Error: "You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."}},
		{"codex-3d", agent.Result{Terminal: true, Failed: true, Error: "shared rollout token budget exhausted"}},
		{"gemini-3a", agent.Result{Terminal: true, Final: "Created `stream-test.txt` with the content 'stream works'."}},
		{"gemini-3b", agent.Result{Terminal: true, Final: "`notes.txt` has 3 lines (alpha, beta, gamma).\n\n<promise>COMPLETE</promise>"}},
		{"cursor-3a", agent.Result{Terminal: true, Final: "`notes.txt` has 3 lines (`alpha`, `beta`, `gamma`). Wrote `3` to `count.txt`."}},
		{"cursor-3b", agent.Result{Terminal: true, Final: "Le fichier `stream-test.txt` a été créé avec le contenu `cursor stream works`."}},
		{"cursor-3c", agent.Result{}},
		{"opencode-3b", agent.Result{Terminal: true, Final: "PONG"}},
		{"opencode-3c", agent.Result{Terminal: true, Final: "notes.txt has 3 lines (alpha, beta, gamma).\n\n<promise>COMPLETE</promise>"}},
		{"opencode-3d", agent.Result{Terminal: true, Failed: true, Error: "Insufficient balance. Manage your billing here: https://opencode.ai/workspace/wrk_01KZ/billing"}},
		{"copilot-3b", agent.Result{Terminal: true, Final: "notes.txt has 3 lines (alpha, beta, gamma).\n\n<promise>COMPLETE</promise>"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(tt.file, "-")
			got := parse(t, mustLookup(t, name), data)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(agent.Result{}, "Usage")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		file string
		want agent.Usage
	}{
		{"claude-3a", agent.Usage{InputTokens: 4 + 1774 + 38897, OutputTokens: 107, CostUSD: 0.033231000000000004}},
		{"codex-3a", agent.Usage{InputTokens: 15931, OutputTokens: 175}},
		{"gemini-3a", agent.Usage{InputTokens: 12479, OutputTokens: 89}},
		{"cursor-3b", agent.Usage{InputTokens: 4, OutputTokens: 122}},
		{"opencode-3c", agent.Usage{InputTokens: 12200 + 260 + 12130, OutputTokens: 140, CostUSD: 0.0041 + 0.0009}},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("testdata", tt.file+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(tt.file, "-")
		got := parse(t, mustLookup(t, name), data).Usage
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("%s usage (-want +got):\n%s", tt.file, diff)
		}
	}
}

// hostile is a corpus of runs that must never stop the loop: promises in
// the echoed prompt, in tool results, in narration, in code, or partial.
func hostile() map[string]agenttest.Script {
	prompt := "When every task is done, end with <promise>COMPLETE</promise>; if blocked, <promise>BLOCKED:reason</promise>; to ask, <promise>DECIDE:question</promise>."
	return map[string]agenttest.Script{
		"echoed prompt in tool result": {ToolOutputs: []string{prompt}, Final: "Task 3 done; tasks remain."},
		"promise in narration":         {Narration: []string{"I will finish with <promise>COMPLETE</promise> later."}, ToolOutputs: []string{"ok"}, Final: "Fixed the parser."},
		"file printed with tags":       {ToolOutputs: []string{"# PROMPT.md\n<promise>BLOCKED:x</promise>\n"}, Final: "Read the prompt."},
		"final in inline code":         {Final: "The loop stops on `<promise>COMPLETE</promise>`."},
		"final in fence":               {Final: "Example:\n```\n<promise>COMPLETE</promise>\n```"},
		"partial tag":                  {Final: "<promise>COMPLETE"},
		"lower case":                   {Final: "<promise>complete</promise>"},
		"empty reason":                 {Final: "<promise>BLOCKED:</promise>"},
		"failed run with promise":      {Narration: []string{"<promise>COMPLETE</promise>"}, Fail: "You've hit your limit · resets 3pm (UTC)"},
		"cut stream":                   {Narration: []string{"<promise>COMPLETE</promise>"}, ToolOutputs: []string{"<promise>COMPLETE</promise>"}, NoTerminal: true},
	}
}

// finalPromise is what the loop does with a run's result.
func finalPromise(r agent.Result) promise.Promise {
	if !r.Terminal || r.Failed {
		return promise.Promise{}
	}
	return promise.Parse(r.Final)
}

func TestHostileCorpusNeverStops(t *testing.T) {
	for _, name := range agenttest.Agents() {
		for scen, s := range hostile() {
			t.Run(name+"/"+scen, func(t *testing.T) {
				var buf bytes.Buffer
				if err := agenttest.Emit(&buf, name, s); err != nil {
					t.Fatal(err)
				}
				if got := finalPromise(parse(t, mustLookup(t, name), buf.Bytes())); got.Kind != promise.None {
					t.Errorf("false stop: %+v", got)
				}
			})
		}
	}
}

func TestRealPromiseStops(t *testing.T) {
	prompt := "end with <promise>COMPLETE</promise>"
	for _, name := range agenttest.Agents() {
		for final, want := range map[string]promise.Promise{
			"All tasks done.\n\n<promise>COMPLETE</promise>":           {Kind: promise.Complete},
			"<promise>BLOCKED:no network access</promise>":             {Kind: promise.Blocked, Text: "no network access"},
			"Which DB?\n<promise>DECIDE:Postgres or SQLite?</promise>": {Kind: promise.Decide, Text: "Postgres or SQLite?"},
		} {
			var buf bytes.Buffer
			s := agenttest.Script{Narration: []string{"Working on it."}, ToolOutputs: []string{prompt}, Final: final}
			if err := agenttest.Emit(&buf, name, s); err != nil {
				t.Fatal(err)
			}
			got := finalPromise(parse(t, mustLookup(t, name), buf.Bytes()))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %q (-want +got):\n%s", name, final, diff)
			}
		}
	}
}

func TestCommand(t *testing.T) {
	extra := []string{"--model", "gpt-5.5"}
	tests := []struct {
		agent     string
		wantArgv  []string
		wantStdin bool
	}{
		{"claude", []string{"claude", "-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose", "--model", "gpt-5.5"}, true},
		{"codex", []string{"codex", "exec", "--dangerously-bypass-approvals-and-sandbox", "--json", "--skip-git-repo-check", "--model", "gpt-5.5", "-"}, true},
		{"gemini", []string{"gemini", "--output-format", "stream-json", "--approval-mode=yolo", "--skip-trust", "--model", "gpt-5.5"}, true},
		{"copilot", []string{"copilot", "-p", "PROMPT", "--output-format", "json", "--allow-all", "--no-ask-user", "--model", "gpt-5.5"}, false},
		{"cursor", []string{"cursor-agent", "-p", "--force", "--trust", "--output-format", "stream-json", "--model", "gpt-5.5"}, true},
		{"opencode", []string{"opencode", "run", "--format", "json", "--auto", "--model", "gpt-5.5"}, true},
	}
	for _, tt := range tests {
		inv := mustLookup(t, tt.agent).Command("", "PROMPT", extra)
		if diff := cmp.Diff(tt.wantArgv, inv.Argv); diff != "" {
			t.Errorf("%s argv (-want +got):\n%s", tt.agent, diff)
		}
		if got := inv.Stdin == "PROMPT"; got != tt.wantStdin {
			t.Errorf("%s: prompt on stdin = %v, want %v", tt.agent, got, tt.wantStdin)
		}
	}
	inv := mustLookup(t, "claude").Command("/opt/claude", "P", nil)
	if inv.Argv[0] != "/opt/claude" {
		t.Errorf("binary override ignored: %q", inv.Argv)
	}
}

// codex takes its endpoint from -c, not from OPENAI_BASE_URL; the others
// read their variables themselves.
func TestEnvArgs(t *testing.T) {
	env := map[string]string{"OPENAI_BASE_URL": `http://localhost:8000/v1`, "ANTHROPIC_BASE_URL": "http://x"}
	if got, want := mustLookup(t, "codex").EnvArgs(env), []string{"-c", `openai_base_url="http://localhost:8000/v1"`}; !cmp.Equal(got, want) {
		t.Errorf("codex EnvArgs = %q, want %q", got, want)
	}
	if got := mustLookup(t, "codex").EnvArgs(map[string]string{}); got != nil {
		t.Errorf("codex without an endpoint: %q", got)
	}
	for _, a := range []string{"claude", "gemini", "opencode", "copilot", "cursor"} {
		if got := mustLookup(t, a).EnvArgs(env); got != nil {
			t.Errorf("%s EnvArgs = %q", a, got)
		}
	}
}

func TestCustom(t *testing.T) {
	a, err := agent.Lookup("custom", `my-agent --msg "{prompt}" --name 'a b'`)
	if err != nil {
		t.Fatal(err)
	}
	inv := a.Command("", "do it", []string{"-v"})
	if diff := cmp.Diff([]string{"my-agent", "--msg", "do it", "--name", "a b", "-v"}, inv.Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if inv.Stdin != "" {
		t.Errorf("prompt also on stdin")
	}
	b, _ := agent.Lookup("custom", "aider --yes")
	if inv := b.Command("", "P", nil); inv.Stdin != "P" {
		t.Errorf("prompt not on stdin without {prompt}")
	}
	got := parse(t, b, []byte("echo <promise>COMPLETE</promise>\n\nworking\n\nDone.\n<promise>COMPLETE</promise>\n"))
	if got.Final != "Done.\n<promise>COMPLETE</promise>" {
		t.Errorf("final = %q", got.Final)
	}
	if _, err := agent.Lookup("custom", ""); err == nil {
		t.Error("custom without command accepted")
	}
	if _, err := agent.Lookup("custom", `x "unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := agent.Lookup("claud", "")
	if err == nil || !strings.Contains(err.Error(), "claude, codex, copilot, cursor, custom, gemini, opencode") {
		t.Errorf("err = %v, want the known agents listed", err)
	}
}

func TestLongLineSkipped(t *testing.T) {
	var buf bytes.Buffer
	agenttest.Emit(&buf, "claude", agenttest.Script{ToolOutputs: []string{strings.Repeat("x", agent.MaxLine+10)}, Final: "<promise>COMPLETE</promise>"})
	got := finalPromise(parse(t, mustLookup(t, "claude"), buf.Bytes()))
	if got.Kind != promise.Complete {
		t.Errorf("promise after a huge line lost: %+v", got)
	}
}

func FuzzParsers(f *testing.F) {
	for _, name := range agenttest.Agents() {
		var buf bytes.Buffer
		agenttest.Emit(&buf, name, agenttest.Script{Narration: []string{"hi"}, ToolOutputs: []string{"out"}, Final: "<promise>COMPLETE</promise>"})
		f.Add(name, buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		a, err := agent.Lookup(name, "")
		if err != nil {
			a, _ = agent.Lookup("claude", "")
		}
		r := parse(t, a, data)
		if r.Failed && r.Final != "" {
			t.Fatalf("failed run with a final message: %+v", r)
		}
	})
}

func agentStream(a agent.Adapter) *agent.Stream { return agent.NewStream(a.NewParser()) }

func TestRateLimits(t *testing.T) {
	reset := time.Unix(1790452800, 0)
	for _, name := range agenttest.Agents() {
		var buf bytes.Buffer
		agenttest.Emit(&buf, name, agenttest.Script{Limited: true, ResetAt: reset})
		got := parse(t, mustLookup(t, name), buf.Bytes())
		want := name != "cursor" // cursor reports limits on stderr only
		if got.RateLimited != want {
			t.Errorf("%s: RateLimited = %v, want %v (%+v)", name, got.RateLimited, want, got)
		}
		if name == "claude" && !got.ResetAt.Equal(reset) {
			t.Errorf("claude reset %v, want %v", got.ResetAt, reset)
		}
		// "rate limit" in a tool result or a plain failure is not a limit.
		buf.Reset()
		agenttest.Emit(&buf, name, agenttest.Script{ToolOutputs: []string{"Error: rate limit exceeded (429), usage limit, quota"}, Final: "done"})
		if got := parse(t, mustLookup(t, name), buf.Bytes()); got.RateLimited {
			t.Errorf("%s: prose in a tool result read as a limit", name)
		}
		buf.Reset()
		agenttest.Emit(&buf, name, agenttest.Script{Fail: "API Error: 500 Internal Server Error"})
		if got := parse(t, mustLookup(t, name), buf.Bytes()); got.RateLimited {
			t.Errorf("%s: a server error read as a limit", name)
		}
	}
	// An allowed_warning is not a stop.
	line := `{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1790452800}}` + "\n" +
		`{"type":"result","subtype":"success","is_error":false,"result":"ok"}` + "\n"
	if got := parse(t, mustLookup(t, "claude"), []byte(line)); got.RateLimited {
		t.Error("allowed_warning read as a limit")
	}
}
