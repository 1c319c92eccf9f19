package sandboxtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BusyboxImage imports a minimal image into the engine bin (docker or
// podman) as tag: BusyboxRootfs with the extra files given. No registry is
// needed.
func BusyboxImage(t testing.TB, bin, tag string, extra map[string]string) {
	t.Helper()
	root := t.TempDir()
	BusyboxRootfs(t, root, extra)
	tarball := exec.Command("tar", "--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", "-", ".")
	imp := exec.Command(bin, "import", "-", tag)
	pipe, err := tarball.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var stderr bytes.Buffer
	imp.Stderr, tarball.Stderr = &stderr, &stderr
	imp.Stdout = io.Discard
	if err := tarball.Start(); err != nil {
		t.Fatal(err)
	}
	err = imp.Run()
	if werr := tarball.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		t.Fatalf("%s import: %v: %s", bin, err, stderr.String())
	}
}

// BusyboxRootfs writes into root the root filesystem of a minimal image: a
// static busybox with its applets in /bin, /etc/passwd and /etc/group with
// root and ralph (uid 1000, home /home/ralph), the usual empty folders
// (/tmp world-writable and sticky), and the extra files given (path in the
// image -> host path), made executable.
func BusyboxRootfs(t testing.TB, root string, extra map[string]string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		Require(t, "busybox-static", err)
	}
	put := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	for _, d := range []string{"bin", "etc", "work", "home/ralph", "usr/local/bin", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	put("bin/busybox", data, 0o755)
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(root, "bin", a))
		}
	}
	put("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nralph:x:1000:1000:ralph:/home/ralph:/bin/sh\n"), 0o644)
	put("etc/group", []byte("root:x:0:\nralph:x:1000:\n"), 0o644)
	for in, host := range extra {
		data, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		put(strings.TrimPrefix(in, "/"), data, 0o755)
	}
}

// Project makes a project directory owned by uid:gid, as a user's checkout
// would be.
func Project(t testing.TB, uid, gid int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// A checkout's parents are open to its owner (t.TempDir's are not).
	os.Chmod(filepath.Dir(dir), 0o755)
	return dir
}

// Cleanup removes containers by name at the end of the test, whatever
// their labels say.
func Cleanup(t testing.TB, bin string, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			exec.Command(bin, "rm", "--force", n).Run()
		}
	})
}

func must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
