// Package microvm is the backend that gives each sandbox its own Linux
// kernel: a QEMU microvm machine (KVM when /dev/kvm is usable, else TCG,
// slowly) booted from the host's kernel and an initramfs holding ralph
// itself, with the image's root filesystem and the project shared over
// 9p, and no network device at all. The one channel to the host is a
// virtio serial port carrying exec streams and the network gate's proxy
// connections (see proto.go, guest.go, and docs/decisions/004).
package microvm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
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
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/term"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// HomeDir is the agent's HOME inside, as on the other backends.
const HomeDir = "/home/ralph"

// ProxyAddr is where the guest's proxy listens.
const ProxyAddr = "127.0.0.1:3128"

// VM is the backend.
type VM struct {
	// Ralph is the static ralph binary that becomes the guest's init.
	Ralph string
	// StateDir keeps a record per sandbox; RunDir the sockets, pid files
	// and consoles of running VMs; CacheDir the initramfs and exported
	// root filesystems.
	StateDir, RunDir, CacheDir string
	// Log, when set, hears about the slow steps (an image's first
	// export, a boot) as they start.
	Log io.Writer

	mu       sync.Mutex
	sessions map[string]*session
	home     string
	accel    accelCache
	ensureMu sync.Mutex // one Ensure at a time in this process: a boot is not shared
}

type session struct {
	sess   *yamux.Session
	spec   sandbox.Spec
	env    []string
	booted time.Time // when this process started QEMU for it
	accel  string    // what it was booted with
}

var _ sandbox.Backend = (*VM)(nil)

// New returns the backend.
func New(ralph, stateDir, runDir, cacheDir string) *VM {
	home, _ := os.UserHomeDir()
	return &VM{Ralph: ralph, StateDir: stateDir, RunDir: runDir, CacheDir: cacheDir, sessions: map[string]*session{}, home: home}
}

func (v *VM) Name() string               { return "microvm" }
func (v *VM) Boundary() sandbox.Boundary { return sandbox.MicroVM }

// Available checks for QEMU, a guest kernel with its modules, and a
// static ralph to be the guest's init.
func (v *VM) Available(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return sandbox.Unavailable("ralph's own microVM runs on Linux hosts (KVM, 9p, its Linux guest); on %s use sbx, Docker Sandboxes' microVMs", runtime.GOOS)
	}
	if _, err := proc.Look("qemu-system-x86_64"); err != nil {
		return sandbox.Unavailable("QEMU is not installed (Debian: apt-get install qemu-system-x86)")
	}
	_, version, err := Kernel()
	if err != nil {
		return err
	}
	if _, err := modules(version); err != nil {
		return err
	}
	if v.Ralph == "" || !sandbox.Static(v.Ralph) {
		return sandbox.Unavailable("the microVM boots ralph itself as its init and needs a static build: reinstall with CGO_ENABLED=0 go install ./cmd/ralph")
	}
	return nil
}

type record struct {
	Name    string `json:"name"`
	Agent   string `json:"agent"`
	Project string `json:"project"`
	Image   string `json:"image"`
	Created string `json:"created"`
}

func (v *VM) recordPath(name string) string { return filepath.Join(v.StateDir, name+".json") }
func (v *VM) runDir(name string) string     { return filepath.Join(v.RunDir, name) }

// pid returns the QEMU process of name, or 0 when it is not running.
func (v *VM) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(v.runDir(name), "qemu.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), filepath.Join(v.runDir(name), "chan.sock")) {
		return 0
	}
	return pid
}

