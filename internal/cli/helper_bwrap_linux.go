package cli

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
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
)

// newCgexec is the host side of a bwrap exec: join the sandbox's cgroups
// (as root), set no-new-privileges, open what bwrap copies or binds in,
// drop to the agent's uid, and become bwrap.
func newCgexec() *cobra.Command {
	var name, memory, userName string
	var uid, gid, pids int
	cmd := &cobra.Command{
		Use:  "cgexec -- BWRAP ARGS...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// no-new-privileges belongs to a thread: set it on the one
			// that execs.
			runtime.LockOSThread()
			if os.Geteuid() == 0 {
				mem, err := sandbox.ParseSize(memory)
				if err != nil {
					return err
				}
				if err := bwrap.JoinCgroups(name, mem, pids); err != nil {
					return err
				}
			}
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return fmt.Errorf("no-new-privileges: %w", err)
			}
			passwd, err := memfd("passwd", fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%d:%d::/home/ralph:/bin/sh\n", userName, uid, gid))
			if err != nil {
				return err
			}
			group, err := memfd("group", fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, gid))
			if err != nil {
				return err
			}
			fds := map[string]int{bwrap.FDPasswd: passwd, bwrap.FDGroup: group}
			if filter := bwrap.SeccompFilter(); filter != nil {
				fd, err := memfd("seccomp", string(filter))
				if err != nil {
					return err
				}
				fds[bwrap.FDSeccomp] = fd
			}
			for i, a := range args {
				if fd, ok := fds[a]; ok {
					args[i] = strconv.Itoa(fd)
				}
			}
			if os.Geteuid() == 0 && uid != 0 {
				if err := unix.Setgroups([]int{gid}); err != nil {
					return err
				}
				if err := syscall.Setgid(gid); err != nil {
					return err
				}
				if err := syscall.Setuid(uid); err != nil {
					return err
				}
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return err
			}
			return syscall.Exec(path, args, os.Environ())
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "sandbox name")
	f.IntVar(&uid, "uid", 1000, "")
	f.IntVar(&gid, "gid", 1000, "")
	f.StringVar(&memory, "memory", "4g", "")
	f.IntVar(&pids, "pids", 512, "")
	f.StringVar(&userName, "user-name", "ralph", "")
	return cmd
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

// newRunForward is the inside of a gated bwrap exec: forward the proxy
// port to the gate's socket while the command runs.
func newRunForward() *cobra.Command {
	var listen, socket, workdir string
	var lock bool
	cmd := &cobra.Command{
		Use:  "run -- ARGV...",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			if lock {
				// Landlock, inside bwrap once its mounts exist: read and
				// execute the system, write only the workspace, /tmp, HOME
				// and /dev. Best effort: a kernel without it runs unchanged.
				err := landlock.V5.BestEffort().RestrictPaths(
					landlock.RODirs("/usr", "/etc", "/proc", "/.ralph"),
					landlock.RWDirs(workdir, "/tmp", "/home/ralph", "/dev"),
				)
				if err != nil {
					return fmt.Errorf("landlock: %w", err)
				}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			done := make(chan struct{})
			go func() { netgate.Forward(ctx, l, socket); close(done) }()
			c := exec.Command(args[0], args[1:]...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			err = c.Run()
			cancel()
			<-done
			var ee *exec.ExitError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ee):
				return &quietExit{code: ee.ExitCode()}
			case errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "not found"):
				return &quietExit{code: 127}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:3128", "")
	cmd.Flags().StringVar(&socket, "socket", "/.ralph/gate.sock", "")
	cmd.Flags().StringVar(&workdir, "workdir", "/work", "the workspace inside")
	cmd.Flags().BoolVar(&lock, "landlock", false, "restrict the command's file access with Landlock")
	return cmd
}
