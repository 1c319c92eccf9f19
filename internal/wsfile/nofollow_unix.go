//go:build unix

package wsfile

import "syscall"

// oNoFollow refuses a symbolic link as the last part of a path.
const oNoFollow = syscall.O_NOFOLLOW
