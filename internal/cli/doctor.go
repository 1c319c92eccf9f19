package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/doctor"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/secret"
)

type doctorOptions struct {
	f      *Factory
	asJSON bool
	agent  string
}

// newDoctor builds ralph doctor; runF does the work (doctorRun when nil:
// tests pass their own to see the parsed options).
func newDoctor(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	o := &doctorOptions{f: f}
	if runF == nil {
		runF = doctorRun
	}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Show which sandboxes work here, what boundary each gives, and how to fix the rest",
		Long: `doctor checks every backend: installed or not, its version, the boundary it
gives, whether it can be used right now (engine running, runtime registered,
agent image present), and the one-line fix for each problem; then, for each
agent, whether its CLI is on this host and inside its image (looked into
with a throwaway hardened container), and which of its credential variables
are set (names only, never values). It exits 0 when at least one isolating backend is
usable, 69 otherwise.`,
		Example: "  ralph doctor\n  ralph doctor --json | jq '.backends[] | select(.usable)'",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print a JSON report")
	cmd.Flags().StringVar(&o.agent, "agent", "claude", "agent whose image to look for")
	return cmd
}

// doctorRun checks every backend and agent and prints the report.
func doctorRun(ctx context.Context, o *doctorOptions) error {
	f := o.f
	rep := doctor.Check(ctx, f.Isolating(), f.Host(), o.agent, f.OnPath, f.Getenv)
	for i, a := range rep.Agents {
		rep.Agents[i].Secrets, rep.Agents[i].KeysSet = agentSecrets(f.secrets(), a)
	}
	rep.GitSecrets = gitSecrets(f.secrets())
	if o.asJSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		doctor.Print(f.IO.Out, rep)
	}
	if rep.Auto == "" {
		return exitcode.Quiet(ExitUnavailable)
	}
	return nil
}

// agentSecrets are the agent's stored secrets, and the credential
// variables set here that still pass into the sandbox (those a secret
// replaces do not).
func agentSecrets(store secret.Store, a doctor.Agent) (secrets, passed []string) {
	kinds, _ := store.Stored(a.Name) // a damaged secret: the run says so
	replaced := map[string]bool{}
	for _, k := range kinds {
		if !k.Git {
			secrets = append(secrets, k.Name)
		}
		for _, v := range k.Vars() {
			replaced[v] = true
		}
	}
	passed = []string{}
	for _, v := range a.KeysSet {
		if !replaced[v] {
			passed = append(passed, v)
		}
	}
	return secrets, passed
}

// gitSecrets are the stored secrets for git (every agent's), named with
// the server they are added for.
func gitSecrets(store secret.Store) []string {
	var out []string
	for _, k := range secret.Kinds() {
		if _, err := store.Get(k.Name); k.Git && err == nil {
			out = append(out, k.Name)
		}
	}
	return out
}
