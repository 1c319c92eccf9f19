package runlog_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/render"
	"github.com/ralphloop/ralph/internal/runlog"
)

func dirSize(t *testing.T, dir string) (total int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "iter-") {
			fi, _ := e.Info()
			total += fi.Size()
		}
	}
	return total
}

// TestLargeTranscriptSaved streams 1 GiB of claude stream-json through
// what a run does with an agent's output (the raw file, and the rendered
// log file): memory does not grow with it, the run's cap holds, and the
// start of the transcript is on disk.
func TestLargeTranscriptSaved(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rec, err := runlog.Start(t.TempDir(), runlog.Run{ID: "big", Agent: "claude"})
	if err != nil {
		t.Fatal(err)
	}
	raw, logf := rec.Output(1, 0, "jsonl"), rec.Output(1, 0, "log")
	r := render.New(logf, "claude", 100, false)
	w := io.MultiWriter(raw, r)
	turn, grown, err := agenttest.StreamGiB(w)
	if err != nil {
		t.Fatal(err)
	}
	r.Flush()
	raw.Close()
	logf.Close()
	if grown > 64<<20 {
		t.Errorf("heap grew %d MiB over a 1 GiB transcript", grown>>20)
	}
	if got := dirSize(t, rec.Dir()); got != runlog.MaxRunBytes {
		t.Errorf("kept %d bytes, want the cap, %d", got, runlog.MaxRunBytes)
	}
	head := make([]byte, len(turn))
	f, err := os.Open(filepath.Join(rec.Dir(), "iter-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, turn) {
		t.Errorf("the raw file does not start with the transcript (%v)", err)
	}
	if b, _ := os.ReadFile(filepath.Join(rec.Dir(), "iter-0001.log")); !bytes.Contains(b[:min(len(b), 4096)], []byte("Reading.")) {
		t.Errorf("the rendered log does not start with the agent's text: %.200q", b)
	}
}

// A resumed run keeps counting against the same cap.
func TestResumeKeepsTheCap(t *testing.T) {
	proj := t.TempDir()
	rec, err := runlog.Start(proj, runlog.Run{ID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	w := rec.Output(1, 0, "jsonl")
	for i := 0; i < runlog.MaxRunBytes>>20-1; i++ {
		w.Write(big)
	}
	w.Close()
	again, err := runlog.Resume(proj, rec.Run())
	if err != nil {
		t.Fatal(err)
	}
	w = again.Output(2, 0, "jsonl")
	for i := 0; i < 3; i++ {
		w.Write(big)
	}
	w.Close()
	if got := dirSize(t, rec.Dir()); got != runlog.MaxRunBytes {
		t.Errorf("kept %d bytes after a resume, want the cap, %d", got, runlog.MaxRunBytes)
	}
}

func TestRecordAndList(t *testing.T) {
	proj := t.TempDir()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, id := range []string{"b", "a"} {
		rec, err := runlog.Start(proj, runlog.Run{ID: id, Agent: "claude", Start: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		rec.Add(runlog.Iteration{N: 1, Outcome: "continue", CostUSD: 0.25, InputTokens: 10, OutputTokens: 5})
		rec.Add(runlog.Iteration{N: 2, Outcome: "complete", CostUSD: 0.5})
		rec.Finish("complete", 0, "COMPLETE")
	}
	// A save torn by a crash leaves only its temporary file behind.
	os.WriteFile(filepath.Join(proj, "a", ".run.json.123.tmp"), []byte(`{"id":`), 0o600)
	os.Mkdir(filepath.Join(proj, "not-a-run"), 0o700)
	runs, err := runlog.List(proj)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
		if r.CostUSD != 0.75 || r.InputTokens != 10 || len(r.Iterations) != 2 || r.Status != "complete" || *r.ExitCode != 0 {
			t.Errorf("run %s: %+v", r.ID, r)
		}
	}
	if diff := cmp.Diff([]string{"b", "a"}, got); diff != "" {
		t.Errorf("List order, oldest first (-want +got):\n%s", diff)
	}
}

func TestPrune(t *testing.T) {
	base := t.TempDir()
	mk := func(project, id string, size int) string {
		d := filepath.Join(base, project, id)
		os.MkdirAll(d, 0o700)
		os.WriteFile(filepath.Join(d, "iter-0001.jsonl"), make([]byte, size), 0o600)
		return d
	}
	oldest := mk("p1", "20261101-000000-aaaa", 400)
	running := mk("p2", "20261102-000000-aaaa", 400)
	mid := mk("p1", "20261103-000000-aaaa", 400)
	newest := mk("p2", "20261104-000000-aaaa", 400)
	runlog.Prune(base, 900, running)
	for d, want := range map[string]bool{oldest: false, running: true, mid: false, newest: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s kept=%v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
