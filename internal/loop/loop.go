// Package loop is ralph's engine: it runs a fresh agent process per
// iteration inside a sandbox, reads the agent's final message, and stops
// only on an explicit promise or the iteration cap.
package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/gitguard"
	"github.com/ralphloop/ralph/internal/promise"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/tasks"
	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// Reason is why the loop ended.
type Reason int

const (
	Complete Reason = iota // the agent promised COMPLETE and no task is open
	IterationCap
	Blocked
	Decide
	// Stopped: a breaker tripped (crashes in a row, a stall, a rate limit
	// with NoWait); Text says which.
	Stopped
	// Budget: --max-cost or --max-runtime reached between iterations.
	Budget
)

func (r Reason) String() string {
	return [...]string{"complete", "iteration cap reached", "blocked", "decision needed", "stopped", "budget reached"}[r]
}

// Observer watches the loop: run records, JSON events. Methods are called
// from the loop's goroutine only.
type Observer interface {
	// IterationStart returns where the agent's raw output and ralph's log
	// of this iteration go (either may be nil). attempt counts retries.
	IterationStart(n, attempt int) (raw, log io.Writer)
	// IterationEnd reports how it went.
	IterationEnd(it IterationInfo)
}

// IterationOutcome is how one agent run ended. The values are a contract:
// run records and --json events carry them as text.
type IterationOutcome string

const (
	OutcomeComplete        IterationOutcome = "complete"
	OutcomeBlocked         IterationOutcome = "blocked"
	OutcomeDecide          IterationOutcome = "decide"
	OutcomeNoPromise       IterationOutcome = "no promise"
	OutcomeRefusedComplete IterationOutcome = "refused complete" // COMPLETE with tasks still open
	OutcomeTimedOut        IterationOutcome = "timed out"
	OutcomeFailed          IterationOutcome = "failed"       // retried, not counted
	OutcomeRateLimited     IterationOutcome = "rate limited" // waited out, not counted
	OutcomeEngineDown      IterationOutcome = "engine down"  // waited out, not counted
	OutcomeError           IterationOutcome = "error"        // ralph's own failure: the run ends
)

// Retried reports outcomes after which the same iteration runs again (a
// resumed run starts at that iteration, not the next).
func (o IterationOutcome) Retried() bool {
	switch o {
	case OutcomeFailed, OutcomeRateLimited, OutcomeEngineDown, OutcomeError:
		return true
	}
	return false
}

// IterationInfo describes one finished agent run.
type IterationInfo struct {
	N, Attempt   int
	Start        time.Time
	Duration     time.Duration
	Outcome      IterationOutcome
	Promise      promise.Promise
	Usage        agent.Usage
	FilesChanged int
	Err          error
}

// Outcome is how a run ended.
type Outcome struct {
	Reason Reason
	// Text is the reason (Blocked) or the question (Decide).
	Text       string
	Iterations int
}

