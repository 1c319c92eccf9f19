// Package jsonscan reads the few fields a caller wants from a JSON line
// without decoding the rest: it finds values by scanning for quotes
// (bytes.IndexByte), so a field of no interest, however long, costs
// little more than a memchr. It is for agents' output streams, which are
// hostile: malformed input makes a function report false, never panic.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Object calls fn with each key (still quoted and escaped, as raw bytes
// between the quotes) and raw value of the JSON object b, in order, until
// fn returns false. It reports whether b is an object it could walk.
func Object(b []byte, fn func(key, val []byte) bool) bool {
	c := NewCursor(b)
	c.Object(func(k []byte) bool {
		v, ok := c.Raw()
		return ok && fn(k, v)
	})
	return !c.Err()
}

// Array calls fn with each raw element of the JSON array b until fn
// returns false; it reports whether b is an array it could walk.
func Array(b []byte, fn func(val []byte) bool) bool {
	c := NewCursor(b)
	c.Array(func() bool {
		v, ok := c.Raw()
		return ok && fn(v)
	})
	return !c.Err()
}

// Field is the raw value of key at the top level of the object b.
func Field(b []byte, key string) (val []byte, ok bool) {
	Object(b, func(k, v []byte) bool {
		if string(k) == key {
			val, ok = v, true
			return false
		}
		return true
	})
	return val, ok
}

// String is the JSON string val unquoted; ok is false when val is not a
// string. Without \u escapes it unescapes by hand (copying the runs
// between backslashes); with them, encoding/json does it.
func String(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	raw := val[1 : len(val)-1]
	if bytes.Contains(raw, []byte(`\u`)) || !utf8.Valid(raw) {
		var s string
		if json.Unmarshal(val, &s) != nil {
			return "", false
		}
		return s, true
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var sb strings.Builder
	sb.Grow(len(raw))
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			sb.Write(raw)
			break
		}
		sb.Write(raw[:k])
		if k+1 >= len(raw) {
			return "", false
		}
		switch raw[k+1] {
		case '"', '\\', '/':
			sb.WriteByte(raw[k+1])
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		default:
			return "", false
		}
		raw = raw[k+2:]
	}
	return sb.String(), true
}

// TopString is the string value of key at the top level of the object
// line; ok is false when line is not an object with that key holding a
// string.
func TopString(line []byte, key string) (string, bool) {
	v, ok := Field(line, key)
	if !ok {
		return "", false
	}
	return String(v)
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
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
