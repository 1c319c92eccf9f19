package fleet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastEnd(t *testing.T) {
	events := `{"event":"iteration_start","iteration":1}
not json
{"event":"iteration_start","iteration":2}
{"event":"end","outcome":"blocked","text":"needs a key","exit_code":2}
`
	o, text, n := lastEnd(strings.NewReader(events))
	if o != "blocked" || text != "needs a key" || n != 2 {
		t.Errorf("got %q %q %d", o, text, n)
	}
}

// TestResultFits: a long reason is cut so the termination message stays
// valid JSON within Kubernetes' 4 KiB.
func TestResultFits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "term")
	writeResult(p, Result{Outcome: "blocked", Text: strings.Repeat("é", 10000), Exit: 2, Pushed: true})
	data, _ := os.ReadFile(p)
	if len(data) > maxTermLog {
		t.Fatalf("%d bytes", len(data))
	}
	r, err := ParseResult(string(data))
	if err != nil || r.Exit != 2 || !r.Pushed || r.Outcome != "blocked" {
		t.Errorf("%+v %v", r, err)
	}
}

func TestGitEnvKeepsTheTokenOutOfArgv(t *testing.T) {
	t.Setenv("RALPH_GIT_TOKEN", "s3cret")
	env := strings.Join(gitEnv("x"), "\n")
	if !strings.Contains(env, "RALPH_GIT_TOKEN=s3cret") || strings.Count(env, "s3cret") != 1 {
		t.Errorf("the token should reach git only through its variable:\n%s", env)
	}
	if !strings.Contains(env, "credential.helper") {
		t.Error("no credential helper")
	}
	b, _ := json.Marshal(Result{})
	if !strings.Contains(string(b), `"pushed":false`) {
		t.Error(string(b))
	}
}
