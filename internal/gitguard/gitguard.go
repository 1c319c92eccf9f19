// Package gitguard keeps the agent from planting commands that the user's
// own git runs on the host. The project, .git included, is shared
// read-write with the sandbox; a hook in .git/hooks, or core.fsmonitor,
// core.sshCommand, an alias or a filter driver in .git/config, would run
// at the user's next git command, outside every sandbox. Mounting those
// read-only does not hold (the agent can rename .git away and make its
// own), so ralph checks on the host instead: it notes .git/config and the
// hooks before the run and after every iteration puts back what the agent
// changed there that names a command. Settings that run nothing
// (user.email, say) are left as the agent set them.
package gitguard

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ralphloop/ralph/internal/wsfile"
)

// Snapshot is what the guard noted of a repository.
type Snapshot struct {
	dir    string // the project
	git    bool   // .git is a real folder
	config []byte // .git/config as it was (nil: none)
	hooks  map[string][32]byte
}

const (
	maxConfig = 1 << 20
	maxHooks  = 256
	tooMany   = "\x00too many" // a marker, never a file name
)

// Take notes .git/config and .git/hooks of the project in ws.
func Take(ws *wsfile.Workspace) Snapshot {
	s := Snapshot{dir: ws.Dir(), hooks: map[string][32]byte{}}
	st, err := os.Lstat(filepath.Join(s.dir, ".git"))
	if err != nil || !st.IsDir() {
		return s
	}
	s.git = true
	if b, err := ws.ReadFile(".git/config", maxConfig); err == nil {
		s.config = b
	}
	s.hooks = hooks(ws)
	return s
}

// hooks lists the active hooks (not *.sample) with their content's hash; a
// hook that is not a regular file hashes to zero.
func hooks(ws *wsfile.Workspace) map[string][32]byte {
	out := map[string][32]byte{}
	// Listed beneath the project only (a .git/hooks linked out of it is
	// not followed), and bounded: each hook is read every iteration.
	entries, _ := ws.ReadDir(filepath.Join(".git", "hooks"), maxHooks+1)
	if len(entries) > maxHooks {
		out[tooMany] = [32]byte{}
		return out
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sample") {
			continue
		}
		var sum [32]byte
		if b, err := ws.ReadFile(filepath.Join(".git", "hooks", e.Name()), maxConfig); err == nil {
			sum = sha256.Sum256(b)
		}
		out[e.Name()] = sum
	}
	return out
}

// Repair compares the repository with the snapshot and undoes what names
// a command: a new or changed hook is removed, and
// a config that gained a command-running setting is written back as it
// was. It returns what it undid, and an error for what it cannot undo (a
// .git the agent replaced or removed: the run must stop).
func (s Snapshot) Repair(ws *wsfile.Workspace) ([]string, error) {
	if !s.git {
		return nil, nil
	}
	st, err := os.Lstat(filepath.Join(s.dir, ".git"))
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: .git was removed or replaced by something that is not a folder: the agent's own repository may run commands at your next git command; look before you run git there", wsfile.ErrRefused)
	}
	var undone []string
	now := hooks(ws)
	if _, ok := now[tooMany]; ok {
		return nil, fmt.Errorf("%w: more than %d entries in .git/hooks: ralph does not sort them out; look before you run git there", wsfile.ErrRefused, maxHooks)
	}
	names := make([]string, 0, len(now))
	for n := range now {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		was, existed := s.hooks[n]
		if existed && was == now[n] {
			continue
		}
		p := filepath.Join(".git", "hooks", n)
		if err := ws.RemoveAll(p); err != nil {
			return undone, fmt.Errorf(".git/hooks/%s: %w", n, err)
		}
		undone = append(undone, fmt.Sprintf("removed the hook .git/hooks/%s the agent %s", n, map[bool]string{true: "changed", false: "added"}[existed]))
	}
	cur, err := ws.ReadFile(".git/config", maxConfig)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// Replaced by a link, a FIFO, something huge: put the old one back.
		cur = nil
	}
	if bytes.Equal(cur, s.config) {
		return undone, nil
	}
	if added := dangerous(cur, s.config); len(added) > 0 || err != nil {
		if s.config == nil {
			if rerr := ws.RemoveAll(".git/config"); rerr != nil {
				return undone, rerr
			}
		} else if werr := ws.WriteFile(".git/config", s.config, 0o644); werr != nil {
			return undone, werr
		}
		what := strings.Join(added, ", ")
		if what == "" {
			what = "it was no longer a regular file"
		}
		undone = append(undone, "put .git/config back as it was before the run ("+what+")")
	}
	return undone, nil
}

// dangerous lists the settings in cfg, absent from old, that make git run
// a command.
func dangerous(cfg, old []byte) []string {
	before := map[string]bool{}
	for _, kv := range settings(old) {
		before[kv] = true
	}
	var out []string
	for _, kv := range settings(cfg) {
		if before[kv] {
			continue
		}
		if k, _, _ := strings.Cut(kv, "="); runsCommand(k) {
			out = append(out, k)
		}
	}
	return out
}

// settings reads a git config file into "section.sub.key=value" lines
// (lower-cased section and key, as git compares them).
func settings(cfg []byte) []string {
	var out []string
	section := ""
	for _, line := range strings.Split(string(cfg), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.LastIndexByte(line, ']')
			if end < 0 {
				end = len(line)
			}
			head := strings.TrimSpace(line[1:end])
			name, sub, hasSub := strings.Cut(head, " ")
			section = strings.ToLower(name)
			if hasSub {
				section += "." + strings.Trim(strings.TrimSpace(sub), `"`)
			}
			if rest := strings.TrimSpace(line[min(end+1, len(line)):]); rest != "" {
				line = rest // a key on the same line as its section
			} else {
				continue
			}
		}
		k, v, _ := strings.Cut(line, "=")
		out = append(out, section+"."+strings.ToLower(strings.TrimSpace(k))+"="+strings.TrimSpace(v))
	}
	return out
}

// runsCommand reports config keys whose value git runs (or that pull in
// other config that could).
func runsCommand(key string) bool {
	k := strings.ToLower(key)
	last := k[strings.LastIndexByte(k, '.')+1:]
	switch {
	case strings.HasPrefix(k, "alias."), strings.HasPrefix(k, "include."), strings.HasPrefix(k, "includeif."):
		return true
	case strings.HasPrefix(k, "filter.") || strings.HasPrefix(k, "merge.") || strings.HasPrefix(k, "diff.") || strings.HasPrefix(k, "difftool.") || strings.HasPrefix(k, "mergetool.") || strings.HasPrefix(k, "credential"):
		return true // drivers, textconv, external tools, helpers
	case strings.HasPrefix(k, "core."):
		switch last {
		case "fsmonitor", "sshcommand", "hookspath", "pager", "editor", "askpass", "gitproxy", "worktree", "alternaterefscommand":
			return true
		}
	case strings.HasPrefix(k, "gpg."), strings.HasPrefix(k, "ssh."):
		return strings.HasSuffix(last, "program") || last == "defaultkeycommand"
	case k == "sequence.editor", k == "uploadpack.packobjectshook", strings.HasPrefix(k, "remote.") && (last == "receivepack" || last == "uploadpack" || last == "vcs"),
		strings.HasPrefix(k, "pager."), strings.HasPrefix(k, "protocol."), k == "extensions.worktreeconfig", strings.HasPrefix(k, "submodule.") && last == "update":
		return true
	}
	return false
}
