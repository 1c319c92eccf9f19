//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestSecretAddedByTheGate: with `ralph secret set anthropic` and no key
// in the environment, the real Claude Code in bubblewrap completes a task
// against the API (the mock, the user's ANTHROPIC_BASE_URL), which sees
// the real key on every request, while the agent's own environment (its
// Bash tool prints it) holds only the placeholder; neither ralph's output
// nor the gate's log shows the value.
func TestSecretAddedByTheGate(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	const real = "sk-ant-api03-the-real-key-0123456789"
	code, out, mock, proj, state := claudeWithSecret(t, "anthropic", real, "BASH:env > env-seen.txt", "<promise>COMPLETE</promise>")
	if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || !strings.Contains(out, "secret anthropic: added by the gate") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mock.mu.Lock()
	keys := append([]string(nil), mock.keys...)
	mock.mu.Unlock()
	if len(keys) == 0 {
		t.Fatal("no request reached the API")
	}
	for _, k := range keys {
		if k != real {
			t.Errorf("the API got x-api-key %q, want the secret", k)
		}
	}
	seen, err := os.ReadFile(filepath.Join(proj, "env-seen.txt"))
	if err != nil || !strings.Contains(string(seen), "ANTHROPIC_API_KEY=ralph-secret-placeholder-anthropic") {
		t.Errorf("the agent's environment (%v) lacks the placeholder:\n%s", err, seen)
	}
	logs, _ := filepath.Glob(filepath.Join(state, "ralph", "gates", "*", "log.jsonl"))
	var gateLog []byte
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		gateLog = append(gateLog, b...)
	}
	if !strings.Contains(string(gateLog), `"secret":"anthropic"`) {
		t.Errorf("the gate's log does not name the secret it used:\n%s", gateLog)
	}
	for what, b := range map[string]string{"the agent's environment": string(seen), "ralph's output": out, "the gate's log": string(gateLog)} {
		if strings.Contains(b, real) {
			t.Errorf("%s holds the secret", what)
		}
	}
}

// TestSecretAddedByTheGateCodexGemini: the same for codex (openai, a
// bearer token) and gemini (x-goog-api-key): the API gets the secret,
// the CLI's own key variable (set on the host too) never enters.
func TestSecretAddedByTheGateCodexGemini(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	ralph, _ := build(t)
	for _, c := range bwrapCLIs() {
		name, want := map[string]string{"codex": "openai", "gemini": "gemini"}[c.agent], ""
		if name == "" {
			continue
		}
		const real = "the-real-key-0123456789"
		want = real
		if c.agent == "codex" {
			want = "Bearer " + real
		}
		t.Run(c.agent, func(t *testing.T) {
			mock := c.mock(toolThenComplete("bwrap"))
			srv := httptest.NewServer(mock)
			defer srv.Close()
			proj := project(t, 1000)
			state := t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}
			more, flags, after := c.setup(t, ralph, proj, srv.Listener.Addr().(*net.TCPAddr).Port, env)
			env = append(env, more...) // its key variable too: the secret wins
			setSecret(t, ralph, proj, env, name, real)
			args := append(append([]string{"-n", "2", "--sandbox", "bwrap", "--agent", c.agent, "--stall-after", "0", "--max-retries", "0",
				"--iteration-timeout", "3m"}, flags...), "--")
			code, out := runRalph(t, ralph, proj, env, append(args, after...)...)
			if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") {
				logs, _ := filepath.Glob(filepath.Join(state, "ralph", "gates", "*", "log.jsonl"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("gate log:\n%s", b)
				}
				t.Fatalf("exit %d, the API saw %q:\n%s", code, mock.calls(), out)
			}
			checkToolProof(t, proj, "bwrap")
			keys := mock.creds()
			if len(keys) == 0 {
				t.Fatal("no request reached the API")
			}
			for _, k := range keys {
				if k != want {
					t.Errorf("the API got %q, want the secret", k)
				}
			}
			if strings.Contains(out, real) {
				t.Error("ralph's output holds the secret")
			}
		})
	}
}

// TestSecretClaudeOAuth: a Claude subscription's token (claude
// setup-token) stored as claude-oauth reaches the API as a bearer token;
// the sandbox holds a placeholder in CLAUDE_CODE_OAUTH_TOKEN.
func TestSecretClaudeOAuth(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	const real = "sk-ant-oat01-the-real-token-0123456789"
	code, out, mock, _, _ := claudeWithSecret(t, "claude-oauth", real, "<promise>COMPLETE</promise>")
	mock.mu.Lock()
	auths, keys := append([]string(nil), mock.auths...), append([]string(nil), mock.keys...)
	mock.mu.Unlock()
	if code != 0 || len(auths) == 0 {
		t.Fatalf("exit %d, %d requests:\n%s", code, len(auths), out)
	}
	for i := range auths {
		if auths[i] != "Bearer "+real || keys[i] != "" {
			t.Errorf("request %d: Authorization %q, x-api-key %q; want the token as a bearer and no key", i, auths[i], keys[i])
		}
	}
}

