package microvm

import (
	"context"
	"io"
	"os"
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

// BenchmarkBootToFirstExec: QEMU started, guest booted, first command
// run, VM powered off: the cost of a sandbox's first iteration. Reports
// the QEMU process's resident memory once booted (rss-MiB).
func BenchmarkBootToFirstExec(b *testing.B) {
	v, spec := benchVM(b)
	ctx := context.Background()
	var rss float64
	for b.Loop() {
		if _, err := v.Ensure(ctx, spec); err != nil {
			b.Fatal(err)
		}
		execTrue(b, v, spec.Name)
		rss = rssMiB(v.pid(spec.Name))
		b.StopTimer()
		v.Stop(ctx, spec.Name)
		b.StartTimer()
	}
	b.ReportMetric(rss, "rss-MiB")
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
