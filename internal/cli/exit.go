package cli

import (
	"context"
	"errors"

	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/fleet"
	"github.com/ralphloop/ralph/internal/gatehost"
	"github.com/ralphloop/ralph/internal/lock"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// Exit codes: the contract of internal/exitcode, by cli's names.
const (
	ExitComplete    = exitcode.Complete
	ExitCap         = exitcode.Cap
	ExitBlocked     = exitcode.Blocked
	ExitDecide      = exitcode.Decide
	ExitBudget      = exitcode.Budget
	ExitStopped     = exitcode.Stopped
	ExitUsage       = exitcode.Usage
	ExitRefused     = exitcode.Refused
	ExitUnavailable = exitcode.Unavailable
	ExitInternal    = exitcode.Internal
	ExitUntrusted   = exitcode.Untrusted
	ExitInterrupted = exitcode.Interrupted
	ExitTerminated  = exitcode.Terminated
)

// usageErr is a usage or configuration error (exit 64).
func usageErr(format string, args ...any) error { return exitcode.Usagef(format, args...) }

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ee *exitcode.Error
	var held *lock.HeldError
	var untrusted *config.UntrustedError
	var badPolicy *gatehost.PolicyError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
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
