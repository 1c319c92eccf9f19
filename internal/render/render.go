package render

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ralphloop/ralph/internal/termsafe"
)

// Renderer writes an agent's events as lines that fit the width.
type Renderer struct {
	w     *bufio.Writer // flushed at the end of each Write: one write per chunk of the agent's output, not per line
	agent string
	width int
	color bool

	buf     []byte // a partial line of the agent's output
	skip    bool   // the rest of a line too long to show
	pending strings.Builder
}

// New returns a renderer for agent's format. color adds ANSI colours
// (on a terminal only); width is the terminal's (0: 100).
func New(w io.Writer, agent string, width int, color bool) *Renderer {
	if width <= 20 {
		width = 100
	}
	return &Renderer{w: bufio.NewWriterSize(w, 32<<10), agent: agent, width: width, color: color}
}

// Write takes the agent's raw output; it never fails.
func (r *Renderer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(r.buf)+len(p) > 16<<20 {
				r.buf, r.skip = r.buf[:0], true // a line too long to show: skipped, as by the parser
			} else if !r.skip {
				r.buf = append(r.buf, p...)
			}
			break
		}
		switch {
		case r.skip:
			r.skip = false
		case len(r.buf) > 0:
			r.buf = append(r.buf, p[:i]...)
			r.line(r.buf)
			r.buf = r.buf[:0]
		default:
			r.line(p[:i]) // a whole line in p: no copy
		}
		p = p[i+1:]
	}
	r.w.Flush()
	return n, nil
}

// Flush prints what is pending.
func (r *Renderer) Flush() {
	if len(r.buf) > 0 {
		r.line(r.buf)
		r.buf = r.buf[:0]
	}
	r.flushText()
	r.w.Flush()
}

func (r *Renderer) line(l []byte) {
	for _, e := range Decode(r.agent, l) {
		if e.Kind == Text && e.Name == "delta" {
			r.pending.WriteString(e.Text) // gemini's deltas join up
			continue
		}
		r.flushText()
		r.show(e)
	}
}

func (r *Renderer) flushText() {
	if r.pending.Len() > 0 {
		r.show(Event{Kind: Text, Text: r.pending.String()})
		r.pending.Reset()
	}
}

const (
	dim, bold, red, cyan, reset = "\x1b[2m", "\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[0m"
)

func (r *Renderer) paint(code, s string) string {
	if !r.color {
		return s
	}
	return code + s + reset
}

func (r *Renderer) show(e Event) {
	if e.Kind == Result {
		r.result(e)
		return
	}
	// The agent's words are hostile: control characters are made visible
	// before ralph adds its own colours.
	e.Text, e.Name = termsafe.String(e.Text), termsafe.Line(e.Name)
	switch e.Kind {
	case Text:
		for _, l := range strings.Split(strings.TrimSpace(e.Text), "\n") {
			if l = strings.TrimRight(l, " \t"); l != "" {
				fmt.Fprintf(r.w, "  %s\n", r.fit(l, 2))
			}
		}
	case Tool:
		head := "▸ " + e.Name
		fmt.Fprintf(r.w, "  %s %s\n", r.paint(bold+cyan, head), r.paint(dim, r.fit(oneLine(e.Text), 4+utf8.RuneCountInString(head))))
	case Error:
		fmt.Fprintf(r.w, "  %s\n", r.paint(bold+red, r.fit("✗ "+oneLine(e.Text), 2)))
	}
}

// result shows a tool result's first line and how many follow; only
// that line is made terminal-safe, however long the result.
func (r *Renderer) result(e Event) {
	first, more := e.Text, e.More
	if !e.Summary {
		text := strings.TrimSpace(e.Text)
		first, more = text, 0
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			first, more = text[:i], strings.Count(text[i:], "\n")
		}
	}
	first = oneLine(termsafe.String(first))
	if first == "" {
		first = "(no output)"
	}
	if more > 0 {
		first += fmt.Sprintf(" (+%d lines)", more)
	}
	color := dim
	if e.Fail {
		color = red
	}
	fmt.Fprintf(r.w, "    %s\n", r.paint(color, r.fit("↳ "+first, 4)))
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return strings.Join(strings.Fields(s), " ")
}

// fit cuts s to the width left after indent columns.
func (r *Renderer) fit(s string, indent int) string {
	max := r.width - indent
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	rs := []rune(s)
	return string(rs[:max-1]) + "…"
}
