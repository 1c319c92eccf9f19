//go:build !linux

package bwrap

import (
	"context"
	"errors"
)

var errLinux = errors.New("bubblewrap sandboxes exist only on Linux")

// Cgexec: Linux only.
type Cgexec struct {
	Name, Memory, UserName string
	UID, GID, Pids         int
}

func (c Cgexec) Exec(args []string) error { return errLinux }

// RunForward: Linux only.
func RunForward(ctx context.Context, listen, socket, workdir string, lock bool, argv []string) (int, error) {
	return -1, errLinux
}
