//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
)

// TestGateInRealSandbox proves the network gate from inside real
// containers: an allowed destination works through the proxy, anything
// else is refused, the sandbox has no other way out (direct TCP, DNS),
// every decision is logged, and with the gate down nothing gets out.
func TestGateInRealSandbox(t *testing.T) {
	ralph, fake := build(t)
	hits := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		io.WriteString(w, "upstream-ok")
	}))
	defer up.Close()
	_, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the unlisted upstream was reached: %s", r.URL)
	}))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	for _, tc := range append(engines(), microVMEngine(t, ralph)) {
		t.Run(tc.backend, func(t *testing.T) {
			ctx := context.Background()
			image, proj, name := tc.prepare(t, fake)
			state, config := t.TempDir(), t.TempDir()
			env := []string{"XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + config}

			// The only way to reach a loopback upstream is an explicit IP rule.
			allow := exec.Command(ralph, "policy", "allow", "network", name, "127.0.0.1:"+upPort)
			allow.Env = append(os.Environ(), env...)
			if out, err := allow.CombinedOutput(); err != nil {
				t.Fatalf("policy allow: %v: %s", err, out)
			}
			// HTTP clients bypass their proxy for 127.0.0.1 (that would be
			// the sandbox's own loopback); another spelling of the address
			// goes through the gate, which reads it as the address it is.
			plan := strings.Join([]string{
				"fetch:http://2130706433:" + upPort + "/ok",
				"fetch:http://2130706433:" + otherPort + "/no",
				"fetch:http://unlisted.example.test/",
				"fetch:http://0x7f.1:" + otherPort + "/",
				"dial:127.0.0.1:" + upPort,
				"dns:api.anthropic.com",
				"complete",
			}, ",")
			r := start(t, ralph, proj, append(env, "FAKE_PLAN="+plan),
				"-n", "7", "--sandbox", tc.backend, "--image", image, "--env", "FAKE_PLAN", "--memory", "512m")
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d:\n%s", code, r.stderr)
			}
			if !strings.Contains(r.stderr.String(), "network: deny by default, allow api.anthropic.com, 127.0.0.1:"+upPort) {
				t.Errorf("no network line in:\n%s", r.stderr)
			}
			got := readLines(t, filepath.Join(proj, ".fake-agent-net"))
			want := []string{
				"status 200 upstream-ok",
				"status 403 ralph gate: no rule allows it",
				"status 403 ralph gate: no rule allows it",
				"status 403 ralph gate: no rule allows it",
				"error",
				"error",
			}
			if len(got) != len(want) {
				t.Fatalf("probes:\n%s", strings.Join(got, "\n"))
			}
			for i := range want {
				if !strings.Contains(got[i], want[i]) {
					t.Errorf("probe %d: %q, want %q", i, got[i], want[i])
				}
			}
			if hits != 1 {
				t.Errorf("upstream hits %d, want 1", hits)
			}
			hits = 0

			// Every decision is in the log, outside the sandbox.
			var allowed, denied int
			for _, l := range readLines(t, filepath.Join(state, "ralph", "gates", name, "log.jsonl")) {
				var e struct{ Decision, Host, Rule string }
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				if e.Decision == "allow" {
					allowed++
				} else {
					denied++
				}
			}
			if allowed != 1 || denied != 3 {
				t.Errorf("log: %d allowed, %d denied; want 1 and 3", allowed, denied)
			}

			// The gate down (no ralph running): nothing gets out.
			spec := sandbox.Spec{Name: name, Agent: "claude", Project: proj, Image: image,
				GateDir: filepath.Join(state, "ralph", "gates", name, "mnt")}
			if _, err := tc.b.Ensure(ctx, spec); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(proj, ".fake-agent-net"))
			os.WriteFile(filepath.Join(proj, ".fake-agent-n"), []byte("0"), 0o644)
			code, err := tc.b.Exec(ctx, name, sandbox.Cmd{Argv: []string{"claude"},
				Env:    map[string]string{"FAKE_PLAN": fmt.Sprintf("fetch:http://2130706433:%s/ok", upPort)},
				Stdout: io.Discard, Stderr: io.Discard, Stdin: strings.NewReader("p")})
			if err != nil || code != 0 {
				t.Fatalf("exec with the gate down: %d %v", code, err)
			}
			if got := readLines(t, filepath.Join(proj, ".fake-agent-net")); len(got) != 1 || !strings.Contains(got[0], "error") {
				t.Errorf("with the gate down: %q", got)
			}
			if hits != 0 {
				t.Errorf("the upstream was reached with the gate down")
			}
			tc.b.Stop(ctx, name)
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
