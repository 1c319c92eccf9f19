// Package proc is the one place where ralph runs external programs.
//
// Every error it returns names the program's argv and carries the trimmed
// tail of its standard error, so a failure deep in an engine CLI reaches the
// user with enough context to act on. Environments are always explicit: a
// command never inherits ralph's whole environment by accident.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Cmd describes one program to run.
type Cmd struct {
	Argv []string
	// Env is the complete environment of the child. Nil means a minimal
	// environment: PATH and HOME of the current process only.
	Env    []string
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// WaitDelay bounds how long Run waits for the child's pipes to close
	// after the context is cancelled (default 2s).
	WaitDelay time.Duration
	// Group runs the program in a process group of its own; cancelling
	// the context then signals the whole group (SIGTERM, then SIGKILL
	// once Run returns), so nothing it started outlives it.
	Group bool
}

// ExitError is returned when the program ran and exited non-zero.
type ExitError struct {
	Argv   []string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", strings.Join(redact(e.Argv), " "), e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// ErrNotFound is wrapped when the program is not installed.
var ErrNotFound = errors.New("program not found")

// MinimalEnv is the environment used when Cmd.Env is nil.
func MinimalEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "CONTAINERS_CONF", "CONTAINER_HOST", "XDG_RUNTIME_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Run runs c and waits for it. A non-zero exit yields *ExitError; a program
// that cannot be found yields an error wrapping ErrNotFound.
func Run(ctx context.Context, c Cmd) error {
	if len(c.Argv) == 0 {
		return errors.New("proc: empty argv")
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = MinimalEnv()
	}
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	tail := &tailBuffer{max: 4096}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, tail)
	} else {
		cmd.Stderr = tail
	}
	cmd.WaitDelay = c.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	// Deliver SIGTERM first so clients such as `docker exec` can clean up.
	cmd.Cancel = func() error { return terminate(cmd.Process) }
	if c.Group {
		inGroup(cmd)
	}
	err := cmd.Run()
	if c.Group && ctx.Err() != nil && cmd.Process != nil {
		// Cancelled: nothing the command started outlives it.
		killGroup(cmd.Process)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%s: %w", c.Argv[0], ErrNotFound)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", c.Argv[0], ctx.Err())
		}
		return &ExitError{Argv: c.Argv, Code: ee.ExitCode(), Stderr: strings.TrimSpace(tail.String())}
	}
	return fmt.Errorf("%s: %w", strings.Join(redact(c.Argv), " "), err)
}

// Output runs c and returns its standard output.
func Output(ctx context.Context, c Cmd) ([]byte, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := Run(ctx, c)
	return out.Bytes(), err
}

// ExitCode returns the exit status carried by err, or -1.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// Look reports the absolute path of a program on PATH.
func Look(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return p, nil
}

// redact hides values of NAME=VALUE arguments so error messages never
// print a secret passed as an environment assignment.
func redact(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if k, _, ok := strings.Cut(a, "="); ok && isEnvName(k) {
			out[i] = k + "=…"
			continue
		}
		out[i] = a
	}
	return out
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
