package microvm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/hashicorp/yamux"
	"golang.org/x/sys/unix"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// The guest side: the static ralph binary is the initramfs's /init. It
// loads the modules it needs, mounts the image's root (9p, read-only), the
// project (9p), fresh /proc, /sys, /dev, /tmp and HOME, puts the agent's
// processes in a cgroup with the pids and memory caps, brings up loopback,
// and serves the host over the virtio serial port: exec streams, run as
// the agent's uid with no capabilities and no-new-privileges, and a proxy
// listener on 127.0.0.1:3128 whose connections go to the host's gate.

const childArg = "__ralph-vm-child"

// IsGuest reports whether this process is ralph inside a microVM: the
// guest's init, or the child wrapper it starts commands through.
func IsGuest(args []string) bool {
	if len(args) > 1 && args[1] == childArg {
		return true
	}
	return os.Getpid() == 1 && len(args) > 0 && filepath.Base(args[0]) == "init"
}

// GuestMain runs the guest side and returns an exit status.
func GuestMain(args []string) int {
	if len(args) > 1 && args[1] == childArg {
		err := child(args[2:])
		fmt.Fprintln(os.Stderr, "ralph-vm:", err)
		return 127
	}
	if err := initGuest(); err != nil {
		fmt.Fprintln(os.Stderr, "ralph-vm: init:", err)
		time.Sleep(time.Second)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART) // -no-reboot: QEMU exits
	return 1
}

// guestConfig comes from the kernel command line (ralph.KEY=VALUE).
type guestConfig struct {
	probe          bool // ralph.probe=1: boot, load the modules, power off (doctor's measurement)
	uid, gid, pids int
	mem, tmp       int64
	workdir, home  string
}

func readConfig() guestConfig {
	c := guestConfig{uid: 1000, gid: 1000, pids: sandbox.DefaultPids, tmp: 1 << 30, workdir: sandbox.DefaultWorkdir, home: sandbox.HomeDir}
	b, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(b)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !strings.HasPrefix(k, "ralph.") {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch strings.TrimPrefix(k, "ralph.") {
		case "uid":
			c.uid = int(n)
		case "gid":
			c.gid = int(n)
		case "pids":
			c.pids = int(n)
		case "mem":
			c.mem = n
		case "tmp":
			c.tmp = n
		case "workdir":
			c.workdir = v
		case "home":
			c.home = v
		case "probe":
			c.probe = n == 1
		}
	}
	return c
}

func initGuest() error {
	for _, m := range []struct{ src, dst, fs string }{{"dev", "/dev", "devtmpfs"}, {"proc", "/proc", "proc"}, {"sys", "/sys", "sysfs"}} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	cfg := readConfig()
	if err := loadModules("/modules"); err != nil {
		return err
	}
	if cfg.probe {
		return nil // GuestMain powers off
	}
	port, err := openPort("ralph")
	if err != nil {
		return err
	}
	cg, err := agentCgroup(cfg)
	if err != nil {
		return err
	}
	if err := newRoot("/newroot", cfg); err != nil {
		return err
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	if err := noUserNamespaces(); err != nil {
		return err
	}
	unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	g := &guest{cfg: cfg, cgroup: cg, children: map[int]bool{}}
	go g.reap()
	return g.serve(port)
}

// noUserNamespaces closes user namespaces in the guest: the agent's pids
// and memory caps are a cgroup of this kernel, and a user namespace would
// let it mount a cgroupfs of its own (as under gVisor without seccomp).
// A kernel without user namespaces has nothing to close.
func noUserNamespaces() error {
	err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("close user namespaces: %w", err)
	}
	return nil
}

// loadModules loads the kernel modules the host listed, in order.
func loadModules(dir string) error {
	order, err := os.ReadFile(filepath.Join(dir, "order"))
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(order)) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("load %s: %w", name, err)
		}
	}
	return nil
}

// openPort opens the virtio serial port called name.
func openPort(name string) (*os.File, error) {
	for i := 0; i < 200; i++ {
		ports, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, p := range ports {
			if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) == name {
				return os.OpenFile("/dev/"+filepath.Base(filepath.Dir(p)), os.O_RDWR, 0)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("no virtio port %q", name)
}

// agentCgroup makes the cgroup every command runs in and returns an open
// descriptor of it (for CLONE_INTO_CGROUP).
func agentCgroup(cfg guestConfig) (int, error) {
	root := "/sys/fs/cgroup"
	if err := unix.Mount("cgroup2", root, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return -1, fmt.Errorf("mount cgroup2: %w", err)
	}
	if err := os.WriteFile(root+"/cgroup.subtree_control", []byte("+pids +memory"), 0); err != nil {
		return -1, fmt.Errorf("cgroup controllers: %w", err)
	}
	dir := root + "/agent"
	if err := os.Mkdir(dir, 0o755); err != nil {
		return -1, err
	}
	if err := os.WriteFile(dir+"/pids.max", []byte(strconv.Itoa(cfg.pids)), 0); err != nil {
		return -1, err
	}
	self, _ := os.Stat("/init")
	var selfSize int64
	if self != nil {
		selfSize = self.Size()
	}
	if limit := agentMemory(cfg.mem, memAvailable(), selfSize); limit > 0 {
		fmt.Fprintf(os.Stderr, "ralph-vm: the agent's memory limit is %d MiB\n", limit>>20)
		if err := os.WriteFile(dir+"/memory.max", []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
			return -1, err
		}
	}
	return unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// memAvailable is the guest's MemAvailable in bytes (0 when unknown).
func memAvailable() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// newRoot mounts the sandbox's filesystems under dir and makes it /.
func newRoot(dir string, cfg guestConfig) error {
	os.MkdirAll(dir, 0o755)
	const p9 = "trans=virtio,version=9p2000.L,msize=262144"
	mounts := []struct {
		src, dst, fs string
		flags        uintptr
		data         string
	}{
		{"root", dir, "9p", unix.MS_RDONLY | unix.MS_NODEV, p9 + ",cache=loose"},
		{"work", dir + cfg.workdir, "9p", unix.MS_NOSUID | unix.MS_NODEV, p9},
		{"proc", dir + "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sys", dir + "/sys", "sysfs", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"tmp", dir + "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%d", cfg.tmp)},
		{"home", dir + cfg.home, "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=%d", cfg.uid, cfg.gid, cfg.tmp)},
		{"dev", dir + "/dev", "tmpfs", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0755"},
		{"ralph", dir + "/.ralph", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	}
	for _, m := range mounts {
		if err := mountRetry(m.src, m.dst, m.fs, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.src, m.dst, err)
		}
	}
	// ralph itself at /.ralph/ralph, as in the other backends.
	self, err := os.ReadFile("/init")
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/.ralph/ralph", self, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("", dir+"/.ralph", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return err
	}
	if err := devices(dir + "/dev"); err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return os.Chdir("/")
}

// mountRetry mounts, retrying a moment while a virtio device comes up.
func mountRetry(src, dst, fs string, flags uintptr, data string) error {
	var err error
	for i := 0; i < 100; i++ {
		if err = unix.Mount(src, dst, fs, flags, data); err == nil || fs != "9p" {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// openPty opens a new pseudo-terminal of rows x cols whose terminal end
// belongs to the agent's uid.
func openPty(rows, cols uint16, uid, gid int) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	slave, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	os.Chown(name, uid, gid)
	if rows == 0 || cols == 0 {
		rows, cols = 24, 80
	}
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	return master, slave, nil
}

// devices makes the few device nodes a command needs; no others (the
// serial port to the host is not among them).
func devices(dev string) error {
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		if err := unix.Mknod(dev+"/"+d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return err
		}
		os.Chmod(dev+"/"+d.name, 0o666)
	}
	for _, l := range [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}} {
		os.Symlink(l[0], dev+"/"+l[1])
	}
	os.Mkdir(dev+"/shm", 0o1777)
	// Terminals for ralph shell and for the agent's own tools: a private
	// devpts instance.
	if err := os.Mkdir(dev+"/pts", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	return os.Symlink("pts/ptmx", dev+"/ptmx")
}

// loopbackUp sets lo up: the proxy listens there, and nothing else is.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

type guest struct {
	cfg    guestConfig
	cgroup int

	mu   sync.Mutex
	sess *yamux.Session

	// children are the exec wrappers this init started and waits for
	// itself; every other process that ends here is an orphan to reap.
	cmu      sync.Mutex
	children map[int]bool
}

// reap is PID 1's duty: collect orphans (the background processes of
// finished commands), whose zombies would otherwise hold the pids limit.
// It peeks first (WNOWAIT), and leaves this init's own children to
// their exec.Cmd.
func (g *guest) reap() {
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		// si_pid follows si_signo, si_errno, si_code and padding on 64-bit.
		pid := int(*(*int32)(unsafe.Pointer(uintptr(unsafe.Pointer(&info)) + 16)))
		g.cmu.Lock()
		ours := g.children[pid]
		if !ours {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		g.cmu.Unlock()
		if ours {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// serve answers the host for as long as the VM runs. The host side
// connects and disconnects (one ralph after another); each connection is
// a new yamux session over the same port.
func (g *guest) serve(port *os.File) error {
	go g.proxy()
	for {
		sess, err := yamux.Server(portConn{port}, yamuxConfig())
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.sess = sess
		g.mu.Unlock()
		for {
			st, err := sess.Accept()
			if err != nil {
				break
			}
			go g.stream(st)
		}
		sess.Close()
		time.Sleep(50 * time.Millisecond) // the host is away: wait for the next
	}
}

// portConn makes the serial port a net.Conn for yamux; a read while no
// host is connected returns EOF, which ends the session.
type portConn struct{ f *os.File }

func (p portConn) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}
func (p portConn) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p portConn) Close() error                { return nil }

// proxy listens on the guest's loopback and carries each connection to
// the host's gate as a stream.
func (g *guest) proxy() {
	l, err := net.Listen("tcp", "127.0.0.1:3128")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ralph-vm: proxy:", err)
		return
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			g.mu.Lock()
			sess := g.sess
			g.mu.Unlock()
			if sess == nil {
				return
			}
			st, err := sess.Open()
			if err != nil {
				return
			}
			defer st.Close()
			if writeHeader(st, header{Op: opProxy}) != nil {
				return
			}
			netgate.Pipe(c, st)
		}()
	}
}

func (g *guest) stream(st net.Conn) {
	defer st.Close()
	br := bufio.NewReader(st)
	h, err := readHeader(br)
	if err != nil {
		return
	}
	switch h.Op {
	case opPing:
		st.Write([]byte("ok\n"))
	case opPoweroff:
		st.Write([]byte("ok\n"))
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	case opExec:
		g.exec(st, br, h)
	}
}

// exec runs one command through the child wrapper, in the agent's
// cgroup, in its own process group, and reports its exit status.
func (g *guest) exec(st net.Conn, br *bufio.Reader, h header) {
	var wmu sync.Mutex
	send := func(kind byte, data []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(st, kind, data)
	}
	args := append([]string{childArg, strconv.Itoa(g.cfg.uid), strconv.Itoa(g.cfg.gid), h.Dir, "--"}, h.Argv...)
	cmd := exec.Command("/.ralph/ralph", args...)
	cmd.Args[0] = "ralph-vm-child"
	cmd.Env = h.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: g.cgroup, Pdeathsig: syscall.SIGKILL}
	var stdin io.WriteCloser
	var master *os.File
	var copied chan struct{}
	if h.TTY {
		m, slave, err := openPty(h.Rows, h.Cols, g.cfg.uid, g.cfg.gid)
		if err != nil {
			send(frameStderr, []byte("ralph-vm: pty: "+err.Error()+"\n"))
			send(frameExit, status(127))
			return
		}
		defer m.Close()
		master, stdin = m, m
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setpgid = false
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
		defer slave.Close()
	} else {
		cmd.Stdout = frameWriter{send, frameStdout}
		cmd.Stderr = frameWriter{send, frameStderr}
		stdin, _ = cmd.StdinPipe()
	}
	g.cmu.Lock()
	err := cmd.Start()
	if err == nil {
		g.children[cmd.Process.Pid] = true
	}
	g.cmu.Unlock()
	if err != nil {
		send(frameStderr, []byte("ralph-vm: "+err.Error()+"\n"))
		send(frameExit, status(127))
		return
	}
	pgid := cmd.Process.Pid
	defer func() {
		g.cmu.Lock()
		delete(g.children, pgid)
		g.cmu.Unlock()
	}()
	if master != nil {
		cmd.Stdin.(*os.File).Close() // the child holds the terminal now
		copied = make(chan struct{})
		go func() {
			io.Copy(frameWriter{send, frameStdout}, master) // ends with EIO once the terminal is closed
			close(copied)
		}()
	}
	go func() {
		for {
			kind, data, err := readFrame(br)
			if err != nil || kind == frameKill {
				// The host went away or cancelled: nothing of it stays.
				unix.Kill(-pgid, unix.SIGKILL)
				return
			}
			switch kind {
			case frameStdin:
				stdin.Write(data)
			case frameStdinEOF:
				if master != nil {
					stdin.Write([]byte{4}) // a terminal's EOF is ^D, not a close
				} else {
					stdin.Close()
				}
			}
		}
	}()
	err = cmd.Wait()
	unix.Kill(-pgid, unix.SIGKILL) // what it left in the background
	if copied != nil {
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
	}
	code := 0
	if err != nil {
		code = 1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
	send(frameExit, status(code))
}

func status(code int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return b[:]
}

// child runs as root in the agent's cgroup: it drops every capability
// from the bounding set, becomes the agent's uid and gid, sets
// no-new-privileges, and execs the command. args: UID GID DIR -- ARGV...
func child(args []string) error {
	if len(args) < 5 || args[3] != "--" {
		return fmt.Errorf("usage: %s UID GID DIR -- ARGV", childArg)
	}
	// The bounding set and no-new-privileges belong to a thread, not the
	// process: drop them on the thread that will exec.
	runtime.LockOSThread()
	uid, _ := strconv.Atoi(args[0])
	gid, _ := strconv.Atoi(args[1])
	dir, argv := args[2], args[4:]
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err == unix.EINVAL {
			break
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return err
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return err
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			return err
		}
	}
	path, err := lookPath(argv[0], os.Getenv("PATH"))
	if err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}

func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found", name)
}
