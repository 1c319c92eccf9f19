// Package scaffold writes the files `ralph init` creates in a project:
// the prompt that teaches the agent the loop's rules, a task file, a
// progress log and a config file.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed templates
var templates embed.FS

// Options says what to write.
type Options struct {
	Agent string
	// Tasks is "md" (a Markdown checklist) or "json" (a PRD of user stories).
	Tasks string
	Force bool
}

// Write creates the files under dir/.ralph and returns their paths. It
// never overwrites a file unless Force is set; then it writes nothing and
// reports every file that exists.
func Write(dir string, o Options) ([]string, error) {
	tasksFile, doneHow := "tasks.md", " (`- [x]`)"
	switch o.Tasks {
	case "md", "":
	case "json":
		tasksFile, doneHow = "prd.json", " (set its \"passes\" to true)"
	default:
		return nil, fmt.Errorf("--tasks %q: want md or json", o.Tasks)
	}
	files := map[string]string{
		"PROMPT.md":   "PROMPT.md",
		tasksFile:     tasksFile,
		"progress.md": "progress.md",
		"config.toml": "config.toml",
	}
	base := filepath.Join(dir, ".ralph")
	var exist []string
	for name := range files {
		if _, err := os.Stat(filepath.Join(base, name)); err == nil {
			exist = append(exist, filepath.Join(".ralph", name))
		}
	}
	slices.Sort(exist)
	if len(exist) > 0 && !o.Force {
		return nil, fmt.Errorf("%w: %s (pass --force to overwrite)", fs.ErrExist, strings.Join(exist, ", "))
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	repl := strings.NewReplacer("{{TASKS}}", ".ralph/"+tasksFile, "{{PROGRESS}}", ".ralph/progress.md",
		"{{DONE_HOW}}", doneHow, "{{AGENT}}", o.Agent)
	var written []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data, err := templates.ReadFile("templates/" + files[name])
		if err != nil {
			return nil, errors.New("scaffold: missing template " + name)
		}
		p := filepath.Join(base, name)
		if err := os.WriteFile(p, []byte(repl.Replace(string(data))), 0o644); err != nil {
			return written, err
		}
		written = append(written, filepath.Join(".ralph", name))
	}
	return written, nil
}
