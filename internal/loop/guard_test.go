package loop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/wsfile"
)

// TestSnapshotBoundsIgnoreFiles: the agent writes the .gitignore files
// too; a snapshot reads at most 8 MiB of them, whatever the tree holds
// (beyond that, what they would ignore counts as changes).
func TestSnapshotBoundsIgnoreFiles(t *testing.T) {
	dir := t.TempDir()
	pad := "# " + strings.Repeat("x", 1000) + "\n"
	body := strings.Repeat(pad, 1000) + "*.log\n" // about 1 MB each
	for i := 0; i < 12; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%02d", i))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, ".gitignore"), []byte(body), 0o644)
		os.WriteFile(filepath.Join(d, "a.log"), []byte("x"), 0o644)
	}
	ws, err := wsfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	logs := 0
	for p := range snapshot(ws) {
		if strings.HasSuffix(p, "a.log") {
			logs++
		}
	}
	if logs == 0 {
		t.Error("every one of 12 MB of ignore files was read and obeyed")
	}
	if logs == 12 {
		t.Error("no ignore file was obeyed at all")
	}
}
