//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// bwrapCLI is a real agent CLI set up to run in bubblewrap against its
// scripted API: how its mock is made, where its binary goes in the
// project, and the environment and flags the run needs.
type bwrapCLI struct {
	agent string
	tool  string // the shell tool its mock calls for a BASH: step
	mock  func(texts []string) scripted
	// setup puts the CLI into proj and returns the run's extra
	// environment and ralph flags (ralph's own flags, then any after --).
	setup func(t *testing.T, ralph, proj string, port int, env []string) (moreEnv, flags, after []string)
}

// scripted is a mock API: an http.Handler that reports what it served.
type scripted interface {
	http.Handler
	offered() []string // the tools offered in the first turn
	turns() int        // the script's steps served
	calls() []string   // every request, "METHOD /path"
	creds() []string   // the credential header of each request
}

func (m *mockResponses) offered() []string { m.mu.Lock(); defer m.mu.Unlock(); return m.tools }
func (m *mockResponses) turns() int        { _, n := m.requests(); return n }
func (m *mockResponses) calls() []string   { r, _ := m.requests(); return r }
func (m *mockGemini) calls() []string      { r, _ := m.requests(); return r }
func (m *mockChat) calls() []string        { r, _ := m.requests(); return r }
func (m *mockResponses) creds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.keys...)
}
func (m *mockGemini) creds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.keys...)
}
func (m *mockChat) creds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.keys...)
}
func (m *mockGemini) offered() []string { m.mu.Lock(); defer m.mu.Unlock(); return m.tools }
func (m *mockGemini) turns() int        { _, n := m.requests(); return n }
func (m *mockChat) offered() []string   { m.mu.Lock(); defer m.mu.Unlock(); return m.tools }
func (m *mockChat) turns() int          { _, n := m.requests(); return n }

// bwrapCLIs are the real CLIs besides claude (which has its own tests),
// each from the binary scripts/test.sh installed; a CLI that is not
// installed skips (fails under RALPH_REQUIRE_ENGINES).
func bwrapCLIs() []bwrapCLI {
	linked := func(env, name string) func(*testing.T, string) {
		return func(t *testing.T, proj string) {
			p := os.Getenv(env)
			if p == "" {
				sandboxtest.Require(t, name+" (the real CLI from npm)", fmt.Errorf("%s is not set (scripts/test.sh installs it)", env))
			}
			linkInto(t, p, filepath.Join(proj, name+"-bin"))
		}
	}
	codex, opencode, copilot := linked("RALPH_REAL_CODEX", "codex"), linked("RALPH_REAL_OPENCODE", "opencode"), linked("RALPH_REAL_COPILOT", "copilot")
	return []bwrapCLI{
		{agent: "codex", tool: "exec_command",
			mock: func(texts []string) scripted { return &mockResponses{texts: texts} },
			setup: func(t *testing.T, ralph, proj string, port int, env []string) ([]string, []string, []string) {
				codex(t, proj)
				// exec_command is offered with gpt-5.5; codex's default model
				// gets a JavaScript "exec" tool instead.
				return []string{"CODEX_API_KEY=sk-test", fmt.Sprintf("OPENAI_BASE_URL=http://localhost:%d/v1", port)},
					[]string{"--agent-cmd", "/work/codex-bin"}, []string{"-m", "gpt-5.5"}
			}},
		{agent: "gemini", tool: "run_shell_command",
			mock: func(texts []string) scripted { return &mockGemini{texts: texts} },
			setup: func(t *testing.T, ralph, proj string, port int, env []string) ([]string, []string, []string) {
				geminiInto(t, proj)
				return []string{"GEMINI_API_KEY=test-key", fmt.Sprintf("GOOGLE_GEMINI_BASE_URL=http://localhost:%d", port)},
					[]string{"--agent-cmd", "/work/.gemini-cli/gemini.js"}, nil
			}},
		{agent: "opencode", tool: "bash",
			mock: func(texts []string) scripted { return &mockChat{texts: texts} },
			setup: func(t *testing.T, ralph, proj string, port int, env []string) ([]string, []string, []string) {
				opencode(t, proj)
				more := []string{"OPENCODE_CONFIG_CONTENT=" + opencodeConfig(port), "OPENCODE_DISABLE_AUTOUPDATE=1"}
				// The rules a user writes for a local server: its name and address.
				if code, out := runRalph(t, ralph, proj, append(env, more...), "policy", "allow", "network", "-g", fmt.Sprintf("localhost:%d,127.0.0.1:%d", port, port)); code != 0 {
					t.Fatalf("policy: %s", out)
				}
				return more, []string{"--agent-cmd", "/work/opencode-bin", "--env", "OPENCODE_CONFIG_CONTENT", "--env", "OPENCODE_DISABLE_AUTOUPDATE"}, nil
			}},
		{agent: "copilot", tool: "bash",
			mock: func(texts []string) scripted { return &mockChat{texts: texts} },
			setup: func(t *testing.T, ralph, proj string, port int, env []string) ([]string, []string, []string) {
				copilot(t, proj)
				return []string{fmt.Sprintf("COPILOT_PROVIDER_BASE_URL=http://localhost:%d/v1", port), "COPILOT_PROVIDER_API_KEY=sk-test",
					"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true"}, []string{"--agent-cmd", "/work/copilot-bin"}, nil
			}},
	}
}

