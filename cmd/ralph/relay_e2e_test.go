//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/netgate"
)

// TestGateRelay runs docker and podman with the relay that macOS and
// Windows use (decision 014), forced on Linux: the loop reaches an
// allowed upstream and nothing else; the sandbox itself has no network;
// while the run is up, the gate's TCP port closes unread whatever does not
// greet it with the run's token (a proxy request, a stolen-looking token)
// and logs it; the relay is gone after the run, and its volume after rm.
func TestGateRelay(t *testing.T) {
	ralph, fake := build(t)
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "upstream-ok")
	}))
	defer up.Close()
	_, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	for _, tc := range engines() {
		if tc.backend == "gvisor" {
			continue // gVisor is Linux-only: it never relays
		}
		t.Run(tc.backend, func(t *testing.T) {
			hits.Store(0)
			image, proj, name := tc.prepare(t, fake)
			relay := name + "-gate"
			t.Cleanup(func() {
				exec.Command(tc.bin, "rm", "--force", relay).Run()
				exec.Command(tc.bin, "volume", "rm", "--force", relay).Run()
			})
			state := t.TempDir()
			env := []string{"FAKE_PLAN=", "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(), "RALPH_GATE_WIRING=relay"}
			allow := exec.Command(ralph, "policy", "allow", "network", name, "127.0.0.1:"+upPort)
			allow.Env = append(os.Environ(), env...)
			if out, err := allow.CombinedOutput(); err != nil {
				t.Fatalf("policy allow: %v: %s", err, out)
			}
			args := []string{"-n", "4", "--sandbox", tc.backend, "--image", image, "--env", "FAKE_PLAN", "--memory", "512m"}

			// Mid-run: the relay is up; its port refuses the rest.
			r := midIteration(t, ralph, proj, env, args, "sleep:60")
			port := relayPort(t, tc.bin, relay)
			for _, attack := range []string{
				"CONNECT 127.0.0.1:" + upPort + " HTTP/1.1\r\nHost: 127.0.0.1:" + upPort + "\r\n\r\n",
				netgate.TokenGreeting + netgate.NewToken() + "\nGET http://127.0.0.1:" + upPort + "/ HTTP/1.1\r\n\r\n",
			} {
				if got := knock(t, port, attack); got != "" {
					t.Errorf("the gate's port answered %q with %q", attack, got)
				}
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the upstream was reached %d times by the port's attackers", n)
			}
			if mode := inspect(t, tc.bin, name, "{{.HostConfig.NetworkMode}}"); mode != "none" {
				t.Errorf("the sandbox's network is %q, want none", mode)
			}
			r.cmd.Process.Signal(syscall.SIGINT)
			if code := r.wait(t); code != 130 {
				t.Errorf("interrupted run: exit %d, want 130:\n%s", code, r.stderr)
			}
			if exists(tc.bin, "container", relay) {
				t.Errorf("the relay %s outlived the run", relay)
			}

			// A whole run through the relay.
			os.Remove(filepath.Join(proj, ".fake-agent-n"))
			env[0] = "FAKE_PLAN=fetch:http://2130706433:" + upPort + "/ok,fetch:http://unlisted.example.test/,complete"
			r = start(t, ralph, proj, env, args...)
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d:\n%s", code, r.stderr)
			}
			got := readLines(t, filepath.Join(proj, ".fake-agent-net"))
			if len(got) != 2 || !strings.Contains(got[0], "status 200 upstream-ok") || !strings.Contains(got[1], "status 403") {
				t.Errorf("through the relay: %q", got)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("upstream hits %d, want 1", n)
			}
			var greets int
			for _, l := range readLines(t, filepath.Join(state, "ralph", "gates", name, "log.jsonl")) {
				var e struct{ Method, Decision, Rule string }
				json.Unmarshal([]byte(l), &e)
				if e.Method == "GREET" && e.Decision == "deny" {
					greets++
				}
			}
			if greets != 2 {
				t.Errorf("the log holds %d refused greetings, want 2", greets)
			}

			rm := exec.Command(ralph, "rm", "--force", name)
			rm.Env = append(os.Environ(), env...)
			if out, err := rm.CombinedOutput(); err != nil {
				t.Fatalf("rm: %v: %s", err, out)
			}
			if exists(tc.bin, "volume", relay) {
				t.Errorf("the relay's volume %s outlived ralph rm", relay)
			}
		})
	}
}

// relayPort is the host address the running relay dials, mapped back
// to this host: its --to port on the bridge's gateway.
func relayPort(t *testing.T, bin, relay string) string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(inspect(t, bin, relay, "{{json .Args}}")), &args); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if a == "--to" && i+1 < len(args) {
			_, port, _ := net.SplitHostPort(args[i+1])
			hosts := inspect(t, bin, relay, "{{json .HostConfig.ExtraHosts}}")
			var extra []string
			json.Unmarshal([]byte(hosts), &extra)
			for _, h := range extra {
				if name, ip, ok := strings.Cut(h, ":"); ok && strings.HasPrefix(name, "host.") {
					return net.JoinHostPort(ip, port)
				}
			}
			t.Fatalf("the relay has no host alias: %s", hosts)
		}
	}
	t.Fatalf("the relay's arguments name no --to: %q", args)
	return ""
}

// knock sends what to addr and returns what came back before the gate
// closed the connection.
func knock(t *testing.T, addr, what string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("the gate's port: %v", err)
	}
	defer c.Close()
	c.Write([]byte(what))
	c.SetReadDeadline(time.Now().Add(netgate.TokenCheckTime + 5*time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func inspect(t *testing.T, bin, name, format string) string {
	t.Helper()
	out, err := exec.Command(bin, "inspect", "--format", format, name).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect %s: %v: %s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

func exists(bin, kind, name string) bool {
	return exec.Command(bin, kind, "inspect", name).Run() == nil
}
