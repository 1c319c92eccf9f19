package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/sandbox/sbx/sbxtest"
)

func TestMain(m *testing.M) {
	fake := func() { os.Exit(agenttest.FakeMain()) }
	testscript.Main(m, map[string]func(){
		"ralph":        main, // as installed: the helper, or the CLI
		"claude":       fake,
		"codex":        fake,
		"gemini":       fake,
		"copilot":      fake,
		"cursor-agent": fake,
		"opencode":     fake,
		"myagent":      fake,
		"sbx":          func() { sbxtest.Main(); os.Exit(0) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Setup: func(env *testscript.Env) error {
			// ralph keeps its state and config outside the workspace.
			outside := env.WorkDir + "-home"
			env.Setenv("XDG_STATE_HOME", outside+"/state")
			env.Setenv("XDG_CONFIG_HOME", outside+"/config")
			env.Setenv("ORIG_PATH", env.Getenv("PATH"))
			// The folder of the registered commands (ralph, the fake agents).
			env.Setenv("CMDS", strings.Split(env.Getenv("PATH"), string(os.PathListSeparator))[0])
			return nil
		},
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
		// [engines]: the real engines are installed and must be used
		// (set by scripts/test.sh and CI).
		Condition: func(cond string) (bool, error) {
			if cond == "engines" {
				return os.Getenv("RALPH_REQUIRE_ENGINES") == "1", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits N CMD ARGS... runs CMD and checks its exit status is N.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}
