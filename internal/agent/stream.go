package agent

import (
	"bytes"
	"encoding/json"
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

// topLevelString returns the string value of key in the JSON object line,
// looking at the top level only. It scans without decoding, so a line whose
// key of interest says it can be ignored costs little more than a memchr
// over its strings. ok is false for anything that is not a JSON object
// with that key holding a string.
func topLevelString(line []byte, key string) (val string, ok bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipSpace(line, i)
		if i >= len(line) || line[i] != '"' {
			return "", false
		}
		kEnd := skipString(line, i)
		if kEnd < 0 {
			return "", false
		}
		k := line[i+1 : kEnd-1]
		i = skipSpace(line, kEnd)
		if i >= len(line) || line[i] != ':' {
			return "", false
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return "", false
		}
		if string(k) == key {
			if line[i] != '"' {
				return "", false
			}
			end := skipString(line, i)
			if end < 0 {
				return "", false
			}
			raw := line[i+1 : end-1]
			if bytes.IndexByte(raw, '\\') < 0 {
				return string(raw), true
			}
			var s string
			if json.Unmarshal(line[i:end], &s) != nil {
				return "", false
			}
			return s, true
		}
		i = skipValue(line, i)
		if i < 0 {
			return "", false
		}
		i = skipSpace(line, i)
		if i >= len(line) || line[i] != ',' {
			return "", false
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]=='"',
// or -1.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// Count the backslashes before the quote.
		n := 0
		for m := j - 1; m > i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the index just past the JSON value at b[i], or -1.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' {
			i++
		}
		return i
	}
}

// limitText reads a rate or usage limit from the message of an agent's
// terminal error event (a structured field, not tool output).
func limitText(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "usage limit") || strings.Contains(m, "rate limit") ||
		strings.Contains(m, "quota") || strings.Contains(m, "429")
}
