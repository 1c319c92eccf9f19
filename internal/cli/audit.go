package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/audit"
	"github.com/ralphloop/ralph/internal/exitcode"
)

type auditOptions struct {
	f      *Factory
	argv   []string // the docker or podman command line
	asJSON bool
}

// newAudit builds ralph audit; runF does the work (auditRun when nil).
func newAudit(f *Factory, runF func(context.Context, *auditOptions) error) *cobra.Command {
	o := &auditOptions{f: f}
	if runF == nil {
		runF = auditRun
	}
	cmd := &cobra.Command{
		Use:   "audit -- docker run ARGS...",
		Short: "Find the leaks in a docker or podman run command line, and print its hardened form",
		Long: `audit reads a docker or podman run (or create) command line and reports, one
finding a line with its fix, each leak that makes a plain container a weak
boundary for an agent: the engine socket or other sensitive mounts (home,
/, credentials folders), --privileged and host namespaces, root, kept
capabilities, no no-new-privileges, a writable root, no memory/cpu/pids
limits, an open network, secrets written on the command line. Then it
prints the hardened equivalent.

Exit 0 when clean, 1 when anything was found, 64 when the command line
cannot be parsed.`,
		Example: `  ralph audit -- docker run -it --rm -v "$PWD":/work -w /work node:22 bash
  ralph audit --json -- podman run -v /var/run/docker.sock:/var/run/docker.sock alpine`,
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageErr("put the command line after --: ralph audit -- docker run ...")
			}
			o.argv = args
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print findings and the hardened command as JSON")
	return cmd
}

// auditRun prints the findings and the hardened form; exit 1 when
// anything was found.
func auditRun(ctx context.Context, o *auditOptions) error {
	io := o.f.IO
	r, err := audit.Parse(o.argv)
	if err != nil {
		return usageErr("%v", err)
	}
	home := o.f.home()
	fs := audit.Check(r, home)
	hardened := audit.Hardened(r, home)
	if o.asJSON {
		out := struct {
			Findings []audit.Finding `json:"findings"`
			Hardened []string        `json:"hardened"`
		}{append([]audit.Finding{}, fs...), hardened}
		if err := encodeJSON(io.Out, out); err != nil {
			return err
		}
	} else {
		for _, f := range fs {
			fmt.Fprintf(io.Out, "%-8s  %s\n          fix: %s\n", strings.ToUpper(string(f.Severity)), f.Problem, f.Fix)
		}
		if len(fs) == 0 {
			fmt.Fprintln(io.Out, "clean: this command line has the full hardening set")
		}
		fmt.Fprintf(io.Out, "\nhardened:\n  %s\n", quoteArgs(hardened))
		fmt.Fprintln(io.Out, "\nEven hardened, a container shares the host's kernel: ralph doctor shows stronger boundaries here.")
	}
	if len(fs) > 0 {
		return exitcode.Quiet(1)
	}
	return nil
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\*?[]{}()<>|&;#~") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}
