// Package exitcode is ralph's exit-code contract (README, "Exit codes")
// and the error that carries a code to the process's exit: a command or
// a run returns one, and cli's Main exits with it.
package exitcode

import "fmt"

// The codes.
const (
	Complete    = 0
	Cap         = 1
	Blocked     = 2
	Decide      = 3
	Budget      = 4   // --max-cost or --max-runtime reached
	Stopped     = 5   // a breaker: failures in a row, a stall, a rate limit with --no-wait
	Usage       = 64  // usage or configuration error
	Refused     = 65  // a workspace file ralph will not read (a symlink out, a FIFO, too big)
	Unavailable = 69  // sandbox, engine or agent unavailable
	Internal    = 70  // ralph's own failure (the network gate died included)
	Untrusted   = 77  // .ralph/config.toml asks for host settings the user has not approved
	Interrupted = 130 // SIGINT
	Terminated  = 143 // SIGTERM
)

// Error ends ralph with Code. Err is the message to print; nil when the
// command printed its own (a loop's outcome is not an error to print
// again).
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// With ends ralph with code, printing err.
func With(code int, err error) error { return &Error{Code: code, Err: err} }

// Quiet ends ralph with code after the command printed its own message.
func Quiet(code int) error { return &Error{Code: code} }

// Usagef is a usage or configuration error (64).
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}
