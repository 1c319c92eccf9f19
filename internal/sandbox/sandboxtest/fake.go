// Package sandboxtest holds the shared conformance suite every sandbox
// backend must pass, and Fake, an in-process backend for the loop's tests.
package sandboxtest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// Fake is an in-process sandbox.Backend. Exec calls Run instead of
// starting a process. It keeps the state a real backend keeps (exists,
// running) and counts calls, so tests can check the lifecycle.
type Fake struct {
	// Run plays the command; it returns the exit status.
	Run func(ctx context.Context, cmd sandbox.Cmd) int

	mu      sync.Mutex
	down    bool // the engine is not answering (KillEngine)
	boxes   map[string]*fakeBox
	Ensures int
	Creates int
	Stops   int
	Execs   int
}

type fakeBox struct {
	spec    sandbox.Spec
	running bool
}

var _ sandbox.Backend = (*Fake)(nil)

func (f *Fake) Name() string               { return "fake" }
func (f *Fake) Boundary() sandbox.Boundary { return "fake" }

// KillEngine makes the fake's engine die as dockerd does without
// live-restore: every sandbox stops, and every call fails with
// ErrUnavailable until ReviveEngine.
func (f *Fake) KillEngine() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	for _, b := range f.boxes {
		b.running = false
	}
}

// ReviveEngine brings the engine back.
func (f *Fake) ReviveEngine() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = false
}

var errDown = sandbox.Unavailable("the fake engine is not running")

func (f *Fake) Available(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	return nil
}

func (f *Fake) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Ensures++
	if f.down {
		return false, errDown
	}
	if f.boxes == nil {
		f.boxes = map[string]*fakeBox{}
	}
	b, ok := f.boxes[spec.Name]
	if !ok {
		f.Creates++
		f.boxes[spec.Name] = &fakeBox{spec: spec, running: true}
		return true, nil
	}
	b.running = true
	return false, nil
}

func (f *Fake) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	f.mu.Lock()
	b, ok := f.boxes[name]
	f.Execs++
	down, running := f.down, ok && b.running
	f.mu.Unlock()
	if down {
		return -1, errDown
	}
	if !running {
		return -1, fmt.Errorf("fake: exec %s: %w", name, sandbox.ErrNotFound)
	}
	code := f.Run(ctx, cmd)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return -1, errDown
	}
	if ctx.Err() != nil {
		return -1, ctx.Err() // as a real backend: the command was killed
	}
	return code, nil
}

func (f *Fake) Stop(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Stops++
	if b, ok := f.boxes[name]; ok {
		b.running = false
	}
	return nil
}

func (f *Fake) Remove(ctx context.Context, name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.boxes[name]
	if !ok {
		return fmt.Errorf("fake: %s: %w", name, sandbox.ErrNotFound)
	}
	if b.running && !force {
		return fmt.Errorf("fake: %s is running", name)
	}
	delete(f.boxes, name)
	return nil
}

func (f *Fake) List(ctx context.Context) ([]sandbox.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sandbox.Info
	for n, b := range f.boxes {
		state := "stopped"
		if b.running {
			state = "running"
		}
		out = append(out, sandbox.Info{Name: n, Backend: "fake", Agent: b.spec.Agent, Project: b.spec.Project, State: state})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SkipShort skips a test that needs a real engine, a VM or a cluster
// under `go test -short`, the fast tier (RALPH_REQUIRE_ENGINES does not
// turn it into a failure: the long suite is where engines are required).
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real engine: not in the -short tier")
	}
}