// geminiInto puts the Gemini CLI's bundle into the project (hard links:
// the one host folder bwrap shows besides /usr, whose node runs it) with
// the settings that let gemini 0.61 use GOOGLE_GEMINI_BASE_URL headless.
func geminiInto(t *testing.T, proj string) {
	t.Helper()
	bundle := os.Getenv("RALPH_REAL_GEMINI")
	if bundle == "" {
		sandboxtest.Require(t, "gemini (the real CLI from npm)", fmt.Errorf("RALPH_REAL_GEMINI is not set: npm install @google/gemini-cli and point it at its bundle folder"))
	}
	if _, err := exec.LookPath("/usr/bin/node"); err != nil {
		sandboxtest.Require(t, "node under /usr (the Gemini CLI's runtime)", err)
	}
	if out, err := exec.Command("cp", "-al", bundle, filepath.Join(proj, ".gemini-cli")).CombinedOutput(); err != nil {
		if out, err = exec.Command("cp", "-a", bundle, filepath.Join(proj, ".gemini-cli")).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	// gemini 0.61 takes GOOGLE_GEMINI_BASE_URL for a "gateway" auth type
	// that its own headless check then rejects ("Invalid auth method
	// selected", exit 41); naming the API-key method in the project's
	// settings is the way through.
	os.MkdirAll(filepath.Join(proj, ".gemini"), 0o755)
	os.WriteFile(filepath.Join(proj, ".gemini", "settings.json"), []byte(`{"security": {"auth": {"selectedType": "gemini-api-key"}}}`), 0o644)
	exec.Command("chown", "-R", "1000:1000", filepath.Join(proj, ".gemini-cli"), filepath.Join(proj, ".gemini")).Run()
}

// runBwrapCLI runs ralph with c in bwrap against a mock scripted with
// texts; it returns the exit code, what ralph printed, and the mock.
func runBwrapCLI(t *testing.T, ralph string, c bwrapCLI, proj string, texts []string, flags ...string) (int, string, scripted) {
	t.Helper()
	return runBwrapMock(t, ralph, c, proj, c.mock(texts), flags...)
}

// runBwrapMock is runBwrapCLI with a mock of the caller's.
func runBwrapMock(t *testing.T, ralph string, c bwrapCLI, proj string, mock scripted, flags ...string) (int, string, scripted) {
	t.Helper()
	srv := httptest.NewServer(mock)
	defer srv.Close()
	state := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir()}
	more, cliFlags, after := c.setup(t, ralph, proj, srv.Listener.Addr().(*net.TCPAddr).Port, env)
	args := append([]string{"--sandbox", "bwrap", "--agent", c.agent, "--stall-after", "0", "--max-retries", "0"}, cliFlags...)
	args = append(args, flags...)
	if len(after) > 0 {
		args = append(append(args, "--"), after...)
	}
	code, out := runRalph(t, ralph, proj, append(env, more...), args...)
	t.Logf("the gate refused %q", gateDenials(t, state))
	return code, out, mock
}

