package cli

import "github.com/spf13/cobra"

// newHelper is `ralph sandbox-helper`: ralph's main hands every
// subcommand but cgexec (bwrap's host side) to internal/helper before
// the CLI starts; cobra only lists the command, hidden.
func newHelper() *cobra.Command {
	cmd := &cobra.Command{Use: "sandbox-helper", Hidden: true}
	cmd.AddCommand(newCgexec())
	return cmd
}
