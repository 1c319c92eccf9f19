package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/sandbox"
)

func (f *Factory) completeNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	all, _ := backends.List(cmd.Context(), f.Isolating())
	var names []string
	for _, f := range all {
		if strings.HasPrefix(f.Info.Name, toComplete) {
			names = append(names, f.Info.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func newLs(f *Factory) *cobra.Command {
	io := f.IO
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List ralph's sandboxes (only those ralph made)",
		Example: "  ralph ls\n  ralph ls --json | jq -r '.[].name'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := backends.List(cmd.Context(), f.Isolating())
			if err != nil {
				return err
			}
			if asJSON {
				infos := []sandbox.Info{}
				for _, f := range all {
					infos = append(infos, f.Info)
				}
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBACKEND\tAGENT\tSTATE\tPROJECT")
			loops := f.workspaces().ByDir()
			for _, s := range all {
				project := s.Info.Project
				if l, ok := loops[project]; ok {
					project = fmt.Sprintf("%s (loop %s, on its clone)", l.Project, l.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Info.Name, s.Info.Backend, s.Info.Agent, s.Info.State, project)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newStop(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "stop NAME...",
		Short:             "Stop sandboxes, keeping them for the next run",
		Example:           "  ralph stop ralph-claude-my-app-a1b2c3d4",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.each(cmd.Context(), args, func(ctx context.Context, sb backends.Found) error {
				return sb.Backend.Stop(ctx, sb.Info.Name)
			})
		},
	}
}

// each applies do to the named sandboxes of ralph, printing each name done.
func (f *Factory) each(ctx context.Context, names []string, do func(context.Context, backends.Found) error) error {
	fs, err := backends.Find(ctx, f.Isolating(), names)
	if err != nil {
		return err
	}
	for _, sb := range fs {
		if err := do(ctx, sb); err != nil {
			return err
		}
		fmt.Fprintln(f.IO.Out, sb.Info.Name)
	}
	return nil
}

func newRm(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm [-f] NAME...",
		Short:             "Remove sandboxes (their state inside is lost; the project directory is not touched)",
		Example:           "  ralph rm ralph-claude-my-app-a1b2c3d4\n  ralph rm -f $(ralph ls --json | jq -r '.[].name')",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.each(cmd.Context(), args, func(ctx context.Context, sb backends.Found) error {
				return sb.Backend.Remove(ctx, sb.Info.Name, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove running sandboxes too")
	return cmd
}

func newPrune(f *Factory) *cobra.Command {
	io := f.IO
	return &cobra.Command{
		Use:     "prune",
		Short:   "Remove every stopped sandbox ralph made",
		Example: "  ralph prune            # every stopped sandbox ralph made, and only those\n  ralph ls --json | jq -r '.[] | select(.state != \"running\") | .name'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := backends.List(cmd.Context(), f.Isolating())
			if err != nil {
				return err
			}
			n := 0
			for _, sb := range all {
				if sb.Info.State == "running" {
					continue
				}
				if err := sb.Backend.Remove(cmd.Context(), sb.Info.Name, false); err != nil {
					return err
				}
				fmt.Fprintln(io.Out, sb.Info.Name)
				n++
			}
			fmt.Fprintf(io.Err, "ralph: removed %d stopped sandbox(es)\n", n)
			return nil
		},
	}
}

type shellOptions struct {
	f    *Factory
	name string
	argv []string // the command; nil for a login shell
}

// newShell builds ralph shell; runF does the work (shellRun when nil).
func newShell(f *Factory, runF func(context.Context, *shellOptions) error) *cobra.Command {
	o := &shellOptions{f: f}
	if runF == nil {
		runF = shellRun
	}
	return &cobra.Command{
		Use:   "shell NAME [-- COMMAND...]",
		Short: "Open an interactive shell inside a sandbox (like sbx exec -it NAME bash)",
		Long: `shell starts the sandbox if it is stopped and runs an interactive shell in it,
as the agent's user, in the project directory. With a command after --, it
runs that instead.`,
		Example:           "  ralph shell ralph-claude-my-app-a1b2c3d4\n  ralph shell ralph-claude-my-app-a1b2c3d4 -- git status",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name, o.argv = args[0], args[1:]
			return runF(cmd.Context(), o)
		},
	}
}

// shellRun runs a shell (or o.argv) in the sandbox, starting it when
// stopped; its exit code is ralph's.
func shellRun(ctx context.Context, o *shellOptions) error {
	f, io := o.f, o.f.IO
	fs, err := backends.Find(ctx, f.Isolating(), []string{o.name})
	if err != nil {
		return err
	}
	sb := fs[0]
	if sb.Info.State != "running" {
		// No gate runs for a shell: its proxy leads nowhere.
		spec := sandbox.Spec{Name: sb.Info.Name, Agent: sb.Info.Agent, Project: sb.Info.Project, Image: sb.Info.Image,
			GateDir: f.gates().MountDir(sb.Info.Name, nil)}
		if _, err := sb.Backend.Ensure(ctx, spec); err != nil {
			return err
		}
	}
	argv := []string{"sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"}
	if len(o.argv) > 0 {
		argv = o.argv
	}
	code, err := sb.Backend.Exec(ctx, sb.Info.Name, sandbox.Cmd{Argv: argv, TTY: isTerminal(io.In), Stdin: io.In, Stdout: io.Out, Stderr: io.Err})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitcode.Quiet(code)
	}
	return nil
}