// TestRealAgentsInBwrap runs codex, gemini, opencode and copilot, the
// real CLIs, through the loop inside bubblewrap against their scripted
// APIs on loopback, reached only through the gate: the endpoint variable
// on the host is all it takes for codex (ralph turns OPENAI_BASE_URL into
// its -c openai_base_url), gemini (GOOGLE_GEMINI_BASE_URL) and copilot
// (its BYOK provider, COPILOT_PROVIDER_BASE_URL, offline); opencode has
// no endpoint variable, so its provider comes in its own config and the
// user allows the server by hand. The promise in the final message gives
// 0, 2 or 3; a quoted one does not stop the loop. Never on the host
// backend: the CLIs also reach for their vendors' hosts, which only a
// gate refuses.
func TestRealAgentsInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	ralph, _ := build(t)
	for _, c := range bwrapCLIs() {
		t.Run(c.agent, func(t *testing.T) {
			for _, tc := range promiseCases {
				t.Run(tc.name, func(t *testing.T) {
					code, out, mock := runBwrapCLI(t, ralph, c, project(t, 1000), tc.texts, "-n", "3", "--iteration-timeout", "3m")
					if code != tc.code || !strings.Contains(out, tc.want) {
						t.Errorf("exit %d, want %d with %q%s:\n%s", code, tc.code, tc.want, driftHint(out, mock.turns()), out)
					}
					if mock.turns() == 0 {
						t.Error("the CLI never reached the mock API")
					}
				})
			}
			if c.agent == "opencode" {
				return // its server is allowed by the user's own rule, not by ralph
			}
			t.Run("without the gate's rule the API is never reached", func(t *testing.T) {
				code, out, mock := runBwrapCLI(t, ralph, c, project(t, 1000), []string{"<promise>COMPLETE</promise>"}, "-n", "1", "--iteration-timeout", "30s", "--no-agent-hosts")
				if code == 0 || len(mock.calls()) > 0 {
					t.Errorf("exit %d, the mock saw %q: the sandbox reached the API without the gate's rule:\n%s", code, mock.calls(), out)
				}
			})
		})
	}
}

// TestRealAgentTools: for codex, gemini, opencode and copilot, the real
// CLI's own shell tool runs inside bubblewrap and edits the project (the
// file belongs to the agent's uid), and an iteration timeout ends the
// agent and the tool it started, leaving no process behind on the host.
// Each mock checks that the CLI still offers the tool it calls.
func TestRealAgentTools(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	ralph, _ := build(t)
	for i, c := range bwrapCLIs() {
		t.Run(c.agent, func(t *testing.T) {
			t.Run("a tool edits the project", func(t *testing.T) {
				proj := project(t, 1000)
				code, out, mock := runBwrapCLI(t, ralph, c, proj, []string{"BASH:echo made-by-the-agent > tool-proof.txt", "Written.\n\n<promise>COMPLETE</promise>"},
					"-n", "2", "--iteration-timeout", "3m")
				if !slices.Contains(mock.offered(), c.tool) {
					t.Errorf("%s no longer offers its %s tool (offered %q): the pinned CLI changed; update the mock", c.agent, c.tool, mock.offered())
				}
				data, err := os.ReadFile(filepath.Join(proj, "tool-proof.txt"))
				if code != 0 || !strings.Contains(out, "COMPLETE after 1 iteration") || err != nil || strings.TrimSpace(string(data)) != "made-by-the-agent" {
					t.Fatalf("exit %d after %d turns, file %q (%v):\n%s", code, mock.turns(), data, err, out)
				}
				if st, err := os.Stat(filepath.Join(proj, "tool-proof.txt")); err == nil && st.Sys().(*syscall.Stat_t).Uid != 1000 {
					t.Errorf("the file belongs to uid %d, want the agent's 1000", st.Sys().(*syscall.Stat_t).Uid)
				}
			})
			t.Run("a timeout ends the agent and its tool", func(t *testing.T) {
				proj := project(t, 1000)
				marker := fmt.Sprintf("sleep 98%d%d", i, os.Getpid()%1000)
				code, out, mock := runBwrapCLI(t, ralph, c, proj, []string{"BASH:touch tool-started; " + marker}, "-n", "1", "--iteration-timeout", "20s")
				if _, err := os.Stat(filepath.Join(proj, "tool-started")); err != nil {
					t.Errorf("the tool never started (%v), so its end proves nothing", err)
				}
				if code != 1 || !strings.Contains(out, "timed out") {
					t.Errorf("exit %d after %d turns, want 1 with the iteration timed out:\n%s", code, mock.turns(), out)
				}
				if left, _ := exec.Command("pgrep", "-f", marker).Output(); len(left) > 0 {
					t.Errorf("the tool outlived its agent: pids %s", left)
					exec.Command("pkill", "-f", marker).Run()
				}
			})
		})
	}
}

