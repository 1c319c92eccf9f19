package policyfile

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

func host(t *testing.T, s string) policy.Host {
	h, err := policy.ParseHost(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func patterns(rs []policy.Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Action)+" "+r.Pattern+" ("+r.Source+")")
	}
	return out
}

func TestStore(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if _, err := s.Add(Global, policy.Allow, policy.SplitList("*.npmjs.org, GitHub.com")); err != nil {
		t.Fatal(err)
	}
	s.Add(Global, policy.Allow, []string{"github.com"}) // no duplicate
	if _, err := s.Add("ralph-claude-app-12345678", policy.Deny, []string{"github.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(Global, policy.Allow, []string{"ok.com", "bad pattern"}); err == nil {
		t.Error("an invalid pattern was accepted")
	}
	if _, err := s.Add("../escape", policy.Allow, []string{"x.com"}); err == nil {
		t.Error("a path as sandbox name was accepted")
	}
	g, _ := s.Rules(Global)
	if diff := cmp.Diff([]string{"allow *.npmjs.org (global)", "allow github.com (global)"}, patterns(g)); diff != "" {
		t.Errorf("global (-want +got):\n%s", diff)
	}
	eff, err := s.Effective("ralph-claude-app-12345678", AgentRules("claude", []string{"api.anthropic.com"}))
	if err != nil {
		t.Fatal(err)
	}
	p := policy.Compile(eff)
	if d := p.Decide(host(t, "github.com"), 443); d.Allowed || d.Rule.Source != "ralph-claude-app-12345678" {
		t.Errorf("per-sandbox deny did not beat the global allow: %s", d.Reason())
	}
	if !p.Decide(host(t, "api.anthropic.com"), 443).Allowed {
		t.Error("agent host not allowed")
	}
	n, err := s.Remove(Global, []string{"GITHUB.com"})
	if err != nil || n != 1 {
		t.Errorf("remove = %d, %v", n, err)
	}
	scopes, _ := s.Scopes()
	if diff := cmp.Diff([]string{"ralph-claude-app-12345678"}, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestWatcherSeesChanges(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	w := &Watcher{Store: s, Name: "box", Interval: time.Millisecond}
	h := host(t, "example.com")
	if w.Current().Decide(h, 443).Allowed {
		t.Fatal("allowed before any rule")
	}
	s.Add("box", policy.Allow, []string{"example.com"})
	time.Sleep(5 * time.Millisecond)
	if !w.Current().Decide(h, 443).Allowed {
		t.Fatal("a new allow did not reach the watcher")
	}
	s.Add(Global, policy.Deny, []string{"**"})
	time.Sleep(5 * time.Millisecond)
	if w.Current().Decide(h, 443).Allowed {
		t.Fatal("a new global deny did not reach the watcher")
	}
}

// TestReloadIgnoresTheInterval: within the interval Current keeps the
// policy it has, Reload looks at the files at once.
func TestReloadIgnoresTheInterval(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	w := &Watcher{Store: s, Name: "box", Interval: time.Hour}
	h := host(t, "example.com")
	w.Current()
	s.Add("box", policy.Allow, []string{"example.com"})
	if w.Current().Decide(h, 443).Allowed {
		t.Fatal("Current looked at the files within its interval")
	}
	if !w.Reload().Decide(h, 443).Allowed {
		t.Fatal("Reload did not see the new allow")
	}
}

func TestEndpointRules(t *testing.T) {
	env := map[string]string{
		"ANTHROPIC_BASE_URL": "http://localhost:11434",
		"OPENAI_BASE_URL":    "https://llm-gateway.corp.example/v1",
		"OTHER":              "https://not-an-endpoint.example",
	}
	rules, err := EndpointRules("claude", env, []string{"ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "UNSET"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, string(r.Action)+" "+r.Pattern+" ("+r.Source+")")
	}
	want := []string{"allow localhost:11434 (agent claude ANTHROPIC_BASE_URL)", "allow 127.0.0.1:11434 (agent claude ANTHROPIC_BASE_URL)",
		"allow [::1]:11434 (agent claude ANTHROPIC_BASE_URL)", "allow llm-gateway.corp.example:443 (agent claude OPENAI_BASE_URL)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rules = %q, want %q", got, want)
	}
	for _, bad := range []string{"localhost:11434", "ftp://x.example", "http://", "http://exa mple.com"} {
		if _, err := EndpointRules("claude", map[string]string{"ANTHROPIC_BASE_URL": bad}, []string{"ANTHROPIC_BASE_URL"}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// The loopback at that port only.
	p := policy.Compile(rules)
	if !p.AllowsAddr(netip.MustParseAddr("127.0.0.1"), 11434) || !p.AllowsAddr(netip.MustParseAddr("::1"), 11434) || p.AllowsAddr(netip.MustParseAddr("127.0.0.1"), 22) {
		t.Errorf("localhost endpoint: the loopback at 11434 only, got %+v", rules)
	}
	// An address endpoint is an address rule: the one way to a private
	// address through the gate.
	rules, _ = EndpointRules("codex", map[string]string{"OPENAI_BASE_URL": "http://10.0.0.5:8000/v1"}, []string{"OPENAI_BASE_URL"})
	if len(rules) != 1 || !policy.Compile(rules).AllowsAddr(netip.MustParseAddr("10.0.0.5"), 8000) {
		t.Errorf("an address endpoint: %+v", rules)
	}
}
