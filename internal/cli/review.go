package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/workspace"
)

// The review verbs of --workspace clone: what a loop did, and bringing it
// into the user's repository (or throwing it away). None of them runs git
// with the clone's config, hooks or attributes (package workspace).

type reviewOptions struct {
	f      *Factory
	loop   string
	stat   bool
	how    string
	force  bool
	asJSON bool
}

func (f *Factory) workspaces() workspace.Store {
	return workspace.Store{Dir: f.stateDir("workspaces")}
}

// pickLoop finds the loop named (or the project's only one).
func (o *reviewOptions) pickLoop() (workspace.Loop, error) {
	project, err := o.f.project()
	if err != nil {
		return workspace.Loop{}, err
	}
	l, err := o.f.workspaces().Pick(project, o.loop)
	if errors.Is(err, workspace.ErrNoLoop) {
		return l, usageErr("%v", err)
	}
	return l, err
}

// open opens the loop named (or the project's only one), or a fleet's
// branch ralph/NAME that git fetch brought.
func (o *reviewOptions) open(ctx context.Context) (*workspace.Source, error) {
	project, err := o.f.project()
	if err != nil {
		return nil, err
	}
	src, err := o.f.workspaces().Open(ctx, project, o.loop)
	if errors.Is(err, workspace.ErrNoLoop) {
		return nil, usageErr("%v", err)
	}
	return src, err
}

