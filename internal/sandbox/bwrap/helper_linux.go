package bwrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// The sandbox-side halves of a bwrap exec, run as ralph's hidden helper
// subcommands (the CLI only parses their flags).

// Cgexec is the host side of a bwrap exec: join the sandbox's cgroups (as
// root), set no-new-privileges, open what bwrap copies or binds in, drop
// to the agent's uid, and become bwrap.
type Cgexec struct {
	Name, Memory, UserName string
	UID, GID, Pids         int
}

// Exec becomes bwrap with args; it returns only on failure.
func (c Cgexec) Exec(args []string) error {
	// no-new-privileges belongs to a thread: set it on the one that execs.
	runtime.LockOSThread()
	if os.Geteuid() == 0 {
		mem, err := sandbox.ParseSize(c.Memory)
		if err != nil {
			return err
		}
		if err := JoinCgroups(c.Name, mem, c.Pids); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no-new-privileges: %w", err)
	}
	passwd, err := memfd("passwd", fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%d:%d::/home/ralph:/bin/sh\n", c.UserName, c.UID, c.GID))
	if err != nil {
		return err
	}
	group, err := memfd("group", fmt.Sprintf("root:x:0:\n%s:x:%d:\n", c.UserName, c.GID))
	if err != nil {
		return err
	}
	fds := map[string]int{FDPasswd: passwd, FDGroup: group}
	if filter := SeccompFilter(); filter != nil {
		fd, err := memfd("seccomp", string(filter))
		if err != nil {
			return err
		}
		fds[FDSeccomp] = fd
	}
	for i, a := range args {
		if fd, ok := fds[a]; ok {
			args[i] = strconv.Itoa(fd)
		}
	}
	if os.Geteuid() == 0 && c.UID != 0 {
		if err := unix.Setgroups([]int{c.GID}); err != nil {
			return err
		}
		if err := syscall.Setgid(c.GID); err != nil {
			return err
		}
		if err := syscall.Setuid(c.UID); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, args, os.Environ())
}

// memfd is an inheritable descriptor holding data, read from the start.
func memfd(name, data string) (int, error) {
	fd, err := unix.MemfdCreate(name, 0) // no MFD_CLOEXEC: bwrap inherits it
	if err != nil {
		return -1, err
	}
	if _, err := unix.Write(fd, []byte(data)); err != nil {
		return -1, err
	}
	_, err = unix.Seek(fd, 0, 0)
	return fd, err
}

// RunForward is the inside of a gated bwrap exec: forward the proxy port
// on listen to the gate's socket while argv runs, under Landlock when
// asked; it returns argv's exit status (127 when it is not found).
func RunForward(ctx context.Context, listen, socket, workdir string, lock bool, argv []string) (int, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return -1, err
	}
	if lock {
		// Landlock, inside bwrap once its mounts exist: read and execute
		// the system, write only the workspace, /tmp, HOME and /dev. Best
		// effort: a kernel without it runs unchanged.
		err := landlock.V5.BestEffort().RestrictPaths(
			landlock.RODirs("/usr", "/etc", "/proc", "/.ralph"),
			landlock.RWDirs(workdir, "/tmp", "/home/ralph", "/dev"),
		)
		if err != nil {
			return -1, fmt.Errorf("landlock: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { netgate.Forward(ctx, l, socket); close(done) }()
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = c.Run()
	cancel()
	<-done
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	case errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "not found"):
		return 127, nil
	}
	return -1, err
}
