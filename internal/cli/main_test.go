package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// An error can carry the agent's bytes (git's stderr naming a file it
// made): printed, its escapes are shown, not sent to the terminal.
func TestPrintErrEscapes(t *testing.T) {
	var b bytes.Buffer
	printErr(&b, errors.New("merge: would overwrite \x1b]0;pwned\x07evil.txt\n  second line"))
	got := b.String()
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("printed %q: the escape reached the terminal", got)
	}
	if !strings.HasPrefix(got, "ralph: merge: would overwrite ") || !strings.Contains(got, "\n  second line\n") {
		t.Errorf("printed %q: want the message, its lines kept", got)
	}
}
