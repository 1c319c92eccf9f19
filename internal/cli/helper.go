package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/selftest"
)

// newHelper is the part of ralph that runs inside a sandbox: the same
// static binary, mounted read-only. Hidden: users never call it.
func newHelper() *cobra.Command {
	cmd := &cobra.Command{Use: "sandbox-helper", Hidden: true}
	var listen, socket string
	fwd := &cobra.Command{
		Use:   "forward",
		Short: "carry the agent's proxy connections to the gate's Unix socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			err = netgate.Forward(cmd.Context(), l, socket)
			if err == nil {
				os.Exit(0)
			}
			return err
		},
	}
	fwd.Flags().StringVar(&listen, "listen", "127.0.0.1:3128", "loopback address for HTTP_PROXY")
	fwd.Flags().StringVar(&socket, "socket", "/.ralph/gate.sock", "the gate's Unix socket")
	execCmd := &cobra.Command{
		Use:   "exec PIDFILE -- ARGV...",
		Short: "record this process group in PIDFILE, then become ARGV",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := container.ExecHelper(args[0], args[1:])
			if errors.Is(err, exec.ErrNotFound) {
				return exitcode.Quiet(127)
			}
			return err
		},
	}
	killCmd := &cobra.Command{
		Use:   "kill PIDFILE [EXEC-ID]",
		Short: "kill the process group recorded in PIDFILE, and every process the exec's id marks",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			container.KillHelper(args[0], id)
			return nil
		},
	}
	probe := &cobra.Command{
		Use:   "probe CONFIG",
		Short: "run the selftest's attack battery here and print the results as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg selftest.ProbeConfig
			if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			selftest.Probe(cfg, func(r selftest.Result) { enc.Encode(r) })
			return nil
		},
	}
	attack := &cobra.Command{
		Use:   "attack KIND [ARG]",
		Short: "one attack of the battery, in a child process",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return selftest.Attack(args) },
	}
	pidsMax := &cobra.Command{
		Use:   "pids-max N",
		Short: "set the pids limit of gVisor's own cgroup (as root, inside the sandbox)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return fmt.Errorf("pids-max: %q is not a positive number", args[0])
			}
			return container.SetGuestPids(n)
		},
	}
	cmd.AddCommand(fwd, execCmd, killCmd, probe, attack, pidsMax, newCgexec(), newRunForward())
	return cmd
}
