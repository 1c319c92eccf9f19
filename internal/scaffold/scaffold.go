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
	"path/filepath"
	"slices"
	"strings"

	"github.com/ralphloop/ralph/internal/wsfile"
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

// Write creates the files under .ralph of the workspace and returns their
// paths. It never overwrites a file unless Force is set; then it writes
// nothing and reports every file that exists. A file is written by
// renaming a new one over the name, so a link planted there is replaced,
// never written through.
func Write(ws *wsfile.Workspace, o Options) ([]string, error) {
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
	var exist []string
	for name := range files {
		if ws.Exists(filepath.Join(".ralph", name)) {
			exist = append(exist, filepath.Join(".ralph", name))
		}
	}
	slices.Sort(exist)
	if len(exist) > 0 && !o.Force {
		return nil, fmt.Errorf("%w: %s (pass --force to overwrite)", fs.ErrExist, strings.Join(exist, ", "))
	}
	repl := strings.NewReplacer("{{TASKS}}", ".ralph/"+tasksFile, "{{PROGRESS}}", ".ralph/progress.md",
		"{{DONE_HOW}}", doneHow, "{{AGENT}}", o.Agent)
	var written []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data, err := templates.ReadFile("templates/" + files[name])
		if err != nil {
			return nil, errors.New("scaffold: missing template " + name)
		}
		if err := ws.WriteFile(filepath.Join(".ralph", name), []byte(repl.Replace(string(data))), 0o644); err != nil {
			return written, err
		}
		written = append(written, filepath.Join(".ralph", name))
	}
	return written, nil
}
