package host

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestCancelKillsTheTree: a cancelled run leaves nothing it started
// behind, background children included.
func TestCancelKillsTheTree(t *testing.T) {
	h := New()
	spec := sandbox.Spec{Name: "ralph-host-test-00000000", Project: t.TempDir()}
	h.Ensure(t.Context(), spec)
	marker := "4321.5"
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	h.Exec(ctx, spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", "sleep " + marker + " & sleep " + marker}, Stdout: io.Discard, Stderr: io.Discard})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Exec returned %s after its context ended", took)
	}
	time.Sleep(200 * time.Millisecond)
	out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		exec.Command("pkill", "-f", "sleep "+marker).Run()
		t.Errorf("still running after cancel: %s", s)
	}
}

func TestContract(t *testing.T) {
	sandboxtest.Contract(t, sandboxtest.ContractHarness{Backend: New(), Stateless: true})
}
