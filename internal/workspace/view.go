package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ralphloop/ralph/internal/wsfile"
)

var objectName = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// maxRefs caps the clone's packed-refs file ralph reads.
const maxRefs = 8 << 20

// Head returns the commit the loop's branch names in its clone, read from
// the clone's ref files by ralph itself (never by git in the clone): a
// loose ref, else a line of packed-refs. A symbolic ref or anything but an
// object name is refused.
func (l Loop) Head() (string, error) {
	ws, err := wsfile.Open(l.Dir)
	if err != nil {
		return "", fmt.Errorf("workspace: the clone of loop %q: %w", l.Name, err)
	}
	defer ws.Close()
	if st, err := os.Lstat(filepath.Join(l.Dir, ".git")); err != nil || !st.IsDir() {
		return "", fmt.Errorf("workspace: loop %q: the clone's .git is not a folder any more (the agent replaced it)", l.Name)
	}
	ref := "refs/heads/" + l.Branch
	b, err := ws.ReadFile(filepath.Join(".git", filepath.FromSlash(ref)), 4096)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !objectName.MatchString(id) {
			return "", fmt.Errorf("workspace: loop %q: its branch %s is not an object name (a symbolic ref?); ralph does not follow it", l.Name, l.Branch)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("workspace: loop %q: %w", l.Name, err)
	}
	packed, err := ws.ReadFile(filepath.Join(".git", "packed-refs"), maxRefs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("workspace: loop %q: %w", l.Name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(packed))
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		id, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref && objectName.MatchString(id) {
			return id, nil
		}
	}
	return "", fmt.Errorf("workspace: loop %q: its branch %s is gone from the clone (the agent deleted or renamed it)", l.Name, l.Branch)
}

// view is ralph's own bare repository over a loop's objects: an empty
// config, no hooks, the clone's object store and the user's as
// alternates, and one branch, ralph/<loop>, at Head.
type view struct {
	dir  string // the view's git folder
	head string
}

func (v view) close() { os.RemoveAll(v.dir) }

// openView builds the view of l in a temporary folder under tmp.
func (l Loop) openView(ctx context.Context, tmp string) (view, error) {
	head, err := l.Head()
	if err != nil {
		return view{}, err
	}
	objects := filepath.Join(l.Dir, ".git", "objects")
	if st, err := os.Lstat(objects); err != nil || !st.IsDir() {
		return view{}, fmt.Errorf("workspace: loop %q: the clone's .git/objects is not a folder (the agent replaced it)", l.Name)
	}
	mine, err := git(ctx, l.Project, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return view{}, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return view{}, err
	}
	dir, err := os.MkdirTemp(tmp, "view-")
	if err != nil {
		return view{}, err
	}
	v := view{dir: dir, head: head}
	err = func() error {
		// An empty template: no hooks, not even the user's own.
		if _, err := git(ctx, "", "init", "--quiet", "--bare", "--template=", dir); err != nil {
			return err
		}
		alt := objects + "\n" + filepath.Join(strings.TrimSpace(string(mine)), "objects") + "\n"
		if err := os.MkdirAll(filepath.Join(dir, "objects", "info"), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "objects", "info", "alternates"), []byte(alt), 0o600); err != nil {
			return err
		}
		if t, err := v.git(ctx, "cat-file", "-t", head); err != nil || strings.TrimSpace(string(t)) != "commit" {
			return fmt.Errorf("loop %q: its branch names %s, which is not a commit in the clone", l.Name, head)
		}
		_, err := v.git(ctx, "update-ref", "refs/heads/"+l.Branch, head)
		return err
	}()
	if err != nil {
		v.close()
		return view{}, fmt.Errorf("workspace: %w", err)
	}
	return v, nil
}

// git runs git on the view only.
func (v view) git(ctx context.Context, args ...string) ([]byte, error) {
	return git(ctx, "", append([]string{"--git-dir=" + v.dir}, args...)...)
}
