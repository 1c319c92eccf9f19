// Package cli is ralph's command tree (cobra): each command builds an
// options struct, validates it, and hands the work to the loop or to a
// sandbox backend. It owns the exit-code contract and signal handling.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// IO is where commands read and write: data to Out, messages to Err.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs ralph with os.Args and returns the process exit code.
func Main() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var got os.Signal
	hooks := &exitHooks{}
	ctx = context.WithValue(ctx, exitHooksKey{}, hooks)
	go func() {
		first, ok := <-sig
		if !ok {
			return
		}
		got = first
		fmt.Fprintf(os.Stderr, "\nralph: %v: stopping the agent and the sandbox (press Ctrl-C again to exit at once)\n", first)
		cancel(context.Canceled)
		if _, ok := <-sig; ok {
			fmt.Fprintln(os.Stderr, "ralph: forced exit")
			hooks.run() // the lock goes with us, cleanly
			os.Exit(ExitInterrupted)
		}
	}()
	io := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	err := NewRoot(NewFactory(io)).ExecuteContext(ctx)
	code := exitCode(err)
	if code == ExitInterrupted && got == syscall.SIGTERM {
		code = ExitTerminated
	}
	var ee *exitcode.Error
	if err != nil && !(errors.As(err, &ee) && ee.Err == nil) {
		printErr(os.Stderr, err)
	}
	return code
}

// printErr writes the error that ends ralph. Errors carry what the agent
// could have written (a file name in git's stderr, a path in the
// workspace): its control characters are shown, never obeyed.
func printErr(w io.Writer, err error) {
	fmt.Fprintf(w, "ralph: %s\n", termsafe.String(err.Error()))
}

// exitHooks run on a forced exit (a second Ctrl-C): what must not be left
// behind even then, such as the lock's holder record.
type exitHooks struct {
	mu sync.Mutex
	fs []func()
}

type exitHooksKey struct{}

func (h *exitHooks) add(f func()) {
	h.mu.Lock()
	h.fs = append(h.fs, f)
	h.mu.Unlock()
}

func (h *exitHooks) run() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.fs {
		f()
	}
}

// onForcedExit registers f to run if ralph is forced out.
func onForcedExit(ctx context.Context, f func()) {
	if h, ok := ctx.Value(exitHooksKey{}).(*exitHooks); ok {
		h.add(f)
	}
}