// Config is everything one run needs. The loop reads the prompt file at
// every iteration, so edits between iterations take effect.
type Config struct {
	Agent     agent.Adapter
	AgentBin  string
	AgentArgs []string
	// PromptPath and TasksPath are host paths, inside Spec.Project or
	// named by the user; TasksPath may be empty. Both are read through
	// Workspace at every use: the agent writes them.
	PromptPath    string
	TasksPath     string
	MaxIterations int
	TrustComplete bool

	// Workspace reads the project's files safely (wsfile); nil opens
	// Spec.Project for the length of the run.
	Workspace *wsfile.Workspace
	// OwnClone says Spec.Project is the loop's own clone (--workspace
	// clone), which no git of the user's runs in: its .git is the
	// agent's to use, and is not guarded.
	OwnClone bool

	Backend sandbox.Backend
	Spec    sandbox.Spec
	// Env is passed into the sandbox as is, on top of the adapter's own.
	Env map[string]string
	// Warning, when set, is printed at the start of every iteration.
	Warning string

	// Log receives ralph's messages; AgentLog, when set, the agent's raw
	// standard output and error.
	Log      io.Writer
	AgentLog io.Writer
	// StopTimeout bounds the exit trap (default 10s).
	StopTimeout time.Duration

	// IterationTimeout kills an agent that runs longer (default 60m).
	IterationTimeout time.Duration
	// EngineWait is how long the loop waits for an engine that stopped
	// answering mid-run (the backend returned ErrUnavailable) before it
	// gives up (default 5m). Each such fault counts as a failed run.
	EngineWait time.Duration
	// MaxRetries is how many failed runs in a row are retried (with
	// backoff, not counted as iterations) before the loop stops
	// (default 3; negative: none).
	MaxRetries int
	// RetryBackoff is the first retry's wait, doubled each time up to a
	// minute (default 2s).
	RetryBackoff time.Duration
	// StallAfter stops the loop when that many iterations in a row change
	// no file in the project (default 3; negative: never).
	StallAfter int
	// NoWait stops the loop on a rate limit instead of waiting for it.
	NoWait bool
	// LimitBackoff is the first wait on a rate limit that gives no reset
	// time, doubled each time up to 30 minutes (default 1m); MaxLimitWait
	// caps any single wait (default 6h).
	LimitBackoff time.Duration
	MaxLimitWait time.Duration

	// MaxCost (USD, as the agents report it) and MaxRuntime stop the loop
	// between iterations when reached (0: no limit). SpentCost and
	// SpentTime carry over from an earlier part of the same run.
	MaxCost    float64
	MaxRuntime time.Duration
	SpentCost  float64
	SpentTime  time.Duration
	// FirstIteration is where numbering starts (a resumed run goes on).
	FirstIteration int

	Observer Observer
}

// ErrAgentFailed marks an iteration whose agent did not finish cleanly.
var ErrAgentFailed = errors.New("agent run failed")

