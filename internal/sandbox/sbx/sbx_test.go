package sbx

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fake puts the fake sbx on PATH with fresh state and returns its argv log.
func fake(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "sbx"), "./fakesbx")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fake sbx: %v\n%s", err, out)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_SBX_STATE", filepath.Join(dir, "state.json"))
	t.Setenv("FAKE_SBX_LOG", filepath.Join(dir, "argv.log"))
	t.Setenv("FAKE_SBX_VERSION", version)
	return filepath.Join(dir, "argv.log")
}

func TestLifecycleAgainstFake(t *testing.T) {
	log := fake(t, "v0.46.0")
	t.Setenv("FAKE_SBX_BANNER", "1") // the daemon banner before the JSON
	ctx := context.Background()
	s := New()
	if err := s.Available(ctx); err != nil {
		t.Fatal(err)
	}
	proj := t.TempDir()
	spec := sandbox.Spec{Name: "ralph-claude-app-12345678", Agent: "claude", Project: proj, Memory: "4g", CPUs: "2"}
	created, err := s.Ensure(ctx, spec)
	if err != nil || !created {
		t.Fatalf("first Ensure: %v %v", created, err)
	}
	if created, err := s.Ensure(ctx, spec); err != nil || created {
		t.Fatalf("second Ensure: %v %v", created, err)
	}
	t.Setenv("HOST_ONLY_SECRET", "host-value") // in sbx's environment, not named
	var out bytes.Buffer
	code, err := s.Exec(ctx, spec.Name, sandbox.Cmd{Argv: []string{"sh", "-c", `echo "$SECRET_KEY"; env | grep -c HOST_ONLY; exit 7`},
		Env: map[string]string{"SECRET_KEY": "sk-value"}, Stdout: &out})
	if err != nil || code != 7 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if got := out.String(); got != "sk-value\n0\n" {
		t.Errorf("exec output %q", got)
	}
	if err := s.Stop(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if created, err := s.Ensure(ctx, spec); err != nil || created {
		t.Fatalf("Ensure after stop: %v %v", created, err)
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].Project != proj || infos[0].State != "running" {
		t.Fatalf("List: %+v %v", infos, err)
	}
	// Someone removes it behind our back: exec says ErrNotFound, not "exit 1".
	exec.Command("sbx", "rm", "--force", spec.Name).Run()
	if _, err := s.Exec(ctx, spec.Name, sandbox.Cmd{Argv: []string{"true"}}); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("exec on a removed sandbox: %v", err)
	}
	s.Ensure(ctx, spec)
	if err := s.Remove(ctx, spec.Name, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, spec.Name, true); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	if err := s.Policy(ctx, "allow", spec.Name, []string{"*.npmjs.org", "github.com"}); err != nil {
		t.Fatal(err)
	}

	got, _ := os.ReadFile(log)
	got = bytes.ReplaceAll(got, []byte(proj), []byte("PROJECT"))
	if strings.Contains(string(got), "sk-value") {
		t.Error("a secret value reached sbx's command line")
	}
	golden := filepath.Join("testdata", "lifecycle.golden")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, _ := os.ReadFile(golden)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("sbx command lines (-want +got):\n%s", diff)
	}
}

func TestPolicyByVersion(t *testing.T) {
	for _, tt := range []struct {
		version, scope string
		want           string
		err            bool
	}{
		{"v0.46.0", "ralph-x", "policy allow network --sandbox ralph-x a.com,b.com", false},
		{"v0.46.0", "", "policy allow network a.com,b.com", false},
		{"v0.30.1", "ralph-x", "policy allow network ralph-x a.com,b.com", false},
		{"v0.30.1", "", "policy allow network -g a.com,b.com", false},
		{"v0.28.3", "", "policy allow network a.com,b.com", false},
		{"v0.28.3", "ralph-x", "", true},
	} {
		log := fake(t, tt.version)
		err := New().Policy(context.Background(), "allow", tt.scope, []string{"a.com", "b.com"})
		if (err != nil) != tt.err {
			t.Errorf("%s %q: err %v", tt.version, tt.scope, err)
			continue
		}
		b, _ := os.ReadFile(log)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if last := lines[len(lines)-1]; !tt.err && last != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.version, tt.scope, last, tt.want)
		}
	}
}

func TestNotDockersSbx(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sbx"), []byte("#!/bin/sh\necho 'Vercel Sandbox CLI 1.2.3'\n"), 0o755)
	t.Setenv("PATH", dir)
	if err := New().Available(context.Background()); !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "not Docker Sandboxes") {
		t.Errorf("Available with another sbx: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if err := New().Available(context.Background()); !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("Available without sbx: %v", err)
	}
}

func TestContractAgainstFake(t *testing.T) {
	fake(t, "v0.46.0")
	sandboxtest.Contract(t, sandboxtest.ContractHarness{Backend: New(), ExecStarts: true})
}
