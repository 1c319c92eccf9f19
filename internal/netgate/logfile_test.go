package netgate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogFileStaysBounded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log.jsonl")
	l, err := OpenLog(p, 4096)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for i := 0; i < 10000; i++ { // 1 MB of decisions
		if _, err := l.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	total := int64(0)
	for _, f := range []string{p, p + ".1"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	if total > 2*4096 {
		t.Errorf("the log kept %d bytes, want at most %d", total, 2*4096)
	}
	// A symlink planted where the log goes is not followed.
	os.Remove(p)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o600)
	os.Symlink(target, p)
	if _, err := OpenLog(p, 0); err == nil {
		t.Error("OpenLog followed a symlink")
	}
}
