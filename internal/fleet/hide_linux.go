package fleet

import "golang.org/x/sys/unix"

// hideSelf makes this process non-dumpable: its /proc files (environ,
// mem) then belong to root and it cannot be ptraced, so an agent running
// as the same uid in the pod cannot read the git token from the
// environment this process started with.
func hideSelf() { unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }

// killAll kills every process this one may signal: in a pod, as the
// child of ralph's own PID 1, everything the agent left running.
func killAll() { unix.Kill(-1, unix.SIGKILL) }
