package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// Prepared is a loop's clone, ready for a run.
type Prepared struct {
	Loop
	// Created is set when this call made the clone.
	Created bool
	// Carried counts the uncommitted files of the user's tree copied into
	// a new clone (left uncommitted there); Skipped the ones that are
	// neither files nor links.
	Carried, Skipped int
}

// Prepare returns the loop's clone, making it on first use: a clone of
// the repository whose top folder is project, with no remote, on the
// branch ralph/<name> at the user's HEAD, and the user's uncommitted
// changes (modified, deleted and untracked files that git does not
// ignore) carried over, uncommitted. Objects are copied, never
// hard-linked: the agent owns its clone's files, and could otherwise
// rewrite the user's own objects in place through a shared inode.
// When ralph runs as root, the clone is given to the project's owner, as
// the agent runs as the owner of what it works on.
func (s Store) Prepare(ctx context.Context, project, name string) (Prepared, error) {
	if err := CheckLoop(name); err != nil {
		return Prepared{}, err
	}
	if l, err := s.Get(project, name); err == nil {
		if st, err := os.Lstat(l.Dir); err != nil || !st.IsDir() {
			return Prepared{}, fmt.Errorf("workspace: the clone of loop %q (%s) is gone: `ralph discard --force %s` forgets it", name, l.Dir, name)
		}
		return Prepared{Loop: l}, nil
	} else if !errors.Is(err, ErrNoLoop) {
		return Prepared{}, err
	}
	top, err := git(ctx, project, "rev-parse", "--show-toplevel")
	if err != nil {
		return Prepared{}, fmt.Errorf("--workspace clone needs a git repository (git init, then commit once): %w", err)
	}
	if t := strings.TrimSpace(string(top)); !sameDir(t, project) {
		return Prepared{}, fmt.Errorf("--workspace clone: run ralph from the repository's top folder (%s), not from %s", t, project)
	}
	base, err := git(ctx, project, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil {
		return Prepared{}, fmt.Errorf("--workspace clone: the repository has no commit yet: commit once, then run ralph again")
	}
	l := Loop{Name: name, Project: project, Dir: filepath.Join(s.Dir, key(project, name)), Branch: "ralph/" + name,
		Base: strings.TrimSpace(string(base)), Created: time.Now().UTC()}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return Prepared{}, fmt.Errorf("workspace: %w", err)
	}
	// A folder without a record is what an interrupted Prepare left.
	if err := removeAll(l.Dir); err != nil {
		return Prepared{}, fmt.Errorf("workspace: %w", err)
	}
	p := Prepared{Loop: l, Created: true}
	err = func() error {
		if _, err := git(ctx, "", "clone", "--quiet", "--no-hardlinks", "--no-checkout", "--", project, l.Dir); err != nil {
			return err
		}
		// ralph made this clone a moment ago and the agent has not seen
		// it: running git in it is safe this once.
		if _, err := git(ctx, l.Dir, "checkout", "--quiet", "-b", l.Branch, l.Base); err != nil {
			return err
		}
		if _, err := git(ctx, l.Dir, "remote", "remove", "origin"); err != nil {
			return err
		}
		if p.Carried, p.Skipped, err = carry(ctx, project, l.Dir); err != nil {
			return err
		}
		return s.giveToOwner(project, l.Dir)
	}()
	if err == nil {
		err = s.save(l)
	}
	if err != nil {
		removeAll(l.Dir)
		return Prepared{}, fmt.Errorf("workspace: clone of %s for loop %q: %w", project, name, err)
	}
	return p, nil
}

// carry copies the user's uncommitted changes into the clone: modified
// and untracked files (links as links), deletions as deletions.
func carry(ctx context.Context, project, clone string) (carried, skipped int, err error) {
	out, err := git(ctx, project, "ls-files", "-z", "--modified", "--others", "--exclude-standard")
	if err != nil {
		return 0, 0, err
	}
	src, err := os.OpenRoot(project)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	dst, err := os.OpenRoot(clone)
	if err != nil {
		return 0, 0, err
	}
	defer dst.Close()
	seen := map[string]bool{}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" || seen[rel] {
			continue
		}
		seen[rel] = true
		ok, err := copyOne(src, dst, filepath.FromSlash(rel))
		if err != nil {
			return carried, skipped, fmt.Errorf("carry %s: %w", rel, err)
		}
		if ok {
			carried++
		} else {
			skipped++
		}
	}
	return carried, skipped, nil
}

// copyOne brings one path of the user's tree into the clone as it is
// now: a file, a link, or gone. It reports false for anything else.
func copyOne(src, dst *os.Root, rel string) (bool, error) {
	st, err := src.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		if err := dst.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if dir := filepath.Dir(rel); dir != "." {
		if err := dst.MkdirAll(dir, 0o755); err != nil {
			return false, err
		}
	}
	dst.Remove(rel)
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		target, err := src.Readlink(rel)
		if err != nil {
			return false, err
		}
		return true, dst.Symlink(target, rel)
	case st.Mode().IsRegular():
		in, err := src.OpenFile(rel, os.O_RDONLY, 0)
		if err != nil {
			return false, err
		}
		defer in.Close()
		out, err := dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return false, err
		}
		return true, out.Close()
	}
	return false, nil
}

// giveToOwner hands the clone to the project's owner when ralph runs as
// root and the owner is someone else (links are changed, never followed),
// and lets that uid pass through ralph's state folder and its workspaces
// folder to it (0711: no listing), as bwrap mounts the clone as that uid.
func (s Store) giveToOwner(project, clone string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(project)
	if err != nil {
		return err
	}
	uid, gid, ok := sandbox.FileOwner(st)
	if !ok || uid == 0 {
		return nil
	}
	for _, d := range []string{filepath.Dir(s.Dir), s.Dir} {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o011 == 0 {
			os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	return filepath.WalkDir(clone, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// removeAll removes a clone, whatever modes the agent left on its
// folders.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// git runs git with ralph's minimal environment (the user's own global
// and system config apply; nothing of ralph's environment does).
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	argv := append([]string{"git"}, args...)
	if dir != "" {
		argv = append([]string{"git", "-C", dir}, args...)
	}
	return proc.Output(ctx, proc.Cmd{Argv: argv, Env: gitEnv()})
}

func gitEnv() []string {
	return append(proc.MinimalEnv(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}
