package agent

import (
	"bytes"
	"strings"
)

// MaxLine is the longest output line a parser looks at. Longer lines (a
// tool result holding a whole file, say) are skipped whole, so memory stays
// bounded by this size whatever the length of the transcript.
const MaxLine = 16 << 20

// Stream is an io.Writer that cuts an agent's standard output into lines
// and feeds them to a Parser. It holds at most one line in memory.
type Stream struct {
	p       Parser
	buf     []byte
	skipped bool // the current line passed MaxLine and is being dropped
}

// NewStream returns a Stream feeding p.
func NewStream(p Parser) *Stream { return &Stream{p: p} }

// Write implements io.Writer. It never fails.
func (s *Stream) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.add(b)
			break
		}
		s.add(b[:i])
		s.flush()
		b = b[i+1:]
	}
	return n, nil
}

// Close feeds a last line that had no newline.
func (s *Stream) Close() error {
	if len(s.buf) > 0 || s.skipped {
		s.flush()
	}
	return nil
}

func (s *Stream) add(b []byte) {
	if s.skipped {
		return
	}
	if len(s.buf)+len(b) > MaxLine {
		s.skipped = true
		s.buf = s.buf[:0]
		return
	}
	s.buf = append(s.buf, b...)
}

func (s *Stream) flush() {
	if !s.skipped {
		s.p.Line(bytes.TrimSuffix(s.buf, []byte{'\r'}))
	}
	s.skipped = false
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep a huge buffer after one huge line
	} else {
		s.buf = s.buf[:0]
	}
}

// limitText reads a rate or usage limit from the message of an agent's
// terminal error event (a structured field, not tool output).
func limitText(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "usage limit") || strings.Contains(m, "rate limit") ||
		strings.Contains(m, "quota") || strings.Contains(m, "429")
}
