package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/fleet"
)

func newFleetDoctorCmd(f *Factory, k *kubeFlags) *cobra.Command {
	io := f.IO
	var probe, asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "What the cluster gives a fleet: Pod Security, RuntimeClasses, the gate, NetworkPolicy enforcement",
		Long: `doctor checks the API server, whether the namespace enforces the
restricted Pod Security Standard, which RuntimeClasses (gVisor, Kata) the
cluster offers, and the gate. With --probe it also finds out whether the
network plugin enforces NetworkPolicy at all: it starts two small pods, one
labelled as a loop (which the policies let reach the gate) and one that no
policy allows, and each tries the gate. If both get through, the cluster
does not enforce the policies, and doctor says so: the loops could then
reach any address directly. Exit 1 when a check fails.`,
		Example: `  ralph fleet doctor
  ralph fleet doctor --probe --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := k.client()
			if err != nil {
				return err
			}
			checks := c.Doctor(cmd.Context(), probe)
			failed := false
			for _, ch := range checks {
				failed = failed || ch.Status == "fail"
			}
			if asJSON {
				json.NewEncoder(io.Out).Encode(checks)
			} else {
				tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
				for _, ch := range checks {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.Name, ch.Status, ch.Detail)
				}
				tw.Flush()
			}
			if failed {
				return exitcode.Quiet(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&probe, "probe", false, "run two probe pods to see whether NetworkPolicy is enforced")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFleetProbeCmd(f *Factory) *cobra.Command {
	io := f.IO
	var addr string
	cmd := &cobra.Command{
		Use:    "probe --dial ADDR",
		Short:  "Inside a doctor's probe pod: dial ADDR and record the result",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(io.Out, fleet.Probe(addr, "/dev/termination-log"))
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "dial", "", "host:port")
	return cmd
}
