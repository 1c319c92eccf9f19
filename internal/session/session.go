// Package session runs one loop from resolved options to its end: the
// lock of its sandbox, the header, the backend's warnings, the network
// gate for the run's length, the run's record (resumed when the last run
// was interrupted), what the user sees as it goes (internal/observe), the
// loop itself (internal/loop), and how it ended: the closing lines, the
// summary, --on-exit, pruning old records, and the exit code
// (internal/exitcode). cli only resolves flags into Options.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/gatehost"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/loop"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/observe"
	"github.com/ralphloop/ralph/internal/runlog"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/secret"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// Options are a run, resolved: the loop's configuration (agent, backend,
// spec, prompt, knobs) and how the run is kept and shown.
type Options struct {
	Loop loop.Config
	// NoAgentHosts leaves the agent's API hosts out of the gate's rules.
	NoAgentHosts bool
	Debug, Quiet bool
	// JSON gets one event a line (--json); nil without.
	JSON io.Writer
	// OnExit is the user's command run at the end (--on-exit).
	OnExit string
	// Fresh starts a new record even if the last run was interrupted.
	Fresh bool
	// KeepBytes caps the run records kept.
	KeepBytes int64
	// Origin is the user's project folder, under which the run is
	// recorded; Loop.Spec.Project is its clone with --workspace clone.
	// Empty means Loop.Spec.Project.
	Origin string
	// LoopName names the loop (--name); empty for the default one.
	LoopName string
}

// Host is where the run lives on this machine.
type Host struct {
	Err   io.Writer // ralph's messages
	State string    // ralph's state folder: locks, runs
	Gates gatehost.Host
	// Secrets are the user's stored credentials (ralph secret); the gate
	// adds those of the agent to its API's requests.
	Secrets secret.Store
	Now     func() time.Time
	// Width, Color and TTY describe Err when it is a terminal.
	Width      int
	Color, TTY bool
	// Code is the exit code of an error (cli's mapping).
	Code func(error) int
	// OnForcedExit registers what must happen even on a forced exit.
	OnForcedExit func(func())
}

