package sandboxtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// ContractHarness is what a backend gives the contract suite.
type ContractHarness struct {
	Backend sandbox.Backend
	// Image for backends that need one.
	Image string
	// Stateless backends (the host) have nothing to create, stop or
	// remove: only the exec half of the contract applies.
	Stateless bool
	// ExecStarts: Exec of a stopped sandbox starts it (sbx documents
	// this) instead of answering ErrNotFound.
	ExecStarts bool
}

// Contract is the Backend contract of internal/sandbox/sandbox.go, checked
// the same way on every backend, real or fake: create then attach,
// idempotent Stop, ErrNotFound for what is gone, Ensure after a removal
// behind ralph's back, exit codes and environments through Exec, a
// cancelled Exec returns, concurrent Ensure. It stops at the first failed
// Ensure (everything after would only time out). The isolation part of the
// suite (Run) is for real boundaries only.
func Contract(t *testing.T, h ContractHarness) {
	b := h.Backend
	ctx := context.Background()
	if err := b.Available(ctx); err != nil {
		Require(t, b.Name(), err)
	}
	proj := t.TempDir()
	if os.Geteuid() == 0 {
		proj = Project(t, 1000, 1000) // a user's checkout: never root's
	}
	spec := sandbox.Spec{Name: sandbox.Name("contract", proj), Agent: "contract", Project: proj, Image: h.Image, Memory: "256m", Pids: 64}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b.Remove(cctx, spec.Name, true)
	})
	ensure := func(t *testing.T, wantCreated bool) {
		t.Helper()
		created, err := b.Ensure(ctx, spec)
		if err != nil {
			t.Fatalf("Ensure: %v (the rest of the contract is not checked)", err)
		}
		if !h.Stateless && created != wantCreated {
			t.Errorf("Ensure reported created=%v, want %v", created, wantCreated)
		}
	}
	exec := func(script string, env map[string]string) (int, string, error) {
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		var out bytes.Buffer
		code, err := b.Exec(tctx, spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", script}, Env: env, Stdout: &out})
		return code, out.String(), err
	}

	ensure(t, true)
	if t.Failed() {
		return
	}
	t.Run("exit codes and the environment pass through Exec", func(t *testing.T) {
		code, out, err := exec(`echo "$CONTRACT_VAR"; exit 3`, map[string]string{"CONTRACT_VAR": "v1"})
		if err != nil || code != 3 || out != "v1\n" {
			t.Errorf("Exec = %d %q %v, want 3 \"v1\\n\" nil", code, out, err)
		}
	})
	t.Run("a second Ensure attaches", func(t *testing.T) { ensure(t, false) })
	t.Run("a cancelled Exec returns", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := b.Exec(cctx, spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", "sleep 60"}})
		if err == nil || time.Since(start) > 30*time.Second {
			t.Errorf("Exec under a 2 s deadline: %v after %s", err, time.Since(start))
		}
	})
	t.Run("Exec of a sandbox that does not exist is ErrNotFound", func(t *testing.T) {
		_, err := b.Exec(ctx, "ralph-contract-never-made-00000000", sandbox.Cmd{Argv: []string{"true"}})
		if !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("Exec: %v, want ErrNotFound", err)
		}
	})
	t.Run("Stop is idempotent and nil for a missing sandbox", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := b.Stop(ctx, spec.Name); err != nil {
				t.Errorf("Stop %d: %v", i+1, err)
			}
		}
		if err := b.Stop(ctx, "ralph-contract-never-made-00000000"); err != nil {
			t.Errorf("Stop of a missing sandbox: %v", err)
		}
	})
	if h.Stateless {
		return
	}
	t.Run("Exec after Stop is ErrNotFound; Ensure starts it again", func(t *testing.T) {
		code, _, err := exec("true", nil)
		switch {
		case h.ExecStarts && (err != nil || code != 0):
			t.Errorf("Exec after Stop: %d %v, want it started and run", code, err)
		case !h.ExecStarts && !errors.Is(err, sandbox.ErrNotFound):
			t.Errorf("Exec after Stop: %v, want ErrNotFound", err)
		}
		ensure(t, false)
		if code, _, err := exec("true", nil); err != nil || code != 0 {
			t.Errorf("Exec after Ensure: %d %v", code, err)
		}
	})
	t.Run("List shows it; Remove removes it, once", func(t *testing.T) {
		if !listed(t, b, spec.Name) {
			t.Errorf("List does not show %s", spec.Name)
		}
		if err := b.Remove(ctx, spec.Name, true); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if listed(t, b, spec.Name) {
			t.Errorf("List still shows %s after Remove", spec.Name)
		}
		if err := b.Remove(ctx, spec.Name, true); !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("second Remove: %v, want ErrNotFound", err)
		}
		if _, _, err := exec("true", nil); !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("Exec after Remove: %v, want ErrNotFound", err)
		}
	})
	t.Run("Ensure after a removal makes it anew", func(t *testing.T) {
		ensure(t, true)
		if code, _, err := exec("true", nil); err != nil || code != 0 {
			t.Errorf("Exec: %d %v", code, err)
		}
	})
	t.Run("concurrent Ensure of one sandbox", func(t *testing.T) {
		b.Remove(ctx, spec.Name, true)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		made := make([]bool, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				made[i], errs[i] = b.Ensure(ctx, spec)
			}()
		}
		wg.Wait()
		n := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("Ensure %d: %v", i, err)
			}
			if made[i] {
				n++
			}
		}
		if n > 1 {
			t.Errorf("%d concurrent Ensure calls said they created the sandbox, want at most 1", n)
		}
		if code, _, err := exec("true", nil); err != nil || code != 0 {
			t.Errorf("Exec after concurrent Ensure: %d %v", code, err)
		}
	})
}

func listed(t *testing.T, b sandbox.Backend, name string) bool {
	t.Helper()
	infos, err := b.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, i := range infos {
		if i.Name == name {
			return true
		}
	}
	return false
}