// Run runs the loop until a promise, the cap or a breaker. It returns
// ctx's error when interrupted. On every way out after the sandbox was
// made ready, the sandbox is stopped exactly once, within StopTimeout.
func Run(ctx context.Context, cfg Config) (out Outcome, err error) {
	if cfg.MaxIterations < 1 {
		return out, errors.New("loop: max iterations must be at least 1")
	}
	cfg = withDefaults(cfg)
	if cfg.Workspace == nil {
		ws, err := wsfile.Open(cfg.Spec.Project)
		if err != nil {
			return out, err
		}
		defer ws.Close()
		cfg.Workspace = ws
	}
	// What the user's own git would run on the host (hooks, commands in
	// .git/config) is noted now and put back after every iteration.
	var guard gitguard.Snapshot
	if !cfg.OwnClone {
		guard = gitguard.Take(cfg.Workspace)
	}
	repair := func(log io.Writer) error {
		if cfg.OwnClone {
			return nil
		}
		undone, err := guard.Repair(cfg.Workspace)
		for _, u := range undone {
			fmt.Fprintf(log, "ralph: WARNING: the agent wrote what your next git command would run; %s\n", u)
		}
		return err
	}
	defer repair(cfg.Log)
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopTimeout)
			defer cancel()
			if serr := cfg.Backend.Stop(sctx, cfg.Spec.Name); serr != nil {
				fmt.Fprintf(cfg.Log, "ralph: stopping sandbox %s: %v\n", cfg.Spec.Name, serr)
			}
		})
	}
	ready := false
	defer func() {
		if ready {
			stop()
		}
	}()

	var (
		failures, limits, stalls int
		began1                   bool // an iteration has begun: the engine was there
		files                    = snapshot(cfg.Workspace)
		cost                     = cfg.SpentCost
		began                    = time.Now().Add(-cfg.SpentTime)
		log                      = cfg.Log
	)
	first := max(cfg.FirstIteration, 1)
	for i := first; i <= cfg.MaxIterations; {
		out.Iterations = i
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if cfg.MaxCost > 0 && cost >= cfg.MaxCost {
			return Outcome{Reason: Budget, Text: fmt.Sprintf("cost $%.4f reached --max-cost $%.2f", cost, cfg.MaxCost), Iterations: i - 1}, nil
		}
		if cfg.MaxRuntime > 0 && time.Since(began) >= cfg.MaxRuntime {
			return Outcome{Reason: Budget, Text: fmt.Sprintf("runtime %s reached --max-runtime %s", time.Since(began).Round(time.Second), cfg.MaxRuntime), Iterations: i - 1}, nil
		}
		icfg := cfg
		var raw io.Writer
		if cfg.Observer != nil {
			var ilog io.Writer
			raw, ilog = cfg.Observer.IterationStart(i, failures+limits)
			if ilog != nil {
				icfg.Log = io.MultiWriter(log, ilog)
			}
		}
		fmt.Fprintf(icfg.Log, "── iteration %d of %d · %s · %s (%s) · %s\n", i, cfg.MaxIterations,
			cfg.Agent.Name, cfg.Backend.Name(), cfg.Backend.Boundary(), cfg.Spec.Name)
		if cfg.Warning != "" {
			fmt.Fprintln(icfg.Log, cfg.Warning)
		}
		// engineDown handles an engine that stopped answering after the
		// first iteration began: wait for it, then bring the sandbox back.
		engineDown := func(err error) (bool, error) {
			failures++
			if failures > cfg.MaxRetries {
				out = Outcome{Reason: Stopped, Text: fmt.Sprintf("circuit open: %d failed runs in a row; last: %v", failures, err), Iterations: i}
				return true, nil
			}
			if err := waitEngine(ctx, icfg, err); err != nil {
				return true, err
			}
			ready = false
			return false, nil
		}
		if !ready {
			if err := ensure(ctx, icfg); err != nil {
				if !began1 || !errors.Is(err, sandbox.ErrUnavailable) || ctx.Err() != nil {
					return out, err
				}
				if stop, err := engineDown(err); stop {
					return out, err
				}
				continue
			}
			ready = true
		}
		began1 = true
		start := time.Now()
		r, err := iterate(ctx, icfg, i, raw)
		if errors.Is(err, sandbox.ErrNotFound) && ctx.Err() == nil {
			// Removed or stopped behind our back: bring it back, run again.
			fmt.Fprintf(icfg.Log, "ralph: sandbox %s is gone or stopped; bringing it back\n", cfg.Spec.Name)
			if err = ensure(ctx, icfg); err == nil {
				r, err = iterate(ctx, icfg, i, raw)
			}
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if errors.Is(err, sandbox.ErrUnavailable) {
			if cfg.Observer != nil {
				cfg.Observer.IterationEnd(IterationInfo{N: i, Attempt: failures + limits, Start: start, Duration: time.Since(start), Err: err, Outcome: OutcomeEngineDown})
			}
			if stop, err := engineDown(err); stop {
				return out, err
			}
			continue // a retry is not an iteration
		}
		if gerr := repair(icfg.Log); gerr != nil {
			return out, gerr
		}
		cost += r.usage.CostUSD
		now := snapshot(cfg.Workspace)
		info := IterationInfo{N: i, Attempt: failures + limits, Start: start, Duration: time.Since(start),
			Promise: r.promise, Usage: r.usage, FilesChanged: changed(files, now), Err: err}
		files = now
		report := func(outcome IterationOutcome) {
			if cfg.Observer != nil {
				info.Outcome = outcome
				cfg.Observer.IterationEnd(info)
			}
		}
		switch {
		case err != nil && !errors.Is(err, ErrAgentFailed):
			report(OutcomeError)
			return out, err
		case r.limited:
			report(OutcomeRateLimited)
			limits++
			if cfg.NoWait {
				return Outcome{Reason: Stopped, Text: "rate or usage limit reached (--no-wait): " + r.detail, Iterations: i}, nil
			}
			if err := waitLimit(ctx, icfg, r.resetAt, limits); err != nil {
				return out, err
			}
			continue // the wait is not an iteration
		case err != nil:
			report(OutcomeFailed)
			failures++
			if failures > cfg.MaxRetries {
				return Outcome{Reason: Stopped, Text: fmt.Sprintf("circuit open: %d failed runs in a row; last: %v", failures, err), Iterations: i}, nil
			}
			wait := backoff(cfg.RetryBackoff, failures, time.Minute)
			fmt.Fprintf(icfg.Log, "ralph: iteration %d: %v; retry %d of %d in %s\n", i, err, failures, cfg.MaxRetries, wait)
			if err := sleep(ctx, wait); err != nil {
				return out, err
			}
			continue // a retry is not an iteration
		}
		failures, limits = 0, 0
		switch r.promise.Kind {
		case promise.Blocked:
			report(OutcomeBlocked)
			return Outcome{Reason: Blocked, Text: r.promise.Text, Iterations: i}, nil
		case promise.Decide:
			report(OutcomeDecide)
			return Outcome{Reason: Decide, Text: r.promise.Text, Iterations: i}, nil
		case promise.Complete:
			open, err := openTasks(cfg)
			if err != nil {
				return out, err
			}
			if open == 0 {
				report(OutcomeComplete)
				return Outcome{Reason: Complete, Iterations: i}, nil
			}
			report(OutcomeRefusedComplete)
			fmt.Fprintf(icfg.Log, "ralph: COMPLETE not accepted: %d open task(s) left in %s (--trust-complete accepts it)\n", open, rel(cfg, cfg.TasksPath))
		default:
			if r.timedOut {
				report(OutcomeTimedOut)
			} else {
				report(OutcomeNoPromise)
				fmt.Fprintf(icfg.Log, "ralph: iteration %d ended without a promise\n", i)
			}
		}
		if info.FilesChanged == 0 {
			stalls++
		} else {
			stalls = 0
		}
		if cfg.StallAfter > 0 && stalls >= cfg.StallAfter {
			return Outcome{Reason: Stopped, Text: fmt.Sprintf("stalled: %d iterations in a row changed no file in the project", stalls), Iterations: i}, nil
		}
		i++
	}
	out.Reason = IterationCap
	return out, nil
}

