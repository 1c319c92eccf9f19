// Package policyfile stores the network gate's rules on disk: global rules
// and per-sandbox rules in the user's config directory (never in a
// workspace a sandbox can write), written atomically, and watched so a
// change reaches new connections without a restart.
package policyfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ralphloop/ralph/internal/atomicfile"
	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// Global is the scope name of the global rules.
const Global = ""

// Store is a directory of policy files: global.json and
// sandboxes/<name>.json.
type Store struct{ Dir string }

type file struct {
	Version int           `json:"version"`
	Rules   []policy.Rule `json:"rules"`
}

var validScope = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,200}$`)

// Path is the file of a scope.
func (s Store) Path(scope string) (string, error) {
	if scope == Global {
		return filepath.Join(s.Dir, "global.json"), nil
	}
	if !validScope.MatchString(scope) {
		return "", fmt.Errorf("%w: sandbox name %q", policy.ErrInvalid, scope)
	}
	return filepath.Join(s.Dir, "sandboxes", scope+".json"), nil
}

func scopeName(scope string) string {
	if scope == Global {
		return "global"
	}
	return scope
}

// Rules returns the rules of one scope (none when it has no file).
func (s Store) Rules(scope string) ([]policy.Rule, error) {
	p, err := s.Path(scope)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out, err := Decode(data, scope)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p, err)
	}
	return out, nil
}

// Decode parses a policy file's content; the rules' Source is the scope.
func Decode(data []byte, scope string) ([]policy.Rule, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	out := make([]policy.Rule, 0, len(f.Rules))
	for _, r := range f.Rules {
		pr, err := policy.ParseRule(r.Action, r.Pattern, scopeName(scope))
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// Encode is the content of a policy file holding rules.
func Encode(rules []policy.Rule) ([]byte, error) {
	f := file{Version: 1, Rules: make([]policy.Rule, 0, len(rules))}
	for _, r := range rules {
		f.Rules = append(f.Rules, policy.Rule{Action: r.Action, Pattern: r.Pattern})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	return append(data, '\n'), err
}

// Digest names a policy file's content in logs ("sha256:" and 16 hex
// digits): what a gate says it loaded and what a writer waits for.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Merge returns have plus the rules of add it does not hold yet.
func Merge(have, add []policy.Rule) []policy.Rule {
	out := append([]policy.Rule{}, have...)
	for _, r := range add {
		dup := false
		for _, x := range out {
			if x.Action == r.Action && x.Pattern == r.Pattern {
				dup = true
			}
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}

// Add adds rules for patterns to a scope. Every pattern is checked
// before anything is written; a rule already there is not repeated.
func (s Store) Add(scope string, a policy.Action, patterns []string) ([]policy.Rule, error) {
	var add []policy.Rule
	for _, p := range patterns {
		r, err := policy.ParseRule(a, p, scopeName(scope))
		if err != nil {
			return nil, err
		}
		add = append(add, r)
	}
	rules, err := s.Rules(scope)
	if err != nil {
		return nil, err
	}
	return add, s.write(scope, Merge(rules, add))
}

// Remove removes the rules (allow or deny) with these patterns and
// returns how many went.
func (s Store) Remove(scope string, patterns []string) (int, error) {
	rules, err := s.Rules(scope)
	if err != nil {
		return 0, err
	}
	keep, err := Without(rules, patterns)
	if err != nil {
		return 0, err
	}
	n := len(rules) - len(keep)
	if n == 0 {
		return 0, nil
	}
	return n, s.write(scope, keep)
}

// Without returns rules minus those (allow or deny) with these patterns,
// compared in their canonical form.
func Without(rules []policy.Rule, patterns []string) ([]policy.Rule, error) {
	canon := map[string]bool{}
	for _, p := range patterns {
		r, err := policy.ParseRule(policy.Allow, p, "")
		if err != nil {
			return nil, err
		}
		canon[r.Pattern] = true
	}
	var keep []policy.Rule
	for _, r := range rules {
		if !canon[r.Pattern] {
			keep = append(keep, r)
		}
	}
	return keep, nil
}

// Scopes lists the sandboxes that have rules of their own.
func (s Store) Scopes() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, "sandboxes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, err
}

// AgentRules are the default allow rules for an agent's API hosts.
func AgentRules(agent string, hosts []string) []policy.Rule {
	var out []policy.Rule
	for _, h := range hosts {
		if r, err := policy.ParseRule(policy.Allow, h, "agent "+agent); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// Effective returns what applies to a sandbox: the agent's defaults, the
// global rules, the sandbox's own.
func (s Store) Effective(name string, defaults []policy.Rule) ([]policy.Rule, error) {
	g, err := s.Rules(Global)
	if err != nil {
		return nil, err
	}
	own, err := s.Rules(name)
	if err != nil {
		return nil, err
	}
	out := append(append(append([]policy.Rule{}, defaults...), g...), own...)
	return out, nil
}

// write replaces a scope's file atomically: a temporary file in the same
// directory, synced, then renamed over the old one.
func (s Store) write(scope string, rules []policy.Rule) error {
	p, err := s.Path(scope)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	data, err := Encode(rules)
	if err != nil {
		return err
	}
	return atomicfile.Write(p, data, 0o600)
}

// EndpointRules allow, for an agent pointed at another API endpoint, the
// host and port of each base URL in env under vars (ANTHROPIC_BASE_URL
// and the like, set by the user on the host): an LLM gateway, a mirror,
// a local model server. http://localhost:11434 gives localhost:11434 and
// the loopback addresses at that port (127.0.0.1:11434, [::1]:11434): the
// host's loopback at that port only.
// A value that is not an http(s) URL with a host is an error.
func EndpointRules(agent string, env map[string]string, vars []string) ([]policy.Rule, error) {
	var out []policy.Rule
	for _, k := range vars {
		v, ok := env[k]
		if !ok || v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, fmt.Errorf("%s=%q: want an http:// or https:// URL with a host", k, v)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		patterns := []string{net.JoinHostPort(u.Hostname(), port)}
		if strings.EqualFold(u.Hostname(), "localhost") {
			// localhost resolves to the loopback, which the gate reaches
			// only under an address rule: the two rules a user would write.
			patterns = append(patterns, "127.0.0.1:"+port, "[::1]:"+port)
		}
		for _, pat := range patterns {
			r, err := policy.ParseRule(policy.Allow, pat, "agent "+agent+" "+k)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: %w", k, v, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}
