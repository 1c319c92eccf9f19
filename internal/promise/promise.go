// Package promise finds the stop promise in an agent's final message.
//
// A promise counts only when it is written exactly, outside Markdown code
// fences and inline code spans:
//
//	<promise>COMPLETE</promise>
//	<promise>BLOCKED:reason</promise>
//	<promise>DECIDE:question</promise>
//
// The reason or question must be non-empty after trimming. When one message
// holds promises of more than one kind, the most conservative wins:
// BLOCKED, then DECIDE, then COMPLETE.
package promise

import (
	"strings"
)

// Kind is the kind of a promise. Larger values are more conservative.
type Kind int

const (
	None Kind = iota
	Complete
	Decide
	Blocked
)

func (k Kind) String() string {
	switch k {
	case Complete:
		return "COMPLETE"
	case Decide:
		return "DECIDE"
	case Blocked:
		return "BLOCKED"
	}
	return "none"
}

// Promise is what an agent promised in its final message.
type Promise struct {
	Kind Kind
	// Text is the reason (BLOCKED) or the question (DECIDE).
	Text string
}

const (
	openTag  = "<promise>"
	closeTag = "</promise>"
)

// Parse returns the most conservative valid promise in msg, or a Promise of
// Kind None.
func Parse(msg string) Promise {
	if !strings.Contains(msg, openTag) {
		return Promise{}
	}
	code := codeRegions(msg)
	var best Promise
	for i := 0; ; {
		j := strings.Index(msg[i:], openTag)
		if j < 0 {
			break
		}
		start := i + j
		bodyStart := start + len(openTag)
		k := strings.Index(msg[bodyStart:], closeTag)
		if k < 0 {
			break
		}
		end := bodyStart + k
		i = bodyStart
		if code.overlaps(start, bodyStart) || code.overlaps(end, end+len(closeTag)) {
			continue
		}
		p, ok := parseBody(msg[bodyStart:end])
		if ok && p.Kind > best.Kind {
			best = p
		}
	}
	return best
}

func parseBody(body string) (Promise, bool) {
	if strings.Contains(body, "<") {
		return Promise{}, false
	}
	if body == "COMPLETE" {
		return Promise{Kind: Complete}, true
	}
	for _, k := range []Kind{Blocked, Decide} {
		prefix := k.String() + ":"
		if rest, ok := strings.CutPrefix(body, prefix); ok {
			rest = strings.TrimSpace(rest)
			if rest == "" {
				return Promise{}, false
			}
			return Promise{Kind: k, Text: rest}, true
		}
	}
	return Promise{}, false
}

// regions is a sorted list of half-open byte ranges [a, b).
type regions [][2]int

func (r regions) overlaps(a, b int) bool {
	for _, x := range r {
		if a < x[1] && x[0] < b {
			return true
		}
	}
	return false
}

// codeRegions returns the byte ranges of fenced code blocks and inline
// code spans, following CommonMark closely enough for promise detection:
// a fence is a line indented at most three spaces starting with at least
// three backticks or tildes, closed by a line with at least as many of the
// same character (or the end of the message); an inline span opens with a
// run of N backticks and closes with the next run of exactly N backticks.
func codeRegions(msg string) regions {
	var out regions
	pos := 0
	inFence := false
	var fenceChar byte
	var fenceLen, fenceStart int
	textStart := 0
	for pos <= len(msg) {
		lineEnd := strings.IndexByte(msg[pos:], '\n')
		if lineEnd < 0 {
			lineEnd = len(msg)
		} else {
			lineEnd += pos
		}
		line := msg[pos:lineEnd]
		ch, n := fence(line)
		switch {
		case !inFence && n > 0:
			out = append(out, inlineSpans(msg, textStart, pos)...)
			inFence, fenceChar, fenceLen, fenceStart = true, ch, n, pos
		case inFence && n >= fenceLen && ch == fenceChar && onlyFence(line):
			out = append(out, [2]int{fenceStart, lineEnd})
			inFence = false
			textStart = lineEnd
		}
		if lineEnd == len(msg) {
			break
		}
		pos = lineEnd + 1
	}
	if inFence {
		out = append(out, [2]int{fenceStart, len(msg)})
	} else {
		out = append(out, inlineSpans(msg, textStart, len(msg))...)
	}
	return out
}

// fence reports the fence character and run length at the start of line.
func fence(line string) (byte, int) {
	i := 0
	for i < len(line) && i < 3 && line[i] == ' ' {
		i++
	}
	if i >= len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0
	}
	ch := line[i]
	n := 0
	for i+n < len(line) && line[i+n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0
	}
	if ch == '`' && strings.IndexByte(line[i+n:], '`') >= 0 {
		return 0, 0 // a backtick fence's info string has no backticks
	}
	return ch, n
}

func onlyFence(line string) bool {
	t := strings.TrimSpace(line)
	return strings.Trim(t, string(t[0])) == ""
}

func inlineSpans(msg string, from, to int) regions {
	var out regions
	i := from
	for i < to {
		if msg[i] != '`' {
			i++
			continue
		}
		n := run(msg, i, to)
		closeAt := -1
		for j := i + n; j < to; {
			if msg[j] != '`' {
				j++
				continue
			}
			m := run(msg, j, to)
			if m == n {
				closeAt = j
				break
			}
			j += m
		}
		if closeAt < 0 {
			i += n // unmatched run: literal backticks
			continue
		}
		out = append(out, [2]int{i, closeAt + n})
		i = closeAt + n
	}
	return out
}

func run(s string, i, to int) int {
	n := 0
	for i+n < to && s[i+n] == '`' {
		n++
	}
	return n
}
