package microvm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// A /dev/kvm that opens is not a KVM that boots: some hosts (a
// paravirtualised KVM inside a cloud VM, kvm_pvm) stop QEMU at once with
// "KVM internal error ... emulation failure" for a normal kernel. So the
// accelerator is probed by booting ralph's own probe guest once under KVM;
// the verdict is cached per host boot, QEMU binary and guest kernel.

// AccelInfo is the accelerator the microVM uses here, and why.
type AccelInfo struct {
	Accel  string `json:"accel"`  // "kvm" or "tcg"
	Reason string `json:"reason"` // why not KVM, when tcg
	Key    string `json:"key"`
	At     string `json:"at"`
}

// kvmOpens reports whether /dev/kvm can be opened (not whether it works).
func kvmOpens() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

type accelCache struct {
	once sync.Once
	info AccelInfo
}

// Accel returns the accelerator this machine can boot the guest with:
// KVM only when a probe boot under KVM worked. The first call may take a
// few seconds (one boot); later calls, and later ralph processes until the
// host reboots, read the cached verdict.
func (v *VM) Accel(ctx context.Context) AccelInfo {
	v.accel.once.Do(func() { v.accel.info = v.probeAccel(ctx) })
	return v.accel.info
}

// KVM reports whether the microVM runs under KVM here (probed).
func (v *VM) KVM(ctx context.Context) bool { return v.Accel(ctx).Accel == "kvm" }

func (v *VM) probeAccel(ctx context.Context) AccelInfo {
	if !kvmOpens() {
		return AccelInfo{Accel: "tcg", Reason: "no usable /dev/kvm"}
	}
	if f := os.Getenv("RALPH_MICROVM_ACCEL"); f == "tcg" {
		return AccelInfo{Accel: "tcg", Reason: "RALPH_MICROVM_ACCEL=tcg"}
	}
	kernel, version, err := Kernel()
	if err != nil {
		return AccelInfo{Accel: "tcg", Reason: err.Error()}
	}
	key := accelKey(version)
	path := filepath.Join(v.CacheDir, "accel.json")
	var cached AccelInfo
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &cached) == nil && cached.Key == key {
		return cached
	}
	info := AccelInfo{Accel: "kvm", Key: key, At: time.Now().UTC().Format(time.RFC3339)}
	if err := v.bootProbe(ctx, Vmlinux(ctx, v.CacheDir, kernel, version), version, "kvm", 30*time.Second); err != nil {
		if ctx.Err() != nil {
			return AccelInfo{Accel: "tcg", Reason: "KVM not probed: " + ctx.Err().Error()} // not cached
		}
		info.Accel, info.Reason = "tcg", "/dev/kvm is there but a KVM boot failed: "+err.Error()
		v.logf("ralph: microvm: %s; using TCG emulation (cached until the host reboots)", info.Reason)
	}
	if b, err := json.Marshal(info); err == nil && os.MkdirAll(v.CacheDir, 0o755) == nil {
		os.WriteFile(path, b, 0o644)
	}
	return info
}

// accelKey names what the verdict depends on: this boot of the host, the
// QEMU binary and the guest kernel.
func accelKey(version string) string {
	h := sha256.New()
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	h.Write(b)
	if p, err := proc.Look("qemu-system-x86_64"); err == nil {
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintf(h, "%s %d %d", p, st.Size(), st.ModTime().UnixNano())
		}
	}
	h.Write([]byte(version))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// watch is QEMU's output, cancelling the boot as soon as it reports a
// KVM failure (QEMU then pauses the guest instead of exiting).
type watch struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 64<<10 {
		w.buf.Write(p)
	}
	if bytes.Contains(w.buf.Bytes(), []byte("KVM internal error")) || bytes.Contains(w.buf.Bytes(), []byte("failed to initialize kvm")) {
		w.cancel()
	}
	return len(p), nil
}

func (w *watch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// bootProbe boots the probe guest (init loads its modules and powers off)
// under accel and waits for QEMU to exit, at most limit.
func (v *VM) bootProbe(ctx context.Context, kernel, version, accel string, limit time.Duration) error {
	initrd, err := Initramfs(v.CacheDir, v.Ralph, version)
	if err != nil {
		return err
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	w := &watch{cancel: cancel}
	err = proc.Run(pctx, proc.Cmd{Argv: []string{"qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-cpu", cpu,
		"-m", "256", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 no_timer_check ralph.probe=1",
		"-serial", "stdio",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"},
		Stdout: w, Stderr: w, Group: true})
	out := strings.TrimSpace(w.String())
	if i := strings.Index(out, "KVM internal error"); i >= 0 {
		return fmt.Errorf("%s", firstLine(out[i:]))
	}
	if err != nil {
		if pctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("the probe guest did not power off within %s", limit)
		}
		return err
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var (
	_ sandbox.GateUser   = (*VM)(nil)
	_ sandbox.Warner     = (*VM)(nil)
	_ sandbox.AutoPicker = (*VM)(nil)
)

// GateOwner: the host side of the VM's channel dials the gate.
func (v *VM) GateOwner(spec sandbox.Spec) (*[2]int, error) { return nil, nil }

// Warnings: a guest under TCG emulation is many times slower.
func (v *VM) Warnings(ctx context.Context, spec sandbox.Spec) ([]string, error) {
	if a := v.Accel(ctx); a.Accel != "kvm" {
		return []string{fmt.Sprintf("WARNING: no working KVM here (%s): the microVM runs under TCG emulation, many times slower than the host", a.Reason)}, nil
	}
	return nil, nil
}

// AutoSkip: auto never picks a microVM that would crawl under TCG.
func (v *VM) AutoSkip(ctx context.Context) error {
	if a := v.Accel(ctx); a.Accel != "kvm" {
		return fmt.Errorf("no working KVM here (%s): under TCG emulation an agent crawls (ask for it with --sandbox microvm)", a.Reason)
	}
	return nil
}
