package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/trust"
	"github.com/ralphloop/ralph/internal/wsfile"
)

type trustOptions struct {
	f      *Factory
	io     IO
	show   bool
	revoke bool
	asJSON bool
}

// newTrust builds ralph trust; runF does the work (trustRun when nil).
func newTrust(f *Factory, runF func(context.Context, *trustOptions) error) *cobra.Command {
	o := &trustOptions{f: f, io: f.IO}
	if runF == nil {
		runF = trustRun
	}
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Approve the settings in .ralph/config.toml that reach the host",
		Long: `The agent writes the whole workspace, .ralph/config.toml included. A key
there that reaches the host or changes the boundary (on-exit, env, sandbox,
dangerously-run-on-host, image, agent, agent-cmd, user, prompt, tasks, the
limits, the budgets, no-agent-hosts, runs-max-bytes, debug) is obeyed only
as you approved it for this project; a new or changed one stops ralph
before anything starts (exit 77) and shows what changed.

trust approves the file's settings as they stand now, for this project
folder only. Read them first (trust --show). Keys that cannot reach the host
(agent-args, retries, waits, output) never need approval; neither does a key
set to its default. Approvals live in ~/.config/ralph/trust (or
$XDG_CONFIG_HOME/ralph/trust), readable by you only. Your own settings for
every project belong in ~/.config/ralph/config.toml, which is always obeyed.`,
		Example: `  ralph trust --show     # what the file sets, and whether you approved it
  ralph trust            # approve it as it stands
  ralph trust --revoke   # forget the approval`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.show, "show", false, "list the settings that need approval and whether each is approved; change nothing")
	cmd.Flags().BoolVar(&o.revoke, "revoke", false, "forget this project's approval")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "with --show: one JSON object")
	return cmd
}

// runFlags is a fresh set of ralph run's flags, for their defaults.
func runFlags() *cobra.Command {
	c := &cobra.Command{}
	addRunFlags(c, &runOptions{})
	return c
}

// trustRun shows, approves or forgets the project's host settings.
func trustRun(ctx context.Context, o *trustOptions) error {
	project, err := o.f.project()
	if err != nil {
		return err
	}
	store := o.f.trustStore()
	if o.revoke {
		if err := store.Revoke(project); err != nil {
			return err
		}
		fmt.Fprintf(o.io.Err, "ralph: approval of %s forgotten for %s\n", config.ProjectPath, project)
		return nil
	}
	ws, err := wsfile.Open(project)
	if err != nil {
		return err
	}
	defer ws.Close()
	want, pending, err := config.Review(ws, runFlags().Flags(), store)
	if err != nil {
		return err
	}
	if o.show {
		return o.list(project, want, pending)
	}
	if _, err := config.Approve(ws, runFlags().Flags(), store); err != nil {
		return err
	}
	if len(want) == 0 {
		fmt.Fprintf(o.io.Err, "ralph: nothing to approve: %s sets nothing that reaches the host\n", config.ProjectPath)
		return nil
	}
	fmt.Fprintf(o.io.Err, "ralph: approved for %s:\n", project)
	for _, k := range sortedKeys(want) {
		fmt.Fprintf(o.io.Err, "    %s = %s\n", k, want[k])
	}
	return nil
}

func (o *trustOptions) list(project string, want trust.Settings, pending []trust.Change) error {
	unapproved := map[string]bool{}
	for _, c := range pending {
		unapproved[c.Key] = true
	}
	if o.asJSON {
		type item struct {
			Key      string `json:"key"`
			Value    string `json:"value"`
			Approved bool   `json:"approved"`
		}
		items := []item{}
		for _, k := range sortedKeys(want) {
			items = append(items, item{k, want[k], !unapproved[k]})
		}
		return json.NewEncoder(o.io.Out).Encode(map[string]any{"project": project, "settings": items})
	}
	if len(want) == 0 {
		fmt.Fprintf(o.io.Out, "%s sets nothing that needs approval\n", config.ProjectPath)
		return nil
	}
	for _, k := range sortedKeys(want) {
		state := "approved"
		if unapproved[k] {
			state = "NOT approved"
		}
		fmt.Fprintf(o.io.Out, "%-14s %s = %s\n", state, k, want[k])
	}
	return nil
}

func sortedKeys(s trust.Settings) []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
