package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ralphloop/ralph/internal/loop"
	"github.com/ralphloop/ralph/internal/promise"
	"github.com/ralphloop/ralph/internal/render"
	"github.com/ralphloop/ralph/internal/runlog"
)

// observer records the run (runlog), and writes JSON events (--json) and
// summaries (--quiet) as the loop goes.
type observer struct {
	rec    *runlog.Recorder
	io     IO
	json   *json.Encoder // nil without --json
	quiet  bool
	agent  string
	closer []io.Closer
	render *render.Renderer
	spin   *render.Spinner // on a terminal only
	out    io.Writer       // where rendered lines go (through the spinner)
}

type event struct {
	Event     string          `json:"event"`
	Time      time.Time       `json:"time"`
	Run       string          `json:"run,omitempty"`
	Iteration int             `json:"iteration,omitempty"`
	Attempt   int             `json:"attempt,omitempty"`
	Outcome   string          `json:"outcome,omitempty"`
	Text      string          `json:"text,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CostUSD   float64         `json:"cost_usd,omitempty"`
	Files     *int            `json:"files_changed,omitempty"`
	ExitCode  *int            `json:"exit_code,omitempty"`
}

func (o *observer) emit(e event) {
	if o.json == nil {
		return
	}
	e.Time = time.Now().UTC()
	e.Run = o.rec.Run().ID
	o.json.Encode(e)
}

func (o *observer) IterationStart(n, attempt int) (io.Writer, io.Writer) {
	o.Close()
	raw := o.rec.Output(n, attempt, "jsonl")
	lg := o.rec.Output(n, attempt, "log")
	o.closer = append(o.closer, raw, lg)
	o.emit(event{Event: "iteration_start", Iteration: n, Attempt: attempt})
	ws := []io.Writer{raw}
	if o.json != nil {
		ws = append(ws, &lineEvents{o: o, n: n, attempt: attempt})
	}
	if !o.quiet {
		// The agent's stream as readable lines, in ralph's log too.
		width, color := termWidth(o.io.Err)
		o.render = render.New(io.MultiWriter(o.out, lg), o.agent, width, color)
		ws = append(ws, o.render)
	}
	if o.spin != nil {
		o.spin.Reset(fmt.Sprintf("%s working on iteration %d", o.agent, n))
	}
	return io.MultiWriter(ws...), lg
}

func (o *observer) IterationEnd(it loop.IterationInfo) {
	if o.spin != nil {
		o.spin.Reset("")
	}
	if o.render != nil {
		o.render.Flush()
		o.render = nil
	}
	rec := runlog.Iteration{
		N: it.N, Attempt: it.Attempt, Start: it.Start, DurationMS: it.Duration.Milliseconds(), Outcome: string(it.Outcome),
		FilesChanged: it.FilesChanged, InputTokens: it.Usage.InputTokens, OutputTokens: it.Usage.OutputTokens, CostUSD: it.Usage.CostUSD,
	}
	if it.Promise.Kind != promise.None {
		rec.Promise, rec.Text = it.Promise.Kind.String(), it.Promise.Text
	}
	if it.Err != nil {
		rec.Error = it.Err.Error()
	}
	if err := o.rec.Add(rec); err != nil {
		fmt.Fprintf(o.io.Err, "ralph: %v\n", err)
	}
	files := it.FilesChanged
	o.emit(event{Event: "iteration_end", Iteration: it.N, Attempt: it.Attempt, Outcome: string(it.Outcome), Text: rec.Text, CostUSD: it.Usage.CostUSD, Files: &files})
	if it.Promise.Kind != promise.None {
		o.emit(event{Event: "promise", Iteration: it.N, Outcome: it.Promise.Kind.String(), Text: it.Promise.Text})
	}
	if o.quiet {
		fmt.Fprintf(o.io.Err, "ralph: iteration %d: %s in %s, %d file(s) changed%s\n", it.N, it.Outcome,
			it.Duration.Round(100*time.Millisecond), it.FilesChanged, costText(it.Usage.CostUSD))
	}
}

// startSpinner shows a spinner with the elapsed time while the agent is
// quiet, on a terminal only; ralph's messages and the rendered stream then
// go through it so they erase it first. It returns the writer to use.
func (o *observer) startSpinner() io.Writer {
	o.out = o.io.Err
	if _, tty := termWidth(o.io.Err); tty && !o.quiet {
		o.spin = render.NewSpinner(o.io.Err, 2*time.Second)
		o.out = o.spin.Writer(o.io.Err)
	}
	return o.out
}

func (o *observer) stopSpinner() {
	if o.spin != nil {
		o.spin.Stop()
		o.spin = nil
	}
}

func (o *observer) Close() {
	if o.render != nil {
		o.render.Flush()
		o.render = nil
	}
	for _, c := range o.closer {
		c.Close()
	}
	o.closer = nil
}

// lineEvents turns the agent's output lines into agent events.
type lineEvents struct {
	o          *observer
	n, attempt int
	mu         sync.Mutex
	buf        []byte
}

func (l *lineEvents) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSpace(l.buf[:i])
		if json.Valid(line) && len(line) > 0 {
			l.o.emit(event{Event: "agent", Iteration: l.n, Attempt: l.attempt, Data: append(json.RawMessage(nil), line...)})
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 16<<20 {
		l.buf = nil
	}
	return len(p), nil
}

func costText(c float64) string {
	if c == 0 {
		return ""
	}
	return fmt.Sprintf(", $%.4f", c)
}

// summary prints the table of iterations and the exit reason.
func summary(w io.Writer, run runlog.Run, reason string) {
	if len(run.Iterations) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ITERATION\tDURATION\tOUTCOME\tFILES\tTOKENS IN/OUT\tCOST")
	for _, it := range run.Iterations {
		n := fmt.Sprint(it.N)
		if it.Attempt > 0 {
			n += fmt.Sprintf(" (retry %d)", it.Attempt)
		}
		tokens, cost := "-", "-"
		if it.InputTokens+it.OutputTokens > 0 {
			tokens = fmt.Sprintf("%d/%d", it.InputTokens, it.OutputTokens)
		}
		if it.CostUSD > 0 {
			cost = fmt.Sprintf("$%.4f", it.CostUSD)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", n, (time.Duration(it.DurationMS) * time.Millisecond).Round(100*time.Millisecond), it.Outcome, it.FilesChanged, tokens, cost)
	}
	total := "-"
	if run.CostUSD > 0 {
		total = fmt.Sprintf("$%.4f", run.CostUSD)
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t\t%d/%d\t%s\n", time.Since(run.Start).Round(time.Second), reason, run.InputTokens, run.OutputTokens, total)
	tw.Flush()
	fmt.Fprintf(w, "run %s: ralph logs %s, ralph history\n", run.ID, run.ID)
}

// onExit runs the user's --on-exit command with the outcome in its
// environment.
func onExit(cmdline string, run runlog.Run, status string, code int, reason string, w io.Writer) {
	if cmdline == "" {
		return
	}
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Env = append(os.Environ(),
		"RALPH_OUTCOME="+status, fmt.Sprintf("RALPH_EXIT_CODE=%d", code), "RALPH_REASON="+reason,
		"RALPH_RUN_ID="+run.ID, fmt.Sprintf("RALPH_ITERATIONS=%d", len(run.Iterations)),
		fmt.Sprintf("RALPH_COST_USD=%.4f", run.CostUSD), "RALPH_PROJECT="+run.Project, "RALPH_SANDBOX="+run.Sandbox)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(w, "ralph: --on-exit %q: %v\n", cmdline, err)
	}
}

func statusOf(out loop.Outcome) string {
	return strings.ReplaceAll(out.Reason.String(), " ", "_")
}
