package secret

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// Kind is a secret name ralph knows: which agent it authenticates, the
// variables that carry its key and base URL in the sandbox, and how the
// gate presents it to the API.
type Kind struct {
	Name  string // the secret's name: ralph secret set NAME
	Agent string // "" for every agent (git's token)
	// KeyVar gets the placeholder; Drop are the agent's other credential
	// variables, never passed in while the secret is used.
	KeyVar string
	Drop   []string
	// BaseVar points the agent at the gate's route; the API is the
	// user's own BaseVar when set on the host, else Upstream.
	BaseVar, Upstream string
	Header            string
	Bearer            bool   // the header's value is "Bearer " + the secret
	Basic             string // the header's value is HTTP Basic with this user and the secret
	// Git: the sandbox reaches the route through git's url.insteadOf
	// (GIT_CONFIG_* variables), for Upstream's https, ssh and scp-like
	// addresses; Paths (anchored) are the only paths it is added to.
	Git      bool
	Paths    string
	PathsSay string
	// Opencode is how opencode uses this secret, if it does: opencode
	// takes its providers' base URLs from its own config, not from a
	// variable.
	Opencode *Provider
}

// Provider is one of opencode's providers: its id in opencode's config,
// the key variable it reads, and the path its SDK's base URL has under
// the API's root.
type Provider struct{ ID, KeyVar, Path string }

// gitPaths are git's smart-HTTP requests (and Git LFS's API) under
// OWNER/REPO: what a token for git pushes and fetches, never the site.
const gitPaths = `^/[^/]+/[^/]+/(info/refs|git-upload-pack|git-receive-pack|info/lfs/[^?#]+)$`

// Kinds are the secrets the gate injects, per agent (a fresh list each
// call: nothing can change it for the next caller).
func Kinds() []Kind {
	return []Kind{
		{Name: "anthropic", Agent: "claude", KeyVar: "ANTHROPIC_API_KEY", Drop: []string{"CLAUDE_CODE_OAUTH_TOKEN"},
			BaseVar: "ANTHROPIC_BASE_URL", Upstream: "https://api.anthropic.com", Header: "x-api-key",
			Opencode: &Provider{ID: "anthropic", KeyVar: "ANTHROPIC_API_KEY", Path: "/v1"}},
		{Name: "claude-oauth", Agent: "claude", KeyVar: "CLAUDE_CODE_OAUTH_TOKEN", Drop: []string{"ANTHROPIC_API_KEY"},
			BaseVar: "ANTHROPIC_BASE_URL", Upstream: "https://api.anthropic.com", Header: "Authorization", Bearer: true},
		{Name: "openai", Agent: "codex", KeyVar: "CODEX_API_KEY", Drop: []string{"OPENAI_API_KEY"},
			BaseVar: "OPENAI_BASE_URL", Upstream: "https://api.openai.com/v1", Header: "Authorization", Bearer: true,
			Opencode: &Provider{ID: "openai", KeyVar: "OPENAI_API_KEY"}},
		{Name: "gemini", Agent: "gemini", KeyVar: "GEMINI_API_KEY", Drop: []string{"GOOGLE_API_KEY"},
			BaseVar: "GOOGLE_GEMINI_BASE_URL", Upstream: "https://generativelanguage.googleapis.com", Header: "x-goog-api-key",
			Opencode: &Provider{ID: "google", KeyVar: "GOOGLE_GENERATIVE_AI_API_KEY", Path: "/v1beta"}},
		{Name: "github", Drop: []string{"GITHUB_TOKEN", "GH_TOKEN"}, BaseVar: "GITHUB_SERVER_URL", Upstream: "https://github.com",
			Header: "Authorization", Basic: "x-access-token", Git: true, Paths: gitPaths, PathsSay: "git's smart-HTTP paths (OWNER/REPO/info/refs, git-upload-pack, git-receive-pack, info/lfs)"},
	}
}

