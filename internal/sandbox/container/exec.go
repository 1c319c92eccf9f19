package container

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/reap"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// pidFile is where the exec wrapper records its process group inside
// the sandbox, so a cancelled exec can be killed where it runs: killing the
// engine client does not kill the process in the container.
func pidFile(id string) string { return "/tmp/.ralph-exec-" + id + ".pid" }

// Exec runs cmd in the sandbox. Environment values reach the engine client
// through its own environment and are passed by name (-e NAME), so no
// secret ever appears on a command line.
//
// While the command runs, the sandbox is looked at every few seconds: an
// engine client does not always return when its container is removed
// under it (docker exec into gVisor was seen to hang), so a sandbox that
// is gone or stopped ends the exec with ErrNotFound.
func (e *Engine) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	var gone atomic.Bool
	go func() {
		tick := time.NewTicker(watchEvery)
		defer tick.Stop()
		for {
			select {
			case <-ectx.Done():
				return
			case <-tick.C:
			}
			if st, err := e.inspect(ectx, name); err == nil && (!st.exists || !st.running) {
				gone.Store(true)
				cancel()
				return
			}
		}
	}()
	err := proc.Run(ectx, proc.Cmd{
		Argv: e.execArgv(name, cmd, e.isGated(name), id), Env: append(append(proc.MinimalEnv(), cmd.EnvList()...), reap.Var+"="+id),
		Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, Dir: e.cwd(),
	})
	if !gone.Load() && ctx.Err() == nil && e.isGated(name) && cmd.TTY {
		// The command is done: what it left running (in sessions of their
		// own) must not live on (without a TTY, the helper's exec-reap
		// has ended them inside already).
		e.killExec(ctx, name, id)
	}
	if gone.Load() && ctx.Err() == nil {
		return -1, fmt.Errorf("%s: %s is gone or stopped: %w", e.name, name, sandbox.ErrNotFound)
	}
	if ctx.Err() != nil {
		e.killExec(ctx, name, id)
		return -1, ctx.Err()
	}
	code := 0
	if err != nil {
		if code = proc.ExitCode(err); code < 0 {
			return -1, fmt.Errorf("%s: exec in %s: %w", e.name, name, err)
		}
	}
	// Exit status 1 is both the agent's own failure and the engine's "no
	// such container", 255 is also an engine that died mid-exec, and an
	// exec under a removal can even end with 0 (Docker 20.10): tell them
	// apart by looking, once per exec.
	st, ierr := e.inspect(ctx, name)
	// Killed (137), or the engine's own codes: the engine may not have
	// recorded a removal or stop yet when the exec client returns. Look a
	// little longer before taking the code as the command's.
	for i := 0; i < 6 && ierr == nil && st.running && code >= 126; i++ {
		if sleepCtx(ctx, 250*time.Millisecond) != nil {
			break
		}
		st, ierr = e.inspect(ctx, name)
	}
	switch {
	case ierr != nil:
		return -1, sandbox.Unavailable("the %s engine stopped answering during the run: %s", e.name, why(ierr))
	case !st.running:
		return -1, fmt.Errorf("%s: %s is gone or stopped: %w", e.name, name, sandbox.ErrNotFound)
	}
	return code, nil
}

// watchEvery is how often a running exec looks at its sandbox.
var watchEvery = 5 * time.Second

// why is the engine's own words for err when it said any.
func why(err error) string {
	var ee *proc.ExitError
	if errors.As(err, &ee) && strings.TrimSpace(ee.Stderr) != "" {
		return strings.TrimSpace(ee.Stderr)
	}
	return err.Error()
}

// execArgv is the engine command line of an exec: variables by name
// only, and a wrapper that records the process group in pidFile(id).
func (e *Engine) execArgv(name string, cmd sandbox.Cmd, gated bool, id string) []string {
	argv := []string{e.bin, "exec", "--interactive"}
	if cmd.TTY {
		argv = append(argv, "--tty")
	}
	for _, k := range cmd.EnvKeys() {
		argv = append(argv, "--env", k)
	}
	// Every process of this exec, and whatever it starts in sessions of
	// its own, carries the exec's id: what is left of it is found by it.
	argv = append(argv, "--env", reap.Var) // by name, like every variable
	if gated {
		// ralph's own helper: no shell needed in the image. Without a
		// TTY it stays the command's parent and ends what the command
		// left once it exits (exec-reap); with one (ralph shell), it
		// becomes the command, which keeps the terminal's job control.
		sub := "exec-reap"
		if cmd.TTY {
			sub = "exec"
		}
		argv = append(argv, name, sandbox.GateMount+"/ralph", "sandbox-helper", sub, pidFile(id), "--")
	} else {
		argv = append(argv, name, "sh", "-c", `echo $$ > `+pidFile(id)+` 2>/dev/null; exec "$@"`, "ralph-exec")
	}
	return append(argv, cmd.Argv...)
}

// killExec kills the process group of the last exec inside the sandbox.
func (e *Engine) killExec(ctx context.Context, name, id string) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if e.isGated(name) {
		e.run(kctx, "exec", name, sandbox.GateMount+"/ralph", "sandbox-helper", "kill", pidFile(id), id)
		return
	}
	e.run(kctx, "exec", name, "sh", "-c", `p=$(cat `+pidFile(id)+` 2>/dev/null) && kill -KILL -- -"$p" 2>/dev/null; true`)
}

// isGated reports whether Ensure made or found name with the gate mount
// (and so with ralph's helper inside).
func (e *Engine) isGated(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gated[name]
}
