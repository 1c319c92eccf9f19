package loop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ralphloop/ralph/internal/wsfile"
)

// BenchmarkSnapshot is the per-iteration cost of the files-changed
// snapshot on a 100k-file tree whose node_modules (90k files) git ignores:
// issue 21 asks for at most 50 ms an iteration on an unchanged tree.
func BenchmarkSnapshot(b *testing.B) {
	dir := b.TempDir()
	write := func(rel string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write(".gitignore")
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("node_modules/\ndist/\n"), 0o644)
	for i := 0; i < 90000; i++ {
		write(fmt.Sprintf("node_modules/pkg%03d/lib/f%03d.js", i/300, i%300))
	}
	for i := 0; i < 10000; i++ {
		write(fmt.Sprintf("src/dir%02d/file%04d.go", i/200, i%200))
	}
	ws, err := wsfile.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	b.ResetTimer()
	for b.Loop() {
		if n := len(snapshot(ws)); n != 10001 {
			b.Fatalf("snapshot saw %d files, want 10001", n)
		}
	}
}
