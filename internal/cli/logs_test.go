package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/runlog"
)

// ralph logs picks the run and iteration asked for (the last by default),
// the log or the agent's raw output (exact, to a pipe); ralph history
// lists the runs.
func TestLogsAndHistory(t *testing.T) {
	f, tio := testFactory(t)
	project, _ := f.project()
	start := f.Now().Add(-time.Minute)
	rec, err := runlog.Start(runlog.ProjectDir(f.stateDir("runs"), project),
		runlog.Run{ID: runlog.NewID(start), Project: project, Agent: "claude", Backend: "fake", Sandbox: "ralph-claude-p-00000000", MaxIterations: 5, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	write := func(n, attempt int, kind, text string) {
		w := rec.Output(n, attempt, kind)
		w.Write([]byte(text))
		w.Close()
	}
	write(1, 0, "log", "log of 1\n")
	write(2, 0, "log", "log of 2\n")
	write(2, 1, "log", "log of 2, retried\n")
	write(2, 0, "jsonl", "{\"type\":\"result\",\"result\":\"\\u001b[31mred\"}\n")
	rec.Finish("complete", 0, "")
	id := rec.Run().ID

	for _, tc := range []struct {
		o    logsOptions
		want string
		code int
	}{
		{logsOptions{}, "log of 2\nlog of 2, retried\n", 0},
		{logsOptions{iteration: 1}, "log of 1\n", 0},
		{logsOptions{run: id[:10], iteration: 1}, "log of 1\n", 0},
		{logsOptions{raw: true}, "{\"type\":\"result\",\"result\":\"\\u001b[31mred\"}\n", 0},
		{logsOptions{iteration: 9}, "", ExitUsage},
		{logsOptions{run: "19990101"}, "", ExitUsage},
	} {
		tio.out.Reset()
		o := tc.o
		o.f = f
		err := logsRun(context.Background(), &o)
		if exitCode(err) != tc.code || tio.out.String() != tc.want {
			t.Errorf("logs %+v: %v (exit %d), printed %q; want exit %d, %q", tc.o, err, exitCode(err), tio.out.String(), tc.code, tc.want)
		}
	}

	tio.out.Reset()
	if err := historyRun(context.Background(), &historyOptions{f: f, asJSON: true}); err != nil {
		t.Fatal(err)
	}
	var runs []runlog.Run
	if json.Unmarshal(tio.out.Bytes(), &runs); len(runs) != 1 || runs[0].ID != id || runs[0].Status != "complete" {
		t.Errorf("history --json: %s", tio.out.String())
	}
	tio.out.Reset()
	historyRun(context.Background(), &historyOptions{f: f})
	if !strings.Contains(tio.out.String(), id) || !strings.Contains(tio.out.String(), "complete") {
		t.Errorf("history:\n%s", tio.out.String())
	}
}
