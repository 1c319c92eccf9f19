package bwrap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralphloop/ralph/internal/sandbox"
)

var _ sandbox.CommandFinder = (*Bwrap)(nil)

// sandboxPath is the PATH inside a bwrap sandbox.
var sandboxPath = []string{"/usr/local/bin", "/usr/bin", "/bin"}

// FindCommand says where bin is inside a sandbox of spec: the sandbox
// shows the host's /usr (with /bin, /lib as links into it) and the
// project at its workdir, nothing else. A bare name is looked up on the
// sandbox's PATH; a script's interpreter (#!) must be there too.
func (b *Bwrap) FindCommand(spec sandbox.Spec, bin string) (string, error) {
	return findCommand(spec, bin, 0)
}

func findCommand(spec sandbox.Spec, bin string, depth int) (string, error) {
	workdir := spec.Workdir
	if workdir == "" {
		workdir = sandbox.DefaultWorkdir
	}
	var candidates []string
	if strings.Contains(bin, "/") {
		candidates = []string{bin}
	} else {
		for _, d := range sandboxPath {
			candidates = append(candidates, filepath.Join(d, bin))
		}
	}
	for _, inside := range candidates {
		host, ok := hostPath(spec, workdir, inside)
		if !ok {
			return "", fmt.Errorf("%s is outside what a bwrap sandbox shows (/usr and the project at %s)", inside, workdir)
		}
		st, err := os.Stat(host)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		// A link must land inside too (npm's links under /usr/local/bin do;
		// a link into a home folder does not).
		real, err := filepath.EvalSymlinks(host)
		if err != nil || !(within(real, "/usr") || within(real, spec.Project)) {
			return "", fmt.Errorf("%s is a link to %s, outside what a bwrap sandbox shows (/usr and the project)", inside, real)
		}
		if interp := interpreter(real); interp != "" && depth < 2 {
			if _, err := findCommand(spec, interp, depth+1); err != nil {
				return "", fmt.Errorf("%s needs %s: %w", inside, interp, err)
			}
		}
		return inside, nil
	}
	if strings.Contains(bin, "/") {
		return "", fmt.Errorf("%s: no such executable in the sandbox", bin)
	}
	return "", fmt.Errorf("%s is not on the sandbox's PATH (%s, from the host's /usr)", bin, strings.Join(sandboxPath, ":"))
}

// hostPath is where a path inside the sandbox lives on the host, if the
// sandbox shows it.
func hostPath(spec sandbox.Spec, workdir, inside string) (string, bool) {
	inside = filepath.Clean(inside)
	for _, l := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if within(inside, l) {
			inside = "/usr" + inside
		}
	}
	switch {
	case within(inside, "/usr"):
		return inside, true
	case spec.Project != "" && within(inside, workdir):
		return filepath.Join(spec.Project, strings.TrimPrefix(inside, workdir)), true
	}
	return "", false
}

func within(p, dir string) bool {
	if dir == "" {
		return false // no folder (a Spec without a project): nothing is in it
	}
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// interpreter is what a script's #! line runs (the program after
// /usr/bin/env), or "".
func interpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) == "env" {
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				return f
			}
		}
		return ""
	}
	return fields[0]
}
