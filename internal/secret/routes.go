package secret

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/ralphloop/ralph/internal/netgate"
)

// Kind is a secret name ralph knows: which agent it authenticates, the
// variables that carry its key and base URL in the sandbox, and how the
// gate presents it to the API.
type Kind struct {
	Name  string // the secret's name: ralph secret set NAME
	Agent string
	// KeyVar gets the placeholder; Drop are the agent's other credential
	// variables, never passed in while the secret is used.
	KeyVar string
	Drop   []string
	// BaseVar points the agent at the gate's route; the API is the
	// user's own BaseVar when set on the host, else Upstream.
	BaseVar, Upstream string
	Header            string
	Bearer            bool // the header's value is "Bearer " + the secret
}

// Kinds are the secrets the gate injects, per agent (a fresh list each
// call: nothing can change it for the next caller).
func Kinds() []Kind {
	return []Kind{
		{Name: "anthropic", Agent: "claude", KeyVar: "ANTHROPIC_API_KEY", Drop: []string{"CLAUDE_CODE_OAUTH_TOKEN"},
			BaseVar: "ANTHROPIC_BASE_URL", Upstream: "https://api.anthropic.com", Header: "x-api-key"},
		{Name: "claude-oauth", Agent: "claude", KeyVar: "CLAUDE_CODE_OAUTH_TOKEN", Drop: []string{"ANTHROPIC_API_KEY"},
			BaseVar: "ANTHROPIC_BASE_URL", Upstream: "https://api.anthropic.com", Header: "Authorization", Bearer: true},
		{Name: "openai", Agent: "codex", KeyVar: "CODEX_API_KEY", Drop: []string{"OPENAI_API_KEY"},
			BaseVar: "OPENAI_BASE_URL", Upstream: "https://api.openai.com/v1", Header: "Authorization", Bearer: true},
		{Name: "gemini", Agent: "gemini", KeyVar: "GEMINI_API_KEY", Drop: []string{"GOOGLE_API_KEY"},
			BaseVar: "GOOGLE_GEMINI_BASE_URL", Upstream: "https://generativelanguage.googleapis.com", Header: "x-goog-api-key"},
	}
}

// Vars are the variables a run with this secret sets or keeps out of
// the sandbox: none of them passes in as the host has it.
func (k Kind) Vars() []string { return append([]string{k.KeyVar, k.BaseVar}, k.Drop...) }

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
}

// Stored are the kinds of agent's secrets that are stored (their values
// not read).
func (s Store) Stored(agent string) ([]Kind, error) {
	var out []Kind
	for _, k := range Kinds() {
		if k.Agent != agent {
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
	if len(kinds) > 1 {
		return nil, fmt.Errorf("secrets %s and %s both authenticate %s: keep one (ralph secret rm NAME)", kinds[0].Name, kinds[1].Name, agent)
	}
	var out []Route
	for i, k := range kinds {
		v := values[i]
		upstream := k.Upstream
		if u := env[k.BaseVar]; u != "" {
			upstream = u
		}
		up, err := url.Parse(upstream)
		if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
			return nil, fmt.Errorf("secret %s: the API %s=%q is not an http(s) URL", k.Name, k.BaseVar, upstream)
		}
		if k.Bearer {
			v = "Bearer " + v
		}
		for _, d := range k.Vars() {
			delete(env, d)
		}
		env[k.KeyVar] = Placeholder(k.Name)
		env[k.BaseVar] = "http://" + netgate.CredentialHost(k.Name)
		out = append(out, Route{Kind: k, Credential: netgate.Credential{Name: k.Name, Host: netgate.CredentialHost(k.Name), Upstream: up, Header: k.Header, Value: v}})
	}
	return out, nil
}

// PassIn puts the values of agent's stored secrets into env as they are
// (for a backend without ralph's gate), and returns their names.
func (s Store) PassIn(ctx context.Context, agent string, env map[string]string) ([]string, error) {
	kinds, values, err := s.stored(ctx, agent)
	if err != nil {
		return nil, err
	}
	var names []string
	for i, k := range kinds {
		env[k.KeyVar] = values[i]
		names = append(names, k.Name)
	}
	return names, nil
}
