package workspace

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// A fleet's pod pushes ralph/<id> to the remote; after git fetch, the
// same verbs review and merge it from the user's repository.
func TestFleetBranchAfterFetch(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	remote := filepath.Join(t.TempDir(), "remote.git")
	run(t, project, "init", "--quiet", "--bare", remote)
	run(t, project, "remote", "add", "origin", remote)
	run(t, project, "push", "--quiet", "origin", "HEAD:main")
	pod := filepath.Join(t.TempDir(), "pod")
	run(t, project, "clone", "--quiet", remote, pod)
	run(t, pod, "checkout", "--quiet", "-b", "ralph/app-1a2b3c")
	agentCommits(t, pod, "fleet.txt", "from the fleet\n", "fleet work")
	run(t, pod, "push", "--quiet", "origin", "ralph/app-1a2b3c")

	if _, err := s.Open(ctx, project, "app-1a2b3c"); !errors.Is(err, ErrNoLoop) || !strings.Contains(err.Error(), "git fetch") {
		t.Fatalf("before the fetch: %v, want a no-such-branch error naming git fetch", err)
	}
	run(t, project, "fetch", "--quiet", "origin")
	src, err := s.Open(ctx, project, "app-1a2b3c")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Loop != nil || src.Base != run(t, project, "rev-parse", "HEAD") {
		t.Errorf("source %+v: want a fleet branch based at HEAD", src)
	}
	var out bytes.Buffer
	if err := src.Diff(ctx, &out, true); err != nil || !strings.Contains(out.String(), "fleet.txt") {
		t.Errorf("diff --stat = %v\n%s", err, out.String())
	}
	out.Reset()
	if err := src.Log(ctx, &out, false); err != nil || !strings.Contains(out.String(), "Agent: fleet work") {
		t.Errorf("log = %v\n%s", err, out.String())
	}
	m, err := src.Merge(ctx, FastFwd, false)
	if err != nil || m.How != "fast-forward" || m.Commits != 1 {
		t.Fatalf("merge = %+v, %v", m, err)
	}
	if got := read(t, filepath.Join(project, "fleet.txt")); got != "from the fleet\n" {
		t.Errorf("fleet.txt = %q", got)
	}
	if got := run(t, project, "rev-parse", "ralph/app-1a2b3c"); got != m.Head {
		t.Errorf("local ralph/app-1a2b3c at %s, want %s", got, m.Head)
	}

	// On two remotes: ralph will not guess.
	run(t, project, "remote", "add", "mirror", remote)
	run(t, project, "fetch", "--quiet", "mirror")
	if _, err := s.Open(ctx, project, "app-1a2b3c"); err == nil || !strings.Contains(err.Error(), "several remotes") {
		t.Errorf("two remotes: %v", err)
	}
	if _, err := s.Open(ctx, project, "Not/A/Name"); !errors.Is(err, ErrNoLoop) {
		t.Errorf("a bad name: %v", err)
	}
}
