package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/observe"
	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/tail"
	"github.com/ralphloop/ralph/internal/termsafe"
)

func (f *Factory) projectRuns() (string, []runlog.Run, error) {
	project, err := f.project()
	if err != nil {
		return "", nil, err
	}
	dir := runlog.ProjectDir(f.stateDir("runs"), project)
	runs, err := runlog.List(dir)
	return dir, runs, err
}

// live tells whether a run marked running still has its ralph.
func (f *Factory) live(run runlog.Run) string {
	if run.Status != "running" {
		return run.Status
	}
	l, err := lock.Acquire(f.stateDir("locks"), run.Sandbox)
	if err != nil {
		return "running"
	}
	l.Release()
	return "interrupted (ralph died; run ralph to resume)"
}

// ofLoop keeps the runs of the loop named (ralph --name); all for "".
func ofLoop(runs []runlog.Run, loop string) ([]runlog.Run, error) {
	if loop == "" {
		return runs, nil
	}
	runs = slices.DeleteFunc(runs, func(r runlog.Run) bool { return r.Loop != loop })
	if len(runs) == 0 {
		return nil, usageErr("no run of loop %q recorded for this project (ralph history lists every run)", loop)
	}
	return runs, nil
}

func findRun(runs []runlog.Run, id string) (runlog.Run, error) {
	if len(runs) == 0 {
		return runlog.Run{}, usageErr("no run recorded for this project yet")
	}
	if id == "" {
		return runs[len(runs)-1], nil
	}
	for _, r := range runs {
		if r.ID == id || strings.HasPrefix(r.ID, id) {
			return r, nil
		}
	}
	return runlog.Run{}, usageErr("no run %q here (ralph history lists them)", id)
}

type statusOptions struct {
	f      *Factory
	asJSON bool
	loop   string
}

// newStatus builds ralph status; runF does the work (statusRun when nil).
func newStatus(f *Factory, runF func(context.Context, *statusOptions) error) *cobra.Command {
	o := &statusOptions{f: f}
	if runF == nil {
		runF = statusRun
	}
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "The running or last run of this project: iteration, elapsed, last outcome",
		Example: "  ralph status\n  watch -n 5 ralph status\n  ralph status --name api-tests\n  ralph status --json | jq -r .state",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print run.json with the live state")
	cmd.Flags().StringVar(&o.loop, "name", "", "the last run of this loop (ralph --name) instead of the project's last run")
	return cmd
}

// statusRun prints the project's last run with its live state.
func statusRun(ctx context.Context, o *statusOptions) error {
	f := o.f
	_, runs, err := f.projectRuns()
	if err != nil {
		return err
	}
	if runs, err = ofLoop(runs, o.loop); err != nil {
		return err
	}
	run, err := findRun(runs, "")
	if err != nil {
		return err
	}
	state := f.live(run)
	if o.asJSON {
		v := struct {
			runlog.Run
			State string `json:"state"`
		}{run, state}
		return encodeJSON(f.IO.Out, v)
	}
	return observe.PrintStatus(f.IO.Out, run, state, f.Now())
}

type historyOptions struct {
	f      *Factory
	asJSON bool
}

// newHistory builds ralph history; runF does the work (historyRun when
// nil).
func newHistory(f *Factory, runF func(context.Context, *historyOptions) error) *cobra.Command {
	o := &historyOptions{f: f}
	if runF == nil {
		runF = historyRun
	}
	cmd := &cobra.Command{
		Use:     "history",
		Short:   "Past runs of this project, one a line",
		Example: "  ralph history\n  ralph history --json | jq '.[] | select(.status == \"complete\") | .id'",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the runs as JSON")
	return cmd
}

// historyRun lists the project's runs.
func historyRun(ctx context.Context, o *historyOptions) error {
	f := o.f
	_, runs, err := f.projectRuns()
	if err != nil {
		return err
	}
	if o.asJSON {
		if runs == nil {
			runs = []runlog.Run{}
		}
		return encodeJSON(f.IO.Out, runs)
	}
	return observe.PrintHistory(f.IO.Out, runs, f.live, f.Now())
}

type logsOptions struct {
	f           *Factory
	run         string // a run's ID or its prefix; "" for the last
	iteration   int    // 0 for the last
	follow, raw bool
	loop        string // the last run of this loop (--name)
}

// newLogs builds ralph logs; runF does the work (logsRun when nil).
func newLogs(f *Factory, runF func(context.Context, *logsOptions) error) *cobra.Command {
	o := &logsOptions{f: f}
	if runF == nil {
		runF = logsRun
	}
	cmd := &cobra.Command{
		Use:   "logs [RUN]",
		Short: "Show an iteration's log (the last one of the last run by default)",
		Example: `  ralph logs                 # the last iteration of the last run
  ralph logs -i 37           # iteration 37
  ralph logs 20261127-1530 -i 2 --raw   # the agent's own output
  ralph logs -f              # follow the live iteration
  ralph logs -f --name docs  # the live iteration of the loop docs`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.run = args[0]
			}
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().IntVarP(&o.iteration, "iteration", "i", 0, "iteration number (default: the last)")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing while the run goes on")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "the agent's raw output instead of ralph's log")
	cmd.Flags().StringVar(&o.loop, "name", "", "the last run of this loop (ralph --name) instead of the project's last run")
	return cmd
}

// logsRun prints one iteration's log (or the agent's raw output).
func logsRun(ctx context.Context, o *logsOptions) error {
	f, io := o.f, o.f.IO
	dir, runs, err := f.projectRuns()
	if err != nil {
		return err
	}
	if runs, err = ofLoop(runs, o.loop); err != nil {
		return err
	}
	run, err := findRun(runs, o.run)
	if err != nil {
		return err
	}
	kind := "log"
	if o.raw {
		kind = "jsonl"
	}
	n := o.iteration
	if n == 0 {
		files, _ := filepath.Glob(filepath.Join(dir, run.ID, "iter-*."+kind))
		if len(files) == 0 {
			return usageErr("run %s has no iteration log yet", run.ID)
		}
		fmt.Sscanf(filepath.Base(files[len(files)-1]), "iter-%d.", &n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, run.ID, fmt.Sprintf("iter-%04d*.%s", n, kind)))
	if len(files) == 0 {
		return usageErr("run %s has no iteration %d", run.ID, n)
	}
	out := io.Out
	if _, tty := termWidth(io.Out); tty && o.raw {
		// The agent's own bytes, on a terminal: escapes shown, not
		// obeyed (to a pipe they stay exact).
		w := &termsafe.Writer{W: io.Out}
		defer w.Close()
		out = w
	}
	for i, p := range files {
		if err := f.catFile(ctx, out, p, o.follow && i == len(files)-1, run); err != nil {
			return err
		}
	}
	return nil
}

// catFile prints an iteration's file; with follow, on while the run goes on.
func (f *Factory) catFile(ctx context.Context, out io.Writer, path string, follow bool, run runlog.Run) error {
	more := func() bool {
		if !follow {
			return false
		}
		if runs, _ := runlog.List(filepath.Dir(filepath.Dir(path))); len(runs) > 0 {
			for _, x := range runs {
				if x.ID == run.ID {
					run = x
				}
			}
		}
		return f.live(run) == "running"
	}
	return tail.Copy(ctx, path, more, out)
}
