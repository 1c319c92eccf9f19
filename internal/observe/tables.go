package observe

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// PrintStatus writes one run as ralph status shows it; state is its live
// state. Every word the agent chose (a promise's reason, the run's end)
// is escaped.
func PrintStatus(w io.Writer, run runlog.Run, state string, now time.Time) error {
	end := now
	if run.End != nil {
		end = *run.End
	}
	last := "-"
	n := 0
	if k := len(run.Iterations); k > 0 {
		it := run.Iterations[k-1]
		last, n = it.Outcome, it.N
		if it.Text != "" {
			last += ": " + it.Text
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%s\n", run.ID)
	fmt.Fprintf(tw, "state\t%s\n", state)
	if run.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", termsafe.Line(run.Reason))
	}
	if run.Loop != "" {
		fmt.Fprintf(tw, "loop\t%s\n", run.Loop)
	}
	if run.Workspace != "" {
		fmt.Fprintf(tw, "workspace\t%s (its own clone: ralph diff, ralph merge)\n", run.Workspace)
	}
	fmt.Fprintf(tw, "agent\t%s\n", run.Agent)
	fmt.Fprintf(tw, "sandbox\t%s (%s, %s)\n", run.Sandbox, run.Backend, run.Boundary)
	fmt.Fprintf(tw, "iteration\t%d of %d\n", n, run.MaxIterations)
	fmt.Fprintf(tw, "elapsed\t%s\n", end.Sub(run.Start).Round(time.Second))
	fmt.Fprintf(tw, "last outcome\t%s\n", termsafe.Line(last))
	fmt.Fprintf(tw, "cost\t$%.4f (%d in / %d out tokens)\n", run.CostUSD, run.InputTokens, run.OutputTokens)
	return tw.Flush()
}

// PrintHistory writes runs one a line, with each run's live state.
func PrintHistory(w io.Writer, runs []runlog.Run, state func(runlog.Run) string, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tLOOP\tSTARTED\tDURATION\tAGENT\tBACKEND\tITERATIONS\tOUTCOME\tCOST")
	for _, r := range runs {
		end := now
		if r.End != nil {
			end = *r.End
		}
		loop := r.Loop
		if loop == "" {
			loop = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t$%.4f\n", r.ID, loop, r.Start.Local().Format(time.DateTime),
			end.Sub(r.Start).Round(time.Second), r.Agent, r.Backend, len(r.Iterations), state(r), r.CostUSD)
	}
	return tw.Flush()
}
