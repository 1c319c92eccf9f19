package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestStatic(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
	for _, tc := range []struct {
		cgo  string
		want bool
	}{{"0", true}, {"1", false}} {
		out := filepath.Join(dir, "p"+tc.cgo)
		cmd := exec.Command("go", "build", "-o", out, src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+tc.cgo)
		if tc.cgo == "1" {
			// A dynamic build needs cgo in use: the net package's resolver.
			os.WriteFile(src, []byte("package main\nimport _ \"net\"\nimport \"C\"\nfunc main() {}\n"), 0o644)
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build (CGO_ENABLED=%s): %v %s", tc.cgo, err, b)
		}
		if got := Static(out); got != tc.want {
			t.Errorf("CGO_ENABLED=%s: Static %v, want %v", tc.cgo, got, tc.want)
		}
	}
	if Static(src) {
		t.Error("a Go source file is not a static binary")
	}
}
