// Package gitignore tells which paths of a work tree git ignores, from the
// .gitignore files in it and .git/info/exclude, as gitignore(5) describes
// them, without running git: blank lines and # comments, trailing spaces,
// ! to re-include, a trailing / for folders only, a / at the start or in
// the middle to anchor a pattern to its file's folder, *, ?, [...] and **.
// A later pattern wins over an earlier one, a deeper file over a higher
// one, and nothing inside an ignored folder can be re-included (git does
// not look inside it).
//
// The files are read through a reader the caller gives (ralph reads the
// workspace through wsfile: the agent writes these files too).
package gitignore

import (
	"path"
	"regexp"
	"strings"
)

// ReadFile reads a file of the tree by its slash-separated path relative
// to the root; an error means there is none.
type ReadFile func(rel string) ([]byte, error)

type pattern struct {
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
	base    bool // matched against the base name only (no slash in it)
}

// Matcher answers for one tree; it reads each folder's .gitignore once.
type Matcher struct {
	read  ReadFile
	cache map[string][]pattern // by folder, "" for the root
}

// New returns a matcher over the tree read through read.
func New(read ReadFile) *Matcher {
	m := &Matcher{read: read, cache: map[string][]pattern{}}
	if data, err := read(".git/info/exclude"); err == nil {
		m.cache["\x00exclude"] = parse(data)
	}
	return m
}

func (m *Matcher) patterns(dir string) []pattern {
	if ps, ok := m.cache[dir]; ok {
		return ps
	}
	var ps []pattern
	if data, err := m.read(path.Join(dir, ".gitignore")); err == nil {
		ps = parse(data)
	}
	m.cache[dir] = ps
	return ps
}

// Ignored reports whether git ignores rel (slash-separated, relative to
// the root), a folder when dir is set. The caller walks from the top and
// does not ask about what is inside an ignored folder.
func (m *Matcher) Ignored(rel string, dir bool) bool {
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return false
	}
	ignored := false
	check := func(ps []pattern, relToBase string) {
		for _, p := range ps {
			if p.dirOnly && !dir {
				continue
			}
			subject := relToBase
			if p.base {
				subject = path.Base(relToBase)
			}
			if p.re.MatchString(subject) {
				ignored = !p.negate
			}
		}
	}
	check(m.cache["\x00exclude"], rel)
	// The root's .gitignore, then each folder's on the way down.
	parent := path.Dir(rel)
	dirs := []string{""}
	if parent != "." {
		parts := strings.Split(parent, "/")
		for i := range parts {
			dirs = append(dirs, strings.Join(parts[:i+1], "/"))
		}
	}
	for _, d := range dirs {
		r := rel
		if d != "" {
			r = strings.TrimPrefix(rel, d+"/")
		}
		check(m.patterns(d), r)
	}
	return ignored
}

// parse reads the patterns of one file.
func parse(data []byte) []pattern {
	var out []pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if p, ok := compile(line); ok {
			out = append(out, p)
		}
	}
	return out
}

func compile(line string) (pattern, bool) {
	// Trailing spaces go, unless escaped.
	for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, `\ `) {
		line = line[:len(line)-1]
	}
	if line == "" || strings.HasPrefix(line, "#") {
		return pattern{}, false
	}
	var p pattern
	switch {
	case strings.HasPrefix(line, "!"):
		p.negate, line = true, line[1:]
	case strings.HasPrefix(line, `\!`), strings.HasPrefix(line, `\#`):
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly, line = true, strings.TrimRight(line, "/")
	}
	if line == "" {
		return pattern{}, false
	}
	p.base = !strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	re, err := regexp.Compile("^" + globRegexp(line) + "$")
	if err != nil {
		return pattern{}, false
	}
	p.re = re
	return p, true
}

// globRegexp turns a gitignore glob into a regular expression.
func globRegexp(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case strings.HasPrefix(g[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(g[i:], "/**") && i+3 == len(g):
			b.WriteString("/.*")
			i += 2
		case strings.HasPrefix(g[i:], "**") && i+2 == len(g):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(g):
			i++
			b.WriteString(regexp.QuoteMeta(string(g[i])))
		case c == '[':
			end := strings.IndexByte(g[i+1:], ']')
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := g[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}
