package workspace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// plant writes into the clone everything that makes git run a command:
// every hook, and every config key and attribute that names a program.
// Each command creates a canary file named for what ran it.
func plant(t *testing.T, clone, canaries string) {
	t.Helper()
	cmd := func(what string) string { return fmt.Sprintf("touch %s/%s", canaries, what) }
	hooks := []string{"pre-commit", "post-commit", "post-checkout", "post-merge", "pre-push", "pre-receive", "update",
		"post-update", "reference-transaction", "pre-auto-gc", "post-rewrite", "fsmonitor-watchman", "push-to-checkout", "post-index-change"}
	for _, h := range hooks {
		p := filepath.Join(clone, ".git", "hooks", h)
		os.WriteFile(p, []byte("#!/bin/sh\n"+cmd("hook-"+h)+"\n"), 0o755)
	}
	os.WriteFile(filepath.Join(canaries, "included.cfg"), []byte("[core]\n\tpager = "+cmd("included-pager")+"\n"), 0o644)
	cfg := strings.Join([]string{
		"[core]",
		"\tfsmonitor = " + cmd("fsmonitor"),
		"\tpager = " + cmd("pager"),
		"\thooksPath = .git/hooks",
		"\tsshCommand = " + cmd("ssh"),
		"\teditor = " + cmd("editor"),
		"[diff]",
		"\texternal = " + cmd("diff-external"),
		"[diff \"evil\"]",
		"\ttextconv = " + cmd("textconv"),
		"[filter \"evil\"]",
		"\tclean = " + cmd("filter-clean"),
		"\tsmudge = " + cmd("filter-smudge"),
		"\tprocess = " + cmd("filter-process"),
		"[uploadpack]",
		"\tpackObjectsHook = " + cmd("pack-objects-hook"),
		"[alias]",
		"\tdiff = !" + cmd("alias"),
		"\tlog = !" + cmd("alias"),
		"[include]",
		"\tpath = " + filepath.Join(canaries, "included.cfg"),
		"[gc]",
		"\tauto = 1",
		"",
	}, "\n")
	f, err := os.OpenFile(filepath.Join(clone, ".git", "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(cfg)
	f.Close()
	os.WriteFile(filepath.Join(clone, ".git", "info", "attributes"), []byte("* filter=evil diff=evil\n"), 0o644)
}

// A hostile agent plants hooks and config in its clone; ralph's diff,
// log, merge and discard run none of it on the host (canaries), and still
// do their work. The same plant in a repository git is run in directly
// fires the canaries: the positive control that they are live.
func TestHostileCloneRunsNothingOnTheHost(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, err := s.Prepare(ctx, project, DefaultLoop)
	if err != nil {
		t.Fatal(err)
	}
	write(t, p.Dir, ".gitattributes", "* filter=evil diff=evil\n")
	agentCommits(t, p.Dir, "work.txt", "done\n", "the work")
	canaries := t.TempDir()
	plant(t, p.Dir, canaries)

	var out bytes.Buffer
	if err := open(t, s, p.Loop).Diff(ctx, &out, false); err != nil || !strings.Contains(out.String(), "+done") {
		t.Fatalf("diff = %v\n%s", err, out.String())
	}
	if err := open(t, s, p.Loop).Diff(ctx, &out, true); err != nil {
		t.Fatal(err)
	}
	if err := open(t, s, p.Loop).Log(ctx, &out, true); err != nil || !strings.Contains(out.String(), "the work") {
		t.Fatalf("log = %v\n%s", err, out.String())
	}
	if _, err := open(t, s, p.Loop).Merge(ctx, MergeInto, false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(project, "work.txt")); got != "done\n" {
		t.Errorf("work.txt after the merge = %q", got)
	}
	if err := s.Discard(ctx, p.Loop, false); err != nil {
		t.Fatal(err)
	}
	fired, _ := filepath.Glob(filepath.Join(canaries, "*"))
	for _, f := range fired {
		if filepath.Base(f) != "included.cfg" {
			t.Errorf("ran on the host: %s", filepath.Base(f))
		}
	}

	// Positive control: git run in such a repository fires them.
	ctl := t.TempDir()
	run(t, ctl, "init", "--quiet")
	write(t, ctl, "x.txt", "x\n")
	run(t, ctl, "add", "x.txt")
	plant(t, ctl, canaries)
	for _, args := range [][]string{{"-c", "user.name=U", "-c", "user.email=u@example.test", "commit", "--quiet", "-m", "x"},
		{"hook", "run", "pre-commit"}, {"diff", "HEAD"}} {
		exec.Command("git", append([]string{"-C", ctl}, args...)...).Run() // they fail: the canaries are no real programs
	}
	fired, _ = filepath.Glob(filepath.Join(canaries, "*"))
	t.Logf("control fired: %v", fired)
	for _, want := range []string{"fsmonitor", "filter-process", "hook-pre-commit"} {
		if _, err := os.Stat(filepath.Join(canaries, want)); err != nil {
			t.Errorf("control: %s did not fire, so the test could not see it: %v", want, err)
		}
	}
}

// What the agent can do to its branch's ref: a symbolic ref, garbage, a
// deleted branch, a .git replaced by a link. Each is refused by name; a
// packed ref is read.
func TestHeadIsReadByRalphAndChecked(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, _ := s.Prepare(ctx, project, DefaultLoop)
	agentCommits(t, p.Dir, "a.txt", "a\n", "a")
	want := run(t, p.Dir, "rev-parse", "HEAD")
	ref := filepath.Join(p.Dir, ".git", "refs", "heads", "ralph", DefaultLoop)

	if got, err := p.Head(); err != nil || got != want {
		t.Fatalf("Head = %s, %v; want %s", got, err, want)
	}
	run(t, p.Dir, "pack-refs", "--all")
	if got, err := p.Head(); err != nil || got != want {
		t.Errorf("packed: Head = %s, %v; want %s", got, err, want)
	}
	for _, c := range []struct{ content, want string }{
		{"ref: refs/heads/main\n", "symbolic"},
		{"../../../../etc/passwd\n", "not an object name"},
	} {
		os.MkdirAll(filepath.Dir(ref), 0o755)
		os.WriteFile(ref, []byte(c.content), 0o644)
		if _, err := p.Head(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ref %q: Head = %v, want %q", c.content, err, c.want)
		}
	}
	os.Remove(ref)
	os.WriteFile(filepath.Join(p.Dir, ".git", "packed-refs"), []byte("# nothing\n"), 0o644)
	if _, err := p.Head(); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("deleted branch: Head = %v", err)
	}
	os.Symlink(filepath.Join(project, "secret"), filepath.Join(p.Dir, ".git", "refs", "heads", "ralph", DefaultLoop))
	os.WriteFile(filepath.Join(project, "secret"), []byte(want+"\n"), 0o644)
	if _, err := p.Head(); err == nil {
		t.Error("a ref linked out of the clone was read")
	}
	os.Rename(filepath.Join(p.Dir, ".git"), filepath.Join(p.Dir, "moved"))
	os.Symlink("moved", filepath.Join(p.Dir, ".git"))
	if _, err := p.Head(); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf(".git as a link: Head = %v", err)
	}
	if _, err := s.OpenLoop(ctx, p.Loop); err == nil {
		t.Error("a review went on with a replaced .git")
	}
}

// The agent replaces its clone's object store with a link (to the user's
// own objects, or anywhere): the review refuses before git reads it.
func TestObjectsLinkIsRefused(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, _ := s.Prepare(ctx, project, DefaultLoop)
	agentCommits(t, p.Dir, "a.txt", "a\n", "a")
	objects := filepath.Join(p.Dir, ".git", "objects")
	os.Rename(objects, objects+"-moved")
	os.Symlink(objects+"-moved", objects)
	if _, err := s.OpenLoop(ctx, p.Loop); err == nil || !strings.Contains(err.Error(), "objects is not a folder") {
		t.Errorf("OpenLoop with .git/objects a link = %v", err)
	}
}
