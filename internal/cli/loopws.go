package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/workspace"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// loopWS is what --workspace and --name make of a run: the loop's name,
// and with clone its clone (opened as the run's workspace) and its lock.
type loopWS struct {
	name  string
	clone bool
	ws    *wsfile.Workspace // the clone; nil with bind
	lock  *lock.Lock
}

// loopWorkspace checks --workspace and --name and, with clone, makes or
// finds the loop's clone, holding its lock for the run.
func (o *runOptions) loopWorkspace(ctx context.Context) (*loopWS, error) {
	lw := &loopWS{name: o.loopName}
	if lw.name != "" {
		if err := workspace.CheckLoop(lw.name); err != nil {
			return nil, usageErr("--name: %v", err)
		}
	}
	switch o.workspace {
	case workspace.Bind:
		return lw, nil
	case workspace.Clone:
	default:
		return nil, usageErr("--workspace %q: want bind or clone", o.workspace)
	}
	lw.clone = true
	if lw.name == "" {
		lw.name = workspace.DefaultLoop
	}
	l, err := lock.Acquire(o.f.stateDir("locks"), workspace.LockName(o.project, lw.name))
	if held := (*lock.HeldError)(nil); errors.As(err, &held) {
		return nil, fmt.Errorf("loop %q is running in another ralph (pid %d): wait for it, or pass --name for a loop of its own", lw.name, held.Holder.PID)
	}
	if err != nil {
		return nil, err
	}
	lw.lock = l
	p, err := o.f.workspaces().Prepare(ctx, o.project, lw.name)
	if err != nil {
		l.Release()
		return nil, err
	}
	if lw.ws, err = wsfile.Open(p.Dir); err != nil {
		l.Release()
		return nil, err
	}
	how := "its clone"
	if p.Created {
		how = "a new clone"
	}
	fmt.Fprintf(o.io.Err, "ralph: workspace: loop %s works on %s, branch %s from %.7s (%s); your tree changes only through ralph merge %s\n",
		lw.name, how, p.Branch, p.Base, p.Dir, lw.name)
	if p.Carried > 0 {
		fmt.Fprintf(o.io.Err, "ralph: workspace: carried %d uncommitted file(s) of your tree into the clone (uncommitted there too)\n", p.Carried)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(o.io.Err, "ralph: workspace: left out %d uncommitted path(s) that are neither files nor links\n", p.Skipped)
	}
	return lw, nil
}

// sandboxName is the loop's sandbox: the project's own name for the
// default bind loop (as before loops had names), else one per loop and
// mode.
func (lw *loopWS) sandboxName(agent, project string) string {
	if !lw.clone && lw.name == "" {
		return sandbox.Name(agent, project)
	}
	return sandbox.LoopName(agent, project, lw.name, lw.clone)
}

func (lw *loopWS) close() {
	if lw == nil {
		return
	}
	if lw.ws != nil {
		lw.ws.Close()
	}
	lw.lock.Release()
}
