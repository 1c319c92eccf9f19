package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Attack is the child side of an attack; it prints "done" when the attack
// went through entirely.
func Attack(args []string) error {
	if len(args) < 1 {
		return errors.New("attack: what?")
	}
	switch args[0] {
	case "threads":
		n, _ := strconv.Atoi(args[1])
		var wg sync.WaitGroup
		release := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				<-release
			}()
		}
		time.Sleep(2 * time.Second) // let the runtime start every thread
		close(release)
		wg.Wait()
		fmt.Println("done")
	case "procs":
		n, _ := strconv.Atoi(args[1])
		if forkMany(n) {
			fmt.Println("done")
		}
	case "alloc":
		total, _ := strconv.ParseInt(args[1], 10, 64)
		var keep [][]byte
		for got := int64(0); got < total; got += 64 << 20 {
			b := make([]byte, 64<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		runtime.KeepAlive(keep)
		fmt.Println("done")
	case "fill":
		total, _ := strconv.ParseInt(args[2], 10, 64)
		if fill(args[1], total) {
			fmt.Println("done")
		}
	case "listen":
		return listen(args[1:])
	case "userns":
		// Start ralph again in new namespaces (a user namespace first, as
		// `unshare -U -r` does): a Go process cannot unshare a user
		// namespace itself once it has threads.
		flags, _ := strconv.ParseUint(args[1], 0, 64)
		self, _ := os.Executable()
		cmd := exec.Command(self, "sandbox-helper", "attack", "in-userns")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags),
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("userns: %v %s", err, out)
		}
		os.Stdout.Write(out)
		fmt.Println("done")
	case "clone3-userns":
		// clone3 takes its flags in memory, where seccomp cannot look:
		// a profile has to refuse clone3 whole, or the namespace is made.
		return clone3UserNS()
	case "in-userns":
		// Root in a user namespace of its own: try what the review did
		// under gVisor, leave the pids limit through a fresh cgroupfs.
		fmt.Println("inside a new user namespace")
		dir, err := os.MkdirTemp("", "ralph-selftest-cg")
		if err != nil {
			return nil
		}
		defer os.Remove(dir)
		if err := unix.Mount("none", dir, "cgroup", 0, "pids"); err == nil {
			defer unix.Unmount(dir, unix.MNT_DETACH)
			if os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0) == nil {
				fmt.Println("moved itself to the root pids cgroup")
			}
		} else if err := unix.Mount("none", dir, "cgroup2", 0, ""); err == nil {
			defer unix.Unmount(dir, unix.MNT_DETACH)
			if os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0) == nil {
				fmt.Println("moved itself to the root cgroup")
			}
		}
	case "unshare":
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return err
		}
		fmt.Println("done")
	default:
		return fmt.Errorf("attack: unknown %q", args[0])
	}
	return nil
}

// forkMany forks up to n processes that wait for their parent to die,
// and reports whether all n started. The children are bare forks that
// never return into the Go runtime: they only block in ppoll until
// SIGKILL, sent when this process exits (PR_SET_PDEATHSIG) or below.
func forkMany(n int) bool {
	runtime.LockOSThread()
	var pids []int
	defer func() {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		for range pids {
			var ws unix.WaitStatus
			unix.Wait4(-1, &ws, 0, nil)
		}
	}()
	for len(pids) < n {
		pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			return false
		}
		if pid == 0 {
			unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0)
			for {
				unix.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
			}
		}
		pids = append(pids, int(pid))
	}
	return true
}

// escapeSyscalls tries the privileged system calls a runtime escape needs.
// clone3UserNS forks through clone3 into new user and mount namespaces;
// the child becomes this helper's in-userns attack at once (a raw fork of
// a Go program may only make system calls).
func clone3UserNS() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	path, _ := unix.BytePtrFromString(self)
	argv, _ := syscall.SlicePtrFromStrings([]string{self, "sandbox-helper", "attack", "in-userns"})
	env, _ := syscall.SlicePtrFromStrings(os.Environ())
	args := struct {
		flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
	}{flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, exitSignal: uint64(unix.SIGCHLD)}
	runtime.LockOSThread()
	pid, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	if errno != 0 {
		return fmt.Errorf("clone3: %w", errno)
	}
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])))
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
	var ws unix.WaitStatus
	unix.Wait4(int(pid), &ws, 0, nil)
	fmt.Println("done")
	return nil
}

func escapeSyscalls(f *finding, ralphPID int, userKernel bool) {
	dir, err := os.MkdirTemp("", "ralph-selftest-mnt")
	if err == nil {
		merr := unix.Mount("tmpfs", dir, "tmpfs", 0, "")
		if merr == nil {
			unix.Unmount(dir, 0)
		}
		f.try("mount a tmpfs", merr == nil, "mounted")
		os.Remove(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	self, _ := os.Executable()
	out, err := helper(ctx, self, "unshare")
	f.try("unshare a mount namespace", err == nil && bytes.Contains([]byte(out), []byte("done")), "unshared")
	// User namespaces: full capabilities over new namespaces, the host
	// kernel's rtnetlink, nf_tables and mount code within reach (and under
	// gVisor, a way out of the pids cgroup).
	for _, ns := range []struct {
		name  string
		flags uintptr
	}{
		{"user", unix.CLONE_NEWUSER},
		{"user and mount", unix.CLONE_NEWUSER | unix.CLONE_NEWNS},
		{"user and network", unix.CLONE_NEWUSER | unix.CLONE_NEWNET},
		{"user and pid", unix.CLONE_NEWUSER | unix.CLONE_NEWPID},
	} {
		out, err := helper(ctx, self, "userns", fmt.Sprint(ns.flags))
		made := err == nil && strings.Contains(out, "done")
		detail := "created"
		if strings.Contains(out, "moved itself") {
			detail += "; in it, mounted a cgroupfs and left the pids limit"
		}
		f.try("create a "+ns.name+" namespace", made, detail)
	}
	out, err = helper(ctx, self, "clone3-userns")
	made := err == nil && strings.Contains(out, "inside a new user namespace")
	escaped := strings.Contains(out, "moved itself")
	if userKernel {
		// Under gVisor clone3 stays allowed (its seccomp answers EPERM
		// where glibc needs ENOSYS): a user namespace there is gVisor's
		// own; the breach is leaving the pids limit through it.
		f.try("clone3 into a user and mount namespace, then mount a cgroupfs to leave the pids limit (gVisor's kernel: the namespace alone is not the host's)", escaped, "left the pids limit")
	} else {
		f.try("clone3 into a user and mount namespace", made, "created")
	}
	// May the agent ptrace ralph, the process outside that started the
	// probe? Opening its memory needs the same permission as attaching,
	// without stopping it. Inside a pid namespace ralph is not visible.
	target := fmt.Sprintf("/proc/%d", ralphPID)
	if b, err := os.ReadFile(target + "/cmdline"); err == nil && bytes.Contains(b, []byte("selftest")) {
		fh, err := os.Open(target + "/mem")
		if err == nil {
			fh.Close()
		}
		f.try(fmt.Sprintf("ptrace access to ralph (pid %d on the host)", ralphPID), err == nil, "granted")
	} else {
		f.try(fmt.Sprintf("ptrace ralph (pid %d on the host): not visible", ralphPID), false, "")
	}
	merr := unix.FinitModule(-1, "", 0)
	f.try("load a kernel module", !errors.Is(merr, unix.EPERM) && !errors.Is(merr, unix.ENOSYS), fmt.Sprintf("finit_module answered %v, not EPERM", merr))
}

// mkfifo makes a named pipe at p.
func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }
