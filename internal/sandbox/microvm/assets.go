package microvm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/atomicfile"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// The guest needs these drivers; Debian builds them as modules.
var neededModules = []string{"virtio_mmio", "virtio_console", "9pnet_virtio", "9p"}

// Kernel finds the guest kernel: $RALPH_MICROVM_KERNEL, else the newest
// /boot/vmlinuz-*. It returns its path and version.
func Kernel() (path, version string, err error) {
	if p := os.Getenv("RALPH_MICROVM_KERNEL"); p != "" {
		return p, strings.TrimPrefix(filepath.Base(p), "vmlinuz-"), nil
	}
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(ks) == 0 {
		return "", "", sandbox.Unavailable("no guest kernel in /boot (Debian: apt-get install linux-image-amd64)")
	}
	sort.Strings(ks)
	p := ks[len(ks)-1]
	return p, strings.TrimPrefix(filepath.Base(p), "vmlinuz-"), nil
}

// Vmlinux returns the uncompressed kernel inside the bzImage at kernel,
// extracted once into cacheDir: QEMU boots it directly (PVH), and
// under TCG that is several seconds faster than decompressing at every
// boot. Debian compresses with xz. On any failure it returns kernel.
func Vmlinux(ctx context.Context, cacheDir, kernel, version string) string {
	out := filepath.Join(cacheDir, "vmlinux-"+version)
	if isELF(out) {
		return out
	}
	data, err := os.ReadFile(kernel)
	if err != nil {
		return kernel
	}
	at := bytes.Index(data, []byte("\xfd7zXZ\x00"))
	if at < 0 {
		return kernel
	}
	var elf bytes.Buffer
	if err := proc.Run(ctx, proc.Cmd{Argv: []string{"xz", "-dc", "--single-stream"}, Stdin: bytes.NewReader(data[at:]), Stdout: &elf}); err != nil {
		return kernel
	}
	if !bytes.HasPrefix(elf.Bytes(), []byte("\x7fELF")) || os.MkdirAll(cacheDir, 0o755) != nil {
		return kernel
	}
	if atomicfile.Write(out, elf.Bytes(), 0o644) != nil {
		return kernel
	}
	return out
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 4)
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == "\x7fELF"
}

// modules resolves the needed modules and their dependencies, in load
// order, from the kernel's modules.dep.
func modules(version string) ([]string, error) {
	dir := filepath.Join("/lib/modules", version)
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, sandbox.Unavailable("no modules for kernel %s: %v", version, err)
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		name := strings.TrimSuffix(filepath.Base(mod), ".ko")
		byName[strings.ReplaceAll(name, "-", "_")] = mod
	}
	var order []string
	seen := map[string]bool{}
	var visit func(m string)
	visit = func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		// modules.dep lists the full closure, nearest last.
		ds := deps[m]
		for i := len(ds) - 1; i >= 0; i-- {
			visit(ds[i])
		}
		order = append(order, m)
	}
	for _, n := range neededModules {
		m, ok := byName[n]
		if !ok {
			continue // built into the kernel
		}
		visit(m)
	}
	out := make([]string, len(order))
	for i, m := range order {
		out[i] = filepath.Join(dir, m)
	}
	return out, nil
}

// Initramfs builds (or finds in cacheDir) the guest's initramfs: ralph
// itself as /init, and the modules it loads.
func Initramfs(cacheDir, ralph, version string) (string, error) {
	self, err := os.ReadFile(ralph)
	if err != nil {
		return "", err
	}
	mods, err := modules(version)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	sum.Write(self)
	sum.Write([]byte(version + strings.Join(mods, ",")))
	path := filepath.Join(cacheDir, "initramfs-"+hex.EncodeToString(sum.Sum(nil))[:16]+".cpio")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	w := newCpio(&buf)
	for _, d := range []string{"dev", "proc", "sys", "newroot", "modules"} {
		w.dir(d)
	}
	w.file("init", self, 0o755)
	var names []string
	for _, m := range mods {
		data, err := os.ReadFile(m)
		if err != nil {
			return "", err
		}
		name := filepath.Base(m)
		names = append(names, name)
		w.file("modules/"+name, data, 0o644)
	}
	w.file("modules/order", []byte(strings.Join(names, "\n")+"\n"), 0o644)
	w.close()
	// Through a temporary file of its own: writers racing for the same
	// cache entry never mix their bytes.
	return path, atomicfile.Write(path, buf.Bytes(), 0o644)
}

