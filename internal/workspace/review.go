package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Diff writes what the loop's commits changed against the commit it
// started from (--stat: a summary), through termsafe: file names and
// contents are the agent's. No external diff tool or textconv runs.
func (s Store) Diff(ctx context.Context, l Loop, w io.Writer, stat bool) error {
	v, err := l.openView(ctx, s.tmp())
	if err != nil {
		return err
	}
	defer v.close()
	args := []string{"diff", "--no-color", "--no-ext-diff", "--no-textconv"}
	if stat {
		args = append(args, "--stat")
	}
	return v.stream(ctx, w, append(args, l.Base, v.head, "--")...)
}

// Log writes the loop's commits since it started, newest first, one a
// line (--stat: with the files each changed).
func (s Store) Log(ctx context.Context, l Loop, w io.Writer, stat bool) error {
	v, err := l.openView(ctx, s.tmp())
	if err != nil {
		return err
	}
	defer v.close()
	args := []string{"log", "--no-color", "--format=%h %as %an: %s"}
	if stat {
		args = append(args, "--stat", "--no-ext-diff")
	}
	return v.stream(ctx, w, append(args, l.Base+".."+v.head, "--")...)
}

func (v view) stream(ctx context.Context, w io.Writer, args ...string) error {
	tw := &termsafe.Writer{W: w}
	err := proc.Run(ctx, proc.Cmd{Argv: append([]string{"git", "--git-dir=" + v.dir}, args...), Env: gitEnv(), Stdout: tw})
	tw.Close()
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	return nil
}

// Summary counts a loop's commits since it started.
func (s Store) Summary(ctx context.Context, l Loop) (head string, commits int, err error) {
	v, err := l.openView(ctx, s.tmp())
	if err != nil {
		return "", 0, err
	}
	defer v.close()
	out, err := v.git(ctx, "rev-list", "--count", l.Base+".."+v.head)
	if err != nil {
		return "", 0, fmt.Errorf("workspace: %w", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return v.head, n, nil
}

// How merge brings the loop's branch into the user's current branch.
const (
	BranchOnly = ""      // only fetch ralph/<loop> into the user's repository
	FastFwd    = "ff"    // then fast-forward the current branch, or fail
	MergeInto  = "merge" // then merge (fast-forward when it can), refused on a conflict
)

// ConflictError is a merge that would conflict: nothing was changed in
// the user's tree.
type ConflictError struct {
	Loop  string
	Files []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("merging loop %q would conflict in %s; your tree and current branch are untouched (the branch ralph/%s is in your repository: resolve it with git merge ralph/%s yourself)",
		e.Loop, strings.Join(e.Files, ", "), e.Loop, e.Loop)
}

// Merged is what a merge did.
type Merged struct {
	Head    string // the loop's commit now at ralph/<loop> in the user's repository
	Commits int    // since the loop's start
	Into    string // the current branch, when it was moved
	How     string // "fast-forward" or "merge"
}

// Merge fetches the loop's branch from the view into the user's
// repository as ralph/<loop> (a fast-forward of it, unless force), then,
// as how asks, moves the current branch. A merge that would conflict is
// found out with git merge-tree first, and refused with nothing changed.
// The user's own git config and hooks apply: it is their repository.
func (s Store) Merge(ctx context.Context, l Loop, how string, force bool) (Merged, error) {
	v, err := l.openView(ctx, s.tmp())
	if err != nil {
		return Merged{}, err
	}
	defer v.close()
	out, err := v.git(ctx, "rev-list", "--count", l.Base+".."+v.head)
	if err != nil {
		return Merged{}, fmt.Errorf("workspace: %w", err)
	}
	m := Merged{Head: v.head}
	m.Commits, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	refspec := "refs/heads/" + l.Branch + ":refs/heads/" + l.Branch
	if force {
		refspec = "+" + refspec
	}
	if _, err := git(ctx, l.Project, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", v.dir, refspec); err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "non-fast-forward") {
			return Merged{}, fmt.Errorf("your branch %s has commits the loop's branch has not (or the agent rewrote its history): rename yours, or pass --force to replace it", l.Branch)
		}
		return Merged{}, fmt.Errorf("workspace: %w", err)
	}
	if how == BranchOnly {
		return m, nil
	}
	cur, err := git(ctx, l.Project, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return m, fmt.Errorf("your repository is not on a branch (detached HEAD): check one out, then merge ralph/%s", l.Name)
	}
	m.Into = strings.TrimSpace(string(cur))
	if m.Into == l.Branch {
		return m, fmt.Errorf("your current branch is %s itself: it already holds the loop's work", l.Branch)
	}
	if _, err := git(ctx, l.Project, "merge-base", "--is-ancestor", "HEAD", l.Branch); err == nil {
		if _, err := git(ctx, l.Project, "merge", "--quiet", "--ff-only", l.Branch); err != nil {
			return m, fmt.Errorf("fast-forward %s: %w", m.Into, err)
		}
		m.How = "fast-forward"
		return m, nil
	}
	if how == FastFwd {
		return m, fmt.Errorf("%s cannot be fast-forwarded to ralph/%s (both have new commits): use --merge", m.Into, l.Name)
	}
	if out, err := git(ctx, l.Project, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", l.Branch); err != nil {
		if proc.ExitCode(err) == 1 {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var files []string
			for _, f := range lines[1:] {
				if f != "" {
					files = append(files, termsafe.String(f))
				}
			}
			return m, &ConflictError{Loop: l.Name, Files: files}
		}
		return m, fmt.Errorf("workspace: %w", err)
	}
	msg := fmt.Sprintf("Merge loop %s (ralph/%s)", l.Name, l.Name)
	if _, err := git(ctx, l.Project, "merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, l.Branch); err != nil {
		return m, fmt.Errorf("merge ralph/%s into %s: %w", l.Name, m.Into, err)
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
		head, commits, err := s.Summary(ctx, l)
		if err != nil {
			return fmt.Errorf("%w (`ralph discard --force %s` removes it anyway)", err, l.Name)
		}
		if commits > 0 {
			held, _ := git(ctx, l.Project, "for-each-ref", "--count=1", "--contains", head, "refs/heads")
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
