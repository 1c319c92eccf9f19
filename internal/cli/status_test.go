package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/runlog"
)

// record writes a finished run of the test factory's project.
func record(t *testing.T, f *Factory, reason string, last runlog.Iteration) runlog.Run {
	t.Helper()
	project, _ := f.project()
	start := f.Now().Add(-90 * time.Second)
	rec, err := runlog.Start(runlog.ProjectDir(f.stateDir("runs"), project),
		runlog.Run{ID: runlog.NewID(start), Project: project, Agent: "claude", Backend: "fake", Sandbox: "ralph-claude-p-00000000", MaxIterations: 5, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Add(last); err != nil {
		t.Fatal(err)
	}
	if err := rec.Finish("blocked", 2, reason); err != nil {
		t.Fatal(err)
	}
	return rec.Run()
}

func TestStatusRun(t *testing.T) {
	f, tio := testFactory(t)
	if err := statusRun(context.Background(), &statusOptions{f: f}); exitCode(err) != ExitUsage {
		t.Fatalf("no run yet: err %v, exit %d; want 64", err, exitCode(err))
	}
	// The agent chose the promise's words: a terminal must not obey them.
	evil := "stuck \x1b]52;c;ZXZpbA==\x07 here"
	run := record(t, f, evil, runlog.Iteration{N: 3, Outcome: "blocked", Promise: "BLOCKED", Text: evil, DurationMS: 1000})
	if err := statusRun(context.Background(), &statusOptions{f: f}); err != nil {
		t.Fatal(err)
	}
	out := tio.out.String()
	for _, want := range []string{"run  " + run.ID, "iteration  3 of 5", `last outcome  blocked: stuck \x1b]52;c;ZXZpbA==\x07 here`, "sandbox  ralph-claude-p-00000000 (fake"} {
		if !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x07) {
		t.Errorf("status printed the agent's control characters:\n%q", out)
	}

	tio.out.Reset()
	if err := statusRun(context.Background(), &statusOptions{f: f, asJSON: true}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		Iterations []struct {
			Text string `json:"text"`
		} `json:"iterations"`
	}
	if err := json.Unmarshal(tio.out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != run.ID || got.State != "blocked" || len(got.Iterations) != 1 || got.Iterations[0].Text != evil {
		t.Errorf("--json = %+v; want the run exactly as recorded", got)
	}
}

// The command only parses flags; the work is statusRun's.
func TestStatusFlags(t *testing.T) {
	f, _ := testFactory(t)
	var got *statusOptions
	cmd := newStatus(f, func(_ context.Context, o *statusOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--json"})
	if err := cmd.Execute(); err != nil || got == nil || !got.asJSON {
		t.Fatalf("--json not parsed: %v, %+v", err, got)
	}
	cmd = newStatus(f, func(context.Context, *statusOptions) error { return errors.New("not reached") })
	cmd.SetArgs([]string{"extra"})
	cmd.SetErr(&strings.Builder{})
	if err := cmd.Execute(); err == nil {
		t.Error("an argument was accepted")
	}
}
