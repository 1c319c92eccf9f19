package render

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// ansi matches the control sequences of colour output.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// TestGolden renders every recorded stream of every agent at two widths,
// plain (not a terminal) and in colour (a terminal).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("../agent/testdata/*.jsonl")
	if len(files) == 0 {
		t.Fatal("no recorded streams")
	}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		agent, _, _ := strings.Cut(base, "-")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			width int
			color bool
		}{{80, false}, {40, false}, {80, true}, {40, true}} {
			name := fmt.Sprintf("%s-w%d", base, v.width)
			if v.color {
				name += "-tty"
			}
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				r := New(&out, agent, v.width, v.color)
				r.Write(data)
				r.Flush()
				got := out.String()
				if !v.color && strings.Contains(got, "\x1b[") {
					t.Error("control codes when not on a terminal")
				}
				for _, l := range strings.Split(ansi.ReplaceAllString(got, ""), "\n") {
					if len([]rune(l)) > v.width {
						t.Errorf("line wider than %d: %q", v.width, l)
					}
				}
				golden := filepath.Join("testdata", name+".golden")
				if *update {
					os.MkdirAll("testdata", 0o755)
					os.WriteFile(golden, []byte(got), 0o644)
				}
				want, _ := os.ReadFile(golden)
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestLargeTranscript renders 1 GiB of claude stream-json with memory that
// does not grow with it.
func TestLargeTranscript(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	r := New(io.Discard, "claude", 100, false)
	_, grown, _ := agenttest.StreamGiB(r)
	r.Flush()
	t.Logf("1 GiB rendered; heap in use grew at most %d KiB", grown>>10)
	if grown > 64<<20 {
		t.Errorf("heap grew %d MiB over a 1 GiB transcript", grown>>20)
	}
}
