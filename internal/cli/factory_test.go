package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/host"
)

// testIO captures what a command prints.
type testIO struct {
	in       strings.Reader
	out, err bytes.Buffer
}

// testFactory is a Factory with the given isolating backends, folders of
// the test's own, a fixed clock and an empty environment; nothing is on
// PATH.
func testFactory(t *testing.T, isolating ...sandbox.Backend) (*Factory, *testIO) {
	t.Helper()
	tio := &testIO{}
	dir := t.TempDir()
	return &Factory{
		IO:        IO{In: &tio.in, Out: &tio.out, Err: &tio.err},
		Isolating: func() []sandbox.Backend { return isolating },
		Host:      func() sandbox.Backend { return host.New() },
		Pod:       func() sandbox.Backend { return host.Pod() },
		State:     t.TempDir(),
		Config:    t.TempDir(),
		Now:       func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) },
		Getenv:    func(string) (string, bool) { return "", false },
		Getwd:     func() (string, error) { return dir, nil },
		OnPath:    func(string) bool { return false },
	}, tio
}

// matches reports whether a line of out matches the regular expression.
func matches(out, re string) bool {
	return regexp.MustCompile("(?m)" + re).MatchString(out)
}
