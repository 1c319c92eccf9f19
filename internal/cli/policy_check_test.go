package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/netgate/policy"
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
