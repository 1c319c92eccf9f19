package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/scaffold"
	"github.com/ralphloop/ralph/internal/wsfile"
)

type initOptions struct {
	f *Factory
	scaffold.Options
}

// newInit builds ralph init; runF does the work (initRun when nil).
func newInit(f *Factory, runF func(context.Context, *initOptions) error) *cobra.Command {
	o := &initOptions{f: f}
	if runF == nil {
		runF = initRun
	}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write .ralph/PROMPT.md, the task file, progress.md and config.toml",
		Long: `init writes the files a loop needs into .ralph/ of the current directory:

  PROMPT.md     the prompt: it teaches the agent the rules (one task per
                iteration, verify, update the task file and the progress log,
                commit, end with a promise only when it is true)
  tasks.md      a Markdown checklist (or prd.json, user stories with "passes")
  progress.md   the log each iteration appends to
  config.toml   settings; every key is a flag of ralph run

It never overwrites a file unless you pass --force.`,
		Example: `  ralph init
  ralph init --agent codex --tasks json
  ralph init --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Agent, "agent", "claude", "agent recorded in config.toml: "+strings.Join(agent.Names(), ", "))
	cmd.Flags().StringVar(&o.Tasks, "tasks", "md", "task file format: md (checklist) or json (prd.json)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite existing files")
	return cmd
}

// initRun writes the loop's files into the project and approves the
// config it wrote.
func initRun(ctx context.Context, o *initOptions) error {
	f, io := o.f, o.f.IO
	if _, err := agent.Lookup(o.Agent, "x"); err != nil {
		return usageErr("%v", err)
	}
	if o.Tasks != "md" && o.Tasks != "json" {
		return usageErr("--tasks %q: want md or json", o.Tasks)
	}
	dir, err := f.project()
	if err != nil {
		return err
	}
	ws, err := wsfile.Open(dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	written, err := scaffold.Write(ws, o.Options)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageErr("init: %v", err)
		}
		if errors.Is(err, wsfile.ErrRefused) {
			return &config.RefusedError{Err: err}
		}
		return err
	}
	// The config file is the user's own as init wrote it: approve what it
	// sets (an --agent other than claude, say).
	if _, err := config.Approve(ws, runFlags().Flags(), f.trustStore()); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "ralph: wrote %s\nralph: describe your project in .ralph/PROMPT.md and your tasks, then run: ralph\n", strings.Join(written, ", "))
	fmt.Fprintln(io.Err, "ralph: unattended? `ralph --workspace clone` gives the agent a clone of its own: your tree changes only when you ralph merge (see workspace in .ralph/config.toml)")
	return nil
}
