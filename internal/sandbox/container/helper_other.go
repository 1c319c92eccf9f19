//go:build !unix

package container

import "errors"

// ExecHelper and KillHelper run inside a Linux sandbox only.
func ExecHelper(pidfile string, argv []string) error {
	return errors.New("the sandbox helper runs inside a Linux sandbox only")
}

// ExecReap: see ExecHelper.
func ExecReap(pidfile string, argv []string) (int, error) {
	return 1, errors.New("the sandbox helper runs inside a Linux sandbox only")
}

// KillHelper: see ExecHelper.
func KillHelper(pidfile, id string) {}