// Run runs the loop of o and returns its end as an exit: nil for
// COMPLETE, else an *exitcode.Error (or an error Host.Code maps).
func Run(ctx context.Context, o Options, h Host) error {
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	cfg := o.Loop
	b, spec, ad := cfg.Backend, cfg.Spec, cfg.Agent
	if gu, ok := b.(sandbox.GateUser); ok {
		// Whose account runs the agent (a project owned by root is
		// refused, exit 64) comes before whether the CLI is visible.
		if _, err := gu.GateOwner(spec); err != nil {
			return err
		}
	}
	if cf, ok := b.(sandbox.CommandFinder); ok {
		// A backend that runs the host's own programs: the agent's CLI
		// must be where the sandbox can see it, or every iteration fails.
		argv0 := ad.Command(cfg.AgentBin, "", cfg.AgentArgs).Argv[0]
		if _, err := cf.FindCommand(spec, argv0); err != nil {
			return sandbox.Unavailable("%s: the agent's CLI cannot run there: %v. Install it under /usr (a system node and npm install -g), "+
				"or put it in the project and pass --agent-cmd with its path inside (%s/...), or use a container backend with ralph image build",
				b.Name(), err, orWorkdir(spec.Workdir))
		}
	}
	l, err := lock.Acquire(filepath.Join(h.State, "locks"), spec.Name)
	if err != nil {
		return err
	}
	defer l.Release()
	h.OnForcedExit(func() { l.Release() })
	fmt.Fprintf(h.Err, "ralph: sandbox %s: %s (%s) · agent %s · up to %d iterations\n",
		spec.Name, b.Name(), backends.Describe(b.Boundary()), ad.Name, cfg.MaxIterations)
	if l.Stale.PID != 0 {
		fmt.Fprintf(h.Err, "ralph: the previous run on this sandbox (pid %d, started %s) did not exit cleanly; reusing its sandbox\n",
			l.Stale.PID, l.Stale.Started.Local().Format(time.DateTime))
	}
	if w, ok := b.(sandbox.Warner); ok {
		lines, err := w.Warnings(ctx, spec)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintln(h.Err, "ralph: "+l)
		}
	}
	var defaults []policy.Rule
	if !o.NoAgentHosts {
		defaults = policyfile.AgentRules(ad.Name, ad.Hosts)
		endpoints, err := policyfile.EndpointRules(ad.Name, cfg.Env, ad.EndpointVars)
		if err != nil {
			return exitcode.Usagef("%v", err)
		}
		defaults = append(defaults, endpoints...)
	}
	creds, secretRules, err := useSecrets(ctx, h, b, spec.Name, &cfg)
	if err != nil {
		return exitcode.Usagef("%v", err)
	}
	if !o.NoAgentHosts {
		defaults = append(defaults, secretRules...)
	}
	gate, err := h.Gates.Attach(ctx, b, &spec, defaults, creds...)
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
	cfg.Spec = spec
	fmt.Fprintf(h.Err, "ralph: network: %s\n", h.Gates.NetworkLine(b, spec.Name, defaults))
	cfg.Log = h.Err
	if o.Quiet {
		cfg.Log = io.Discard
	}
	if o.Debug {
		cfg.AgentLog = &termsafe.Writer{W: h.Err}
		fmt.Fprintf(h.Err, "ralph: agent command: %q (environment: %s)\n",
			ad.Command(cfg.AgentBin, "<prompt>", append(ad.EnvArgs(cfg.Env), cfg.AgentArgs...)).Argv, strings.Join(sandbox.Cmd{Env: cfg.Env}.EnvKeys(), " "))
	}

	rec, err := record(o, h, &cfg)
	if err != nil {
		return err
	}
	obs := observe.New(rec, h.Err, observe.Options{Agent: ad.Name, JSON: o.JSON, Quiet: o.Quiet, Width: h.Width, Color: h.Color, TTY: h.TTY})
	defer obs.Close()
	cfg.Observer = obs
	if !o.Quiet {
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
			end("error", exitcode.Internal, msg)
			observe.OnExit(o.OnExit, rec.Run(), "error", exitcode.Internal, msg, h.Err)
			return exitcode.With(exitcode.Internal, errors.New(msg))
		}
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			code := exitcode.Interrupted
			rec.Finish("interrupted", code, "interrupted")
			obs.Emit(observe.Event{Event: "end", Outcome: "interrupted", ExitCode: &code})
			fmt.Fprintf(h.Err, "ralph: interrupted during iteration %d; sandbox %s stopped; run ralph again to resume run %s (--fresh starts anew)\n",
				out.Iterations, spec.Name, rec.Run().ID)
			observe.OnExit(o.OnExit, rec.Run(), "interrupted", exitcode.Interrupted, "interrupted", h.Err)
			return exitcode.Quiet(exitcode.Interrupted)
		}
		rec.Finish("error", h.Code(err), err.Error())
		observe.OnExit(o.OnExit, rec.Run(), "error", h.Code(err), err.Error(), h.Err)
		return err
	}
	code := report(h.Err, out)
	end(observe.Status(out), code, out.Text)
	observe.Summary(h.Err, rec.Run(), out.Reason.String(), h.Now())
	observe.OnExit(o.OnExit, rec.Run(), observe.Status(out), code, out.Text, h.Err)
	runlog.Prune(filepath.Join(h.State, "runs"), o.KeepBytes, rec.Dir())
	if code == exitcode.Complete {
		return nil
	}
	return exitcode.Quiet(code)
}

// record starts the run's record, or resumes the last run of this sandbox
// when it was interrupted (numbering and budgets go on), unless Fresh.
func record(o Options, h Host, cfg *loop.Config) (*runlog.Recorder, error) {
	origin := o.Origin
	if origin == "" {
		origin = cfg.Spec.Project
	}
	dir := runlog.ProjectDir(filepath.Join(h.State, "runs"), origin)
	runs, _ := runlog.List(dir)
	if last, ok := runlog.Resumable(runs, cfg.Spec.Name); ok && !o.Fresh {
		next, spent := runlog.ResumeAt(last, func(outcome string) bool { return loop.IterationOutcome(outcome).Retried() })
		cfg.FirstIteration, cfg.SpentCost, cfg.SpentTime = next, last.CostUSD, spent
		how := "was interrupted"
		if last.Status == "running" {
			how = fmt.Sprintf("ended without a word (pid %d killed?)", last.PID)
		}
		fmt.Fprintf(h.Err, "ralph: run %s %s; resuming it at iteration %d ($%.4f spent; --fresh starts a new run)\n", last.ID, how, next, last.CostUSD)
		last.PID, last.MaxIterations = os.Getpid(), cfg.MaxIterations
		return runlog.Resume(dir, last)
	}
	b := cfg.Backend
	run := runlog.Run{ID: runlog.NewID(h.Now()), Project: origin, Agent: cfg.Agent.Name, Backend: b.Name(),
		Boundary: string(b.Boundary()), Sandbox: cfg.Spec.Name, Loop: o.LoopName, MaxIterations: cfg.MaxIterations, PID: os.Getpid(), Start: h.Now()}
	if cfg.OwnClone {
		run.Workspace = cfg.Spec.Project
	}
	fmt.Fprintf(h.Err, "ralph: run %s\n", run.ID)
	return runlog.Start(dir, run)
}

