package agent

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Custom returns an adapter for any command. cmd is split like a shell
// would split it (single and double quotes, backslash escapes; no
// expansion). Each {prompt} in an argument is replaced by the prompt;
// without one, the prompt goes to standard input.
//
// The final message of a custom agent is the last paragraph of its
// standard output: the lines after the last blank line. A custom agent
// signals success by exiting 0.
func Custom(cmd string) (Adapter, error) {
	argv, err := SplitCommand(cmd)
	if err != nil {
		return Adapter{}, fmt.Errorf("--agent-cmd: %w", err)
	}
	if len(argv) == 0 {
		return Adapter{}, errors.New("agent custom needs --agent-cmd (for example --agent-cmd 'my-agent --yes {prompt}')")
	}
	return Adapter{
		Name:   "custom",
		Binary: argv[0],
		build: func(bin, prompt string, extra []string) Invocation {
			out := []string{bin}
			usedArg := false
			for _, a := range argv[1:] {
				if strings.Contains(a, "{prompt}") {
					usedArg = true
					a = strings.ReplaceAll(a, "{prompt}", prompt)
				}
				out = append(out, a)
			}
			inv := Invocation{Argv: withExtra(out, extra)}
			if !usedArg {
				inv.Stdin = prompt
			}
			return inv
		},
		newParser: func() Parser { return &paragraphParser{} },
	}, nil
}

// maxParagraph bounds the text kept for a custom agent's final message.
const maxParagraph = 1 << 20

type paragraphParser struct {
	cur, last []byte
}

func (p *paragraphParser) Line(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		if len(p.cur) > 0 {
			p.last, p.cur = p.cur, p.last[:0]
		}
		return
	}
	if len(p.cur) > 0 {
		p.cur = append(p.cur, '\n')
	}
	p.cur = append(p.cur, line...)
	if len(p.cur) > maxParagraph {
		p.cur = append(p.cur[:0], p.cur[len(p.cur)-maxParagraph:]...)
	}
}

func (p *paragraphParser) Result() Result {
	final := p.cur
	if len(final) == 0 {
		final = p.last
	}
	return Result{Terminal: true, Final: string(final)}
}

// SplitCommand splits s into words the way a POSIX shell splits a simple
// command, without any expansion.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\':
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
				in = true
			}
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
