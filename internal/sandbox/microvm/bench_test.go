package microvm

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

func benchVM(b *testing.B) (*VM, sandbox.Spec) {
	b.Helper()
	v := newTestVM(b)
	if err := v.Available(b.Context()); err != nil {
		b.Skip(err)
	}
	sandboxtest.BusyboxImage(b, "docker", "ralph-test:busybox", nil)
	proj := sandboxtest.Project(b, 1000, 1000)
	spec := sandbox.Spec{Name: sandbox.Name("bench", proj), Agent: "bench", Project: proj, Image: "ralph-test:busybox", Memory: "512m"}
	b.Cleanup(func() { v.Remove(context.Background(), spec.Name, true) })
	return v, spec
}

func execTrue(b *testing.B, v *VM, name string) {
	if code, err := v.Exec(context.Background(), name, sandbox.Cmd{Argv: []string{"true"}, Stdout: io.Discard, Stderr: io.Discard}); err != nil || code != 0 {
		b.Fatalf("exec: %d %v", code, err)
	}
}

// BenchmarkBoot: ralph's boot to first exec (QEMU started, guest up,
// modules loaded, 9p mounted, channel answering, one command run; the
// power-off is not timed) against the raw engine in the same run: the
// same QEMU and kernel booting a busybox initramfs whose init reboots at
// once (-no-reboot: QEMU exits). Reports QEMU's resident memory once
// ralph's guest is up (rss-MiB). bench/microvm.sh prints the ratio. The
// init is ralph-helper (ralph), and then ralph's whole binary
// (ralph-whole).
func BenchmarkBoot(b *testing.B) {
	v, spec := benchVM(b)
	ctx := context.Background()
	b.Run("raw-qemu", func(b *testing.B) {
		kernel, version, err := Kernel()
		if err != nil {
			b.Skip(err)
		}
		kernel = Vmlinux(ctx, v.CacheDir, kernel, version)
		initrd := rawInitramfs(b)
		for b.Loop() {
			cmd := exec.Command("qemu-system-x86_64", "-M", "microvm", "-accel", v.Accel(ctx).Accel, "-cpu", "max", "-m", "512",
				"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
				"-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 no_timer_check")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("raw qemu: %v: %s", err, out)
			}
		}
	})
	boot := func(b *testing.B) {
		var rss float64
		for b.Loop() {
			if _, err := v.Ensure(ctx, spec); err != nil {
				b.Fatal(err)
			}
			execTrue(b, v, spec.Name)
			b.StopTimer()
			rss = rssMiB(v.pid(spec.Name))
			v.Stop(ctx, spec.Name)
			b.StartTimer()
		}
		b.ReportMetric(rss, "rss-MiB")
	}
	// ralph-helper as the init (as installed), then ralph's whole binary
	// (when no helper is beside it).
	b.Run("ralph", boot)
	v.Ralph = staticInit(b, "cmd/ralph")
	b.Run("ralph-whole", boot)
}

// rawInitramfs is busybox as the only thing in an initramfs, with an init
// that reboots at once.
func rawInitramfs(b *testing.B) string {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		b.Skip("busybox-static: ", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	w := newCpio(&buf)
	w.dir("bin")
	w.file("bin/busybox", data, 0o755)
	w.file("init", []byte("#!/bin/busybox sh\n/bin/busybox reboot -f\n"), 0o755)
	w.close()
	p := filepath.Join(b.TempDir(), "raw.cpio")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkAttachExec: a new exec stream into a running VM (each
// iteration after the first).
func BenchmarkAttachExec(b *testing.B) {
	v, spec := benchVM(b)
	if _, err := v.Ensure(context.Background(), spec); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		execTrue(b, v, spec.Name)
	}
}

func rssMiB(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
