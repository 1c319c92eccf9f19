package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repo makes a user's repository with one commit, and a HOME whose git
// config gives an identity (ralph's git runs with the user's HOME).
func repo(t *testing.T) (project string, s Store) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = User\n\temail = user@example.test\n[init]\n\tdefaultBranch = main\n"), 0o644)
	t.Setenv("HOME", home)
	project = filepath.Join(t.TempDir(), "My Project")
	os.Mkdir(project, 0o755)
	run(t, project, "init", "--quiet")
	write(t, project, "README.md", "hello\n")
	write(t, project, ".gitignore", "build/\n")
	run(t, project, "add", "-A")
	run(t, project, "commit", "--quiet", "-m", "first")
	return project, Store{Dir: filepath.Join(t.TempDir(), "workspaces")}
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, dir, rel, data string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// open opens the loop's branch for review, closed at the test's end.
func open(t *testing.T, s Store, l Loop) *Source {
	t.Helper()
	src, err := s.OpenLoop(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return src
}

// agentCommits commits in the clone as the agent would (its own git).
func agentCommits(t *testing.T, clone, rel, data, msg string) {
	t.Helper()
	write(t, clone, rel, data)
	run(t, clone, "add", "-A")
	run(t, clone, "-c", "user.name=Agent", "-c", "user.email=agent@example.test", "commit", "--quiet", "--no-verify", "-m", msg)
}

func TestPrepareClonesOnABranchAndCarriesUncommittedChanges(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	write(t, project, "README.md", "changed, not committed\n")
	write(t, project, "notes/todo.md", "untracked\n")
	write(t, project, "build/out.bin", "ignored\n")
	os.Symlink("README.md", filepath.Join(project, "link"))
	write(t, project, "gone.txt", "x\n")
	run(t, project, "add", "gone.txt")
	run(t, project, "commit", "--quiet", "-m", "gone")
	os.Remove(filepath.Join(project, "gone.txt"))
	head := run(t, project, "rev-parse", "HEAD")

	p, err := s.Prepare(ctx, project, "api-tests")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Created || p.Branch != "ralph/api-tests" || p.Base != head {
		t.Fatalf("prepared %+v, want a new clone on ralph/api-tests at %s", p, head)
	}
	if got := run(t, p.Dir, "symbolic-ref", "--short", "HEAD"); got != "ralph/api-tests" {
		t.Errorf("clone on %q, want ralph/api-tests", got)
	}
	if got := run(t, p.Dir, "remote"); got != "" {
		t.Errorf("clone has remotes %q, want none (the user's path stays out of the sandbox)", got)
	}
	if got := read(t, filepath.Join(p.Dir, "README.md")); got != "changed, not committed\n" {
		t.Errorf("README.md in the clone = %q, want the user's uncommitted change", got)
	}
	if got := read(t, filepath.Join(p.Dir, "notes/todo.md")); got != "untracked\n" {
		t.Errorf("untracked file not carried: %q", got)
	}
	if target, err := os.Readlink(filepath.Join(p.Dir, "link")); err != nil || target != "README.md" {
		t.Errorf("link carried as %q, %v; want a link to README.md", target, err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "build/out.bin")); err == nil {
		t.Error("an ignored file was carried over")
	}
	if _, err := os.Lstat(filepath.Join(p.Dir, "gone.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file deleted in the user's tree is in the clone: %v", err)
	}
	if p.Carried != 4 {
		t.Errorf("carried %d, want 4 (README.md, gone.txt, notes/todo.md, link)", p.Carried)
	}
	// The user's tree is as it was.
	if got := read(t, filepath.Join(project, "README.md")); got != "changed, not committed\n" {
		t.Errorf("user's README.md = %q", got)
	}

	again, err := s.Prepare(ctx, project, "api-tests")
	if err != nil || again.Created || again.Dir != p.Dir {
		t.Fatalf("second Prepare = %+v, %v; want the same clone, not made again", again, err)
	}
	loops, _ := s.List(project)
	if len(loops) != 1 || loops[0].Name != "api-tests" {
		t.Errorf("List = %+v", loops)
	}
}

// The agent owns its clone's files: an object shared by hard link would
// let it rewrite the user's object in place.
func TestCloneSharesNoInodeWithTheUsersObjects(t *testing.T) {
	project, s := repo(t)
	p, err := s.Prepare(context.Background(), project, DefaultLoop)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	mine := filepath.Join(project, ".git", "objects")
	theirs := filepath.Join(p.Dir, ".git", "objects")
	filepath.Walk(theirs, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(theirs, path)
		if u, err := os.Stat(filepath.Join(mine, rel)); err == nil {
			n++
			if os.SameFile(fi, u) {
				t.Errorf("%s is the user's own file (hard link)", rel)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no object of the user's found in the clone (the check saw nothing)")
	}
}

func TestPrepareRefuses(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	sub := filepath.Join(project, "sub")
	os.Mkdir(sub, 0o755)
	empty := t.TempDir()
	unborn := t.TempDir()
	run(t, unborn, "init", "--quiet")
	for _, c := range []struct{ dir, name, want string }{
		{empty, "default", "needs a git repository"},
		{sub, "default", "top folder"},
		{unborn, "default", "no commit yet"},
		{project, "Bad/Name", "loop name"},
		{project, "-x", "loop name"},
	} {
		_, err := s.Prepare(ctx, c.dir, c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Prepare(%s, %q) = %v, want an error saying %q", c.dir, c.name, err, c.want)
		}
	}
}

func TestDiffLogMergeFastForward(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, err := s.Prepare(ctx, project, DefaultLoop)
	if err != nil {
		t.Fatal(err)
	}
	agentCommits(t, p.Dir, "api.go", "package api\n", "add the api")
	agentCommits(t, p.Dir, "api_test.go", "package api\n\x1b]0;pwned\x07\n", "test the api \x1b[2J")
	// Only ralph merges: the user's tree has none of it yet.
	if _, err := os.Stat(filepath.Join(project, "api.go")); err == nil {
		t.Fatal("the loop's work reached the user's tree before a merge")
	}

	var diff, log bytes.Buffer
	if err := open(t, s, p.Loop).Diff(ctx, &diff, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff.String(), "+package api") || !strings.Contains(diff.String(), "b/api_test.go") {
		t.Errorf("diff misses the loop's changes:\n%s", diff.String())
	}
	if err := open(t, s, p.Loop).Log(ctx, &log, false); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(log.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "Agent: add the api") {
		t.Errorf("log = %q, want the two commits, newest first", log.String())
	}
	for what, out := range map[string]string{"diff": diff.String(), "log": log.String()} {
		if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x07) {
			t.Errorf("%s passed the agent's terminal escapes through: %q", what, out)
		}
	}

	m, err := open(t, s, p.Loop).Merge(ctx, FastFwd, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.How != "fast-forward" || m.Into != "main" || m.Commits != 2 {
		t.Errorf("merge = %+v, want a fast-forward of main by 2 commits", m)
	}
	if got := read(t, filepath.Join(project, "api.go")); got != "package api\n" {
		t.Errorf("api.go after the merge = %q", got)
	}
	if got := run(t, project, "rev-parse", "ralph/default"); got != m.Head {
		t.Errorf("ralph/default in the user's repo = %s, want %s", got, m.Head)
	}
	if err := s.Discard(ctx, p.Loop, false); err != nil {
		t.Fatalf("discard after the merge: %v", err)
	}
	if _, err := os.Stat(p.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("clone still there after discard: %v", err)
	}
	if _, err := s.Get(project, DefaultLoop); !errors.Is(err, ErrNoLoop) {
		t.Errorf("record still there after discard: %v", err)
	}
}

func TestMergeConflictLeavesTheUsersTreeUntouched(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, err := s.Prepare(ctx, project, "docs")
	if err != nil {
		t.Fatal(err)
	}
	agentCommits(t, p.Dir, "README.md", "the agent's\n", "rewrite the readme")
	write(t, project, "README.md", "the user's\n")
	run(t, project, "commit", "--quiet", "-am", "mine")
	write(t, project, "scratch.txt", "uncommitted\n")
	before := run(t, project, "rev-parse", "HEAD")

	if _, err := open(t, s, p.Loop).Merge(ctx, FastFwd, false); err == nil || !strings.Contains(err.Error(), "--merge") {
		t.Errorf("--ff on diverged branches = %v, want a refusal naming --merge", err)
	}
	_, err = open(t, s, p.Loop).Merge(ctx, MergeInto, false)
	var ce *ConflictError
	if !errors.As(err, &ce) || !cmp.Equal(ce.Files, []string{"README.md"}) {
		t.Fatalf("merge = %v, want a conflict in README.md", err)
	}
	if got := run(t, project, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD moved to %s", got)
	}
	if got := read(t, filepath.Join(project, "README.md")); got != "the user's\n" {
		t.Errorf("README.md = %q: the tree was touched", got)
	}
	if got := run(t, project, "status", "--porcelain"); got != "?? scratch.txt" {
		t.Errorf("status after the refused merge = %q, want only the untracked scratch.txt", got)
	}
	if err := s.Discard(ctx, p.Loop, false); err != nil {
		// The branch was fetched: the commits are held by ralph/docs.
		t.Errorf("discard after a fetched branch: %v", err)
	}
}

func TestMergeMakesAMergeCommitWhenBothMoved(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, _ := s.Prepare(ctx, project, "x")
	agentCommits(t, p.Dir, "a.txt", "a\n", "a")
	write(t, project, "b.txt", "b\n")
	run(t, project, "add", "b.txt")
	run(t, project, "commit", "--quiet", "-m", "b")
	m, err := open(t, s, p.Loop).Merge(ctx, MergeInto, false)
	if err != nil || m.How != "merge" {
		t.Fatalf("merge = %+v, %v", m, err)
	}
	if got := run(t, project, "log", "-1", "--format=%s"); got != "Merge ralph/x (ralph)" {
		t.Errorf("merge commit %q", got)
	}
	if read(t, filepath.Join(project, "a.txt")) != "a\n" || read(t, filepath.Join(project, "b.txt")) != "b\n" {
		t.Error("the merge lost a side")
	}
}

func TestDiscardRefusesUnmergedWork(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	p, _ := s.Prepare(ctx, project, "x")
	agentCommits(t, p.Dir, "a.txt", "a\n", "a")
	var ue *UnmergedError
	if err := s.Discard(ctx, p.Loop, false); !errors.As(err, &ue) || ue.Commits != 1 {
		t.Fatalf("discard = %v, want a refusal with 1 unmerged commit", err)
	}
	if _, err := os.Stat(p.Dir); err != nil {
		t.Fatalf("the refused discard removed the clone: %v", err)
	}
	// The agent leaves a folder it cannot be removed from as it is.
	os.Chmod(filepath.Join(p.Dir, ".git", "objects"), 0o500)
	if err := s.Discard(ctx, p.Loop, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("clone still there: %v", err)
	}
}

func TestPickNamesTheOnlyLoopOrAsks(t *testing.T) {
	ctx := context.Background()
	project, s := repo(t)
	if _, err := s.Pick(project, ""); !errors.Is(err, ErrNoLoop) {
		t.Errorf("no loops: %v", err)
	}
	s.Prepare(ctx, project, "a")
	if l, err := s.Pick(project, ""); err != nil || l.Name != "a" {
		t.Errorf("one loop: %+v, %v", l, err)
	}
	s.Prepare(ctx, project, "b")
	if _, err := s.Pick(project, ""); err == nil || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("two loops: %v, want them named", err)
	}
	s.Prepare(ctx, project, DefaultLoop)
	if l, err := s.Pick(project, ""); err != nil || l.Name != DefaultLoop {
		t.Errorf("with the default among them: %+v, %v", l, err)
	}
}
