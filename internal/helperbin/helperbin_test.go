package helperbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSameBuild(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !SameBuild(self, self) {
		t.Error("a binary is not of its own build")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to compare with")
	}
	if SameBuild(self, goTool) {
		t.Error("the go tool counts as ralph's build")
	}
	if SameBuild(self, "/etc/hostname") {
		t.Error("a file that is no Go binary counts")
	}
}

// TestFindFallsBack: no helper, or one that is not static or not of the
// same build, gives ralph itself.
func TestFindFallsBack(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "ralph")
	os.WriteFile(self, []byte("x"), 0o755)
	if p, slim := Find(self); p != self || slim {
		t.Errorf("no helper: %s %v", p, slim)
	}
	os.WriteFile(filepath.Join(dir, Name), []byte("#!/bin/sh\n"), 0o755)
	if p, slim := Find(self); p != self || slim {
		t.Errorf("a script as helper: %s %v", p, slim)
	}
	if data, err := os.ReadFile("/bin/busybox"); err == nil {
		os.WriteFile(filepath.Join(dir, Name), data, 0o755) // static, another build
		if p, slim := Find(self); p != self || slim {
			t.Errorf("another program as helper: %s %v", p, slim)
		}
	}
}

// TestFindElsewhere: on macOS and Windows ralph itself cannot stand in
// for the Linux helper: without one Find gives "" (and Missing says how
// to get it).
func TestFindElsewhere(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "ralph")
	os.WriteFile(self, []byte("x"), 0o755)
	for _, goos := range []string{"darwin", "windows"} {
		if p, slim := find(self, goos); p != "" || slim {
			t.Errorf("%s without a helper: %q %v", goos, p, slim)
		}
	}
	if m := Missing(self); !strings.Contains(m, "GOOS=linux") || !strings.Contains(m, filepath.Join(dir, Name)) {
		t.Errorf("Missing says %q", m)
	}
}

// TestReleaseHelpers checks the release archives scripts/test.sh
// unpacked (RALPH_RELEASE_DIRS, one folder per archive, macOS and
// Windows): the ralph-helper in each is what Find takes there, a static
// Linux build of the same source as that archive's ralph.
func TestReleaseHelpers(t *testing.T) {
	dirs := strings.Fields(os.Getenv("RALPH_RELEASE_DIRS"))
	if len(dirs) == 0 {
		t.Skip("RALPH_RELEASE_DIRS is not set (scripts/test.sh sets it after building the release)")
	}
	for _, d := range dirs {
		self := filepath.Join(d, "ralph")
		if strings.Contains(d, "windows") {
			self += ".exe"
		}
		for _, goos := range []string{"darwin", "windows"} {
			if p, slim := find(self, goos); p != filepath.Join(d, Name) || !slim {
				t.Errorf("%s as on %s: Find takes %q (slim %v), want its ralph-helper", d, goos, p, slim)
			}
		}
	}
}
