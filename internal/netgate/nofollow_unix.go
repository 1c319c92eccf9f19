//go:build unix

package netgate

import "syscall"

// oNoFollow refuses a symbolic link as the last part of a path.
const oNoFollow = syscall.O_NOFOLLOW
