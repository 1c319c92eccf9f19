package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/loop"
	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/session"
	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/workspace"
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
	workspace     string
	loopName      string

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
	fl.StringVar(&o.workspace, "workspace", workspace.Bind, "what the sandbox works on: bind (this folder itself, .git guarded) or clone (a clone of its own on the branch ralph/<name>; ralph diff and ralph merge bring the work back)")
	fl.StringVar(&o.loopName, "name", "", "run a loop of its own (its sandbox, lock, records and, with --workspace clone, its clone and branch ralph/NAME), side by side with others")
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
	cmd.RegisterFlagCompletionFunc("workspace", cobra.FixedCompletions(workspace.Modes, cobra.ShellCompDirectiveNoFileComp))
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
	lw, err := o.loopWorkspace(ctx)
	if err != nil {
		return err
	}
	defer lw.close()
	if lw.ws != nil {
		ws = lw.ws
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
		Name: lw.sandboxName(ad.Name, project), Agent: ad.Name, Project: ws.Dir(),
		Workdir: o.workdir, Image: o.image, User: o.user,
		Memory: o.memory, CPUs: o.cpus, Pids: o.pids, TmpSize: o.tmpSize,
	}
	if spec.Image == "" {
		spec.Image = "ralph-" + ad.Name + ":latest"
	}
	if err := sandbox.Validate(spec, o.f.home()); err != nil {
		return err
	}
	cfg := loop.Config{
		Agent: ad, AgentBin: bin, AgentArgs: o.agentArgs,
		PromptPath: prompt, TasksPath: tasksPath, Workspace: ws, OwnClone: lw.clone,
		MaxIterations: o.maxIterations, TrustComplete: o.trustComplete,
		Backend: b, Spec: spec, Env: env, Warning: warning,
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
	so := session.Options{Loop: cfg, NoAgentHosts: o.noAgentHosts, Debug: o.debug, Quiet: o.quiet,
		OnExit: o.onExit, Fresh: o.fresh, KeepBytes: o.keepBytes, Origin: project, LoopName: lw.name}
	if o.asJSON {
		so.JSON = o.io.Out
	}
	// A terminal that wants colour also gets the spinner (termWidth says
	// both at once).
	width, tty := termWidth(o.io.Err)
	return session.Run(ctx, so, session.Host{Err: o.io.Err, State: o.f.State, Gates: o.f.gates(), Secrets: o.f.secrets(), Now: o.f.Now,
		Width: width, Color: tty, TTY: tty, Code: exitCode, OnForcedExit: func(fn func()) { onForcedExit(ctx, fn) }})
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
