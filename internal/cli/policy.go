package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/tail"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Exit codes of ralph policy check.
const (
	ExitAllowed = 0
	ExitDenied  = 1
)

func newPolicy(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Network rules of the sandboxes' egress gate (deny by default)",
		Long: `A sandbox reaches nothing but ralph's gate, and the gate lets a connection
through only when a rule allows its host and no rule denies it. Rules are
global (-g) or per sandbox; deny beats allow whatever the specificity; the
agent's own API hosts are allowed by default (ralph run --no-agent-hosts
turns that off). Changes reach running sandboxes within a second.

Patterns: example.com (that host), *.example.com (one label below),
**.example.com (any depth below), ** (every name), host:443 (a port),
203.0.113.7:5432 and 198.51.100.0/24 (addresses; the only way to reach a
private or loopback address). A comma-separated list is several rules.`,
		Example: `  ralph policy allow network ralph-claude-my-app-a1b2c3d4 "*.npmjs.org,github.com"
  ralph policy allow network -g "registry.npmjs.org"
  ralph policy deny network -g "**.evil.example"
  ralph policy check network --sandbox ralph-claude-my-app-a1b2c3d4 api.github.com
  ralph policy ls --json
  ralph policy log ralph-claude-my-app-a1b2c3d4 -f`,
	}
	cmd.AddCommand(
		newPolicyChange(f, "allow", policy.Allow, nil),
		newPolicyChange(f, "deny", policy.Deny, nil),
		newPolicyChange(f, "rm", "", nil),
		newPolicyLs(f, nil), newPolicyCheck(f, nil), newPolicyLog(f, nil),
	)
	return cmd
}

// scopeArgs reads "network [NAME] PATTERNS" with -g or --sandbox.
func scopeArgs(args []string, global bool, sandboxFlag string) (scope string, patterns []string, err error) {
	if len(args) == 0 || args[0] != "network" {
		return "", nil, usageErr("the rule type comes first: only network rules exist (ralph policy allow network ...)")
	}
	args = args[1:]
	switch {
	case len(args) == 2 && !global && sandboxFlag == "":
		scope, patterns = args[0], policy.SplitList(args[1])
	case len(args) == 1 && global && sandboxFlag == "":
		scope, patterns = policyfile.Global, policy.SplitList(args[0])
	case len(args) == 1 && !global && sandboxFlag != "":
		scope, patterns = sandboxFlag, policy.SplitList(args[0])
	default:
		return "", nil, usageErr("say where the rules go: NAME \"PATTERNS\", --sandbox NAME \"PATTERNS\", or -g \"PATTERNS\" for every sandbox")
	}
	if len(patterns) == 0 {
		return "", nil, usageErr("no pattern given")
	}
	return scope, patterns, nil
}

type policyChangeOptions struct {
	f        *Factory
	verb     string // allow, deny or rm
	action   policy.Action
	scope    string
	patterns []string
}

// newPolicyChange builds ralph policy allow|deny|rm; runF does the work
// (policyChangeRun when nil).
func newPolicyChange(f *Factory, verb string, action policy.Action, runF func(context.Context, *policyChangeOptions) error) *cobra.Command {
	o := &policyChangeOptions{f: f, verb: verb, action: action}
	if runF == nil {
		runF = policyChangeRun
	}
	var global bool
	var sandboxName string
	short := map[string]string{
		"allow": "Allow hosts (comma-separated patterns) globally or for one sandbox",
		"deny":  "Deny hosts; a deny beats every allow",
		"rm":    "Remove rules (allow or deny) with these patterns",
	}[verb]
	cmd := &cobra.Command{
		Use:               verb + " network [NAME] PATTERNS",
		Short:             short,
		Example:           fmt.Sprintf("  ralph policy %s network ralph-claude-my-app-a1b2c3d4 \"*.npmjs.org,github.com\"\n  ralph policy %s network -g \"pypi.org\"", verb, verb),
		Args:              cobra.RangeArgs(1, 3),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.scope, o.patterns, err = scopeArgs(args, global, sandboxName); err != nil {
				return err
			}
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&global, "global", "g", false, "rules for every sandbox")
	cmd.Flags().StringVar(&sandboxName, "sandbox", "", "rules for this sandbox")
	return cmd
}