func withDefaults(cfg Config) Config {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.IterationTimeout == 0 {
		cfg.IterationTimeout = 60 * time.Minute
	}
	if cfg.EngineWait == 0 {
		cfg.EngineWait = 5 * time.Minute
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 2 * time.Second
	}
	if cfg.StallAfter == 0 {
		cfg.StallAfter = 3
	}
	if cfg.LimitBackoff == 0 {
		cfg.LimitBackoff = time.Minute
	}
	if cfg.MaxLimitWait == 0 {
		cfg.MaxLimitWait = 6 * time.Hour
	}
	return cfg
}

// ensure creates or attaches to the sandbox.
func ensure(ctx context.Context, cfg Config) error {
	created, err := cfg.Backend.Ensure(ctx, cfg.Spec)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if created {
		fmt.Fprintf(cfg.Log, "ralph: created sandbox %s\n", cfg.Spec.Name)
	}
	return nil
}

// result is what one agent run gave the loop.
type result struct {
	usage    agent.Usage
	promise  promise.Promise
	limited  bool
	resetAt  time.Time
	timedOut bool
	detail   string
}

// iterate runs the agent once. A run that failed returns an error
// wrapping ErrAgentFailed; a rate-limited run returns limited (and the
// error); a run killed by the iteration timeout counts as an iteration
// without a promise.
func iterate(ctx context.Context, cfg Config, i int, raw io.Writer) (result, error) {
	body, err := cfg.Workspace.ReadFile(cfg.PromptPath, wsfile.MaxPrompt)
	if err != nil {
		return result{}, fmt.Errorf("prompt: %w", err)
	}
	inv := cfg.Agent.Command(cfg.AgentBin, prompt(cfg, string(body), i), append(cfg.Agent.EnvArgs(cfg.Env), cfg.AgentArgs...))
	env := make(map[string]string, len(cfg.Env)+len(inv.Env))
	for k, v := range cfg.Env {
		env[k] = v
	}
	for k, v := range inv.Env {
		env[k] = v
	}
	parser := cfg.Agent.NewParser()
	stream := agent.NewStream(parser)
	var stdout, stderr io.Writer = stream, io.Discard
	tail := &tailWriter{max: 2048}
	stderr = tail
	if cfg.AgentLog != nil {
		stdout = io.MultiWriter(stream, cfg.AgentLog)
		stderr = io.MultiWriter(tail, cfg.AgentLog)
	}
	if raw != nil {
		stdout = io.MultiWriter(stdout, raw)
	}
	cmd := sandbox.Cmd{Argv: inv.Argv, Env: env, Stdout: stdout, Stderr: stderr}
	if inv.Stdin != "" {
		cmd.Stdin = strings.NewReader(inv.Stdin)
	}
	start := time.Now()
	ictx, cancel := context.WithTimeout(ctx, cfg.IterationTimeout)
	defer cancel()
	code, err := cfg.Backend.Exec(ictx, cfg.Spec.Name, cmd)
	stream.Close()
	took := time.Since(start).Round(100 * time.Millisecond)
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	if ictx.Err() != nil {
		fmt.Fprintf(cfg.Log, "ralph: iteration %d timed out after %s; the agent was killed\n", i, cfg.IterationTimeout)
		return result{timedOut: true}, nil
	}
	if err != nil {
		return result{}, fmt.Errorf("run agent: %w", err)
	}
	res := parser.Result()
	if res.RateLimited {
		d := res.Error
		if d == "" {
			d = "rate limited"
		}
		return result{limited: true, resetAt: res.ResetAt, detail: d, usage: res.Usage}, fmt.Errorf("%w: %s", ErrAgentFailed, termsafe.Line(d))
	}
	switch {
	case code != 0:
		return result{usage: res.Usage}, fmt.Errorf("%w: %s exited %d after %s%s", ErrAgentFailed, inv.Argv[0], code, took, detail(res, tail))
	case !res.Terminal:
		return result{}, fmt.Errorf("%w: output ended without its final event after %s%s", ErrAgentFailed, took, detail(res, tail))
	case res.Failed:
		return result{}, fmt.Errorf("%w: %s", ErrAgentFailed, termsafe.Line(res.Error))
	}
	fmt.Fprintf(cfg.Log, "ralph: iteration %d finished in %s%s\n", i, took, usage(res.Usage))
	return result{promise: promise.Parse(res.Final), usage: res.Usage}, nil
}

