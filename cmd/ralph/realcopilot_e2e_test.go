package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestRealCopilotInBwrap runs the real GitHub Copilot CLI through the
// loop inside bubblewrap with its own model provider (BYOK:
// COPILOT_PROVIDER_BASE_URL, offline, no GitHub sign-in) pointed at the
// scripted OpenAI-compatible API on loopback, which ralph allows at the
// gate from that variable alone.
func TestRealCopilotInBwrap(t *testing.T) {
	sandboxtest.SkipShort(t)
	needBwrapAsRoot(t)
	copilot := os.Getenv("RALPH_REAL_COPILOT")
	if copilot == "" {
		sandboxtest.Require(t, "copilot (the real CLI from npm)", fmt.Errorf("RALPH_REAL_COPILOT is not set: npm install @github/copilot and point it at its binary"))
	}
	ralph, _ := build(t)
	for _, tc := range promiseCases {
		t.Run(tc.name, func(t *testing.T) {
			mock := &mockChat{texts: tc.texts}
			srv := httptest.NewServer(mock)
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			proj := project(t, 1000)
			linkInto(t, copilot, filepath.Join(proj, "copilot-bin"))
			state := t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(),
				fmt.Sprintf("COPILOT_PROVIDER_BASE_URL=http://localhost:%d/v1", port), "COPILOT_PROVIDER_API_KEY=sk-test",
				"COPILOT_MODEL=mock-model", "COPILOT_OFFLINE=true"}
			code, out := runRalph(t, ralph, proj, env, "-n", "3", "--sandbox", "bwrap", "--agent", "copilot", "--agent-cmd", "/work/copilot-bin",
				"--stall-after", "0", "--max-retries", "0", "--iteration-timeout", "3m")
			seen, streams := mock.requests()
			checkEnd(t, tc, code, out, seen, streams, state)
		})
	}
}
