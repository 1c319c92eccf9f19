//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// Helpers of the real-agent tests.

// needBwrapAsRoot skips (or fails under RALPH_REQUIRE_ENGINES) without
// bwrap, and skips unless root: the projects are made for uid 1000.
func needBwrapAsRoot(t *testing.T) {
	t.Helper()
	if err := bwrap.New("", t.TempDir(), nil).Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	needRoot(t)
}

// needRoot skips unless root: the projects are made for uid 1000.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("as root only: the project is made for uid 1000")
	}
}

// linkInto puts the file src at dst: a hard link, else a copy.
func linkInto(t *testing.T, src, dst string) {
	t.Helper()
	if os.Link(src, dst) == nil {
		return
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// runRalph runs ralph in dir with exactly env; it returns the exit code
// and what ralph printed.
func runRalph(t *testing.T, ralph, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(ralph, args...)
	cmd.Dir, cmd.Env = dir, env
	return runCmd(t, cmd)
}

// promiseCase is one scripted conversation and how the loop must end.
type promiseCase struct {
	name  string
	texts []string // the API's final messages, one per agent run
	code  int
	want  string
}

// promiseCases are what every real CLI is put through: the three
// promises in its final message, and a quoted promise that must not stop
// the loop.
var promiseCases = []promiseCase{
	{"complete", []string{"All done.\n\n<promise>COMPLETE</promise>"}, 0, "COMPLETE after 1 iteration"},
	{"blocked", []string{"I cannot go on.\n\n<promise>BLOCKED:the staging key is missing</promise>"}, 2, "BLOCKED after 1 iteration(s): the staging key is missing"},
	{"decide", []string{"<promise>DECIDE:Postgres or SQLite?</promise>"}, 3, "DECISION NEEDED after 1 iteration(s): Postgres or SQLite?"},
	{"a quoted promise is no promise", []string{"The prompt says to end with:\n```\n<promise>COMPLETE</promise>\n```\nso I will, later.", "<promise>COMPLETE</promise>"}, 0, "COMPLETE after 2 iteration"},
}

// checkEnd checks how a real CLI's loop ended against tc, and that the
// mock API was reached (turns of the script it served); it logs what the
// mock saw and what the gate refused (in the run's state folder).
func checkEnd(t *testing.T, tc promiseCase, code int, out string, seen []string, turns int, state string) {
	t.Helper()
	t.Logf("the mock saw %q; the gate refused %q", seen, gateDenials(t, state))
	if code != tc.code || !strings.Contains(out, tc.want) {
		t.Errorf("exit %d, want %d with %q%s:\n%s", code, tc.code, tc.want, driftHint(out, turns), out)
	}
	if turns == 0 {
		t.Error("the CLI never reached the mock API")
	}
}

// driftHint names the likely cause when a real CLI reached its API but
// ralph saw no promise: the pinned CLI's event shapes changed (its final
// message is no longer where the adapter reads it).
func driftHint(out string, turns int) string {
	if turns > 0 && strings.Contains(out, "no promise") {
		return " (the API was reached and answered with the promise, but ralph read none: the CLI's output events may have changed shape; compare its --output-format output with internal/agent and ../shared/agent-formats)"
	}
	return ""
}

// completed is the case of a single COMPLETE.
var completed = promiseCase{name: "complete", code: 0, want: "COMPLETE after 1 iteration"}

// toolNames are the names of the tools a model API request offers, in
// any of the shapes the CLIs send: OpenAI Responses ({name}), chat
// completions ({function: {name}}) and Gemini ({functionDeclarations}).
func toolNames(body []byte) []string {
	var req struct {
		Tools []struct {
			Type     string `json:"type"`
			Name     string `json:"name"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
			Decls []struct {
				Name string `json:"name"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
	}
	json.Unmarshal(body, &req)
	var out []string
	for _, t := range req.Tools {
		switch {
		case t.Name != "":
			out = append(out, t.Name)
		case t.Function.Name != "":
			out = append(out, t.Function.Name)
		case len(t.Decls) > 0:
			for _, d := range t.Decls {
				out = append(out, d.Name)
			}
		case t.Type != "":
			out = append(out, t.Type)
		}
	}
	return out
}

// toolThenComplete is a script whose first step has the CLI's own shell
// tool write tool-proof.txt (checkToolProof reads it), then completes.
func toolThenComplete(where string) []string {
	return []string{"BASH:echo made-in-" + where + " > tool-proof.txt", "Written.\n\n<promise>COMPLETE</promise>"}
}

// checkToolProof checks the file toolThenComplete's tool call wrote.
func checkToolProof(t *testing.T, proj, where string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(proj, "tool-proof.txt"))
	if err != nil || strings.TrimSpace(string(data)) != "made-in-"+where {
		t.Errorf("the CLI's tool call did not edit the project: tool-proof.txt %q (%v)", data, err)
	}
}
