// Package observe is what a person or a script sees of a run as it goes:
// the loop's Observer that records every iteration (internal/runlog),
// renders the agent's stream as readable lines (internal/render) behind a
// spinner on a terminal, writes JSON events (--json) or one line per
// iteration (--quiet); then the closing summary table and the user's
// --on-exit command.
package observe

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

// Observer records the run (runlog), and writes JSON events (--json) and
// summaries (--quiet) as the loop goes.
type Observer struct {
	rec    *runlog.Recorder
	log    io.Writer     // ralph's messages (stderr)
	json   *json.Encoder // nil without --json
	quiet  bool
	agent  string
	width  int  // of the terminal log goes to; 0 when none
	color  bool // log is a terminal that wants colour
	tty    bool // log is a terminal
	closer []io.Closer
	render *render.Renderer
	spin   *render.Spinner // on a terminal only
	out    io.Writer       // where rendered lines go (through the spinner)
}

// Options say how a run is shown.
type Options struct {
	Agent string
	// JSON, when set, gets one JSON event a line (--json).
	JSON  io.Writer
	Quiet bool
	// Width and Color describe the terminal Log is, if it is one (Width
	// 0 without a known width); TTY whether it is one.
	Width      int
	Color, TTY bool
}

// New observes the run rec records, with ralph's messages to log.
func New(rec *runlog.Recorder, log io.Writer, opts Options) *Observer {
	o := &Observer{rec: rec, log: log, quiet: opts.Quiet, agent: opts.Agent, width: opts.Width, color: opts.Color, tty: opts.TTY}
	if opts.JSON != nil {
		o.json = json.NewEncoder(opts.JSON)
	}
	return o
}

// Event is one line of --json.
type Event struct {
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

// Emit writes e with --json.
func (o *Observer) Emit(e Event) {
	if o.json == nil {
		return
	}
	e.Time = time.Now().UTC()
	e.Run = o.rec.Run().ID
	o.json.Encode(e)
}

// IterationStart opens the iteration's raw output and log.
func (o *Observer) IterationStart(n, attempt int) (io.Writer, io.Writer) {
	o.Close()
	raw := o.rec.Output(n, attempt, "jsonl")
	lg := o.rec.Output(n, attempt, "log")
	o.closer = append(o.closer, raw, lg)
	o.Emit(Event{Event: "iteration_start", Iteration: n, Attempt: attempt})
	ws := []io.Writer{raw}
	if o.json != nil {
		ws = append(ws, &lineEvents{o: o, n: n, attempt: attempt})
	}
	if !o.quiet {
		// The agent's stream as readable lines, in ralph's log too.
		o.render = render.New(io.MultiWriter(o.out, lg), o.agent, o.width, o.color)
		ws = append(ws, o.render)
	}
	if o.spin != nil {
		o.spin.Reset(fmt.Sprintf("%s working on iteration %d", o.agent, n))
	}
	return io.MultiWriter(ws...), lg
}

// IterationEnd records how the iteration ended.
func (o *Observer) IterationEnd(it loop.IterationInfo) {
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
		fmt.Fprintf(o.log, "ralph: %v\n", err)
	}
	files := it.FilesChanged
	o.Emit(Event{Event: "iteration_end", Iteration: it.N, Attempt: it.Attempt, Outcome: string(it.Outcome), Text: rec.Text, CostUSD: it.Usage.CostUSD, Files: &files})
	if it.Promise.Kind != promise.None {
		o.Emit(Event{Event: "promise", Iteration: it.N, Outcome: it.Promise.Kind.String(), Text: it.Promise.Text})
	}
	if o.quiet {
		fmt.Fprintf(o.log, "ralph: iteration %d: %s in %s, %d file(s) changed%s\n", it.N, it.Outcome,
			it.Duration.Round(100*time.Millisecond), it.FilesChanged, costText(it.Usage.CostUSD))
	}
}

// StartSpinner shows a spinner with the elapsed time while the agent is
// quiet, on a terminal only; ralph's messages and the rendered stream then
// go through it so they erase it first. It returns the writer to use.
func (o *Observer) StartSpinner() io.Writer {
	o.out = o.log
	if o.tty && !o.quiet {
		o.spin = render.NewSpinner(o.log, 2*time.Second)
		o.out = o.spin.Writer(o.log)
	}
	return o.out
}

// StopSpinner erases the spinner for good.
func (o *Observer) StopSpinner() {
	if o.spin != nil {
		o.spin.Stop()
		o.spin = nil
	}
}

// Close ends the iteration in progress (its files, its rendering).
func (o *Observer) Close() {
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
	o          *Observer
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
			l.o.Emit(Event{Event: "agent", Iteration: l.n, Attempt: l.attempt, Data: append(json.RawMessage(nil), line...)})
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

// Summary prints the table of iterations and the exit reason.
func Summary(w io.Writer, run runlog.Run, reason string, now time.Time) {
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
	fmt.Fprintf(tw, "total\t%s\t%s\t\t%d/%d\t%s\n", now.Sub(run.Start).Round(time.Second), reason, run.InputTokens, run.OutputTokens, total)
	tw.Flush()
	fmt.Fprintf(w, "run %s: ralph logs %s, ralph history\n", run.ID, run.ID)
}

// OnExit runs the user's --on-exit command with the outcome in its
// environment.
func OnExit(cmdline string, run runlog.Run, status string, code int, reason string, w io.Writer) {
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

// Status is how a run that ended with out is recorded.
func Status(out loop.Outcome) string {
	return strings.ReplaceAll(out.Reason.String(), " ", "_")
}
