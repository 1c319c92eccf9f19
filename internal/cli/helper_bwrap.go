package cli

import (
	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
)

// newCgexec parses the flags of bwrap's host-side exec helper.
func newCgexec() *cobra.Command {
	var c bwrap.Cgexec
	cmd := &cobra.Command{
		Use:  "cgexec -- BWRAP ARGS...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return c.Exec(args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&c.Name, "name", "", "sandbox name")
	fl.IntVar(&c.UID, "uid", 1000, "")
	fl.IntVar(&c.GID, "gid", 1000, "")
	fl.StringVar(&c.Memory, "memory", "4g", "")
	fl.IntVar(&c.Pids, "pids", 512, "")
	fl.StringVar(&c.UserName, "user-name", "ralph", "")
	return cmd
}
