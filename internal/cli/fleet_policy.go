package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
)

// newFleetPolicyCmd edits the namespace gate's rules (the ConfigMap) in
// the language of ralph policy, and waits until the gate serves them.
func newFleetPolicyCmd(f *Factory, k *kubeFlags) *cobra.Command {
	io := f.IO
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "The fleet gate's rules in this namespace: ls, allow, deny, rm",
		Long: `The rules of the namespace's gate, in the language of ralph policy: host
patterns (github.com, *.npmjs.org, **.example.com, **), IP and CIDR rules,
deny beats allow, nothing matched is denied. ralph fleet run adds the
agent's API hosts and the git remote's host itself. A change reaches the
gate's pods before the command returns.`,
		Example: `  ralph fleet policy ls
  ralph fleet policy allow network "*.npmjs.org,pypi.org"
  ralph fleet policy deny network "**.pastebin.com"
  ralph fleet policy rm network pypi.org`,
	}
	var asJSON bool
	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List the gate's rules",
		Example: "  ralph fleet policy ls\n  ralph fleet policy ls --namespace agents --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := k.client()
			if err != nil {
				return err
			}
			rules, err := c.GateRules(cmd.Context())
			if err != nil {
				return unavailable(err)
			}
			views := []ruleView{}
			for _, r := range rules {
				views = append(views, ruleView{Scope: c.NS, Action: string(r.Action), Pattern: r.Pattern})
			}
			if asJSON {
				return json.NewEncoder(io.Out).Encode(views)
			}
			tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAMESPACE\tDECISION\tPATTERN")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Scope, v.Action, v.Pattern)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.AddCommand(ls, newFleetPolicyEdit(f, k, "allow"), newFleetPolicyEdit(f, k, "deny"), newFleetPolicyEdit(f, k, "rm"))
	return cmd
}

func newFleetPolicyEdit(f *Factory, k *kubeFlags, verb string) *cobra.Command {
	io := f.IO
	return &cobra.Command{
		Use:   verb + " network PATTERNS",
		Short: map[string]string{"allow": "Allow hosts (comma-separated patterns)", "deny": "Deny hosts; a deny beats every allow", "rm": "Remove rules with these patterns"}[verb],
		Example: map[string]string{
			"allow": "  ralph fleet policy allow network \"*.npmjs.org,pypi.org\"\n  ralph fleet policy allow network \"registry.example.com:443\"",
			"deny":  "  ralph fleet policy deny network \"**.pastebin.com\"",
			"rm":    "  ralph fleet policy rm network pypi.org",
		}[verb],
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "network" {
				return usageErr("ralph fleet policy %s network PATTERNS (got %q)", verb, args[0])
			}
			patterns := policy.SplitList(args[1])
			var add []policy.Rule
			for _, p := range patterns {
				r, err := policy.ParseRule(policy.Action(verb), p, "")
				if verb == "rm" {
					r, err = policy.ParseRule(policy.Allow, p, "")
				}
				if err != nil {
					return usageErr("%v", err)
				}
				add = append(add, r)
			}
			c, err := k.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			digest, err := c.EditGate(ctx, func(have []policy.Rule) ([]policy.Rule, error) {
				if verb == "rm" {
					return policyfile.Without(have, patterns)
				}
				return policyfile.Merge(have, add), nil
			})
			if err != nil {
				return unavailable(err)
			}
			sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if err := c.SyncGate(sctx, digest); err != nil {
				return unavailable(err)
			}
			fmt.Fprintf(io.Out, "gate policy %s in namespace %s\n", digest, c.NS)
			return nil
		},
	}
}
