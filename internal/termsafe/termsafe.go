// Package termsafe makes text from the agent or the workspace safe to
// print on a terminal. Such text is hostile: an escape sequence in an
// assistant message or a promise reason could write the user's clipboard
// (OSC 52), set the window title, move the cursor to forge ralph's own
// lines, or reorder what is shown (Unicode bidirectional overrides).
// Every control character but newline and tab is shown as a visible
// escape (\x1b, \u202e); everything else passes unchanged. ralph's own
// colours are added after, never run through here.
package termsafe

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// unsafe reports runes a terminal acts on instead of showing.
func unsafe(r rune) bool {
	switch {
	case r < 0x20 && r != '\n' && r != '\t':
		return true // C0, ESC included
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true // DEL, C1 (CSI, OSC, DCS as one byte in UTF-8)
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional embeddings, overrides, isolates, marks
	case r == utf8.RuneError:
		return true
	}
	return false
}

// String returns s with every unsafe rune made visible. Invalid UTF-8
// bytes are shown as \xNN.
func String(s string) string {
	clean := true
	for _, r := range s {
		if unsafe(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Line is String with newlines and tabs made visible too, for text that
// must stay on one line (a promise reason, a file name).
func Line(s string) string {
	s = String(s)
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
}

// Writer passes a byte stream through String, line by line (a line that
// never ends is cut at 64 KiB so memory stays bounded). Close flushes
// what is pending.
type Writer struct {
	W   io.Writer
	buf []byte
}

func (w *Writer) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(w.W, String(string(w.buf[:i+1]))); err != nil {
			return len(p), err
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 {
		io.WriteString(w.W, String(string(w.buf))+"\n")
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// Close writes a partial last line.
func (w *Writer) Close() error {
	if len(w.buf) > 0 {
		_, err := io.WriteString(w.W, String(string(w.buf)))
		w.buf = w.buf[:0]
		return err
	}
	return nil
}