// Ensure boots the VM when it is not running (created the first time)
// and connects to it.
func (v *VM) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	if err := sandbox.Validate(spec, v.home); err != nil {
		return false, err
	}
	v.ensureMu.Lock()
	defer v.ensureMu.Unlock()
	if spec.Workdir == "" {
		spec.Workdir = sandbox.DefaultWorkdir
	}
	_, err := os.Stat(v.recordPath(spec.Name))
	created := errors.Is(err, os.ErrNotExist)
	booted := false
	if v.pid(spec.Name) == 0 {
		v.drop(spec.Name)
		if spec.Image == "" {
			return false, sandbox.Unavailable("no image: pass --image (an image with the agent's CLI; see ralph image build)")
		}
		if err := v.boot(ctx, spec); err != nil {
			v.kill(spec.Name)
			return false, err
		}
		booted = true
	}
	// What this call started is undone if it fails: no QEMU, socket or
	// record is left behind a failed Ensure.
	undo := func() {
		if booted {
			v.kill(spec.Name)
		}
		if created {
			os.Remove(v.recordPath(spec.Name))
		}
	}
	if created {
		if err := os.MkdirAll(v.StateDir, 0o700); err != nil {
			return false, err
		}
		data, _ := json.Marshal(record{spec.Name, spec.Agent, spec.Project, spec.Image, time.Now().UTC().Format(time.RFC3339)})
		if err := os.WriteFile(v.recordPath(spec.Name), data, 0o600); err != nil {
			return false, err
		}
	}
	if _, err := v.connect(ctx, spec); err != nil {
		undo()
		return false, err
	}
	return created, nil
}

// kill ends the QEMU of name at once (SIGKILL), waits for it, and removes
// its run folder.
func (v *VM) kill(name string) {
	v.drop(name)
	if pid := v.pid(name); pid != 0 {
		killPid(pid)
		for i := 0; i < 80 && v.pid(name) != 0; i++ {
			time.Sleep(25 * time.Millisecond)
		}
	}
	os.RemoveAll(v.runDir(name))
}

// boot starts QEMU for spec, as the sandbox's uid when ralph is root.
func (v *VM) boot(ctx context.Context, spec sandbox.Spec) error {
	kernel, version, err := Kernel()
	if err != nil {
		return err
	}
	kernel = Vmlinux(ctx, v.CacheDir, kernel, version)
	initrd, err := Initramfs(v.CacheDir, v.Ralph, version)
	if err != nil {
		return fmt.Errorf("microvm: initramfs: %w", err)
	}
	workdir := spec.Workdir
	if workdir == "" {
		workdir = sandbox.DefaultWorkdir
	}
	mem := spec.Memory
	if mem == "" {
		mem = sandbox.DefaultMemory
	}
	root, err := exportRootfs(ctx, v.CacheDir, spec.Image, []string{workdir, HomeDir, "/tmp", "/proc", "/sys", "/dev", "/.ralph"}, v.logf)
	if err != nil {
		return err
	}
	accel := v.Accel(ctx).Accel
	v.logf("ralph: microvm: booting %s (%s, %s of memory)", spec.Name, accel, mem)
	uid, gid, err := sandbox.RunAs(spec)
	if err != nil {
		return sandbox.Refused("%v", err)
	}
	memBytes, err := sandbox.ParseSize(mem)
	if err != nil {
		return sandbox.Refused("--memory %q: %v", mem, err)
	}
	cpus := spec.CPUs
	if cpus == "" {
		cpus = "2"
	}
	ncpu, _ := strconv.ParseFloat(cpus, 64)
	tmpBytes, _ := spec.TmpBytes() // checked by Validate
	pids := spec.Pids
	if pids == 0 {
		pids = sandbox.DefaultPids
	}
	dir := v.runDir(spec.Name)
	os.RemoveAll(dir)
	// QEMU, as the sandbox's user, must reach its own folder only.
	if err := os.MkdirAll(v.RunDir, 0o711); err != nil {
		return err
	}
	os.Chmod(v.RunDir, 0o711)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	asRoot := os.Geteuid() == 0
	if asRoot {
		os.Chown(dir, uid, gid)
	}
	// The agent's cgroup gets at most the guest's memory less 64 MiB;
	// the guest lowers it further to what it finds available at boot
	// (agentMemory), so an allocation past the limit kills the agent's
	// process, not the VM.
	agentMem := max(memBytes-64<<20, 32<<20)
	args := qemuArgs(qemuConfig{
		accel: accel, memMiB: memBytes >> 20, cpus: max(int(ncpu+0.5), 1), kernel: kernel, initrd: initrd,
		root: root.Dir, project: spec.Project, dir: dir,
		append: fmt.Sprintf("ralph.uid=%d ralph.gid=%d ralph.pids=%d ralph.mem=%d ralph.tmp=%d ralph.workdir=%s ralph.home=%s",
			uid, gid, pids, agentMem, tmpBytes, workdir, HomeDir),
	})
	// Not -daemonize: QEMU's seccomp sandbox (spawn=deny) forbids the
	// fork. A session of its own instead, so it outlives this ralph; the
	// goroutine reaps it if it ends first.
	console, err := os.OpenFile(filepath.Join(dir, "qemu.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = qemuAttr(asRoot, uid, gid, accel)
	if asRoot {
		os.Chown(console.Name(), uid, gid)
	}
	// QEMU inherits a shared lock on the root it boots: the cache is not
	// pruned from under a running VM.
	use, err := sharedLock(root.Use)
	if err != nil {
		return fmt.Errorf("microvm: %w", err)
	}
	cmd.ExtraFiles = []*os.File{use}
	started := time.Now()
	err = cmd.Start()
	use.Close()
	if err != nil {
		return fmt.Errorf("microvm: qemu: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for i := 0; i < 100 && v.pid(spec.Name) == 0; i++ {
		select {
		case <-exited:
			i = 100
		case <-time.After(50 * time.Millisecond):
		}
	}
	if v.pid(spec.Name) == 0 {
		b, _ := os.ReadFile(console.Name())
		return fmt.Errorf("microvm: qemu did not start: %s", strings.TrimSpace(string(b)))
	}
	spec.Workdir = workdir
	v.mu.Lock()
	v.sessions[spec.Name] = &session{spec: spec, env: root.Env, booted: started, accel: accel}
	v.mu.Unlock()
	return nil
}

type qemuConfig struct {
	accel                         string
	memMiB                        int64
	cpus                          int
	kernel, initrd, root, project string
	dir, append                   string
}

// qemuArgs is the QEMU command line: a microvm machine, no network device,
// no default devices, two 9p shares, one virtio serial port to the host,
// QEMU's own seccomp sandbox.
func qemuArgs(c qemuConfig) []string {
	cpu := "max"
	if c.accel == "kvm" {
		cpu = "host"
	}
	return []string{"qemu-system-x86_64",
		"-M", "microvm", "-accel", c.accel, "-cpu", cpu,
		"-m", strconv.FormatInt(c.memMiB, 10), "-smp", strconv.Itoa(c.cpus),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", c.kernel, "-initrd", c.initrd,
		"-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 no_timer_check " + c.append,
		"-chardev", "file,id=con,path=" + filepath.Join(c.dir, "console.log"), "-serial", "chardev:con",
		"-fsdev", "local,id=root,path=" + c.root + ",security_model=none,readonly=on",
		"-device", "virtio-9p-device,fsdev=root,mount_tag=root",
		"-fsdev", "local,id=work,path=" + c.project + ",security_model=none",
		"-device", "virtio-9p-device,fsdev=work,mount_tag=work",
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=chan,path=" + filepath.Join(c.dir, "chan.sock") + ",server=on,wait=off",
		"-device", "virtserialport,chardev=chan,name=ralph",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"-pidfile", filepath.Join(c.dir, "qemu.pid"),
	}
}

// connect returns the session of name, connecting to the VM's channel
// and waiting for its init to answer when this process has none yet.
func (v *VM) connect(ctx context.Context, spec sandbox.Spec) (*session, error) {
	v.mu.Lock()
	s := v.sessions[spec.Name]
	v.mu.Unlock()
	if s != nil && s.sess != nil && !s.sess.IsClosed() {
		s.spec = spec
		return s, nil
	}
	if s == nil {
		s = &session{spec: spec}
		root, err := exportRootfs(ctx, v.CacheDir, spec.Image, nil, v.logf)
		if err == nil {
			s.env = root.Env
		}
	}
	if s.spec.Workdir == "" {
		s.spec.Workdir = sandbox.DefaultWorkdir
	}
	// A VM this process just booted gets the boot's time; one already
	// running should answer at once, unless another ralph holds its
	// channel (QEMU's socket takes one client).
	limit, booting := 15*time.Second, s.booted != (time.Time{})
	if booting {
		limit = bootTimeout(s.accel)
	}
	deadline := time.Now().Add(limit)
	var last error
	// Until the guest opens its port, what the host sends is lost: ask
	// often at first, then give a slow (TCG, loaded) guest more time.
	wait, tries := 250*time.Millisecond, 0
	for ; time.Now().Before(deadline); tries++ {
		if tries >= 12 {
			wait = min(2*wait, 2*time.Second)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if v.pid(spec.Name) == 0 {
			return nil, fmt.Errorf("microvm: %s stopped while booting: %s", spec.Name, v.consoleTail(spec.Name))
		}
		c, err := net.Dial("unix", filepath.Join(v.runDir(spec.Name), "chan.sock"))
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		sess, err := yamux.Client(c, yamuxConfig())
		if err != nil {
			c.Close()
			return nil, err
		}
		if err := ping(ctx, sess, wait); err != nil {
			last = err
			sess.Close()
			continue
		}
		s.sess = sess
		if !s.booted.IsZero() {
			v.recordBoot(time.Since(s.booted), s.accel)
			s.booted = time.Time{}
		}
		v.mu.Lock()
		v.sessions[spec.Name] = s
		v.mu.Unlock()
		go v.serveProxy(s)
		return s, nil
	}
	if log, _ := os.ReadFile(filepath.Join(v.runDir(spec.Name), "qemu.log")); bytes.Contains(log, []byte("KVM internal error")) {
		return nil, fmt.Errorf("microvm: %s failed to boot under KVM: %s", spec.Name, firstLine(string(log[bytes.Index(log, []byte("KVM internal error")):])))
	}
	if !booting {
		return nil, fmt.Errorf("%w: microvm: %s is running but does not answer within %s: another ralph is probably attached to it (a microVM takes one client at a time; ralph ls, ralph stop %s)",
			sandbox.ErrUnavailable, spec.Name, limit, spec.Name)
	}
	return nil, fmt.Errorf("microvm: %s did not answer within %s (%v): %s", spec.Name, limit, last, v.consoleTail(spec.Name))
}

// BootTime is the last measured time from starting QEMU to the guest's
// first answer, with the accelerator it ran under.
type BootTime struct {
	Seconds float64 `json:"seconds"`
	Accel   string  `json:"accel"`
	At      string  `json:"at"`
}

func (v *VM) recordBoot(d time.Duration, accel string) {
	b, _ := json.Marshal(BootTime{Seconds: d.Seconds(), Accel: accel, At: time.Now().UTC().Format(time.RFC3339)})
	os.MkdirAll(v.StateDir, 0o700)
	os.WriteFile(filepath.Join(v.StateDir, "boot-time.json"), b, 0o600)
}

// LastBoot returns the last measured boot, if any.
func (v *VM) LastBoot() (BootTime, bool) {
	var bt BootTime
	b, err := os.ReadFile(filepath.Join(v.StateDir, "boot-time.json"))
	return bt, err == nil && json.Unmarshal(b, &bt) == nil
}

// MeasureBoot boots a VM with ralph's kernel and initramfs and no devices,
// whose init loads its modules and powers off at once, and returns how
// long QEMU ran: the boot cost on this machine, for ralph doctor.
func (v *VM) MeasureBoot(ctx context.Context) (time.Duration, error) {
	kernel, version, err := Kernel()
	if err != nil {
		return 0, err
	}
	kernel = Vmlinux(ctx, v.CacheDir, kernel, version)
	accel := v.Accel(ctx).Accel
	start := time.Now()
	if err := v.bootProbe(ctx, kernel, version, accel, bootTimeout(accel)); err != nil {
		return 0, fmt.Errorf("microvm: boot probe (%s): %w", accel, err)
	}
	return time.Since(start), nil
}

// bootTimeout: TCG boots are slow, and slower on a loaded machine.
func bootTimeout(accel string) time.Duration {
	if accel == "kvm" {
		return 30 * time.Second
	}
	return 3 * time.Minute
}

func ping(ctx context.Context, sess *yamux.Session, wait time.Duration) error {
	st, err := sess.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(wait))
	if err := writeHeader(st, header{Op: opPing}); err != nil {
		return err
	}
	line, err := bufio.NewReader(st).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ok\n" {
		return fmt.Errorf("microvm: ping answered %q", line)
	}
	return nil
}

func (v *VM) consoleTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(v.runDir(name), "console.log"))
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	if s == "" {
		return "(no console output)"
	}
	return "console: " + s
}

// serveProxy carries the guest's proxy connections to the gate's socket.
// With no gate, each is closed at once: no network at all.
func (v *VM) serveProxy(s *session) {
	for {
		st, err := s.sess.Accept()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			br := bufio.NewReader(st)
			h, err := readHeader(br)
			if err != nil || h.Op != opProxy || s.spec.GateDir == "" {
				return
			}
			up, err := net.Dial("unix", filepath.Join(s.spec.GateDir, "gate.sock"))
			if err != nil {
				return
			}
			defer up.Close()
			if n := br.Buffered(); n > 0 {
				b, _ := br.Peek(n)
				up.Write(b)
			}
			netgate.Pipe(st, up)
		}()
	}
}

// drop forgets the session of name.
func (v *VM) drop(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.sessions[name]; s != nil && s.sess != nil {
		s.sess.Close()
	}
	delete(v.sessions, name)
}

// environment is what a command sees: the image's variables, HOME, the
// proxy when gated, then the command's own.
func (s *session) environment(cmd sandbox.Cmd) []string {
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range s.env {
		if k, val, ok := strings.Cut(kv, "="); ok {
			env[k] = val
		}
	}
	env["HOME"] = HomeDir
	if s.spec.GateDir != "" {
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
			env[k] = "http://" + ProxyAddr
		}
	}
	for k, val := range cmd.Env {
		env[k] = val
	}
	out := make([]string, 0, len(env))
	for k, val := range env {
		out = append(out, k+"="+val)
	}
	return out
}

// Exec runs cmd in the VM over an exec stream. Cancelling ctx kills the
// command's process group inside.
func (v *VM) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	v.mu.Lock()
	s := v.sessions[name]
	v.mu.Unlock()
	if v.pid(name) == 0 {
		v.drop(name)
		return -1, fmt.Errorf("microvm: %s is not running: %w", name, sandbox.ErrNotFound)
	}
	if s == nil || s.sess == nil || s.sess.IsClosed() {
		spec := sandbox.Spec{Name: name}
		if s != nil {
			spec = s.spec
		} else if r, err := v.readRecord(name); err == nil {
			spec = sandbox.Spec{Name: name, Agent: r.Agent, Project: r.Project, Image: r.Image}
		}
		var err error
		if s, err = v.connect(ctx, spec); err != nil {
			return -1, err
		}
	}
	st, err := s.sess.Open()
	if err != nil {
		return -1, fmt.Errorf("microvm: %s: %w", name, err)
	}
	defer st.Close()
	h := header{Op: opExec, Argv: cmd.Argv, Env: s.environment(cmd), Dir: s.spec.Workdir}
	if cmd.TTY {
		h.TTY, h.Rows, h.Cols = true, 24, 80
		// The local terminal goes raw for the session, as docker exec -it.
		if f, ok := cmd.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if w, rows, err := term.GetSize(int(f.Fd())); err == nil {
				h.Rows, h.Cols = uint16(rows), uint16(w)
			}
			if old, err := term.MakeRaw(int(f.Fd())); err == nil {
				defer term.Restore(int(f.Fd()), old)
			}
		}
	}
	if err := writeHeader(st, h); err != nil {
		return -1, err
	}
	go func() {
		if cmd.Stdin != nil {
			io.Copy(frameWriter{sender(st), frameStdin}, cmd.Stdin)
		}
		writeFrame(st, frameStdinEOF, nil)
	}()
	stop := context.AfterFunc(ctx, func() {
		writeFrame(st, frameKill, nil)
		time.AfterFunc(5*time.Second, func() { st.Close() })
	})
	defer stop()
	stdout, stderr := orDiscard(cmd.Stdout), orDiscard(cmd.Stderr)
	for {
		kind, data, err := readFrame(st)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			if v.pid(name) == 0 {
				v.drop(name)
				return -1, fmt.Errorf("microvm: %s stopped during the run: %w", name, sandbox.ErrNotFound)
			}
			v.drop(name) // the channel broke: the next call reconnects
			return -1, sandbox.Unavailable("microvm: %s: the channel to the VM broke during the run: %v", name, err)
		}
		switch kind {
		case frameStdout:
			stdout.Write(data)
		case frameStderr:
			stderr.Write(data)
		case frameExit:
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			return int(int32(binary.BigEndian.Uint32(data))), nil
		}
	}
}

