// Package config reads ralph's config files, whose keys are the long
// names of ralph run's flags: the project's .ralph/config.toml (written by
// the agent too, so a key that reaches the host is obeyed only as the
// user approved it; decision 007) and the user's own
// ~/.config/ralph/config.toml (always obeyed). A value from a file fills
// a flag the command line left unset.
package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/trust"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// ProjectPath is where a project's settings live, inside the workspace.
const ProjectPath = ".ralph/config.toml"

// ErrInvalid is a config file ralph cannot use (a syntax error, an
// unknown key, a value of the wrong kind): a usage error.
var ErrInvalid = errors.New("invalid config")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// UntrustedError is the refusal of project settings the user has not
// approved: nothing was started.
type UntrustedError struct {
	Changes    []trust.Change
	UserConfig string // where the user's own settings go
}

func (e *UntrustedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sets what runs on the host or how strong the sandbox is, and you have not approved it:\n", ProjectPath)
	for _, c := range e.Changes {
		was := "new"
		if c.Was != "" {
			was = "approved: " + c.Was
		}
		fmt.Fprintf(&b, "    %s = %s    (%s)\n", c.Key, c.Now, was)
	}
	b.WriteString("  The agent can write this file. Nothing was started.\n")
	b.WriteString("  If these lines are yours, approve them with: ralph trust   (or pass them as flags, or move them to " + e.UserConfig + ")")
	return b.String()
}

// RefusedError is a workspace file ralph will not read (a symlink out, a
// FIFO, too big): it is wsfile.ErrRefused, shown safely with a hint.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string {
	return termsafe.String(e.Err.Error()) + " (a file in the project that ralph will not read; the agent may have planted it)"
}
func (e *RefusedError) Is(target error) bool { return target == wsfile.ErrRefused }
func (e *RefusedError) Unwrap() error        { return e.Err }

// File is one parsed config file whose keys are the long names of
// ralph run's flags:
//
//	max-iterations = 50
//	agent = "codex"
//	env = ["GITHUB_TOKEN"]
//	agent-args = ["--model", "gpt-5.5"]
type File struct {
	show string // the path as messages name it
	data []byte
	raw  map[string]any
}

// parseConfig parses data; a malformed file is a usage error naming the
// file and line.
func Parse(show string, data []byte) (*File, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, invalid("config %s:%d: %s", show, pe.Position.Line, termsafe.String(pe.Message))
		}
		return nil, invalid("config %s: %s", show, termsafe.String(err.Error()))
	}
	return &File{show: show, data: data, raw: raw}, nil
}

// exempt reports the keys that cannot reach the host or weaken the
// sandbox, which a project's file may set without the user's approval:
// the agent's own arguments (they run inside), retries and waits, and how
// ralph prints. Every other key (commands, host variables, the backend,
// the image, paths, limits, budgets, the gate's defaults) is obeyed from
// a project's file only as the user approved it (decision 007).
func exempt(key string) bool {
	switch key {
	case "agent-args", "trust-complete", "engine-wait", "max-retries", "stall-after", "no-wait",
		"retry-backoff", "limit-backoff", "json", "quiet", "fresh":
		return true
	}
	return false
}

// narrows reports a setting that only takes from what the agent
// reaches, which a project's file may make without approval: the agent on
// a clone of its own instead of the user's folder.
func narrows(key string, vals []string) bool {
	return key == "workspace" && len(vals) == 1 && vals[0] == "clone"
}

// keys returns the file's keys, sorted, after checking each names a flag.
func (c *File) keys(fs *pflag.FlagSet) ([]string, error) {
	names := make([]string, 0, len(c.raw))
	for k := range c.raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if f := fs.Lookup(k); f == nil || k == "help" {
			return nil, invalid("config %s:%d: unknown key %q (keys are the long flag names: see ralph --help)", c.show, keyLine(c.data, k), k)
		}
	}
	return names, nil
}

// hostSettings returns what the file sets that needs the user's approval:
// keys not exempt, not given on the command line (when cli is true), with
// a value other than the flag's default.
func (c *File) HostSettings(fs *pflag.FlagSet, cli bool) (trust.Settings, error) {
	names, err := c.keys(fs)
	if err != nil {
		return nil, err
	}
	out := trust.Settings{}
	for _, k := range names {
		f := fs.Lookup(k)
		if exempt(k) || (cli && f.Changed) {
			continue
		}
		vals, err := values(c.raw[k], f.Value.Type())
		if err != nil {
			return nil, invalid("config %s:%d: %s: %v", c.show, keyLine(c.data, k), k, err)
		}
		if isDefault(f, vals) || narrows(k, vals) {
			continue
		}
		out[k] = showValue(c.raw[k])
	}
	return out, nil
}

// apply sets every flag not given on the command line and not in skip;
// it returns the keys it set.
func (c *File) apply(fs *pflag.FlagSet, skip map[string]bool) (map[string]bool, error) {
	names, err := c.keys(fs)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, k := range names {
		f := fs.Lookup(k)
		if f.Changed || skip[k] {
			continue
		}
		line := keyLine(c.data, k)
		vals, err := values(c.raw[k], f.Value.Type())
		if err != nil {
			return nil, invalid("config %s:%d: %s: %v", c.show, line, k, err)
		}
		for _, v := range vals {
			if err := f.Value.Set(v); err != nil {
				return nil, invalid("config %s:%d: %s: %s", c.show, line, k, termsafe.String(err.Error()))
			}
		}
		set[k] = true
	}
	return set, nil
}