// Vars are the variables a run with this secret sets or keeps out of
// the sandbox: none of them passes in as the host has it.
func (k Kind) Vars() []string {
	var out []string
	for _, v := range append([]string{k.KeyVar, k.BaseVar}, k.Drop...) {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// forAgent is k as agent uses it, if it does: opencode puts the
// placeholder in its provider's key variable and keeps every variable of
// the kind's own agent out.
func (k Kind) forAgent(agent string) (Kind, bool) {
	switch {
	case k.Agent == agent || k.Agent == "":
		k.Opencode = nil
		return k, true
	case agent == "opencode" && k.Opencode != nil:
		var drop []string
		for _, v := range append([]string{k.KeyVar}, k.Drop...) {
			if v != k.Opencode.KeyVar {
				drop = append(drop, v)
			}
		}
		k.KeyVar, k.Drop = k.Opencode.KeyVar, drop
		return k, true
	}
	return Kind{}, false
}

// KindOf is the kind named name, if ralph knows it.
func KindOf(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Placeholder is what the sandbox holds instead of the secret name.
func Placeholder(name string) string { return "ralph-secret-placeholder-" + name }

// Route is a secret put to use for a run.
type Route struct {
	Kind       Kind
	Credential netgate.Credential
	GitFrom    []string // for a Git kind: the remote addresses git takes the route for
}

// Stored are the kinds of agent's secrets that are stored (their values
// not read).
func (s Store) Stored(agent string) ([]Kind, error) {
	var out []Kind
	for _, k := range Kinds() {
		k, ok := k.forAgent(agent)
		if !ok {
			continue
		}
		if _, err := s.Get(k.Name); errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// stored are agent's stored secrets with their values.
func (s Store) stored(ctx context.Context, agent string) ([]Kind, []string, error) {
	kinds, err := s.Stored(agent)
	if err != nil {
		return nil, nil, err
	}
	values := make([]string, len(kinds))
	for i, k := range kinds {
		sec, err := s.Get(k.Name)
		if err != nil {
			return nil, nil, err
		}
		if values[i], err = sec.Resolve(ctx); err != nil {
			return nil, nil, err
		}
	}
	return kinds, values, nil
}

// Routes finds the stored secrets of agent, resolves them, and rewrites
// env (what enters the sandbox) for each: the placeholder in its key
// variable, the gate's route in its base URL variable, its other
// credential variables removed. The credentials are for the gate.
func (s Store) Routes(ctx context.Context, agent string, env map[string]string) ([]Route, error) {
	kinds, values, err := s.stored(ctx, agent)
	if err != nil {
		return nil, err
	}
	if err := oneEach(agent, kinds); err != nil {
		return nil, err
	}
	var out []Route
	for i, k := range kinds {
		upstream := k.Upstream
		if u := env[k.BaseVar]; u != "" {
			upstream = u
		}
		cred, err := k.credential(upstream, values[i])
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, k.BaseVar)
		}
		up := cred.Upstream
		r := Route{Kind: k, Credential: cred}
		if r.GitFrom, err = k.sandboxEnv(env, up); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// oneEach refuses two secrets for the same API of agent.
func oneEach(agent string, kinds []Kind) error {
	apis := map[string]string{} // base URL variable: the secret for that API
	for _, k := range kinds {
		if other, ok := apis[k.BaseVar]; ok {
			return fmt.Errorf("secrets %s and %s both authenticate %s's API: keep one (ralph secret rm NAME)", other, k.Name, agent)
		}
		apis[k.BaseVar] = k.Name
	}
	return nil
}

// sandboxEnv rewrites env (what enters the sandbox) to take k's route:
// its variables as the host has them removed, then the placeholder and
// the route in the agent's variables (or opencode's config), or git's
// url.insteadOf for the addresses of up (which it returns).
func (k Kind) sandboxEnv(env map[string]string, up *url.URL) (gitFrom []string, err error) {
	for _, d := range k.Vars() {
		delete(env, d)
	}
	route := "http://" + netgate.CredentialHost(k.Name)
	switch {
	case k.Git:
		gitFrom = gitAddresses(up)
		err = insteadOf(env, route, gitFrom)
	case k.Opencode != nil:
		env[k.KeyVar] = Placeholder(k.Name)
		err = opencodeBase(env, k.Opencode.ID, route+k.Opencode.Path)
	default:
		env[k.KeyVar] = Placeholder(k.Name)
		env[k.BaseVar] = route
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", k.Name, err)
	}
	return gitFrom, nil
}

// RouteEnv rewrites env for a sandbox whose gate holds the secrets named
// (a fleet's, from a Secret): as Routes does, without their values. Each
// name must be a secret agent uses; git's token is not offered (a fleet
// pushes with its own --git-secret).
func RouteEnv(agent string, names []string, env map[string]string) ([]Kind, error) {
	var kinds []Kind
	for _, n := range names {
		k, ok := KindOf(n)
		if ok {
			k, ok = k.forAgent(agent)
		}
		if !ok || k.Git {
			var can []string
			for _, k := range Kinds() {
				if k, ok := k.forAgent(agent); ok && !k.Git {
					can = append(can, k.Name)
				}
			}
			return nil, fmt.Errorf("secret %q is not one the gate can add for %s (it can: %s)", n, agent, strings.Join(can, ", "))
		}
		kinds = append(kinds, k)
	}
	if err := oneEach(agent, kinds); err != nil {
		return nil, err
	}
	for _, k := range kinds {
		up, _ := url.Parse(k.Upstream)
		if _, err := k.sandboxEnv(env, up); err != nil {
			return nil, err
		}
	}
	return kinds, nil
}

// Rules allow the route's upstream for a Git kind (storing git's token
// is asking for git to reach its server); an API's upstream is allowed
// as the agent's host or endpoint already. Deny rules still win.
func (r Route) Rules() ([]policy.Rule, error) {
	if !r.Kind.Git {
		return nil, nil
	}
	up := r.Credential.Upstream
	port := up.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[up.Scheme]
	}
	rule, err := policy.ParseRule(policy.Allow, net.JoinHostPort(up.Hostname(), port), "secret "+r.Kind.Name)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", r.Kind.Name, err)
	}
	return []policy.Rule{rule}, nil
}

// opencodeBase sets provider's base URL in opencode's config
// (OPENCODE_CONFIG_CONTENT, which opencode reads after its other
// configs), over what the user's own content there says, and removes a
// key written into it.
func opencodeBase(env map[string]string, provider, base string) error {
	cfg := map[string]any{}
	if c := env["OPENCODE_CONFIG_CONTENT"]; c != "" {
		dec := json.NewDecoder(strings.NewReader(c))
		dec.UseNumber()
		if err := dec.Decode(&cfg); err != nil {
			return fmt.Errorf("OPENCODE_CONFIG_CONTENT is not a JSON object (%v): ralph cannot add the gate's route to it", err)
		}
	}
	obj := func(m map[string]any, key string) (map[string]any, error) {
		v, ok := m[key]
		if !ok || v == nil {
			n := map[string]any{}
			m[key] = n
			return n, nil
		}
		n, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("OPENCODE_CONFIG_CONTENT: %q is not an object", key)
		}
		return n, nil
	}
	providers, err := obj(cfg, "provider")
	if err != nil {
		return err
	}
	p, err := obj(providers, provider)
	if err != nil {
		return err
	}
	opts, err := obj(p, "options")
	if err != nil {
		return err
	}
	opts["baseURL"] = base
	delete(opts, "apiKey")
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	env["OPENCODE_CONFIG_CONTENT"] = string(b)
	return nil
}

// credential is what the gate needs to add secret value to the
// requests for k's route, sent on to upstream (an http(s) URL without
// credentials in it).
func (k Kind) credential(upstream, value string) (netgate.Credential, error) {
	up, err := url.Parse(upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" || up.User != nil {
		return netgate.Credential{}, fmt.Errorf("secret %s: the API %q is not an http(s) URL without credentials", k.Name, upstream)
	}
	c := netgate.Credential{Name: k.Name, Host: netgate.CredentialHost(k.Name), Upstream: up, Header: k.Header, Value: k.headerValue(value)}
	if k.Paths != "" {
		c.Paths, c.PathsSay = regexp.MustCompile(k.Paths), k.PathsSay
	}
	return c, nil
}

// headerValue is what the header carries for the secret v.
func (k Kind) headerValue(v string) string {
	switch {
	case k.Bearer:
		return "Bearer " + v
	case k.Basic != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(k.Basic+":"+v))
	}
	return v
}

// gitAddresses are the ways a remote names up's repositories: its https
// (or http) URL, and ssh's two forms, which git then fetches over the
// gate's route instead (the sandbox has no ssh way out at all).
func gitAddresses(up *url.URL) []string {
	base := strings.TrimSuffix(up.String(), "/") + "/"
	return []string{base, "git@" + up.Hostname() + ":", "ssh://git@" + up.Hostname() + "/"}
}

// insteadOf makes git in the sandbox fetch and push every address in
// from over route (url.ROUTE/.insteadOf), through GIT_CONFIG_COUNT and
// GIT_CONFIG_KEY_n/VALUE_n after any the environment already sets (git
// 2.31 and later read them; no file in the workspace is written).
func insteadOf(env map[string]string, route string, from []string) error {
	n := 0
	if c, ok := env["GIT_CONFIG_COUNT"]; ok {
		var err error
		if n, err = strconv.Atoi(c); err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("GIT_CONFIG_COUNT=%q is not a count", c)
		}
	}
	for _, f := range from {
		env[fmt.Sprintf("GIT_CONFIG_KEY_%d", n)] = "url." + route + "/.insteadOf"
		env[fmt.Sprintf("GIT_CONFIG_VALUE_%d", n)] = f
		n++
	}
	env["GIT_CONFIG_COUNT"] = strconv.Itoa(n)
	return nil
}

// PassIn puts the values of agent's stored secrets into env as they are
// (for a backend without ralph's gate), and returns their names; skipped
// are the secrets that only a gate can use (git's token, which git
// reads from no variable), left out of the sandbox. keep, when set, is
// offered each secret first: when it takes one (a backend with its own
// credential proxy), its variables are kept out of env instead.
func (s Store) PassIn(ctx context.Context, agent string, env map[string]string, keep func(Kind, string) bool) (names, skipped []string, err error) {
	kinds, values, err := s.stored(ctx, agent)
	if err != nil {
		return nil, nil, err
	}
	for i, k := range kinds {
		switch {
		case keep != nil && keep(k, values[i]):
			for _, v := range k.Vars() {
				delete(env, v)
			}
		case k.KeyVar == "":
			skipped = append(skipped, k.Name)
		default:
			env[k.KeyVar] = values[i]
			names = append(names, k.Name)
		}
	}
	return names, skipped, nil
}
