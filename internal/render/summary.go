package render

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFirst bounds how much of a tool result's first line is decoded: it
// is cut to the terminal's width anyway.
const maxFirst = 16 << 10

// summarize reads what the renderer shows of a tool result, its first
// line after leading space and the count of lines after it (those of
// strings.TrimSpace of the text), from the still escaped JSON string raw
// without decoding the rest. ok is false for a string with \u escapes,
// which the caller decodes whole instead.
func summarize(raw []byte) (first string, more int, ok bool) {
	more, ok = newlines(raw)
	if !ok {
		return "", 0, false
	}
	i := 0
	for i < len(raw) {
		r, size := next(raw, i)
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\n' {
			more--
		}
		i += size
	}
	start := i
	var b strings.Builder
	for i < len(raw) && b.Len() < maxFirst {
		r, size := next(raw, i)
		if r == '\n' {
			break
		}
		b.WriteRune(r)
		i += size
	}
	for j := len(raw); j > start; {
		r, size := prev(raw, j)
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\n' {
			more--
		}
		j -= size
	}
	return b.String(), max(more, 0), true
}

// unescaped is the character a JSON escape letter stands for.
func unescaped(c byte) (rune, bool) {
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	}
	return 0, false
}

// next decodes the character at raw[i] (an escape or a UTF-8 rune).
func next(raw []byte, i int) (rune, int) {
	if raw[i] == '\\' && i+1 < len(raw) {
		if r, ok := unescaped(raw[i+1]); ok {
			return r, 2
		}
	}
	return utf8.DecodeRune(raw[i:])
}

// prev decodes the character that ends at raw[j-1].
func prev(raw []byte, j int) (rune, int) {
	if j >= 2 {
		if r, ok := unescaped(raw[j-1]); ok && oddBackslashes(raw, j-2) {
			return r, 2
		}
	}
	return utf8.DecodeLastRune(raw[:j])
}

// oddBackslashes reports whether the run of backslashes ending at raw[k]
// is odd: raw[k] then starts an escape.
func oddBackslashes(raw []byte, k int) bool {
	n := 0
	for ; k >= 0 && raw[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// newlines counts the \n escapes (and raw line feeds) in raw, walking
// from escape to escape; ok is false when it meets a \u escape.
func newlines(raw []byte) (n int, ok bool) {
	n = bytes.Count(raw, []byte{'\n'})
	for k := 0; ; {
		p := bytes.IndexByte(raw[k:], '\\')
		if p < 0 || k+p+1 >= len(raw) {
			return n, true
		}
		switch raw[k+p+1] {
		case 'n':
			n++
		case 'u':
			return 0, false
		}
		k += p + 2
	}
}