// report prints how the loop ended and returns its exit code.
func report(w io.Writer, out loop.Outcome) int {
	switch out.Reason {
	case loop.Complete:
		fmt.Fprintf(w, "ralph: COMPLETE after %d iteration(s)\n", out.Iterations)
		return exitcode.Complete
	case loop.Blocked:
		fmt.Fprintf(w, "ralph: BLOCKED after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Blocked
	case loop.Decide:
		fmt.Fprintf(w, "ralph: DECISION NEEDED after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Decide
	case loop.Stopped:
		fmt.Fprintf(w, "ralph: stopped after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Stopped
	case loop.Budget:
		fmt.Fprintf(w, "ralph: budget reached after %d iteration(s): %s\n", out.Iterations, termsafe.Line(out.Text))
		return exitcode.Budget
	}
	fmt.Fprintf(w, "ralph: reached the iteration cap (%d) without a promise\n", out.Iterations)
	return exitcode.Cap
}

func orWorkdir(w string) string {
	if w == "" {
		return sandbox.DefaultWorkdir
	}
	return w
}

// useSecrets puts the agent's stored secrets to use: with a gate, the
// sandbox gets placeholders and the gate the credentials; a backend
// without ralph's gate gets the values in its environment, with a
// warning. It says which secrets the run uses, never their values.
func useSecrets(ctx context.Context, h Host, b sandbox.Backend, sandboxName string, cfg *loop.Config) ([]netgate.Credential, []policy.Rule, error) {
	if h.Secrets.Dir == "" {
		return nil, nil, nil
	}
	env := maps.Clone(cfg.Env)
	if env == nil {
		env = map[string]string{}
	}
	if _, gated := b.(sandbox.GateUser); !gated {
		var keep func(secret.Kind, string) bool
		if keeper, ok := b.(sandbox.CredentialKeeper); ok {
			keep = func(k secret.Kind, value string) bool {
				svc := keeper.Keeps(k.Name)
				if svc == "" {
					return false
				}
				keeper.Keep(sandboxName, k.Name, value)
				fmt.Fprintf(h.Err, "ralph: secret %s: handed to %s's own credential proxy (service %s, this sandbox only); the sandbox holds %s's placeholder\n",
					k.Name, b.Name(), svc, b.Name())
				return true
			}
		}
		names, skipped, err := h.Secrets.PassIn(ctx, cfg.Agent.Name, env, keep)
		for _, n := range names {
			fmt.Fprintf(h.Err, "ralph: warning: secret %s is passed into the sandbox as a variable: the %s backend has no ralph gate to add it to requests\n", n, b.Name())
		}
		for _, n := range skipped {
			fmt.Fprintf(h.Err, "ralph: secret %s is not used: only ralph's gate can add it, and the %s backend has none\n", n, b.Name())
		}
		cfg.Env = env
		return nil, nil, err
	}
	routes, err := h.Secrets.Routes(ctx, cfg.Agent.Name, env)
	if err != nil {
		return nil, nil, err
	}
	var creds []netgate.Credential
	var rules []policy.Rule
	for _, r := range routes {
		creds = append(creds, r.Credential)
		rs, err := r.Rules()
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, rs...)
		if r.Kind.Git {
			fmt.Fprintf(h.Err, "ralph: secret %s: added by the gate to git's requests for %s; git in the sandbox fetches and pushes %s over the gate's route\n",
				r.Kind.Name, r.Credential.Upstream.Host, strings.Join(r.GitFrom, " "))
			continue
		}
		fmt.Fprintf(h.Err, "ralph: secret %s: added by the gate to requests for %s; the sandbox holds a placeholder in %s\n",
			r.Kind.Name, r.Credential.Upstream.Host, r.Kind.KeyVar)
	}
	cfg.Env = env
	return creds, rules, nil
}
