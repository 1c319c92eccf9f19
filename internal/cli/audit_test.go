package cli

import (
	"context"
	"strings"
	"testing"
)

// audit finds the engine socket and the user's home in a run line, with
// the user's home as the Factory knows it, and its hardened form is clean.
func TestAuditRun(t *testing.T) {
	f, tio := testFactory(t)
	f.Getenv = func(k string) (string, bool) {
		if k == "HOME" {
			return "/home/alice", true
		}
		return "", false
	}
	leaky := []string{"docker", "run", "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", "/home/alice:/h", "alpine", "sh"}
	err := auditRun(context.Background(), &auditOptions{f: f, argv: leaky})
	if exitCode(err) != 1 || !strings.Contains(tio.out.String(), "docker.sock") || !strings.Contains(tio.out.String(), "/home/alice") {
		t.Fatalf("leaky line: exit %d\n%s", exitCode(err), tio.out.String())
	}
	i := strings.Index(tio.out.String(), "hardened:\n  ")
	hardened := strings.Fields(strings.SplitN(tio.out.String()[i+len("hardened:\n  "):], "\n", 2)[0])
	tio.out.Reset()
	if err := auditRun(context.Background(), &auditOptions{f: f, argv: hardened}); err != nil || !strings.Contains(tio.out.String(), "clean:") {
		t.Errorf("the hardened form %q: %v\n%s", hardened, err, tio.out.String())
	}
	if err := auditRun(context.Background(), &auditOptions{f: f, argv: []string{"ls", "-l"}}); exitCode(err) != ExitUsage {
		t.Errorf("not a run line: %v, want exit 64", err)
	}
}
