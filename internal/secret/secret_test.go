package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStoreKeepsValuesPrivate(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "secrets")}
	if err := s.Set(Secret{Name: "anthropic", Value: "sk-ant-1"}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.Dir)
	fst, _ := os.Stat(filepath.Join(s.Dir, "anthropic.json"))
	if st.Mode().Perm() != 0o700 || fst.Mode().Perm() != 0o600 {
		t.Errorf("folder %v, file %v: want 0700 and 0600", st.Mode().Perm(), fst.Mode().Perm())
	}
	got, err := s.Get("anthropic")
	if err != nil || got.Value != "sk-ant-1" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	names, _ := s.Names()
	if diff := cmp.Diff([]string{"anthropic"}, names); diff != "" {
		t.Error(diff)
	}
	if err := s.Remove("anthropic"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("anthropic"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after rm: %v", err)
	}
}

func TestStoreRefusesNamesOutOfItsFolder(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	for _, n := range []string{"../x", "a/b", "", ".hidden", "UPPER", strings.Repeat("a", 65)} {
		if err := s.Set(Secret{Name: n, Value: "v"}); err == nil {
			t.Errorf("Set(%q) accepted", n)
		}
	}
	if err := s.Set(Secret{Name: "both", Value: "v", FromCommand: "echo v"}); err == nil {
		t.Error("a value and a command accepted together")
	}
	// A value that would break the header it goes into, or is too long.
	for _, v := range []string{"a\r\nX-Evil: 1", "nul\x00", "esc\x1b[2J", strings.Repeat("k", MaxValue+1)} {
		if err := s.Set(Secret{Name: "anthropic", Value: v}); err == nil {
			t.Errorf("Set(%.20q) accepted", v)
		}
	}
}

func TestResolveFromCommand(t *testing.T) {
	v, err := Secret{Name: "gh", FromCommand: "printf 'tok-123\\n'"}.Resolve(context.Background())
	if err != nil || v != "tok-123" {
		t.Errorf("Resolve = %q, %v", v, err)
	}
	for _, cmd := range []string{"exit 3", "true", "printf 'a\\nb\\n'", "printf 'k\\033[2J'"} {
		if _, err := (Secret{Name: "x", FromCommand: cmd}).Resolve(context.Background()); err == nil {
			t.Errorf("%q: no error", cmd)
		}
	}
}

func TestRoutesRewriteTheSandboxEnvironment(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	s.Set(Secret{Name: "anthropic", Value: "sk-ant-real"})
	s.Set(Secret{Name: "openai", Value: "sk-openai-real"})
	env := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-from-env", "CLAUDE_CODE_OAUTH_TOKEN": "oauth", "ANTHROPIC_MODEL": "m"}
	rs, err := s.Routes(context.Background(), "claude", env)
	if err != nil || len(rs) != 1 {
		t.Fatalf("Routes = %+v, %v", rs, err)
	}
	want := map[string]string{"ANTHROPIC_API_KEY": Placeholder("anthropic"), "ANTHROPIC_BASE_URL": "http://anthropic.secret.invalid", "ANTHROPIC_MODEL": "m"}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	c := rs[0].Credential
	if c.Value != "sk-ant-real" || c.Header != "x-api-key" || c.Upstream.String() != "https://api.anthropic.com" || c.Host != "anthropic.secret.invalid" {
		t.Errorf("credential %+v", c)
	}
	// codex: the user's own endpoint is the upstream; a bearer token.
	env = map[string]string{"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://localhost:8080/v1"}
	rs, err = s.Routes(context.Background(), "codex", env)
	if err != nil || len(rs) != 1 || rs[0].Credential.Upstream.String() != "http://localhost:8080/v1" || rs[0].Credential.Value != "Bearer sk-openai-real" {
		t.Fatalf("codex routes %+v, %v", rs, err)
	}
	if _, ok := env["OPENAI_API_KEY"]; ok || env["CODEX_API_KEY"] != Placeholder("openai") {
		t.Errorf("codex env %v", env)
	}
	// No secret for the agent: the environment is left alone.
	env = map[string]string{"GEMINI_API_KEY": "g"}
	if rs, _ := s.Routes(context.Background(), "gemini", env); len(rs) != 0 || env["GEMINI_API_KEY"] != "g" {
		t.Errorf("gemini: %v %v", rs, env)
	}
}

func TestRoutesRefuseTwoSecretsForOneAgent(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	s.Set(Secret{Name: "anthropic", Value: "k"})
	s.Set(Secret{Name: "claude-oauth", Value: "t"})
	if _, err := s.Routes(context.Background(), "claude", map[string]string{}); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Errorf("err = %v", err)
	}
}