// prompt is the prompt file followed by where this iteration stands.
func prompt(cfg Config, body string, i int) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(body, "\n"))
	fmt.Fprintf(&b, "\n\n---\nralph: this is iteration %d of at most %d.", i, cfg.MaxIterations)
	if cfg.TasksPath != "" {
		fmt.Fprintf(&b, " The task file is %s.", rel(cfg, cfg.TasksPath))
	}
	b.WriteString("\n")
	return b.String()
}

func openTasks(cfg Config) (int, error) {
	if cfg.TrustComplete || cfg.TasksPath == "" {
		return 0, nil
	}
	data, err := cfg.Workspace.ReadFile(cfg.TasksPath, wsfile.MaxTasks)
	if err != nil {
		return 0, fmt.Errorf("task file: %w", err)
	}
	c, err := tasks.Parse(cfg.TasksPath, data)
	if err != nil {
		return 0, fmt.Errorf("task file: %w", err)
	}
	return c.Open, nil
}

func rel(cfg Config, p string) string {
	if r, err := filepath.Rel(cfg.Spec.Project, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// detail is what the agent said of its failure, made safe to print.
func detail(res agent.Result, tail *tailWriter) string {
	if res.Error != "" {
		return ": " + termsafe.Line(res.Error)
	}
	if s := strings.TrimSpace(tail.String()); s != "" {
		lines := strings.Split(s, "\n")
		return ": " + termsafe.Line(lines[len(lines)-1])
	}
	return ""
}

func usage(u agent.Usage) string {
	var parts []string
	if u.InputTokens+u.OutputTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d in / %d out tokens", u.InputTokens, u.OutputTokens))
	}
	if u.CostUSD > 0 {
		parts = append(parts, fmt.Sprintf("$%.4f", u.CostUSD))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }
