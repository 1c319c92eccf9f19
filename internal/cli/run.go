package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/gatehost"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/loop"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/observe"
	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// runOptions are the loop's flags. Every one can also be set in
// .ralph/config.toml under the same name; a flag given on the command line
// wins over the file.
type runOptions struct {
	f  *Factory
	io IO
	// project and ws are the project folder and its workspace (complete).
	project string
	ws      *wsfile.Workspace

	maxIterations int
	agentName     string
	agentCmd      string
	sandboxName   string
	image         string
	promptPath    string
	tasksPath     string
	trustComplete bool
	debug         bool
	env           []string
	agentArgs     []string
	user          string
	workdir       string
	memory        string
	cpus          string
	pids          int
	tmpSize       string
	onHost        bool
	noAgentHosts  bool

	iterationTimeout time.Duration
	engineWait       time.Duration
	maxRetries       int
	stallAfter       int
	noWait           bool
	retryBackoff     time.Duration
	limitBackoff     time.Duration

	asJSON     bool
	quiet      bool
	maxCost    float64
	maxRuntime time.Duration
	onExit     string
	fresh      bool
	keepBytes  int64
}

func addRunFlags(cmd *cobra.Command, o *runOptions) {
	fl := cmd.Flags()
	fl.IntVarP(&o.maxIterations, "max-iterations", "n", 20, "stop after this many iterations (exit 1)")
	fl.StringVar(&o.agentName, "agent", "claude", "agent CLI: "+strings.Join(agent.Names(), ", "))
	fl.StringVar(&o.agentCmd, "agent-cmd", "", "command of a custom agent ({prompt} is replaced by the prompt, else it goes to stdin); with a known --agent, the executable to run instead of its default")
	fl.StringVar(&o.sandboxName, "sandbox", "auto", "isolation backend: auto, sbx, gvisor, docker, podman, bwrap, host")
	fl.StringVar(&o.image, "image", "", "container image with the agent's CLI (default ralph-<agent>:latest)")
	fl.StringVar(&o.promptPath, "prompt", "", "prompt file (default .ralph/PROMPT.md, else PROMPT.md)")
	fl.StringVar(&o.tasksPath, "tasks", "", "task file (default .ralph/tasks.md or .ralph/prd.json, whichever exists)")
	fl.BoolVar(&o.trustComplete, "trust-complete", false, "accept COMPLETE even while the task file has open tasks")
	fl.BoolVar(&o.debug, "debug", false, "show the agent's command line and raw output")
	fl.StringArrayVar(&o.env, "env", nil, "pass the host variable NAME (or NAME=VALUE) into the sandbox; repeatable")
	fl.StringArrayVar(&o.agentArgs, "agent-args", nil, "arguments appended to the agent's command line (the same as after --)")
	fl.StringVar(&o.user, "user", "", "uid:gid inside the sandbox (default: the owner of the project; a project owned by root needs it; never 0)")
	fl.StringVar(&o.workdir, "workdir", sandbox.DefaultWorkdir, "where the project appears inside the sandbox")
	fl.StringVar(&o.memory, "memory", sandbox.DefaultMemory, "memory cap of the sandbox")
	fl.StringVar(&o.cpus, "cpus", sandbox.DefaultCPUs, "CPU cap of the sandbox")
	fl.IntVar(&o.pids, "pids-limit", sandbox.DefaultPids, "process cap of the sandbox")
	fl.StringVar(&o.tmpSize, "tmp-size", sandbox.DefaultTmpSize, "cap of each of the sandbox's in-memory /tmp and HOME (they count against --memory too)")
	fl.BoolVar(&o.onHost, "dangerously-run-on-host", false, "with --sandbox host: run the agent with no isolation at all")
	fl.BoolVar(&o.noAgentHosts, "no-agent-hosts", false, "do not allow the agent's API hosts by default (rules must allow them)")
	fl.DurationVar(&o.iterationTimeout, "iteration-timeout", 60*time.Minute, "kill an agent that runs longer, and go on")
	fl.DurationVar(&o.engineWait, "engine-wait", 5*time.Minute, "when the engine dies mid-run, wait this long for it to answer again, then bring the sandbox back and retry")
	fl.IntVar(&o.maxRetries, "max-retries", 3, "failed agent runs in a row retried (not counted as iterations) before stopping with exit 5")
	fl.IntVar(&o.stallAfter, "stall-after", 3, "stop with exit 5 after this many iterations in a row change no file (0: never)")
	fl.BoolVar(&o.noWait, "no-wait", false, "on a rate or usage limit, stop with exit 5 instead of waiting for the reset")
	fl.DurationVar(&o.retryBackoff, "retry-backoff", 2*time.Second, "first wait before retrying a failed run (doubles, up to a minute)")
	fl.DurationVar(&o.limitBackoff, "limit-backoff", time.Minute, "first wait on a rate limit that gives no reset time (doubles, up to 30 minutes)")
	fl.BoolVar(&o.asJSON, "json", false, "write one JSON event a line to stdout (iteration start and end, agent events, promises, the end)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "show only a summary line per iteration")
	fl.Float64Var(&o.maxCost, "max-cost", 0, "stop with exit 4 once the agents report this much spent, in USD (0: no limit)")
	fl.DurationVar(&o.maxRuntime, "max-runtime", 0, "stop with exit 4 once the run has lasted this long (0: no limit)")
	fl.StringVar(&o.onExit, "on-exit", "", "shell command run when the loop ends, with RALPH_OUTCOME, RALPH_EXIT_CODE, RALPH_REASON, RALPH_RUN_ID, RALPH_COST_USD in its environment")
	fl.BoolVar(&o.fresh, "fresh", false, "start a new run even if the last one was interrupted (default: resume it)")
	fl.Int64Var(&o.keepBytes, "runs-max-bytes", runlog.DefaultKeepBytes, "prune the oldest run records past this total size")
	fl.MarkHidden("agent-args")
	fl.MarkHidden("retry-backoff")
	fl.MarkHidden("limit-backoff")
	cmd.RegisterFlagCompletionFunc("agent", cobra.FixedCompletions(agent.Names(), cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("sandbox", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return backends.Names(o.f.Isolating()), cobra.ShellCompDirectiveNoFileComp
	})
}

// bindRun makes cmd run the loop (ralph and ralph run): its flags, and a
// RunE that completes the options from the command line and the config
// files before runF does the work (runRun when nil).
func bindRun(cmd *cobra.Command, f *Factory, runF func(context.Context, *runOptions) error) {
	o := &runOptions{f: f, io: f.IO}
	addRunFlags(cmd, o)
	if runF == nil {
		runF = runRun
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.complete(cmd, args); err != nil {
			return err
		}
		defer o.ws.Close()
		return runF(cmd.Context(), o)
	}
}

// complete reads what only the command layer knows: the arguments after
// --, the project and its workspace, the config files applied to the
// flags left unset, and which agent the flags name.
func (o *runOptions) complete(cmd *cobra.Command, args []string) error {
	if dash := cmd.ArgsLenAtDash(); dash > 0 || (dash < 0 && len(args) > 0) {
		return usageErr("unknown command or argument %q: agent arguments go after -- (see ralph --help)", args[0])
	}
	project, err := o.f.project()
	if err != nil {
		return err
	}
	// Everything ralph reads or writes in the project goes through ws:
	// the agent writes the workspace (see package wsfile).
	ws, err := wsfile.Open(project)
	if err != nil {
		return err
	}
	// A fleet's pod (ralph fleet pod names the backend on the command
	// line): no user there to approve; the pod is the boundary.
	inPod := cmd.Flags().Changed("sandbox") && o.sandboxName == "pod"
	fromConfig, err := o.f.loadConfig(cmd.Flags(), ws, inPod)
	if err != nil {
		ws.Close()
		return err
	}
	o.project, o.ws = project, ws
	if len(args) > 0 {
		o.agentArgs = args
	}
	// --agent-cmd alone names a custom agent; with an agent named (on the
	// command line or in a config file) it is that agent's executable.
	agentNamed := cmd.Flags().Changed("agent") || fromConfig["agent"]
	if (cmd.Flags().Changed("agent-cmd") || fromConfig["agent-cmd"]) && !agentNamed && o.agentName == "claude" {
		o.agentName = "custom"
	}
	return nil
}

// runRun runs the loop: the agent in its sandbox behind the gate, one
// iteration at a time, recorded and shown, until a promise, a cap or a
// breaker ends it.
func runRun(ctx context.Context, o *runOptions) error {
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	project, ws := o.project, o.ws
	if o.maxIterations < 1 {
		return usageErr("--max-iterations must be at least 1, got %d", o.maxIterations)
	}
	name := o.agentName
	ad, err := agent.Lookup(name, o.agentCmd)
	if err != nil {
		return usageErr("%v", err)
	}
	bin := ""
	if name != "custom" {
		bin = o.agentCmd
	}
	prompt, err := o.findPrompt(ws)
	if err != nil {
		return err
	}
	tasksPath, err := o.findTasks(ws)
	if err != nil {
		return err
	}
	env, err := passEnv(ad, o.env, o.f.Getenv)
	if err != nil {
		return err
	}

	b, warning, err := o.f.pickBackend(ctx, o.sandboxName, o.onHost)
	if err != nil {
		return err
	}
	spec := sandbox.Spec{
		Name: sandbox.Name(ad.Name, project), Agent: ad.Name, Project: project,
		Workdir: o.workdir, Image: o.image, User: o.user,
		Memory: o.memory, CPUs: o.cpus, Pids: o.pids, TmpSize: o.tmpSize,
	}
	if spec.Image == "" {
		spec.Image = "ralph-" + ad.Name + ":latest"
	}
	if err := sandbox.Validate(spec, o.f.home()); err != nil {
		return err
	}
	l, err := lock.Acquire(o.f.stateDir("locks"), spec.Name)
	if err != nil {
		return err
	}
	defer l.Release()
	onForcedExit(ctx, func() { l.Release() })
	fmt.Fprintf(o.io.Err, "ralph: sandbox %s: %s (%s) · agent %s · up to %d iterations\n",
		spec.Name, b.Name(), backends.Describe(b.Boundary()), ad.Name, o.maxIterations)
	if l.Stale.PID != 0 {
		fmt.Fprintf(o.io.Err, "ralph: the previous run on this sandbox (pid %d, started %s) did not exit cleanly; reusing its sandbox\n",
			l.Stale.PID, l.Stale.Started.Local().Format(time.DateTime))
	}
	if w, ok := b.(sandbox.Warner); ok {
		lines, err := w.Warnings(ctx, spec)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintln(o.io.Err, "ralph: "+l)
		}
	}
	var defaults []policy.Rule
	if !o.noAgentHosts {
		defaults = policyfile.AgentRules(ad.Name, ad.Hosts)
	}
	gate, err := o.f.gates().Attach(ctx, b, &spec, defaults)
	if err != nil {
		return err
	}
	if gate != nil {
		defer gate.Close()
		go func() {
			if err, ok := <-gate.Died(); ok {
				cancelRun(fmt.Errorf("%w: %v", gatehost.ErrDied, err))
			}
		}()
	}
	fmt.Fprintf(o.io.Err, "ralph: network: %s\n", o.f.gates().NetworkLine(b, spec.Name, defaults))

	cfg := loop.Config{
		Agent: ad, AgentBin: bin, AgentArgs: o.agentArgs,
		PromptPath: prompt, TasksPath: tasksPath, Workspace: ws,
		MaxIterations: o.maxIterations, TrustComplete: o.trustComplete,
		Backend: b, Spec: spec, Env: env, Warning: warning,
		Log:              o.io.Err,
		IterationTimeout: o.iterationTimeout,
		EngineWait:       o.engineWait,
		MaxRetries:       o.maxRetries,
		StallAfter:       o.stallAfter,
		NoWait:           o.noWait,
		RetryBackoff:     o.retryBackoff,
		LimitBackoff:     o.limitBackoff,
		MaxCost:          o.maxCost,
		MaxRuntime:       o.maxRuntime,
	}
	if o.maxRetries == 0 {
		cfg.MaxRetries = -1
	}
	if o.stallAfter == 0 {
		cfg.StallAfter = -1
	}
	if o.quiet {
		cfg.Log = io.Discard
	}
	if o.debug {
		cfg.AgentLog = &termsafe.Writer{W: o.io.Err}
		fmt.Fprintf(o.io.Err, "ralph: agent command: %q (environment: %s)\n",
			ad.Command(bin, "<prompt>", o.agentArgs).Argv, strings.Join(sandbox.Cmd{Env: env}.EnvKeys(), " "))
	}

	rec, err := o.record(project, spec, b, ad.Name, &cfg)
	if err != nil {
		return err
	}
	width, color := termWidth(o.io.Err)
	_, tty := termWidth(o.io.Err)
	view := observe.Options{Agent: ad.Name, Quiet: o.quiet, Width: width, Color: color, TTY: tty}
	if o.asJSON {
		view.JSON = o.io.Out
	}
	obs := observe.New(rec, o.io.Err, view)
	defer obs.Close()
	cfg.Observer = obs
	if !o.quiet {
		cfg.Log = obs.StartSpinner()
	}
	defer obs.StopSpinner()
	out, err := loop.Run(ctx, cfg)
	obs.Close()
	obs.StopSpinner()
	end := func(status string, code int, text string) {
		rec.Finish(status, code, text)
		obs.Emit(observe.Event{Event: "end", Outcome: status, Text: text, ExitCode: &code})
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, gatehost.ErrDied) {
			msg := fmt.Sprintf("%v; run stopped in iteration %d (fail closed: the sandbox had no way out meanwhile); sandbox %s stopped", cause, out.Iterations, spec.Name)
			end("error", ExitInternal, msg)
			observe.OnExit(o.onExit, rec.Run(), "error", ExitInternal, msg, o.io.Err)
			return exitcode.With(ExitInternal, errors.New(msg))
		}
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			rec.Finish("interrupted", ExitInterrupted, "interrupted")
			obs.Emit(observe.Event{Event: "end", Outcome: "interrupted", ExitCode: ptr(ExitInterrupted)})
			fmt.Fprintf(o.io.Err, "ralph: interrupted during iteration %d; sandbox %s stopped; run ralph again to resume run %s (--fresh starts anew)\n",
				out.Iterations, spec.Name, rec.Run().ID)
			observe.OnExit(o.onExit, rec.Run(), "interrupted", ExitInterrupted, "interrupted", o.io.Err)
			return exitcode.Quiet(ExitInterrupted)
		}
		rec.Finish("error", exitCode(err), err.Error())
		observe.OnExit(o.onExit, rec.Run(), "error", exitCode(err), err.Error(), o.io.Err)
		return err
	}
	rerr := report(o.io.Err, out)
	code := exitCode(rerr)
	end(observe.Status(out), code, out.Text)
	observe.Summary(o.io.Err, rec.Run(), out.Reason.String(), o.f.Now())
	observe.OnExit(o.onExit, rec.Run(), observe.Status(out), code, out.Text, o.io.Err)
	runlog.Prune(o.f.stateDir("runs"), o.keepBytes, rec.Dir())
	return rerr
}

func ptr(n int) *int { return &n }

// record starts the run's record, or resumes the last run of this sandbox
// when it was interrupted (numbering and budgets go on), unless --fresh.
func (o *runOptions) record(project string, spec sandbox.Spec, b sandbox.Backend, agentName string, cfg *loop.Config) (*runlog.Recorder, error) {
	dir := runlog.ProjectDir(o.f.stateDir("runs"), project)
	runs, _ := runlog.List(dir)
	if last, ok := runlog.Resumable(runs, spec.Name); ok && !o.fresh {
		next, spent := runlog.ResumeAt(last, func(outcome string) bool { return loop.IterationOutcome(outcome).Retried() })
		cfg.FirstIteration, cfg.SpentCost, cfg.SpentTime = next, last.CostUSD, spent
		how := "was interrupted"
		if last.Status == "running" {
			how = fmt.Sprintf("ended without a word (pid %d killed?)", last.PID)
		}
		fmt.Fprintf(o.io.Err, "ralph: run %s %s; resuming it at iteration %d ($%.4f spent; --fresh starts a new run)\n", last.ID, how, next, last.CostUSD)
		last.PID, last.MaxIterations = os.Getpid(), o.maxIterations
		return runlog.Resume(dir, last)
	}
	run := runlog.Run{ID: runlog.NewID(o.f.Now()), Project: project, Agent: agentName, Backend: b.Name(),
		Boundary: string(b.Boundary()), Sandbox: spec.Name, MaxIterations: o.maxIterations, PID: os.Getpid(), Start: o.f.Now()}
	fmt.Fprintf(o.io.Err, "ralph: run %s\n", run.ID)
	return runlog.Start(dir, run)
}

// report prints how the loop ended and returns the matching exit.
func report(w io.Writer, out loop.Outcome) error {
	switch out.Reason {
	case loop.Complete:
		fmt.Fprintf(w, "ralph: COMPLETE after %d iteration(s)\n", out.Iterations)
		return nil
	case loop.Blocked:
		fmt.Fprintf(w, "ralph: BLOCKED after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Quiet(ExitBlocked)
	case loop.Decide:
		fmt.Fprintf(w, "ralph: DECISION NEEDED after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Quiet(ExitDecide)
	case loop.Stopped:
		fmt.Fprintf(w, "ralph: stopped after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Quiet(ExitStopped)
	case loop.Budget:
		fmt.Fprintf(w, "ralph: budget reached after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Quiet(ExitBudget)
	}
	fmt.Fprintf(w, "ralph: reached the iteration cap (%d) without a promise\n", out.Iterations)
	return exitcode.Quiet(ExitCap)
}

// findPrompt picks the prompt file and reads it once through the
// workspace, so a planted symlink, FIFO or huge file stops the run
// before the sandbox starts (the loop reads it again every iteration).
func (o *runOptions) findPrompt(ws *wsfile.Workspace) (string, error) {
	p, err := findFile(ws, o.promptPath, []string{".ralph/PROMPT.md", "PROMPT.md"}, wsfile.MaxPrompt, "prompt file")
	if err == nil && p == "" {
		err = usageErr("no prompt: neither .ralph/PROMPT.md nor PROMPT.md exists here; run `ralph init` to write one, or pass --prompt FILE")
	}
	return p, err
}

// findTasks picks the task file, if any, the same way.
func (o *runOptions) findTasks(ws *wsfile.Workspace) (string, error) {
	return findFile(ws, o.tasksPath, []string{".ralph/tasks.md", ".ralph/prd.json"}, wsfile.MaxTasks, "task file")
}

// findFile is the path the user named, else the first candidate that
// exists; it is read once (and refused) here. "" when there is none.
func findFile(ws *wsfile.Workspace, named string, candidates []string, max int64, what string) (string, error) {
	p := ""
	if named != "" {
		p = abs(ws.Dir(), named)
	} else {
		for _, c := range candidates {
			if ws.Exists(c) {
				p = filepath.Join(ws.Dir(), c)
				break
			}
		}
	}
	if p == "" {
		return "", nil
	}
	if _, err := ws.ReadFile(p, max); err != nil {
		return "", fileErr(what, err)
	}
	return p, nil
}

// fileErr is a prompt or task file that cannot be read: refused (65) or
// missing (64).
func fileErr(what string, err error) error {
	if errors.Is(err, wsfile.ErrRefused) {
		return &config.RefusedError{Err: fmt.Errorf("%s %w", what, err)}
	}
	return usageErr("%s %s", what, termsafe.String(err.Error()))
}

// passEnv resolves what enters the sandbox: the adapter's own variables
// that are set on the host, and those named with --env. Nothing else.
func passEnv(ad agent.Adapter, named []string, getenv func(string) (string, bool)) (map[string]string, error) {
	env := map[string]string{}
	for _, k := range ad.KeyVars {
		if v, ok := getenv(k); ok {
			env[k] = v
		}
	}
	for _, n := range named {
		k, v, hasValue := strings.Cut(n, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, usageErr("--env %q: want NAME or NAME=VALUE", n)
		}
		if !hasValue {
			var ok bool
			if v, ok = getenv(k); !ok {
				continue
			}
		}
		env[k] = v
	}
	return env, nil
}

func abs(project, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(project, p)
}