// policyChangeRun writes the rules (or removes them) and forwards them to
// a backend with a policy of its own.
func policyChangeRun(ctx context.Context, o *policyChangeOptions) error {
	f, io := o.f, o.f.IO
	store := f.policies()
	where := o.scope
	if o.scope == policyfile.Global {
		where = "global"
	}
	if o.verb == "rm" {
		n, err := store.Remove(o.scope, o.patterns)
		if err != nil {
			return usageErr("%v", err)
		}
		fmt.Fprintf(io.Out, "removed %d rule(s) from %s\n", n, where)
		return nil
	}
	rules, err := store.Add(o.scope, o.action, o.patterns)
	if err != nil {
		return usageErr("%v", err)
	}
	var canon []string
	for _, r := range rules {
		fmt.Fprintf(io.Out, "%s %s (%s)\n", r.Action, r.Pattern, where)
		canon = append(canon, r.Pattern)
	}
	// A backend with a policy of its own (sbx) gets the same words.
	for _, b := range f.Isolating() {
		pf, ok := b.(sandbox.PolicyForwarder)
		if !ok || b.Available(ctx) != nil {
			continue
		}
		if err := pf.Policy(ctx, o.verb, o.scope, canon); err != nil {
			return fmt.Errorf("forward to %s policy: %w", b.Name(), err)
		}
		fmt.Fprintf(io.Out, "forwarded to %s policy\n", b.Name())
	}
	return nil
}

type ruleView struct {
	Scope   string `json:"scope"`
	Action  string `json:"action"`
	Pattern string `json:"pattern"`
}

type policyLsOptions struct {
	f      *Factory
	name   string // one sandbox's, or "" for all
	asJSON bool
}

// newPolicyLs builds ralph policy ls; runF does the work (policyLsRun
// when nil).
func newPolicyLs(f *Factory, runF func(context.Context, *policyLsOptions) error) *cobra.Command {
	o := &policyLsOptions{f: f}
	if runF == nil {
		runF = policyLsRun
	}
	cmd := &cobra.Command{
		Use:               "ls [NAME]",
		Short:             "List rules: global ones, and those of one sandbox or of all",
		Example:           "  ralph policy ls                                # the global rules and every sandbox's\n  ralph policy ls ralph-claude-my-app-a1b2c3d4\n  ralph policy ls --json",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.name = args[0]
			}
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print a JSON array")
	return cmd
}

// policyLsRun lists the global rules and one sandbox's or every one's.
func policyLsRun(ctx context.Context, o *policyLsOptions) error {
	io := o.f.IO
	store := o.f.policies()
	scopes := []string{policyfile.Global}
	if o.name != "" {
		scopes = append(scopes, o.name)
	} else {
		more, err := store.Scopes()
		if err != nil {
			return err
		}
		scopes = append(scopes, more...)
	}
	views := []ruleView{}
	for _, sc := range scopes {
		rules, err := store.Rules(sc)
		if err != nil {
			return usageErr("%v", err)
		}
		for _, r := range rules {
			views = append(views, ruleView{Scope: r.Source, Action: string(r.Action), Pattern: r.Pattern})
		}
	}
	if o.asJSON {
		return encodeJSON(io.Out, views)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCOPE\tDECISION\tPATTERN")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Scope, v.Action, v.Pattern)
	}
	fmt.Fprintln(tw, "(each agent's API hosts are allowed too, unless ralph run --no-agent-hosts)")
	return tw.Flush()
}

// agentOf reads the agent from a sandbox name ralph-<agent>-...
func agentOf(name string) (agent.Adapter, bool) {
	rest, ok := strings.CutPrefix(name, "ralph-")
	if !ok {
		return agent.Adapter{}, false
	}
	a, _, _ := strings.Cut(rest, "-")
	ad, err := agent.Lookup(a, "")
	return ad, err == nil
}

type policyCheckOptions struct {
	f            *Factory
	sandbox      string
	noAgentHosts bool
	target       string // HOST[:PORT]
}

