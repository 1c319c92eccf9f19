// Package workspace gives a loop a workspace of its own (issue #19,
// decision 012): with --workspace clone, ralph clones the user's
// repository into its state folder, checks out the branch ralph/<loop>,
// and mounts only that clone into the sandbox. The user's tree changes
// only when they merge.
//
// The clone is the agent's, so it is hostile input: ralph never runs git
// with the clone as its repository (its config, hooks, attributes and
// index are the agent's). To read the loop's work, ralph builds a view: a
// bare repository of its own, with an empty config, no hooks, and the
// clone's object store as an alternate; it reads the branch's commit from
// the clone's ref files itself and checks it. diff, log and merge run git
// on that view and on the user's own repository only.
package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The workspace modes.
const (
	// Bind mounts the project folder itself, .git included (the seed's
	// workflow; .git is guarded after every iteration, decision 009).
	Bind = "bind"
	// Clone mounts a clone of the project that only ralph merges back.
	Clone = "clone"
)

// DefaultLoop is the name of a project's loop when --name is not given.
const DefaultLoop = "default"

// Modes are the values --workspace takes.
var Modes = []string{Bind, Clone}

var loopName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// CheckLoop says whether name can name a loop: lower-case letters, digits
// and dashes, at most 32, starting with a letter or digit (it becomes
// part of a sandbox name, a folder and the branch ralph/<name>).
func CheckLoop(name string) error {
	if !loopName.MatchString(name) {
		return fmt.Errorf("loop name %q: use lower-case letters, digits and dashes (at most 32, not starting with a dash)", name)
	}
	return nil
}

// Loop is one loop's clone, as ralph recorded it when it made it. The
// record lives outside the clone, so the agent cannot change it.
type Loop struct {
	Name    string    `json:"name"`
	Project string    `json:"project"` // the user's repository (its top folder)
	Dir     string    `json:"dir"`     // the clone's folder
	Branch  string    `json:"branch"`  // ralph/<name>
	Base    string    `json:"base"`    // the commit the loop started from
	Created time.Time `json:"created"`
}

// Store is where the loops' clones and records live: ralph's state folder
// (workspaces/).
type Store struct {
	Dir string
}

// key names a loop's folder and record: <dir>-<loop>-<hash8 of both>.
func key(project, name string) string {
	sum := sha256.Sum256([]byte(project + "\x00" + name))
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(filepath.Base(project)))
	base = strings.Trim(base, "-")
	if len(base) > 40 {
		base = base[:40]
	}
	return base + "-" + name + "-" + hex.EncodeToString(sum[:])[:8]
}

func (s Store) record(project, name string) string {
	return filepath.Join(s.Dir, key(project, name)+".json")
}

// LockName is the lock a run of the loop holds (internal/lock), so two
// runs never share a clone, and discard waits for none.
func LockName(project, name string) string { return "loop-" + key(project, name) }

// ErrNoLoop is returned for a loop that has no clone.
var ErrNoLoop = errors.New("no such loop")

// Get returns the loop's record.
func (s Store) Get(project, name string) (Loop, error) {
	b, err := os.ReadFile(s.record(project, name))
	if errors.Is(err, os.ErrNotExist) {
		return Loop{}, fmt.Errorf("%w: %s has no loop %q with a clone", ErrNoLoop, project, name)
	}
	if err != nil {
		return Loop{}, fmt.Errorf("workspace: %w", err)
	}
	var l Loop
	if err := json.Unmarshal(b, &l); err != nil {
		return Loop{}, fmt.Errorf("workspace: record of loop %q: %w", name, err)
	}
	return l, nil
}

// List returns the project's loops that have a clone, by name.
func (s Store) List(project string) ([]Loop, error) {
	all, err := s.all()
	var out []Loop
	for _, l := range all {
		if l.Project == project {
			out = append(out, l)
		}
	}
	return out, err
}

// all reads every loop's record, by name (a record whose contents do
// not match its file name is skipped).
func (s Store) all() ([]Loop, error) {
	paths, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Loop
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var l Loop
		if json.Unmarshal(b, &l) == nil && s.record(l.Project, l.Name) == p {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ByDir maps each clone's folder to its loop.
func (s Store) ByDir() map[string]Loop {
	all, _ := s.all()
	m := make(map[string]Loop, len(all))
	for _, l := range all {
		m[l.Dir] = l
	}
	return m
}

// Pick returns the loop named, or with no name the project's only loop
// (the default one when there are several and it is among them).
func (s Store) Pick(project, name string) (Loop, error) {
	if name != "" {
		return s.Get(project, name)
	}
	loops, err := s.List(project)
	if err != nil {
		return Loop{}, err
	}
	switch {
	case len(loops) == 1:
		return loops[0], nil
	case len(loops) == 0:
		return Loop{}, fmt.Errorf("%w: no loop of %s has a clone (ralph --workspace clone makes one)", ErrNoLoop, project)
	}
	var names []string
	for _, l := range loops {
		if l.Name == DefaultLoop {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return Loop{}, fmt.Errorf("%w: %s has several loops (%s): name one", ErrNoLoop, project, strings.Join(names, ", "))
}

func (s Store) save(l Loop) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.record(l.Project, l.Name) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	return os.Rename(tmp, s.record(l.Project, l.Name))
}