func (v *VM) logf(format string, args ...any) {
	if v.Log != nil {
		fmt.Fprintf(v.Log, format+"\n", args...)
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (v *VM) readRecord(name string) (record, error) {
	var r record
	b, err := os.ReadFile(v.recordPath(name))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// Stop powers the VM off through its init, and kills QEMU when it has
// not gone within the context's deadline (at most 10 s).
func (v *VM) Stop(ctx context.Context, name string) error {
	pid := v.pid(name)
	if pid == 0 {
		v.drop(name)
		return nil
	}
	if _, err := v.readRecord(name); err != nil {
		return sandbox.Refused("%s was not made by ralph", name)
	}
	v.mu.Lock()
	s := v.sessions[name]
	v.mu.Unlock()
	if s != nil && s.sess != nil && !s.sess.IsClosed() {
		if st, err := s.sess.Open(); err == nil {
			st.SetDeadline(time.Now().Add(2 * time.Second))
			writeHeader(st, header{Op: opPoweroff})
			bufio.NewReader(st).ReadString('\n')
			st.Close()
		}
	}
	v.drop(name)
	bound := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		bound = min(bound, time.Until(dl)-time.Second)
	}
	for end := time.Now().Add(bound); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if v.pid(name) == 0 {
			return nil
		}
	}
	killPid(pid)
	for i := 0; i < 40 && v.pid(name) != 0; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	return nil
}

// Remove stops the VM (when force) and deletes its record.
func (v *VM) Remove(ctx context.Context, name string, force bool) error {
	if _, err := v.readRecord(name); err != nil {
		return fmt.Errorf("microvm: %s: %w", name, sandbox.ErrNotFound)
	}
	if v.pid(name) != 0 {
		if !force {
			return fmt.Errorf("microvm: %s is running (stop it first, or force)", name)
		}
		v.Stop(ctx, name)
	}
	os.RemoveAll(v.runDir(name))
	return os.Remove(v.recordPath(name))
}

// List reads the records.
func (v *VM) List(ctx context.Context) ([]sandbox.Info, error) {
	paths, _ := filepath.Glob(filepath.Join(v.StateDir, "*.json"))
	var out []sandbox.Info
	for _, p := range paths {
		var r record
		b, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(b, &r) != nil || r.Name == "" {
			continue
		}
		state := "stopped"
		if v.pid(r.Name) != 0 {
			state = "running"
		}
		out = append(out, sandbox.Info{Name: r.Name, Backend: v.Name(), Agent: r.Agent, Project: r.Project, State: state, Image: r.Image, Created: r.Created})
	}
	return out, nil
}
