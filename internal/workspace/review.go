package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Source is a branch under review: a loop's own, read through its view,
// or one a fleet pushed (ralph/<id>), fetched into the user's repository,
// where it is plain data read by the user's own git.
type Source struct {
	Name    string // the loop's name, or the fleet run's id
	Branch  string // ralph/<name>
	Project string // the user's repository
	Head    string // the branch's commit
	Base    string // the loop's start, or where a fleet's branch left HEAD
	Loop    *Loop  // nil for a fleet's branch
	repo    string // where merge fetches from: the view, or "." (the user's own repository)
	ref     string // the branch's ref there
	prefix  []string
	cleanup func()
}

// Close removes the view, if any.
func (src *Source) Close() {
	if src.cleanup != nil {
		src.cleanup()
	}
}

// OpenLoop opens a loop's branch through a view of its clone.
func (s Store) OpenLoop(ctx context.Context, l Loop) (*Source, error) {
	v, err := l.openView(ctx, s.tmp())
	if err != nil {
		return nil, err
	}
	return &Source{Name: l.Name, Branch: l.Branch, Project: l.Project, Head: v.head, Base: l.Base, Loop: &l,
		repo: v.dir, ref: "refs/heads/" + l.Branch, prefix: []string{"--git-dir=" + v.dir}, cleanup: v.close}, nil
}

