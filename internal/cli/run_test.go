package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// fakeAgent is a backend whose every exec is claude ending with final.
func fakeAgent(finals ...string) *sandboxtest.Fake {
	n := 0
	return &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		final := finals[min(n, len(finals)-1)]
		n++
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: final})
		return 0
	}}
}

// runCmd runs ralph's loop command in-process with args.
func runCmd(t *testing.T, f *Factory, args ...string) error {
	t.Helper()
	cmd := &cobra.Command{Use: "ralph", SilenceErrors: true, SilenceUsage: true}
	bindRun(cmd, f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.Err)
	return cmd.ExecuteContext(context.Background())
}

func TestRunLoop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		finals []string
		code   int
		says   string
		status string
	}{
		{"complete", []string{"done\n<promise>COMPLETE</promise>"}, ExitComplete, "COMPLETE after 1 iteration", "complete"},
		{"blocked", []string{"no key\n<promise>BLOCKED:need a key</promise>"}, ExitBlocked, "BLOCKED after 1 iteration(s): need a key", "blocked"},
		{"decide", []string{"<promise>DECIDE:which db?</promise>"}, ExitDecide, "DECISION NEEDED", "decision_needed"},
		{"a quoted promise is no stop", []string{"I will say `<promise>COMPLETE</promise>` later"}, ExitCap, "iteration cap (2)", "iteration_cap_reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeAgent(tc.finals...)
			f, tio := testFactory(t, fake)
			project, _ := f.project()
			os.WriteFile(filepath.Join(project, "PROMPT.md"), []byte("do one task"), 0o600)
			err := runCmd(t, f, "--sandbox", "fake", "-n", "2")
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tc.code, tio.err.String())
			}
			if !strings.Contains(tio.err.String(), tc.says) {
				t.Errorf("stderr lacks %q:\n%s", tc.says, tio.err.String())
			}
			if fake.Stops != 1 {
				t.Errorf("sandbox stopped %d times, want once", fake.Stops)
			}
			runs, _ := runlog.List(runlog.ProjectDir(f.stateDir("runs"), project))
			if len(runs) != 1 || !strings.HasPrefix(runs[0].Status, tc.status) {
				t.Errorf("recorded %+v, want one run %s", runs, tc.status)
			}
		})
	}
}

func TestRunRefusesBeforeStarting(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no prompt", []string{"--sandbox", "fake"}, ExitUsage, "no prompt"},
		{"host without consent", []string{"--sandbox", "host"}, ExitUsage, "--dangerously-run-on-host"},
		{"unknown backend", []string{"--sandbox", "nope"}, ExitUsage, `unknown sandbox "nope" (known: auto, fake, host)`},
		{"a stray argument", []string{"fix-it"}, ExitUsage, "agent arguments go after --"},
		{"zero iterations", []string{"-n", "0"}, ExitUsage, "at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeAgent("<promise>COMPLETE</promise>")
			f, _ := testFactory(t, fake)
			if tc.name != "no prompt" {
				project, _ := f.project()
				os.WriteFile(filepath.Join(project, "PROMPT.md"), []byte("do one task"), 0o600)
			}
			err := runCmd(t, f, tc.args...)
			if exitCode(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v (exit %d), want exit %d saying %q", err, exitCode(err), tc.code, tc.says)
			}
			if fake.Execs != 0 || fake.Ensures != 0 {
				t.Errorf("the sandbox was touched: %d ensures, %d execs", fake.Ensures, fake.Execs)
			}
		})
	}
}

// An agent endpoint on the host that is not an http(s) URL stops the run
// before the sandbox is touched (exit 64): the gate's rule comes from it.
func TestRunRefusesABadEndpoint(t *testing.T) {
	fake := fakeAgent("<promise>COMPLETE</promise>")
	f, _ := testFactory(t, fake)
	f.Getenv = func(k string) (string, bool) {
		if k == "ANTHROPIC_BASE_URL" {
			return "localhost:11434", true
		}
		return "", false
	}
	project, _ := f.project()
	os.WriteFile(filepath.Join(project, "PROMPT.md"), []byte("do one task"), 0o600)
	err := runCmd(t, f, "--sandbox", "fake")
	if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), `ANTHROPIC_BASE_URL="localhost:11434"`) || fake.Execs != 0 {
		t.Errorf("got %v (exit %d, %d execs), want exit 64 naming the variable", err, exitCode(err), fake.Execs)
	}
}
