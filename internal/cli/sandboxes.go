package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// found is a sandbox and the backend that holds it.
type found struct {
	info    sandbox.Info
	backend sandbox.Backend
}

// listAll lists ralph's sandboxes on every backend that answers.
func listAll(ctx context.Context) ([]found, error) {
	var out []found
	var errs []error
	for _, b := range isolating() {
		if b.Available(ctx) != nil {
			continue
		}
		infos, err := b.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, in := range infos {
			out = append(out, found{in, b})
		}
	}
	return out, errors.Join(errs...)
}

// lookup finds the named sandboxes; a name ralph did not make is an error.
func lookup(ctx context.Context, names []string) ([]found, error) {
	all, err := listAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []found
	for _, n := range names {
		ok := false
		for _, f := range all {
			if f.info.Name == n {
				out = append(out, f)
				ok = true
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s (ralph ls shows ralph's sandboxes)", sandbox.ErrNotFound, n)
		}
	}
	return out, nil
}

func completeNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	all, _ := listAll(cmd.Context())
	var names []string
	for _, f := range all {
		if strings.HasPrefix(f.info.Name, toComplete) {
			names = append(names, f.info.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func newLs(io IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List ralph's sandboxes (only those ralph made)",
		Example: "  ralph ls\n  ralph ls --json | jq -r '.[].name'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := listAll(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				infos := []sandbox.Info{}
				for _, f := range all {
					infos = append(infos, f.info)
				}
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBACKEND\tAGENT\tSTATE\tPROJECT")
			for _, f := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.info.Name, f.info.Backend, f.info.Agent, f.info.State, f.info.Project)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newStop(io IO) *cobra.Command {
	return &cobra.Command{
		Use:               "stop NAME...",
		Short:             "Stop sandboxes, keeping them for the next run",
		Example:           "  ralph stop ralph-claude-my-app-a1b2c3d4",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return each(cmd.Context(), io, args, func(ctx context.Context, f found) error {
				return f.backend.Stop(ctx, f.info.Name)
			})
		},
	}
}

// each applies do to the named sandboxes of ralph, printing each name done.
func each(ctx context.Context, io IO, names []string, do func(context.Context, found) error) error {
	fs, err := lookup(ctx, names)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := do(ctx, f); err != nil {
			return err
		}
		fmt.Fprintln(io.Out, f.info.Name)
	}
	return nil
}

func newRm(io IO) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm [-f] NAME...",
		Short:             "Remove sandboxes (their state inside is lost; the project directory is not touched)",
		Example:           "  ralph rm ralph-claude-my-app-a1b2c3d4\n  ralph rm -f $(ralph ls --json | jq -r '.[].name')",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			return each(cmd.Context(), io, args, func(ctx context.Context, f found) error {
				return f.backend.Remove(ctx, f.info.Name, force)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove running sandboxes too")
	return cmd
}

func newPrune(io IO) *cobra.Command {
	return &cobra.Command{
		Use:     "prune",
		Short:   "Remove every stopped sandbox ralph made",
		Example: "  ralph prune            # every stopped sandbox ralph made, and only those\n  ralph ls --json | jq -r '.[] | select(.state != \"running\") | .name'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := listAll(cmd.Context())
			if err != nil {
				return err
			}
			n := 0
			for _, f := range all {
				if f.info.State == "running" {
					continue
				}
				if err := f.backend.Remove(cmd.Context(), f.info.Name, false); err != nil {
					return err
				}
				fmt.Fprintln(io.Out, f.info.Name)
				n++
			}
			fmt.Fprintf(io.Err, "ralph: removed %d stopped sandbox(es)\n", n)
			return nil
		},
	}
}

func newShell(io IO) *cobra.Command {
	return &cobra.Command{
		Use:   "shell NAME [-- COMMAND...]",
		Short: "Open an interactive shell inside a sandbox (like sbx exec -it NAME bash)",
		Long: `shell starts the sandbox if it is stopped and runs an interactive shell in it,
as the agent's user, in the project directory. With a command after --, it
runs that instead.`,
		Example:           "  ralph shell ralph-claude-my-app-a1b2c3d4\n  ralph shell ralph-claude-my-app-a1b2c3d4 -- git status",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs, err := lookup(cmd.Context(), args[:1])
			if err != nil {
				return err
			}
			f := fs[0]
			ctx := cmd.Context()
			if f.info.State != "running" {
				// No gate runs for a shell: its proxy leads nowhere.
				spec := sandbox.Spec{Name: f.info.Name, Agent: f.info.Agent, Project: f.info.Project, Image: f.info.Image,
					GateDir: filepath.Join(gateDir(f.info.Name), "mnt")}
				if _, err := f.backend.Ensure(ctx, spec); err != nil {
					return err
				}
			}
			argv := []string{"sh", "-c", "command -v bash >/dev/null && exec bash -l || exec sh -l"}
			if len(args) > 1 {
				argv = args[1:]
			}
			code, err := f.backend.Exec(ctx, f.info.Name, sandbox.Cmd{Argv: argv, TTY: isTerminal(io.In), Stdin: io.In, Stdout: io.Out, Stderr: io.Err})
			if err != nil {
				return err
			}
			if code != 0 {
				return &quietExit{code: code}
			}
			return nil
		},
	}
}
