package selftest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// plantedWorkspace runs the probe's half of row 15 in a fresh project
// beside a canary key, as Run lays them out.
func plantedWorkspace(t *testing.T) (proj, canary string) {
	t.Helper()
	root := t.TempDir()
	canary = "ralph-canary-" + randHex()
	if err := plant(root, canary); err != nil {
		t.Fatal(err)
	}
	proj = filepath.Join(root, "project")
	r := plantWorkspace(ProbeConfig{Workspace: proj, CanaryFiles: []string{filepath.Join(root, "home", ".ssh", "id_ed25519")},
		Outside: []string{filepath.Join(root, "home", "pwned.txt")}})
	if r.Status != Held || strings.Contains(r.Detail, "could not plant") {
		t.Fatalf("planting: %+v", r)
	}
	return proj, canary
}

// TestWorkspaceRowCanFail: a host that reads the workspace naively (follows
// links, opens FIFOs, obeys the config, prints raw) fails row 15 on every
// count.
func TestWorkspaceRowCanFail(t *testing.T) {
	proj, canary := plantedWorkspace(t)
	t.Cleanup(func() {
		// Unblock the naive reader stuck opening the FIFO.
		if f, err := os.OpenFile(filepath.Join(proj, ".ralph", "tasks.md"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	naive := WorkspaceReader{
		Read: func(proj, rel string) ([]byte, error) {
			f, err := os.Open(filepath.Join(proj, rel))
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return io.ReadAll(io.LimitReader(f, 1<<20))
		},
		Config: func(string) error { return nil },
		Show:   func(s string) string { return s },
	}
	got := strings.Join(checkWorkspace(naive, proj, canary), "\n")
	for _, want := range []string{"config (on-exit, sandbox = host, env) was obeyed", ".ralph/PROMPT.md was read", "carried the host's secret",
		".ralph/prd.json was read", ".ralph/progress.md was read (1048576 bytes)", ".ralph/tasks.md: the read hung", "escapes in the agent's text reached the terminal raw"} {
		if !strings.Contains(got, want) {
			t.Errorf("the naive host was not caught: %q missing from\n%s", want, got)
		}
	}
}

// TestWorkspaceRowHolds: ralph's readers (wsfile, termsafe) and a config
// that is refused hold row 15.
func TestWorkspaceRowHolds(t *testing.T) {
	proj, canary := plantedWorkspace(t)
	strict := WorkspaceReader{
		Read:   func(proj, rel string) ([]byte, error) { return wsfile.ReadIn(proj, rel, wsfile.MaxTasks) },
		Config: func(string) error { return os.ErrPermission },
		Show:   termsafe.String,
	}
	if got := checkWorkspace(strict, proj, canary); len(got) != 0 {
		t.Errorf("row 15 with ralph's readers: %q", got)
	}
}