// newPolicyCheck builds ralph policy check; runF does the work
// (policyCheckRun when nil).
func newPolicyCheck(f *Factory, runF func(context.Context, *policyCheckOptions) error) *cobra.Command {
	o := &policyCheckOptions{f: f}
	if runF == nil {
		runF = policyCheckRun
	}
	cmd := &cobra.Command{
		Use:   "check network [--sandbox NAME] HOST[:PORT]",
		Short: "Say whether the gate would let a host through, and which rule decides (exit 0 allowed, 1 denied, 64 invalid)",
		Long: `check applies the rules in force for a sandbox (its agent's API hosts, the
global rules, its own) to HOST[:PORT] (port 443 when absent) and prints the
decision and the rule that made it. It does not resolve the name: the gate
also refuses, at connection time, a name that resolves only to loopback,
private, link-local or metadata addresses.`,
		Example: "  ralph policy check network --sandbox ralph-claude-my-app-a1b2c3d4 registry.npmjs.org\n  ralph policy check network 10.0.0.1:5432",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "network" {
				return usageErr("only network rules exist: ralph policy check network HOST")
			}
			o.target = args[1]
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.sandbox, "sandbox", "", "the sandbox whose rules apply (default: global rules only)")
	cmd.Flags().BoolVar(&o.noAgentHosts, "no-agent-hosts", false, "leave out the agent's API hosts")
	return cmd
}

// policyCheckRun decides o.target as the sandbox's gate would.
func policyCheckRun(ctx context.Context, o *policyCheckOptions) error {
	hostStr, port, err := policy.SplitHostPort(o.target)
	if err != nil {
		return usageErr("%v", err)
	}
	if port == 0 {
		port = 443
	}
	h, err := policy.ParseHost(hostStr)
	if err != nil {
		return usageErr("%v", err)
	}
	var defaults []policy.Rule
	if ad, ok := agentOf(o.sandbox); ok && !o.noAgentHosts {
		defaults = policyfile.AgentRules(ad.Name, ad.Hosts)
	}
	rules, err := o.f.policies().Effective(o.sandbox, defaults)
	if err != nil {
		return usageErr("%v", err)
	}
	d := policy.Compile(rules).Decide(h, port)
	if d.Allowed {
		fmt.Fprintf(o.f.IO.Out, "allowed: %s:%d by %s\n", h, port, d.Reason())
		return nil
	}
	fmt.Fprintf(o.f.IO.Out, "denied: %s:%d: %s\n", h, port, d.Reason())
	return exitcode.Quiet(ExitDenied)
}

type policyLogOptions struct {
	f              *Factory
	name           string // one sandbox's log, or "" for all
	follow, asJSON bool
}

// newPolicyLog builds ralph policy log; runF does the work (policyLogRun
// when nil).
func newPolicyLog(f *Factory, runF func(context.Context, *policyLogOptions) error) *cobra.Command {
	o := &policyLogOptions{f: f}
	if runF == nil {
		runF = policyLogRun
	}
	cmd := &cobra.Command{
		Use:               "log [NAME]",
		Short:             "Show the gate's decisions (one sandbox, or all)",
		Example:           "  ralph policy log ralph-claude-my-app-a1b2c3d4 -f\n  ralph policy log --json | jq 'select(.decision==\"deny\")'",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: f.completeNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.name = args[0]
			}
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new decisions")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the raw JSON lines")
	return cmd
}

// policyLogRun prints one sandbox's gate decisions, or every gate's.
func policyLogRun(ctx context.Context, o *policyLogOptions) error {
	var files []string
	if o.name != "" {
		files = []string{filepath.Join(o.f.gates().GateDir(o.name), "log.jsonl")}
	} else {
		files = o.f.gates().Logs()
	}
	if o.follow && len(files) != 1 {
		return usageErr("-f follows one sandbox's log: name it")
	}
	for _, p := range files {
		if err := printLog(ctx, o.f.IO.Out, p, o.follow, o.asJSON); err != nil {
			return err
		}
	}
	return nil
}

// printLog prints a gate's decision log: the JSON lines as they are, or
// a line a person reads, where every word the sandbox chose is escaped.
func printLog(ctx context.Context, out io.Writer, path string, follow, asJSON bool) error {
	return tail.Lines(ctx, path, func() bool { return follow }, func(line []byte) error {
		if line[len(line)-1] != '\n' {
			return nil // a decision still being written
		}
		if asJSON {
			_, err := out.Write(line)
			return err
		}
		var e netgate.Entry
		if json.Unmarshal(line, &e) == nil {
			rule := e.Rule
			if e.Secret != "" {
				rule += " · secret " + e.Secret + " added" // its name; the log never holds a value
			}
			fmt.Fprintf(out, "%s  %-5s  %-7s %s:%d  %s  %s\n", e.Time.Local().Format(time.DateTime), termsafe.Line(e.Decision),
				termsafe.Line(e.Method), termsafe.Line(e.Host), e.Port, termsafe.Line(orDefault(e.Addr, "-")), termsafe.Line(rule))
		}
		return nil
	})
}
