package cli

import (
	"github.com/spf13/cobra"
)

// NewRoot builds the command tree. The root command runs the loop, so
// `ralph -n 50` and `ralph run -n 50` are the same.
func NewRoot(f *Factory) *cobra.Command {
	io := f.IO
	root := &cobra.Command{
		Use:   "ralph [flags] [-- agent-args...]",
		Short: "Run a coding agent in a loop, one task per iteration, inside a sandbox",
		Long: `ralph runs an autonomous coding agent (claude, codex, copilot, cursor, gemini,
opencode, or any command) in a loop: a fresh agent process per iteration, one
task each, inside an isolation boundary (a microVM with sbx or QEMU, gVisor's
user-space kernel, a hardened docker or podman container, bubblewrap), never
on the host unless asked, until the agent ends its final message with a
promise:

  <promise>COMPLETE</promise>          all tasks done      exit 0
  <promise>BLOCKED:reason</promise>    cannot go on        exit 2
  <promise>DECIDE:question</promise>   needs a human       exit 3
  (no promise by the last iteration)                       exit 1

Everything after -- is appended to the agent's own command line.`,
		Example: `  ralph init                          # write .ralph/PROMPT.md, tasks.md, config.toml
  ralph -n 50                         # up to 50 iterations of claude in the best sandbox
  ralph --agent codex -- --model gpt-5.5
  ralph --sandbox docker --image ralph-claude:latest
  ralph ls                            # ralph's sandboxes
  ralph shell ralph-claude-my-app-a1b2c3d4`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see %s --help)", err, c.CommandPath())
	})
	bindRun(root, f, nil)
	root.Version = readBuildInfo().String()
	root.SetVersionTemplate("{{.Version}}\n")

	runCmd := &cobra.Command{
		Use:   "run [flags] [-- agent-args...]",
		Short: "Run the loop (the same as ralph with no command)",
		Example: `  ralph run -n 50
  ralph run --agent gemini --sandbox gvisor -- --model gemini-3.1-pro`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	bindRun(runCmd, f, nil)

	root.AddCommand(runCmd, newInit(f, nil), newTrust(f, nil), newVersion(f, nil), newLs(f), newStop(f), newRm(f), newPrune(f), newShell(f, nil), newImage(f), newHelper(), newPolicy(f), newDoctor(f, nil), newAudit(f, nil), newSelftest(f, nil), newStatus(f, nil), newHistory(f, nil), newLogs(f, nil), newFleetCmd(f), newGateCmd(f), newSecret(f),
		newDiff(f), newLog(f), newMerge(f), newDiscard(f))
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = `  source <(ralph completion bash)                  # this shell; sandbox names complete too
  ralph completion bash > /etc/bash_completion.d/ralph
  ralph completion zsh > "${fpath[1]}/_ralph"
  ralph completion fish > ~/.config/fish/completions/ralph.fish`
		}
	}
	return root
}
