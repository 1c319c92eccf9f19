package sandbox

import (
	"errors"
	"fmt"
)

// Error is a sentinel (Kind) with its detail. It reads
// "<sentinel>: <detail>", errors.Is matches the sentinel, and Detail gives
// the part after it, for a table whose column already names the sentinel.
type Error struct {
	Kind   error
	Detail string
	err    error // what the detail wrapped with %w, if anything
}

func (e *Error) Error() string        { return e.Kind.Error() + ": " + e.Detail }
func (e *Error) Is(target error) bool { return target == e.Kind }
func (e *Error) Unwrap() error        { return e.err }

func kindErr(kind error, format string, args []any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Detail: err.Error(), err: errors.Unwrap(err)}
}

// Unavailable is ErrUnavailable with the reason and, where there is one,
// the fix.
func Unavailable(format string, args ...any) error { return kindErr(ErrUnavailable, format, args) }

// Refused is ErrRefused with what was refused and why.
func Refused(format string, args ...any) error { return kindErr(ErrRefused, format, args) }

// Detail is err's reason without the sentinel's name in front, or the
// whole message when err is not one of this package's.
func Detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return err.Error()
}

// NotFound is ErrNotFound naming the sandbox.
func NotFound(format string, args ...any) error { return kindErr(ErrNotFound, format, args) }
