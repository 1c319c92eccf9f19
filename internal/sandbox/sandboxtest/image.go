package sandboxtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BusyboxImage imports a minimal image into the engine bin (docker or
// podman) as tag: a static busybox with its applets, /etc/passwd with
// root and uid 1000, and the extra files given (path in image -> host
// path), made executable. No registry is needed.
func BusyboxImage(t testing.TB, bin, tag string, extra map[string]string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		Require(t, "busybox-static", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode})
	}
	file := func(name string, data []byte, mode int64) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))})
		tw.Write(data)
	}
	for _, d := range []string{"bin/", "etc/", "work/", "home/", "usr/", "usr/local/", "usr/local/bin/", "proc/", "sys/", "dev/"} {
		dir(d, 0o755)
	}
	dir("tmp/", 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	file("bin/busybox", data, 0o755)
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777})
		}
	}
	file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nralph:x:1000:1000:ralph:/home/ralph:/bin/sh\n"), 0o644)
	file("etc/group", []byte("root:x:0:\nralph:x:1000:\n"), 0o644)
	for in, host := range extra {
		data, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		file(strings.TrimPrefix(in, "/"), data, 0o755)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmd := exec.CommandContext(ctx, bin, "import", "-", tag)
	cmd.Stdin = &buf
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s import: %v: %s", bin, err, stderr.String())
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