// cpio writes the "newc" format the kernel unpacks.
type cpioWriter struct {
	w   io.Writer
	ino int
}

func newCpio(w io.Writer) *cpioWriter { return &cpioWriter{w: w, ino: 1} }

func (c *cpioWriter) entry(name string, mode uint32, data []byte) {
	c.ino++
	fmt.Fprintf(c.w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	io.WriteString(c.w, name+"\x00")
	c.pad(110 + len(name) + 1)
	c.w.Write(data)
	c.pad(len(data))
}

func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.w.Write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) dir(name string)                            { c.entry(name, 0o040755, nil) }
func (c *cpioWriter) file(name string, data []byte, perm uint32) { c.entry(name, 0o100000|perm, data) }
func (c *cpioWriter) close()                                     { c.entry("TRAILER!!!", 0, nil) }

// rootfs is an image's root filesystem, exported once into cacheDir
// with the engine that has the image (no registry involved), plus the
// mount points the guest needs, and the image's environment.
type rootfs struct {
	Dir string
	Env []string
	// Use is the lock file a VM on this root holds shared for its life
	// (pruneCache leaves the root alone meanwhile).
	Use string
}

func exportRootfs(ctx context.Context, cacheDir, image string, mountpoints []string, logf func(string, ...any)) (rootfs, error) {
	var bin, id string
	for _, b := range []string{"docker", "podman"} {
		out, err := proc.Output(ctx, proc.Cmd{Argv: []string{b, "image", "inspect", "--format", "{{.Id}}", image}})
		if err == nil {
			bin, id = b, strings.TrimPrefix(strings.TrimSpace(string(out)), "sha256:")
			break
		}
	}
	if bin == "" {
		return rootfs{}, sandbox.Unavailable("image %s is in neither docker nor podman (ralph never pulls): build it with `ralph image build`", image)
	}
	dir := filepath.Join(cacheDir, "rootfs", id[:min(len(id), 24)])
	r := rootfs{Dir: filepath.Join(dir, "root"), Use: dir + ".use"}
	// Two sandboxes of one image may boot at once: one exports, the
	// other waits for it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return r, err
	}
	unlock, err := flock(dir + ".lock")
	if err != nil {
		return r, err
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(dir, "env.json")); err == nil {
		json.Unmarshal(b, &r.Env)
		touchUse(dir)
		return r, ensureMountpoints(r.Dir, mountpoints)
	}
	defer func() {
		for _, p := range pruneCache(cacheDir, time.Now()) {
			logf("ralph: microvm: removed %s from the cache (not used for a while)", p)
		}
	}()
	logf("ralph: microvm: exporting %s's root filesystem from %s (once per image)", image, bin)
	os.RemoveAll(dir)
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return r, err
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	out, err := proc.Output(ctx, proc.Cmd{Argv: []string{bin, "create", "--pull", "never", image, "true"}})
	if err != nil {
		return r, fmt.Errorf("microvm: %s create %s: %w", bin, image, err)
	}
	cid := strings.TrimSpace(string(out))
	defer proc.Run(context.WithoutCancel(ctx), proc.Cmd{Argv: []string{bin, "rm", "-f", cid}})
	// GNU tar refuses members with ".." and absolute names.
	script := `"$0" export "$1" | tar -x -C "$2" --no-same-owner --numeric-owner`
	if os.Geteuid() == 0 {
		script = `"$0" export "$1" | tar -x -C "$2" --same-owner --numeric-owner`
	}
	if err := proc.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", script, bin, cid, r.Dir}}); err != nil {
		return r, fmt.Errorf("microvm: export %s: %w", image, err)
	}
	envOut, _ := proc.Output(ctx, proc.Cmd{Argv: []string{bin, "image", "inspect", "--format", "{{json .Config.Env}}", image}})
	json.Unmarshal(envOut, &r.Env)
	if err := ensureMountpoints(r.Dir, mountpoints); err != nil {
		return r, err
	}
	data, _ := json.Marshal(r.Env)
	return r, os.WriteFile(filepath.Join(dir, "env.json"), data, 0o644)
}

// ensureMountpoints makes the directories the guest mounts on; the root
// is read-only inside, so they must exist in it.
func ensureMountpoints(root string, dirs []string) error {
	for _, d := range dirs {
		p := filepath.Join(root, filepath.Clean("/"+d))
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			continue
		}
		os.Remove(p) // a file or a symlink where a mount point goes
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("microvm: mount point %s: %w", d, err)
		}
	}
	return nil
}