// rateLimited answers every model request with 429 (retry-after: 1, an
// error body in the OpenAI and Gemini shapes) for its first window after
// the first request, then hands them to the script.
type rateLimited struct {
	scripted
	window time.Duration
	body   string // the 429's body; a generic one when empty
	mu     sync.Mutex
	first  time.Time
	n      int // requests refused
}

func (m *rateLimited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	if m.first.IsZero() && r.Method == http.MethodPost {
		m.first = time.Now()
	}
	limit := r.Method == http.MethodPost && time.Since(m.first) < m.window
	if limit {
		m.n++
	}
	m.mu.Unlock()
	if !limit {
		m.scripted.ServeHTTP(w, r)
		return
	}
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("retry-after", "1")
	w.WriteHeader(http.StatusTooManyRequests)
	body := m.body
	if body == "" {
		body = `{"error":{"code":429,"message":"Rate limit reached for requests","type":"rate_limit_exceeded","status":"RESOURCE_EXHAUSTED"}}`
	}
	fmt.Fprint(w, body)
}

func (m *rateLimited) refused() int { m.mu.Lock(); defer m.mu.Unlock(); return m.n }

// TestRealAgentRateLimit: for codex, gemini, opencode and copilot in
// bubblewrap, the API answers 429 for a while; the real CLI gives up
// after its own retries and says so in its structured output, ralph reads
// that as a rate limit (not a failure), backs off without counting an
// iteration, and the same iteration completes once the API answers.
// Gemini waits out a per-minute limit by itself (seven tries in a minute
// here), so its API says what ends its retries at once: the day's quota.
func TestRealAgentRateLimit(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	ralph, _ := build(t)
	for _, c := range bwrapCLIs() {
		t.Run(c.agent, func(t *testing.T) {
			mock := &rateLimited{scripted: c.mock([]string{"<promise>COMPLETE</promise>"}), window: 20 * time.Second}
			if c.agent == "gemini" {
				mock.body = geminiDailyQuota
			}
			code, out, _ := runBwrapMock(t, ralph, c, project(t, 1000), mock, "-n", "1", "--iteration-timeout", "3m", "--limit-backoff", "1s")
			if code != 0 || !regexp.MustCompile(`(?m)^1 +\S+ +rate limited `).MatchString(out) || !strings.Contains(out, "COMPLETE after 1 iteration") {
				t.Errorf("exit %d after %d refusals, want a first attempt rate limited, then COMPLETE in the same iteration:\n%s", code, mock.refused(), out)
			}
			if testing.Verbose() {
				t.Logf("%d refusals:\n%s", mock.refused(), out)
			}
		})
	}
}

// geminiDailyQuota is the Gemini API's answer when a free tier's daily
// requests are spent.
const geminiDailyQuota = `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED",` +
	`"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",` +
	`"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"model":"gemini-2.5-pro","location":"global"},"quotaValue":"100"}]}]}}`