// TestGitHubRouteForEveryAgent: git's token is used with any agent's
// own secret; git in the sandbox gets url.insteadOf for the server's
// https and ssh addresses after the variables already set, and no
// variable holds the token or a placeholder of it.
func TestGitHubRouteForEveryAgent(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	s.Set(Secret{Name: "github", Value: "ghp_real"})
	s.Set(Secret{Name: "anthropic", Value: "sk-ant-real"})
	env := map[string]string{"GITHUB_TOKEN": "ghp_env", "GH_TOKEN": "gho_env", "GIT_CONFIG_COUNT": "1",
		"GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "agent"}
	rs, err := s.Routes(context.Background(), "claude", env)
	if err != nil || len(rs) != 2 {
		t.Fatalf("Routes = %+v, %v", rs, err)
	}
	gh := rs[1]
	if gh.Kind.Name != "github" || gh.Credential.Value != "Basic eC1hY2Nlc3MtdG9rZW46Z2hwX3JlYWw=" || gh.Credential.Upstream.String() != "https://github.com" {
		t.Fatalf("github route %+v", gh.Credential)
	}
	want := map[string]string{
		"ANTHROPIC_API_KEY": Placeholder("anthropic"), "ANTHROPIC_BASE_URL": "http://anthropic.secret.invalid",
		"GIT_CONFIG_COUNT": "4", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "agent",
		"GIT_CONFIG_KEY_1": "url.http://github.secret.invalid/.insteadOf", "GIT_CONFIG_VALUE_1": "https://github.com/",
		"GIT_CONFIG_KEY_2": "url.http://github.secret.invalid/.insteadOf", "GIT_CONFIG_VALUE_2": "git@github.com:",
		"GIT_CONFIG_KEY_3": "url.http://github.secret.invalid/.insteadOf", "GIT_CONFIG_VALUE_3": "ssh://git@github.com/",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if !gh.Credential.Paths.MatchString("/o/r.git/git-receive-pack") || gh.Credential.Paths.MatchString("/settings/tokens") ||
		gh.Credential.Paths.MatchString("/o/r/info/refs/../../../x") {
		t.Error("the route's paths are not git's alone")
	}
	rules, err := gh.Rules()
	if err != nil || len(rules) != 1 || rules[0].Pattern != "github.com:443" {
		t.Errorf("rules %+v, %v", rules, err)
	}
	// GitHub Enterprise: the server the user names; a URL with
	// credentials in it, or a count git would not read, is refused.
	env = map[string]string{"GITHUB_SERVER_URL": "https://ghe.example.com"}
	if rs, err := s.Routes(context.Background(), "codex", env); err != nil || rs[0].Credential.Upstream.Host != "ghe.example.com" ||
		env["GIT_CONFIG_VALUE_0"] != "https://ghe.example.com/" || env["GITHUB_SERVER_URL"] != "" {
		t.Errorf("enterprise: %+v %v %v", rs, err, env)
	}
	for _, bad := range []map[string]string{{"GITHUB_SERVER_URL": "https://u:p@ghe.example.com"}, {"GIT_CONFIG_COUNT": "x"}} {
		if _, err := s.Routes(context.Background(), "codex", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// Without a gate, git's token is not passed in at all.
	env = map[string]string{}
	names, skipped, err := s.PassIn(context.Background(), "codex", env, nil)
	if err != nil || len(names) != 0 || fmt.Sprint(skipped) != "[github]" || len(env) != 0 {
		t.Errorf("PassIn = %v %v %v, env %v", names, skipped, err, env)
	}
}

// TestRoutesForOpencode: opencode's providers get the gate's route in
// opencode's own config, over the user's content there (whose other
// settings stay and whose written key goes); its key variables hold
// placeholders; several APIs at once are fine.
func TestRoutesForOpencode(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	s.Set(Secret{Name: "anthropic", Value: "sk-ant-real"})
	s.Set(Secret{Name: "openai", Value: "sk-openai-real"})
	env := map[string]string{"OPENAI_API_KEY": "sk-env", "CODEX_API_KEY": "x", "ANTHROPIC_API_KEY": "sk-ant-env",
		"OPENCODE_CONFIG_CONTENT": `{"model":"anthropic/claude-x","n":12345678901234567890,"provider":{"anthropic":{"options":{"apiKey":"sk-written","timeout":5}}}}`}
	rs, err := s.Routes(context.Background(), "opencode", env)
	if err != nil || len(rs) != 2 {
		t.Fatalf("Routes = %+v, %v", rs, err)
	}
	if rs[0].Credential.Value != "sk-ant-real" || rs[1].Credential.Value != "Bearer sk-openai-real" {
		t.Errorf("credentials %+v", rs)
	}
	cfg := env["OPENCODE_CONFIG_CONTENT"]
	delete(env, "OPENCODE_CONFIG_CONTENT")
	want := map[string]string{"ANTHROPIC_API_KEY": Placeholder("anthropic"), "OPENAI_API_KEY": Placeholder("openai")}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	wantCfg := `{"model":"anthropic/claude-x","n":12345678901234567890,"provider":{"anthropic":{"options":{"baseURL":"http://anthropic.secret.invalid/v1","timeout":5}},"openai":{"options":{"baseURL":"http://openai.secret.invalid"}}}}`
	if cfg != wantCfg {
		t.Errorf("config\n got %s\nwant %s", cfg, wantCfg)
	}
	for _, bad := range []string{"not json", `{"provider":[]}`, `{"provider":{"anthropic":{"options":"x"}}}`} {
		if _, err := s.Routes(context.Background(), "opencode", map[string]string{"OPENCODE_CONFIG_CONTENT": bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// claude's subscription token is no opencode credential.
	s.Remove("anthropic")
	s.Set(Secret{Name: "claude-oauth", Value: "t"})
	if kinds, _ := s.Stored("opencode"); len(kinds) != 1 || kinds[0].Name != "openai" {
		t.Errorf("opencode's stored secrets: %+v", kinds)
	}
}
