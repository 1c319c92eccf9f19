package cli

import (
	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/exitcode"
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

// newRunForward parses the flags of the inside of a gated bwrap exec.
func newRunForward() *cobra.Command {
	var listen, socket, workdir string
	var lock bool
	cmd := &cobra.Command{
		Use:  "run -- ARGV...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := bwrap.RunForward(cmd.Context(), listen, socket, workdir, lock, args)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitcode.Quiet(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:3128", "")
	cmd.Flags().StringVar(&socket, "socket", "/.ralph/gate.sock", "")
	cmd.Flags().StringVar(&workdir, "workdir", "/work", "the workspace inside")
	cmd.Flags().BoolVar(&lock, "landlock", false, "restrict the command's file access with Landlock")
	return cmd
}