var fleetID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Open opens the loop named (with no name, the project's only loop or its
// default one) or, when the project has no loop of that name, the branch
// ralph/<name> a fleet pushed, once git fetch has brought it: a
// remote-tracking ralph/<name> (one remote's), else a local one.
func (s Store) Open(ctx context.Context, project, name string) (*Source, error) {
	l, err := s.Pick(project, name)
	if err == nil {
		return s.OpenLoop(ctx, l)
	}
	if name == "" || !errors.Is(err, ErrNoLoop) {
		return nil, err
	}
	if !fleetID.MatchString(name) {
		return nil, fmt.Errorf("%w: %q names no loop and no branch ralph/%s could have", ErrNoLoop, name, name)
	}
	out, gerr := git(ctx, project, "for-each-ref", "--format=%(refname)", "refs/remotes/*/ralph/"+name, "refs/heads/ralph/"+name)
	if gerr != nil {
		return nil, fmt.Errorf("workspace: %w", gerr)
	}
	var remote []string
	local := ""
	for _, r := range strings.Fields(string(out)) {
		if strings.HasPrefix(r, "refs/heads/") {
			local = r
		} else {
			remote = append(remote, r)
		}
	}
	ref := local
	switch {
	case len(remote) == 1:
		ref = remote[0]
	case len(remote) > 1:
		return nil, fmt.Errorf("workspace: ralph/%s is on several remotes (%s): fetch one, or merge it with git", name, strings.Join(remote, ", "))
	case local == "":
		return nil, fmt.Errorf("%w: %s has no loop %q and no branch ralph/%s (a fleet's branches come with git fetch)", ErrNoLoop, project, name, name)
	}
	head, gerr := git(ctx, project, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if gerr != nil {
		return nil, fmt.Errorf("workspace: %s: %w", ref, gerr)
	}
	base, gerr := git(ctx, project, "merge-base", "HEAD", ref)
	if gerr != nil {
		return nil, fmt.Errorf("workspace: ralph/%s shares no history with your HEAD: %w", name, gerr)
	}
	return &Source{Name: name, Branch: "ralph/" + name, Project: project, Head: strings.TrimSpace(string(head)), Base: strings.TrimSpace(string(base)),
		repo: ".", ref: ref, prefix: []string{"-C", project}}, nil
}

// Diff writes what the branch changed since its base (--stat: a
// summary), through termsafe: file names and contents are the agent's.
// No external diff tool or textconv runs.
func (src *Source) Diff(ctx context.Context, w io.Writer, stat bool) error {
	args := []string{"diff", "--no-color", "--no-ext-diff", "--no-textconv"}
	if stat {
		args = append(args, "--stat")
	}
	return src.stream(ctx, w, append(args, src.Base, src.Head, "--")...)
}

// Log writes the branch's commits since its base, newest first, one a
// line (--stat: with the files each changed).
func (src *Source) Log(ctx context.Context, w io.Writer, stat bool) error {
	args := []string{"log", "--no-color", "--format=%h %as %an: %s"}
	if stat {
		args = append(args, "--stat", "--no-ext-diff")
	}
	return src.stream(ctx, w, append(args, src.Base+".."+src.Head, "--")...)
}

func (src *Source) stream(ctx context.Context, w io.Writer, args ...string) error {
	tw := &termsafe.Writer{W: w}
	argv := append(append([]string{"git"}, src.prefix...), args...)
	err := proc.Run(ctx, proc.Cmd{Argv: argv, Env: gitEnv(), Stdout: tw})
	tw.Close()
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	return nil
}

// Commits counts the branch's commits since its base.
func (src *Source) Commits(ctx context.Context) (int, error) {
	out, err := git(ctx, "", append(src.prefix, "rev-list", "--count", src.Base+".."+src.Head)...)
	if err != nil {
		return 0, fmt.Errorf("workspace: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// How merge brings the branch into the user's current branch.
const (
	BranchOnly = ""      // only bring ralph/<name> into the user's repository
	FastFwd    = "ff"    // then fast-forward the current branch, or fail
	MergeInto  = "merge" // then merge (fast-forward when it can), refused on a conflict
)

// ConflictError is a merge that would conflict: nothing was changed in
// the user's tree.
type ConflictError struct {
	Name  string
	Files []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("merging ralph/%s would conflict in %s; your tree and current branch are untouched (the branch ralph/%s is in your repository: resolve it with git merge ralph/%s yourself)",
		e.Name, strings.Join(e.Files, ", "), e.Name, e.Name)
}

// Merged is what a merge did.
type Merged struct {
	Head    string // the commit now at ralph/<name> in the user's repository
	Commits int    // since the base
	Into    string // the current branch, when it was moved
	How     string // "fast-forward" or "merge"
}

// Merge brings the branch into the user's repository as ralph/<name> (a
// fast-forward of it, unless force): fetched from the loop's view, or
// from a fleet's remote-tracking branch. Then, as how asks, it moves the
// current branch; a merge that would conflict is found out with git
// merge-tree first, and refused with nothing changed. The user's own git
// config and hooks apply: it is their repository.
func (src *Source) Merge(ctx context.Context, how string, force bool) (Merged, error) {
	m := Merged{Head: src.Head}
	var err error
	if m.Commits, err = src.Commits(ctx); err != nil {
		return m, err
	}
	local := "refs/heads/" + src.Branch
	if src.repo != "." || src.ref != local {
		refspec := src.ref + ":" + local
		if force {
			refspec = "+" + refspec
		}
		if _, err := git(ctx, src.Project, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", src.repo, refspec); err != nil {
			var ee *proc.ExitError
			if errors.As(err, &ee) && (strings.Contains(ee.Stderr, "non-fast-forward") || strings.Contains(ee.Stderr, "rejected")) {
				return m, fmt.Errorf("your branch %s has commits this one has not (or the agent rewrote its history): rename yours, or pass --force to replace it", src.Branch)
			}
			return m, fmt.Errorf("workspace: %w", err)
		}
	}
	if how == BranchOnly {
		return m, nil
	}
	cur, err := git(ctx, src.Project, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return m, fmt.Errorf("your repository is not on a branch (detached HEAD): check one out, then merge %s", src.Branch)
	}
	m.Into = strings.TrimSpace(string(cur))
	if m.Into == src.Branch {
		return m, fmt.Errorf("your current branch is %s itself: it already holds the work", src.Branch)
	}
	if _, err := git(ctx, src.Project, "merge-base", "--is-ancestor", "HEAD", src.Branch); err == nil {
		if _, err := git(ctx, src.Project, "merge", "--quiet", "--ff-only", src.Branch); err != nil {
			return m, fmt.Errorf("fast-forward %s: %w", m.Into, err)
		}
		m.How = "fast-forward"
		return m, nil
	}
	if how == FastFwd {
		return m, fmt.Errorf("%s cannot be fast-forwarded to %s (both have new commits): use --merge", m.Into, src.Branch)
	}
	if out, err := git(ctx, src.Project, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", src.Branch); err != nil {
		if proc.ExitCode(err) == 1 {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var files []string
			for _, f := range lines[1:] {
				if f != "" {
					files = append(files, termsafe.String(f))
				}
			}
			return m, &ConflictError{Name: src.Name, Files: files}
		}
		return m, fmt.Errorf("workspace: %w", err)
	}
	msg := fmt.Sprintf("Merge %s (ralph)", src.Branch)
	if _, err := git(ctx, src.Project, "merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, src.Branch); err != nil {
		return m, fmt.Errorf("merge %s into %s: %w", src.Branch, m.Into, err)
	}
	m.How = "merge"
	return m, nil
}

// UnmergedError is a discard refused: the loop has commits the user's
// repository does not hold.
type UnmergedError struct {
	Loop    string
	Commits int
}

func (e *UnmergedError) Error() string {
	return fmt.Sprintf("loop %q has %d commit(s) no branch of your repository holds: `ralph merge %s` first, or `ralph discard --force %s` to lose them",
		e.Loop, e.Commits, e.Loop, e.Loop)
}

// Discard removes the loop's clone and its record. Unless force, the
// loop's commits must already be in a branch of the user's repository.
// The caller holds the loop's lock (no run is using the clone).
func (s Store) Discard(ctx context.Context, l Loop, force bool) error {
	if !force {
		src, err := s.OpenLoop(ctx, l)
		if err != nil {
			return fmt.Errorf("%w (`ralph discard --force %s` removes it anyway)", err, l.Name)
		}
		commits, err := src.Commits(ctx)
		src.Close()
		if err != nil {
			return err
		}
		if commits > 0 {
			held, _ := git(ctx, l.Project, "for-each-ref", "--count=1", "--contains", src.Head, "refs/heads")
			if len(strings.TrimSpace(string(held))) == 0 {
				return &UnmergedError{Loop: l.Name, Commits: commits}
			}
		}
	}
	if err := removeAll(l.Dir); err != nil {
		return fmt.Errorf("workspace: remove the clone of loop %q: %w", l.Name, err)
	}
	if err := os.Remove(s.record(l.Project, l.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("workspace: %w", err)
	}
	return nil
}

func (s Store) tmp() string { return filepath.Join(s.Dir, ".views") }
