package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

func TestPolicyCheckRun(t *testing.T) {
	f, tio := testFactory(t)
	store := f.policies()
	if _, err := store.Add("ralph-claude-app-12345678", policy.Allow, []string{"*.npmjs.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Add("", policy.Deny, []string{"evil.npmjs.org"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sandbox, target string
		noAgent         bool
		code            int
		says            string
	}{
		{"ralph-claude-app-12345678", "registry.npmjs.org", false, ExitAllowed, "allowed: registry.npmjs.org:443"},
		{"ralph-claude-app-12345678", "evil.npmjs.org", false, ExitDenied, "denied: evil.npmjs.org:443"}, // deny beats allow
		{"ralph-claude-app-12345678", "api.anthropic.com", false, ExitAllowed, "allowed"},                // the agent's own host
		{"ralph-claude-app-12345678", "api.anthropic.com", true, ExitDenied, "denied"},
		{"", "registry.npmjs.org", false, ExitDenied, "denied"}, // global rules only
		{"ralph-claude-app-12345678", "10.0.0.1:5432", false, ExitDenied, "denied: 10.0.0.1:5432"},
		{"", "bad host!", false, ExitUsage, ""},
	} {
		tio.out.Reset()
		err := policyCheckRun(context.Background(), &policyCheckOptions{f: f, sandbox: tc.sandbox, target: tc.target, noAgentHosts: tc.noAgent})
		if got := exitCode(err); got != tc.code || !strings.Contains(tio.out.String(), tc.says) {
			t.Errorf("check %s in %q: exit %d, %q; want exit %d, %q", tc.target, tc.sandbox, got, tio.out.String(), tc.code, tc.says)
		}
	}
}

// forwarder is a fake backend with a policy of its own (as sbx).
type forwarder struct {
	sandboxtest.Fake
	got []string
}

func (p *forwarder) Name() string { return "ownpolicy" }
func (p *forwarder) Policy(ctx context.Context, action, scope string, patterns []string) error {
	p.got = append(p.got, action+" "+scope+" "+strings.Join(patterns, ","))
	return nil
}

func TestPolicyChangeAndLs(t *testing.T) {
	fw := &forwarder{}
	f, tio := testFactory(t, fw)
	change := func(verb string, action policy.Action, args ...string) error {
		tio.out.Reset()
		cmd := newPolicyChange(f, verb, action, nil)
		cmd.SetArgs(args)
		cmd.SetErr(&strings.Builder{})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		return cmd.Execute()
	}
	if err := change("allow", policy.Allow, "network", "ralph-claude-app-12345678", "*.NPMjs.org,github.com."); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tio.out.String(), "allow *.npmjs.org (ralph-claude-app-12345678)") || !strings.Contains(tio.out.String(), "forwarded to ownpolicy policy") {
		t.Errorf("allow printed %q", tio.out.String())
	}
	if len(fw.got) != 1 || fw.got[0] != "allow ralph-claude-app-12345678 *.npmjs.org,github.com" {
		t.Errorf("forwarded %q: want the canonical patterns", fw.got)
	}
	if err := change("deny", policy.Deny, "network", "-g", "**.pastebin.com"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"network", "-g", "exa mple.com"}, {"network", "x.example"}, {"files", "-g", "x.example"}, {"network", "-g", "--sandbox", "s", "x.example"}} {
		if err := change("allow", policy.Allow, bad...); exitCode(err) != ExitUsage {
			t.Errorf("allow %q: %v (exit %d), want 64", bad, err, exitCode(err))
		}
	}

	tio.out.Reset()
	if err := policyLsRun(context.Background(), &policyLsOptions{f: f, asJSON: true}); err != nil {
		t.Fatal(err)
	}
	var views []ruleView
	if err := json.Unmarshal(tio.out.Bytes(), &views); err != nil {
		t.Fatal(err)
	}
	want := []ruleView{{"global", "deny", "**.pastebin.com"}, {"ralph-claude-app-12345678", "allow", "*.npmjs.org"}, {"ralph-claude-app-12345678", "allow", "github.com"}}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("policy ls --json (-want +got):\n%s", diff)
	}

	if err := change("rm", "", "network", "ralph-claude-app-12345678", "github.com"); err != nil || !strings.Contains(tio.out.String(), "removed 1 rule(s)") {
		t.Errorf("rm: %v, %q", err, tio.out.String())
	}
	tio.out.Reset()
	policyLsRun(context.Background(), &policyLsOptions{f: f, name: "ralph-claude-app-12345678"})
	if strings.Contains(tio.out.String(), "github.com") || !strings.Contains(tio.out.String(), "**.pastebin.com") {
		t.Errorf("policy ls NAME after rm:\n%s", tio.out.String())
	}
}