func completeLoops(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		project, err := f.project()
		if err != nil || len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		loops, _ := f.workspaces().List(project)
		var names []string
		for _, l := range loops {
			names = append(names, l.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newReview(f *Factory, use, short, long, example string, runF func(context.Context, *reviewOptions) error, flags func(*cobra.Command, *reviewOptions)) *cobra.Command {
	o := &reviewOptions{f: f}
	cmd := &cobra.Command{
		Use: use + " [LOOP]", Short: short, Long: long, Example: example,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLoops(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.loop = args[0]
			}
			return runF(cmd.Context(), o)
		},
	}
	if flags != nil {
		flags(cmd, o)
	}
	return cmd
}

const loopArg = "\n\nLOOP is the loop's --name; without it, the project's only loop (or the default one). " +
	"A name that is no loop here names a fleet's branch ralph/LOOP (ralph fleet run pushes them; git fetch brings them)."

func newDiff(f *Factory) *cobra.Command {
	return newReview(f, "diff", "Show what a loop's commits changed (--workspace clone)",
		"Show what the loop's commits on its branch ralph/LOOP changed since it started, as a diff (paged on a terminal). "+
			"Work the agent did not commit is not shown."+loopArg,
		"  ralph diff\n  ralph diff api-tests --stat",
		func(ctx context.Context, o *reviewOptions) error {
			src, err := o.open(ctx)
			if err != nil {
				return err
			}
			defer src.Close()
			return o.f.page(ctx, func(w io.Writer) error { return src.Diff(ctx, w, o.stat) })
		},
		func(cmd *cobra.Command, o *reviewOptions) {
			cmd.Flags().BoolVar(&o.stat, "stat", false, "only the files changed and how much")
		})
}

func newLog(f *Factory) *cobra.Command {
	return newReview(f, "log", "List a loop's commits (--workspace clone)",
		"List the commits the loop made on its branch ralph/LOOP since it started, newest first (`ralph logs` shows a run's output)."+loopArg,
		"  ralph log\n  ralph log docs --stat",
		func(ctx context.Context, o *reviewOptions) error {
			src, err := o.open(ctx)
			if err != nil {
				return err
			}
			defer src.Close()
			return o.f.page(ctx, func(w io.Writer) error { return src.Log(ctx, w, o.stat) })
		},
		func(cmd *cobra.Command, o *reviewOptions) {
			cmd.Flags().BoolVar(&o.stat, "stat", false, "with the files each commit changed")
		})
}

func newMerge(f *Factory) *cobra.Command {
	return newReview(f, "merge", "Bring a loop's branch into your repository (--workspace clone)",
		"Fetch the loop's branch into your repository as ralph/LOOP. With --ff, fast-forward your current branch to it; "+
			"with --merge, merge it (a fast-forward when it can be). A merge that would conflict is refused before "+
			"anything changes (exit 1), naming the files. Your own git config and hooks apply; the clone's never do."+loopArg,
		"  ralph merge                 # the branch ralph/default, nothing else\n  ralph merge api-tests --ff\n  ralph merge docs --merge",
		mergeRun,
		func(cmd *cobra.Command, o *reviewOptions) {
			var ff, merge bool
			cmd.Flags().BoolVar(&ff, "ff", false, "then fast-forward the current branch (fails if it has moved on)")
			cmd.Flags().BoolVar(&merge, "merge", false, "then merge into the current branch")
			cmd.Flags().BoolVar(&o.force, "force", false, "replace your branch ralph/LOOP even where the loop's is not a fast-forward of it")
			cmd.Flags().BoolVar(&o.asJSON, "json", false, "print what was done as JSON")
			cmd.MarkFlagsMutuallyExclusive("ff", "merge")
			cmd.PreRun = func(*cobra.Command, []string) {
				switch {
				case ff:
					o.how = workspace.FastFwd
				case merge:
					o.how = workspace.MergeInto
				}
			}
		})
}

func mergeRun(ctx context.Context, o *reviewOptions) error {
	src, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer src.Close()
	m, err := src.Merge(ctx, o.how, o.force)
	var ce *workspace.ConflictError
	if errors.As(err, &ce) {
		return exitcode.With(1, err)
	}
	if err != nil {
		return err
	}
	if o.asJSON {
		return encodeJSON(o.f.IO.Out, map[string]any{"loop": src.Name, "branch": src.Branch, "head": m.Head, "commits": m.Commits, "into": m.Into, "how": m.How})
	}
	fmt.Fprintf(o.f.IO.Err, "ralph: %s: %d commit(s) in your repository as %s (%.7s)\n", src.Name, m.Commits, src.Branch, m.Head)
	switch m.How {
	case "":
		fmt.Fprintf(o.f.IO.Err, "ralph: your current branch is unchanged: ralph merge %s --ff (or --merge) brings it in\n", src.Name)
	case "fast-forward":
		fmt.Fprintf(o.f.IO.Err, "ralph: fast-forwarded %s\n", m.Into)
	default:
		fmt.Fprintf(o.f.IO.Err, "ralph: merged into %s\n", m.Into)
	}
	return nil
}

func newDiscard(f *Factory) *cobra.Command {
	return newReview(f, "discard", "Remove a loop's clone (--workspace clone)",
		"Remove the loop's clone and forget it. A loop whose commits are in no branch of your repository "+
			"(not merged) is kept unless --force; a running loop is never touched. The loop's sandbox stays: ralph rm removes it."+loopArg,
		"  ralph discard docs\n  ralph discard api-tests --force",
		func(ctx context.Context, o *reviewOptions) error {
			l, err := o.pickLoop()
			if err != nil {
				return err
			}
			lk, err := lock.Acquire(o.f.stateDir("locks"), workspace.LockName(l.Project, l.Name))
			if held := (*lock.HeldError)(nil); errors.As(err, &held) {
				return fmt.Errorf("loop %s is running (ralph pid %d): stop it first", l.Name, held.Holder.PID)
			}
			if err != nil {
				return err
			}
			defer lk.Release()
			err = o.f.workspaces().Discard(ctx, l, o.force)
			var ue *workspace.UnmergedError
			if errors.As(err, &ue) {
				return exitcode.With(1, err)
			}
			if err == nil {
				fmt.Fprintf(o.f.IO.Err, "ralph: loop %s discarded (its clone %s is gone)\n", l.Name, l.Dir)
			}
			return err
		},
		func(cmd *cobra.Command, o *reviewOptions) {
			cmd.Flags().BoolVar(&o.force, "force", false, "discard even commits that are in no branch of your repository")
		})
}

// page writes through the user's pager when stdout is a terminal
// ($RALPH_PAGER, $PAGER, else less), else straight out. Quitting the
// pager early is not an error; the writer failing while it still reads is.
func (f *Factory) page(ctx context.Context, write func(io.Writer) error) error {
	if !isTerminalOut(f.IO.Out) {
		return write(f.IO.Out)
	}
	pager := "less"
	for _, k := range []string{"RALPH_PAGER", "PAGER"} {
		if v, ok := f.Getenv(k); ok {
			pager = v
			break
		}
	}
	argv := strings.Fields(pager)
	if len(argv) == 0 || argv[0] == "cat" {
		return write(f.IO.Out)
	}
	if _, err := proc.Look(argv[0]); err != nil {
		return write(f.IO.Out)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var pagerGone atomic.Bool
	env := append(proc.MinimalEnv(), "LESS=FRX")
	if t, ok := f.Getenv("TERM"); ok {
		env = append(env, "TERM="+t)
	}
	go func() {
		err := proc.Run(ctx, proc.Cmd{Argv: argv, Env: env, Stdin: pr, Stdout: f.IO.Out, Stderr: f.IO.Err})
		pagerGone.Store(true)
		pr.CloseWithError(io.ErrClosedPipe)
		done <- err
	}()
	werr := write(pw)
	pw.Close()
	perr := <-done
	if perr != nil {
		return fmt.Errorf("pager %s: %w", argv[0], perr)
	}
	if werr != nil && !pagerGone.Load() {
		return werr
	}
	return nil
}
