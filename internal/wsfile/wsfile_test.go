//go:build unix

package wsfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile builds a workspace the way a hostile agent leaves it, next to
// a secret outside it.
func hostile(t *testing.T) (ws *Workspace, dir, secret string) {
	t.Helper()
	base := t.TempDir()
	secret = filepath.Join(base, "id_rsa")
	if err := os.WriteFile(secret, []byte("PRIVATE KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "project")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, ".ralph"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "ok.md"), []byte("do one task"), 0o644))
	must(os.Symlink(secret, filepath.Join(dir, "abs-link")))
	must(os.Symlink("../id_rsa", filepath.Join(dir, "rel-link")))
	must(os.Symlink("/dev/zero", filepath.Join(dir, "zero")))
	must(os.Symlink("ok.md", filepath.Join(dir, "inside-link")))
	must(os.Symlink("..", filepath.Join(dir, "up")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2048), 0o644))
	ws, err := Open(dir)
	must(err)
	t.Cleanup(func() { ws.Close() })
	return ws, dir, secret
}

func TestReadFileRefusesWhatPointsOut(t *testing.T) {
	ws, dir, _ := hostile(t)
	for _, tc := range []struct {
		name, path string
		want       string // in the error; "" means the read succeeds
	}{
		{"a regular file", "ok.md", ""},
		{"a symlink that stays inside", "inside-link", ""},
		{"absolute path inside", filepath.Join(dir, "ok.md"), ""},
		{"an absolute symlink to a key", "abs-link", "outside the project"},
		{"a relative symlink out", "rel-link", "outside the project"},
		{"through a folder link out", "up/id_rsa", "outside the project"},
		{"a symlink to /dev/zero", "zero", "outside the project"},
		{"a FIFO", "fifo", "not a regular file (a FIFO)"},
		{"a folder", ".ralph", "not a regular file (a directory)"},
		{"over the cap", "big", "over the cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() {
				defer close(done)
				data, err = ws.ReadFile(tc.path, 1024)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile hung")
			}
			if tc.want == "" {
				if err != nil || string(data) != "do one task" {
					t.Fatalf("ReadFile = %q, %v; want the file", data, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadFile = %q, want a refusal", data)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if !errors.Is(err, ErrRefused) {
				t.Errorf("error %v does not wrap ErrRefused", err)
			}
		})
	}
}

func TestReadFileOutsideIsStillChecked(t *testing.T) {
	ws, _, secret := hostile(t)
	// A path the user named on the command line may lie outside; it is
	// read, as a regular file with a cap.
	if b, err := ws.ReadFile(secret, 1024); err != nil || string(b) != "PRIVATE KEY" {
		t.Fatalf("ReadFile(outside) = %q, %v", b, err)
	}
	if _, err := ws.ReadFile("/dev/zero", 1024); !errors.Is(err, ErrRefused) {
		t.Fatalf("ReadFile(/dev/zero) = %v, want refused", err)
	}
	if _, err := ReadOutside("/dev/zero", 1024); !errors.Is(err, ErrRefused) {
		t.Fatalf("ReadOutside(/dev/zero) = %v, want refused", err)
	}
}

func TestWriteFileReplacesLinksNotTargets(t *testing.T) {
	ws, dir, secret := hostile(t)
	if err := os.Symlink(secret, filepath.Join(dir, ".ralph", "PROMPT.md")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, ".ralph", "tasks.md"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".ralph/PROMPT.md", ".ralph/tasks.md", "new/dir/file.md"} {
		if err := ws.WriteFile(name, []byte("fresh"), 0o644); err != nil {
			t.Fatalf("WriteFile(%s): %v", name, err)
		}
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("%s after WriteFile: %v, %v; want a regular file", name, st, err)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "PRIVATE KEY" {
		t.Fatalf("the link's target was written: %q", b)
	}
	// A folder link out of the project is not a way out for writes either.
	if err := ws.WriteFile("up/planted", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile through a link out of the project succeeded")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "planted")); err == nil {
		t.Fatal("a file was planted outside the project")
	}
	if err := ws.WriteFile("../escape", []byte("x"), 0o644); !errors.Is(err, ErrRefused) {
		t.Fatalf("WriteFile(../escape) = %v, want refused", err)
	}
}

func FuzzReadFile(f *testing.F) {
	for _, s := range []string{"ok.md", "../x", "a/../../b", "/etc/passwd", "up/id_rsa", ".", ""} {
		f.Add(s)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "p")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET"), 0o600)
	os.Symlink("..", filepath.Join(dir, "up"))
	ws, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if filepath.IsAbs(p) {
			return // the user's own path
		}
		if _, inside := ws.rel(p); !inside {
			return
		}
		if b, err := ws.ReadFile(p, 1<<10); err == nil && strings.Contains(string(b), "SECRET") {
			t.Fatalf("ReadFile(%q) read a file outside the project", p)
		}
	})
}
