//go:build !linux

package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

var errBwrapLinux = errors.New("bubblewrap sandboxes exist only on Linux")

// The hidden helpers of bwrap sandboxes: Linux only.
func newCgexec() *cobra.Command {
	return &cobra.Command{Use: "cgexec", Hidden: true, RunE: func(*cobra.Command, []string) error { return errBwrapLinux }}
}

func newRunForward() *cobra.Command {
	return &cobra.Command{Use: "run", Hidden: true, RunE: func(*cobra.Command, []string) error { return errBwrapLinux }}
}
