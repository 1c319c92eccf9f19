package sandbox

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestName(t *testing.T) {
	tests := []struct {
		agent, path, want string
	}{
		{"claude", "/home/me/my-app", "ralph-claude-my-app-"},
		{"codex", "/home/me/My App", "ralph-codex-my-app-"},
		{"claude", "/srv/Été__Projet!!", "ralph-claude-t-projet-"},
		{"claude", "/srv/日本", "ralph-claude-"},
		{"gemini", "/x/--a..b--", "ralph-gemini-a-b-"},
		{"claude", "/x/" + "abcdefghij0123456789abcdefghij0123456789zzzz", "ralph-claude-abcdefghij0123456789abcdefghij0123456789-"},
	}
	for _, tt := range tests {
		got := Name(tt.agent, tt.path)
		if len(got) != len(tt.want)+8 || got[:len(tt.want)] != tt.want {
			t.Errorf("Name(%q, %q) = %q, want prefix %q + 8 hex", tt.agent, tt.path, got, tt.want)
		}
	}
	// The hash is the SHA-256 of the path without a trailing newline:
	// printf '%s' /home/me/my-app | sha256sum
	if got, want := Name("claude", "/home/me/my-app"), "ralph-claude-my-app-cc36a638"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if Name("claude", "/a/app") == Name("claude", "/b/app") {
		t.Error("different paths share a name")
	}
}

func TestLoopName(t *testing.T) {
	got := LoopName("claude", "/home/me/my-app", "api-tests", true)
	if want := "ralph-claude-my-app-api-tests-"; len(got) != len(want)+8 || got[:len(want)] != want {
		t.Errorf("LoopName = %q, want prefix %q + 8 hex", got, want)
	}
	names := map[string]bool{
		Name("claude", "/home/me/my-app"):                         true,
		LoopName("claude", "/home/me/my-app", "default", true):    true,
		LoopName("claude", "/home/me/my-app", "default", false):   true,
		LoopName("claude", "/home/me/my-app", "api-tests", true):  true,
		LoopName("claude", "/home/me/my-app", "api-tests", false): true,
		LoopName("codex", "/home/me/my-app", "api-tests", true):   true,
	}
	if len(names) != 6 {
		t.Errorf("loops, modes or agents share a sandbox name: %v", names)
	}
	if LoopName("claude", "/p", "x", true) != LoopName("claude", "/p", "x", true) {
		t.Error("LoopName is not deterministic")
	}
}

func TestValidate(t *testing.T) {
	home := t.TempDir()
	proj := filepath.Join(home, "proj")
	os.Mkdir(proj, 0o755)
	sockDir := filepath.Join(home, "withsock")
	os.Mkdir(sockDir, 0o755)
	l, err := net.Listen("unix", filepath.Join(sockDir, "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		path string
		ok   bool
	}{
		{proj, true},
		{"/", false},
		{home, false},
		{filepath.Dir(home), false},
		{"/var/run", false},
		{"/run/user/1000", false},
		{"/etc", false},
		{filepath.Join(sockDir, "docker.sock"), false},
		{sockDir, false},
		{filepath.Join(home, ".ssh"), false},
		{"relative/path", false},
	}
	for _, tt := range tests {
		err := Validate(Spec{Project: tt.path}, home)
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("Validate(%q) error does not wrap ErrRefused: %v", tt.path, err)
		}
	}
}

// A tmpfs of size 0 is unbounded: a bad --tmp-size must never get there.
func TestValidateTmpSize(t *testing.T) {
	proj := t.TempDir()
	for size, ok := range map[string]bool{"": true, "1g": true, "512m": true, "1m": true, "0": false, "100k": false, "lots": false, "-1g": false} {
		err := Validate(Spec{Project: proj, TmpSize: size}, "")
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("TmpSize %q: %v, want ok=%v", size, err, ok)
		}
	}
}