// ReadProject reads and parses the project's config through the
// workspace; nil when there is none.
func ReadProject(ws *wsfile.Workspace) (*File, error) {
	data, err := ws.ReadFile(ProjectPath, wsfile.MaxConfig)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &RefusedError{Err: err}
	}
	return Parse(ProjectPath, data)
}

// Loader reads the config files of one user.
type Loader struct {
	Trust    trust.Store // the user's approvals
	UserPath string      // the user's own config.toml
}

// Load applies, to every flag not given on the command line, the
// project's config (only as far as the user approved it) and then the
// user's own config. A project setting that reaches the host and is not
// approved stops ralph before anything starts (exit 77).
// It returns the keys the files set.
//
// In a fleet's pod (--sandbox pod) there is no user to approve anything:
// the pod is the boundary, and the project's config is obeyed as it
// stands (pass approve to skip the check).
func (l Loader) Load(fs *pflag.FlagSet, ws *wsfile.Workspace, approve bool) (map[string]bool, error) {
	proj, err := ReadProject(ws)
	if err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	if proj != nil && approve {
		if applied, err = proj.apply(fs, nil); err != nil {
			return nil, err
		}
	} else if proj != nil {
		want, err := proj.HostSettings(fs, true)
		if err != nil {
			return nil, err
		}
		approved, err := l.Trust.Approved(ws.Dir())
		if err != nil {
			return nil, err
		}
		if ch := trust.Unapproved(approved, want); len(ch) > 0 {
			return nil, &UntrustedError{Changes: ch, UserConfig: l.UserPath}
		}
		if applied, err = proj.apply(fs, nil); err != nil {
			return nil, err
		}
	}
	data, err := wsfile.ReadOutside(l.UserPath, wsfile.MaxConfig)
	if errors.Is(err, os.ErrNotExist) {
		return applied, nil
	}
	if err != nil {
		return nil, invalid("config: %v", err)
	}
	user, err := Parse(l.UserPath, data)
	if err != nil {
		return nil, err
	}
	more, err := user.apply(fs, applied)
	for k := range more {
		applied[k] = true
	}
	return applied, err
}

// isDefault reports whether vals leave the flag as its default does.
func isDefault(f *pflag.Flag, vals []string) bool {
	t := f.Value.Type()
	if strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice") {
		return len(vals) == 0 && (f.DefValue == "[]" || f.DefValue == "")
	}
	return len(vals) == 1 && vals[0] == f.DefValue
}

// showValue is a TOML value as approvals record and messages show it:
// strings quoted with every control character escaped.
func showValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v) // numbers and booleans
}

// values turns a TOML value into the strings flag.Set takes.
func values(v any, typ string) ([]string, error) {
	switch x := v.(type) {
	case []any:
		if !strings.HasSuffix(typ, "Array") && !strings.HasSuffix(typ, "Slice") {
			return nil, fmt.Errorf("want a single %s, not a list", typ)
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("want a value, not a table")
	case string:
		if numeric(typ) || typ == "bool" {
			return nil, fmt.Errorf("want a %s, not a string", typ)
		}
		return []string{x}, nil
	case int64:
		if !numeric(typ) {
			return nil, fmt.Errorf("want a %s, not a number", typ)
		}
		return []string{strconv.FormatInt(x, 10)}, nil
	case float64:
		if !strings.HasPrefix(typ, "float") {
			return nil, fmt.Errorf("want a %s, not %v", typ, x)
		}
		return []string{strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case bool:
		if typ != "bool" {
			return nil, fmt.Errorf("want a %s, not true/false", typ)
		}
		return []string{strconv.FormatBool(x)}, nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

func numeric(typ string) bool {
	switch typ {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return true
	}
	return false
}

// keyLine finds the line where key is set, for error messages.
func keyLine(data []byte, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, l := range strings.Split(string(data), "\n") {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 1
}

// Review is what the project's config sets that needs the user's
// approval (every key that reaches the host, at its value in the file)
// and which of those settings the user has not approved as they stand.
func Review(ws *wsfile.Workspace, fs *pflag.FlagSet, store trust.Store) (want trust.Settings, pending []trust.Change, err error) {
	cfg, err := ReadProject(ws)
	if err != nil {
		return nil, nil, err
	}
	want = trust.Settings{}
	if cfg != nil {
		if want, err = cfg.HostSettings(fs, false); err != nil {
			return nil, nil, err
		}
	}
	approved, err := store.Approved(ws.Dir())
	if err != nil {
		return nil, nil, err
	}
	return want, trust.Unapproved(approved, want), nil
}

// Approve approves the project's config as it stands (or forgets the
// approval when it sets nothing that needs one); it returns what was
// approved.
func Approve(ws *wsfile.Workspace, fs *pflag.FlagSet, store trust.Store) (trust.Settings, error) {
	want, _, err := Review(ws, fs, store)
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return want, store.Revoke(ws.Dir())
	}
	return want, store.Approve(ws.Dir(), want)
}
