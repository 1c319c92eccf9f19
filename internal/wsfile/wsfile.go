// Package wsfile is the one way ralph, on the host, reads and writes files
// in a workspace. The agent writes the whole workspace, so every path in it
// is hostile: a name may be a symlink out of the project (to a key, to
// /dev/zero), a FIFO that never answers, or a file of gigabytes. Through a
// Workspace a read resolves beneath the project only (os.Root: no absolute
// symlinks, no "..", nothing outside), opens without blocking, accepts
// regular files only and stops at a size cap per kind of file; a write
// replaces the name itself (a temporary file renamed over it), never the
// target of a link.
package wsfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrRefused is what every refused file wraps.
var ErrRefused = errors.New("refused")

// Caps per kind of file ralph reads from a workspace.
const (
	MaxPrompt = 1 << 20   // a prompt of megabytes is a mistake or an attack
	MaxTasks  = 8 << 20   // tasks.md or prd.json
	MaxConfig = 256 << 10 // .ralph/config.toml
)

// RefusedError says which file was refused and why.
type RefusedError struct {
	Path   string // as the user knows it: relative to the project when inside
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Workspace is a project folder opened for safe access.
type Workspace struct {
	dir  string
	root *os.Root
}

// Open opens dir (which must be a directory; symlinks in dir itself are
// the user's own and are followed).
func Open(dir string) (*Workspace, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspace{dir: dir, root: r}, nil
}

// Close releases the folder.
func (w *Workspace) Close() error { return w.root.Close() }

// Dir is the project folder.
func (w *Workspace) Dir() string { return w.dir }

// rel returns p relative to the workspace, and whether it lies inside.
func (w *Workspace) rel(p string) (string, bool) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.dir, p)
	}
	r, err := filepath.Rel(w.dir, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	return r, true
}

// Show is how a path is named in messages: relative inside the project.
func (w *Workspace) Show(p string) string {
	if r, ok := w.rel(p); ok {
		return r
	}
	return p
}

// Exists reports whether p names something beneath the workspace: a
// file, a link (wherever it points: reading it says why it is refused),
// anything. Paths outside the workspace are the user's own and are looked
// at with os.Stat.
func (w *Workspace) Exists(p string) bool {
	if r, ok := w.rel(p); ok {
		_, err := w.root.Lstat(r)
		return err == nil
	}
	_, err := os.Stat(p)
	return err == nil
}

// ReadFile reads p, a path inside the workspace (absolute or relative to
// it) or, when outside, a file the user named on the command line, of at
// most max bytes. The file must be a regular file; inside the workspace
// it must resolve beneath it.
func (w *Workspace) ReadFile(p string, max int64) ([]byte, error) {
	r, inside := w.rel(p)
	var f *os.File
	var err error
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if inside {
		f, err = w.root.OpenFile(r, flags, 0)
	} else {
		f, err = os.OpenFile(p, flags, 0)
	}
	show := w.Show(p)
	if err != nil {
		return nil, explain(show, err)
	}
	defer f.Close()
	return readRegular(f, show, max)
}

// ReadDir lists at most n entries of the folder rel, beneath the
// workspace (a link out of it is not followed).
func (w *Workspace) ReadDir(rel string, n int) ([]fs.DirEntry, error) {
	d, err := w.root.Open(rel)
	if err != nil {
		return nil, explain(rel, err)
	}
	defer d.Close()
	return d.ReadDir(n)
}

// RemoveAll removes rel beneath the workspace (a link is removed, never
// followed).
func (w *Workspace) RemoveAll(rel string) error { return w.root.RemoveAll(rel) }

// ReadIn opens dir as a workspace just to read rel from it.
func ReadIn(dir, rel string, max int64) ([]byte, error) {
	ws, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	return ws.ReadFile(rel, max)
}

// ReadOutside reads a file that is not in any workspace (the user's own
// config) with the same checks: regular, non-blocking, capped.
func ReadOutside(p string, max int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, explain(p, err)
	}
	defer f.Close()
	return readRegular(f, p, max)
}

func readRegular(f *os.File, show string, max int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", show, err)
	}
	if !st.Mode().IsRegular() {
		return nil, &RefusedError{show, fmt.Sprintf("not a regular file (%s)", kind(st.Mode()))}
	}
	if st.Size() > max {
		return nil, &RefusedError{show, fmt.Sprintf("%d bytes, over the cap of %d for this file", st.Size(), max)}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", show, err)
	}
	if int64(len(data)) > max {
		return nil, &RefusedError{show, fmt.Sprintf("over the cap of %d bytes for this file", max)}
	}
	return data, nil
}

// explain turns an open error into a refusal when it is one.
func explain(show string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", show, os.ErrNotExist)
	}
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	switch {
	case strings.Contains(msg, "path escapes from parent"), errors.Is(err, syscall.EXDEV):
		return &RefusedError{show, "resolves outside the project (a symlink out of it, or an absolute one)"}
	case errors.Is(err, syscall.ELOOP):
		return &RefusedError{show, "too many symlinks"}
	}
	return fmt.Errorf("%s: %w", show, err)
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

// WriteFile writes data to rel (relative to the workspace) by writing a
// new file next to it and renaming it over the name: a symlink or a FIFO
// planted there is replaced, never written through. Parent folders are
// made beneath the workspace as needed.
func (w *Workspace) WriteFile(rel string, data []byte, perm fs.FileMode) error {
	r, ok := w.rel(rel)
	if !ok {
		return &RefusedError{rel, "outside the project"}
	}
	if d := filepath.Dir(r); d != "." {
		if err := w.root.MkdirAll(d, 0o755); err != nil {
			return explain(w.Show(d), err)
		}
	}
	if st, err := w.root.Lstat(r); err == nil && st.IsDir() {
		return &RefusedError{r, "is a directory"}
	}
	tmp := filepath.Join(filepath.Dir(r), fmt.Sprintf(".%s.ralph-%d.tmp", filepath.Base(r), os.Getpid()))
	w.root.Remove(tmp)
	f, err := w.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY|oNoFollow, perm)
	if err != nil {
		return explain(w.Show(tmp), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		w.root.Remove(tmp)
		return fmt.Errorf("%s: %w", r, err)
	}
	if err := f.Close(); err != nil {
		w.root.Remove(tmp)
		return fmt.Errorf("%s: %w", r, err)
	}
	if err := w.root.Rename(tmp, r); err != nil {
		w.root.Remove(tmp)
		return explain(r, err)
	}
	return nil
}
