package container

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// BenchmarkLifecycle compares ralph's sandbox lifecycle with the raw
// engine, in one run (bench/containers.sh prints the ratios):
//
//	raw-run-rm        docker run --rm <same hardened flags> IMAGE true
//	raw-lifecycle     docker run --detach <same flags> + docker exec true +
//	                  docker stop: the lifecycle ralph follows, by hand
//	ralph-create      Ensure (create) + Exec true + Stop
//	raw-exec          docker exec NAME true
//	ralph-exec        Exec true (an iteration's attach + exec)
//	ralph-exec-gated  the same in a sandbox with the gate's helper, as a
//	                  loop runs it (exec-reap, then one inspect)
//
// Select the engine with -bench 'Lifecycle/docker' (or gvisor, podman).
func BenchmarkLifecycle(b *testing.B) {
	for _, e := range []*Engine{Docker(), GVisor(""), Podman()} {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			if err := e.Available(ctx); err != nil {
				b.Skipf("%s: %v", e.name, err)
			}
			sandboxtest.BusyboxImage(b, e.bin, "ralph-test:busybox", nil)
			proj := sandboxtest.Project(b, 1000, 1000)
			spec := sandbox.Spec{Name: sandbox.Name("bench", proj), Agent: "bench", Project: proj, Image: "ralph-test:busybox"}
			sandboxtest.Cleanup(b, e.bin, spec.Name)
			profile, err := writeSeccomp(b.TempDir(), SeccompProfile(e.runtime != ""))
			if err != nil {
				b.Fatal(err)
			}
			run := e.runArgs(spec, "1000:1000", profile)
			// The same flags, as docker run --rm ... true.
			raw := append([]string{"run", "--rm"}, run[2:len(run)-2]...)
			raw = append(raw, "true")
			for i, a := range raw {
				if a == "--name" {
					raw[i+1] = spec.Name + "-raw"
				}
			}
			trueCmd := sandbox.Cmd{Argv: []string{"true"}, Stdout: io.Discard, Stderr: io.Discard}

			b.Run("raw-run-rm", func(b *testing.B) {
				for b.Loop() {
					if out, err := exec.Command(e.bin, raw...).CombinedOutput(); err != nil {
						b.Fatalf("%v: %s", err, out)
					}
				}
			})
			b.Run("raw-lifecycle", func(b *testing.B) {
				for b.Loop() {
					for _, argv := range [][]string{run, {"exec", spec.Name, "true"}, {"stop", "--time", "5", spec.Name}} {
						if out, err := exec.Command(e.bin, argv...).CombinedOutput(); err != nil {
							b.Fatalf("%v: %s", err, out)
						}
					}
					b.StopTimer()
					exec.Command(e.bin, "rm", "--force", spec.Name).Run()
					b.StartTimer()
				}
			})
			b.Run("ralph-create", func(b *testing.B) {
				for b.Loop() {
					if _, err := e.Ensure(ctx, spec); err != nil {
						b.Fatal(err)
					}
					if _, err := e.Exec(ctx, spec.Name, trueCmd); err != nil {
						b.Fatal(err)
					}
					if err := e.Stop(ctx, spec.Name); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					e.Remove(ctx, spec.Name, true)
					b.StartTimer()
				}
			})
			if _, err := e.Ensure(ctx, spec); err != nil {
				b.Fatal(err)
			}
			b.Run("raw-exec", func(b *testing.B) {
				for b.Loop() {
					if out, err := exec.Command(e.bin, "exec", spec.Name, "true").CombinedOutput(); err != nil {
						b.Fatalf("%v: %s", err, out)
					}
				}
			})
			b.Run("ralph-exec", func(b *testing.B) {
				for b.Loop() {
					if _, err := e.Exec(ctx, spec.Name, trueCmd); err != nil {
						b.Fatal(err)
					}
				}
			})
			e.Remove(ctx, spec.Name, true)
			gated := spec
			gated.Name += "-gated"
			gated.GateDir = helperDir(b)
			sandboxtest.Cleanup(b, e.bin, gated.Name)
			if _, err := e.Ensure(ctx, gated); err != nil {
				b.Fatal(err)
			}
			b.Run("ralph-exec-gated", func(b *testing.B) {
				for b.Loop() {
					if code, err := e.Exec(ctx, gated.Name, trueCmd); err != nil || code != 0 {
						b.Fatal(code, err)
					}
				}
			})
			e.Remove(ctx, gated.Name, true)
		})
	}
}

// helperDir is a gate folder holding ralph-helper (built static) as
// the sandbox sees it, /.ralph/ralph.
func helperDir(b *testing.B) string {
	dir := b.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "ralph"), "../../../cmd/ralph-helper")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build ralph-helper: %v: %s", err, out)
	}
	os.Chmod(dir, 0o755)
	return dir
}
