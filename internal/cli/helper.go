package cli

import (
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/netgate"
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
	cmd.AddCommand(fwd)
	return cmd
}
