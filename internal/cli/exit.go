package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/fleet"
	"github.com/ralphloop/ralph/internal/gatehost"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// Exit codes: a documented contract (README, "Exit codes").
const (
	ExitComplete    = 0
	ExitCap         = 1
	ExitBlocked     = 2
	ExitDecide      = 3
	ExitBudget      = 4   // --max-cost or --max-runtime reached
	ExitStopped     = 5   // a breaker: failures in a row, a stall, a rate limit with --no-wait
	ExitUsage       = 64  // usage or configuration error
	ExitRefused     = 65  // a workspace file ralph will not read (a symlink out, a FIFO, too big)
	ExitUnavailable = 69  // sandbox, engine or agent unavailable
	ExitInternal    = 70  // ralph's own failure (the network gate died included)
	ExitUntrusted   = 77  // .ralph/config.toml asks for host settings the user has not approved
	ExitInterrupted = 130 // SIGINT
	ExitTerminated  = 143 // SIGTERM
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or configuration error (exit 64).
func usageErr(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ee *exitError
	var held *lock.HeldError
	var quiet *quietExit
	var untrusted *config.UntrustedError
	var badPolicy *gatehost.PolicyError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &quiet):
		return quiet.code
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &untrusted):
		return ExitUntrusted
	case errors.Is(err, config.ErrInvalid), errors.Is(err, fleet.ErrInvalid), errors.As(err, &badPolicy):
		return ExitUsage
	case errors.Is(err, wsfile.ErrRefused):
		return ExitRefused
	case errors.Is(err, sandbox.ErrRefused), errors.Is(err, sandbox.ErrNotFound):
		return ExitUsage
	case errors.Is(err, sandbox.ErrUnavailable), errors.Is(err, proc.ErrNotFound), errors.As(err, &held):
		return ExitUnavailable
	}
	return ExitInternal
}
