package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// execute runs a command in-process with args.
func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetErr(&strings.Builder{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.ExecuteContext(context.Background())
}

// ls, stop, rm and prune act only on what the backends list as ralph's,
// by name; a name ralph did not make is a usage error.
func TestSandboxCommands(t *testing.T) {
	fake := &sandboxtest.Fake{}
	ctx := context.Background()
	for _, n := range []string{"ralph-claude-a-00000001", "ralph-codex-b-00000002"} {
		if _, err := fake.Ensure(ctx, sandbox.Spec{Name: n, Agent: strings.Split(n, "-")[1], Project: "/p/" + n}); err != nil {
			t.Fatal(err)
		}
	}
	f, tio := testFactory(t, fake)

	if err := execute(newLs(f), "--json"); err != nil {
		t.Fatal(err)
	}
	var infos []sandbox.Info
	json.Unmarshal(tio.out.Bytes(), &infos)
	if len(infos) != 2 || infos[0].State != "running" || infos[1].Agent != "codex" {
		t.Fatalf("ls --json = %+v", infos)
	}

	tio.out.Reset()
	if err := execute(newStop(f), "ralph-claude-a-00000001"); err != nil || tio.out.String() != "ralph-claude-a-00000001\n" || fake.Stops != 1 {
		t.Errorf("stop: %v, printed %q, %d stops", err, tio.out.String(), fake.Stops)
	}
	if err := execute(newRm(f), "ralph-claude-not-mine"); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "no such sandbox: ralph-claude-not-mine (ralph ls") {
		t.Errorf("rm of a sandbox ralph did not make: %v (exit %d)", err, exitCode(err))
	}

	tio.out.Reset()
	if err := execute(newPrune(f)); err != nil || tio.out.String() != "ralph-claude-a-00000001\n" {
		t.Errorf("prune: %v, removed %q; want the stopped one only", err, tio.out.String())
	}
	tio.out.Reset()
	if err := execute(newLs(f)); err != nil || strings.Contains(tio.out.String(), "ralph-claude-a") || !strings.Contains(tio.out.String(), "ralph-codex-b-00000002") {
		t.Errorf("ls after prune: %v\n%s", err, tio.out.String())
	}
	if err := execute(newRm(f), "-f", "ralph-codex-b-00000002"); err != nil {
		t.Errorf("rm -f of a running sandbox: %v", err)
	}
}

// shell runs its command in the named sandbox (started when stopped) and
// exits with its code; a name ralph did not make is refused.
func TestShellRun(t *testing.T) {
	var ran []string
	fake := &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		ran = append(ran, strings.Join(cmd.Argv, " "))
		return 3
	}}
	ctx := context.Background()
	fake.Ensure(ctx, sandbox.Spec{Name: "ralph-claude-a-00000001", Agent: "claude", Project: "/p"})
	fake.Stop(ctx, "ralph-claude-a-00000001")
	f, _ := testFactory(t, fake)
	err := shellRun(ctx, &shellOptions{f: f, name: "ralph-claude-a-00000001", argv: []string{"git", "status"}})
	if exitCode(err) != 3 || len(ran) != 1 || ran[0] != "git status" || fake.Ensures != 2 {
		t.Errorf("shell: exit %d, ran %q, %d ensures (want 3, git status, started again)", exitCode(err), ran, fake.Ensures)
	}
	if err := shellRun(ctx, &shellOptions{f: f, name: "somebody-else"}); exitCode(err) != ExitUsage {
		t.Errorf("a foreign name: %v", err)
	}
}