// TestSecretAddedByTheGateOpencode: opencode's anthropic provider, whose
// base URL lives in opencode's own config, reaches the API through the
// gate's route with the secret, which the CLI's environment (its bash
// tool prints it) never holds; the user's own config content stays in
// force (its model, its provider's models).
func TestSecretAddedByTheGateOpencode(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	p := os.Getenv("RALPH_REAL_OPENCODE")
	if p == "" {
		sandboxtest.Require(t, "opencode (the real CLI from npm)", errors.New("RALPH_REAL_OPENCODE is not set (scripts/test.sh installs it)"))
	}
	ralph, _ := build(t)
	const real = "sk-ant-api03-the-real-key-for-opencode"
	mock := &mockAnthropic{tool: "bash", texts: []string{"BASH:env > env-seen.txt", "<promise>COMPLETE</promise>"}}
	srv := httptest.NewServer(mock)
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	proj, state := project(t, 1000), t.TempDir()
	linkInto(t, p, filepath.Join(proj, "opencode-bin"))
	config, _ := json.Marshal(map[string]any{"model": "anthropic/mock-model", "autoupdate": false, "share": "disabled",
		"provider": map[string]any{"anthropic": map[string]any{"models": map[string]any{"mock-model": map[string]any{"name": "Mock model"}}}}})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
		fmt.Sprintf("ANTHROPIC_BASE_URL=http://localhost:%d", port), "ANTHROPIC_API_KEY=sk-ant-from-env", "OPENCODE_CONFIG_CONTENT=" + string(config)}
	if code, out := runRalph(t, ralph, proj, env, "policy", "allow", "network", "-g", fmt.Sprintf("localhost:%d,127.0.0.1:%d", port, port)); code != 0 {
		t.Fatalf("policy: %s", out)
	}
	setSecret(t, ralph, proj, env, "anthropic", real)
	code, out := runRalph(t, ralph, proj, env, "-n", "2", "--sandbox", "bwrap", "--agent", "opencode", "--agent-cmd", "/work/opencode-bin",
		"--env", "OPENCODE_CONFIG_CONTENT", "--env", "ANTHROPIC_BASE_URL", "--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m")
	mock.mu.Lock()
	keys := append([]string(nil), mock.keys...)
	mock.mu.Unlock()
	if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || !strings.Contains(out, "secret anthropic: added by the gate") {
		t.Fatalf("exit %d, the API got %d requests; the gate refused %q:\n%s", code, len(keys), gateDenials(t, state), out)
	}
	for _, k := range keys {
		if k != real {
			t.Errorf("the API got x-api-key %q, want the secret", k)
		}
	}
	seen, err := os.ReadFile(filepath.Join(proj, "env-seen.txt"))
	if err != nil || !strings.Contains(string(seen), "ANTHROPIC_API_KEY=ralph-secret-placeholder-anthropic") ||
		!strings.Contains(string(seen), "anthropic.secret.invalid/v1") {
		t.Errorf("the agent's environment (%v) lacks the placeholder or the route:\n%s", err, seen)
	}
	if strings.Contains(string(seen), real) || strings.Contains(string(seen), "sk-ant-from-env") || strings.Contains(out, real) {
		t.Error("a key entered the sandbox or ralph's output")
	}
}

// setSecret stores name's value as a user does: ralph secret set, the
// value on stdin.
func setSecret(t *testing.T, ralph, proj string, env []string, name, value string) {
	t.Helper()
	set := exec.Command(ralph, "secret", "set", name)
	set.Dir, set.Env, set.Stdin = proj, env, strings.NewReader(value+"\n")
	if code, out := runCmd(t, set); code != 0 {
		t.Fatalf("secret set: exit %d\n%s", code, out)
	}
}

// claudeWithSecret runs the real Claude Code in bwrap for up to two
// iterations with the secret name stored and no key in the environment,
// against a Messages API mock scripted with texts (the user's
// ANTHROPIC_BASE_URL).
func claudeWithSecret(t *testing.T, name, value string, texts ...string) (code int, out string, mock *mockAnthropic, proj, state string) {
	t.Helper()
	claude := realClaude(t)
	ralph, _ := build(t)
	mock = &mockAnthropic{texts: texts}
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	proj, state = project(t, 1000), t.TempDir()
	linkInto(t, claude, filepath.Join(proj, "claude-bin"))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
		"ANTHROPIC_BASE_URL=http://localhost:" + port}
	setSecret(t, ralph, proj, env, name, value)
	code, out = runRalph(t, ralph, proj, env, "-n", "2", "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/claude-bin",
		"--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m")
	return code, out, mock, proj, state
}
