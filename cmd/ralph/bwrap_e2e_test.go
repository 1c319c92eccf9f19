//go:build linux

package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// TestLoopInBwrap runs the fake agent in bubblewrap through the gate to a
// COMPLETE: an allowed address works, an unlisted one is refused, files
// written belong to the project's owner.
func TestLoopInBwrap(t *testing.T) {
	if err := bwrap.New("", t.TempDir(), nil).Available(t.Context()); err != nil {
		sandboxtest.Require(t, "bwrap", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("as root only: the project is made for uid 1000")
	}
	ralph, fake := build(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream-ok") }))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	proj := project(t, 1000)
	fakeInProject(t, proj, fake)
	name := sandbox.Name("claude", proj)
	env := []string{"XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	allow := exec.Command(ralph, "policy", "allow", "network", name, "127.0.0.1:"+port)
	allow.Env = append(os.Environ(), env...)
	if out, err := allow.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// /proc/self/oom_score_adj is writable by its owner without Landlock;
	// with Landlock (read-only /proc) it is not.
	plan := "fetch:http://2130706433:" + port + "/,fetch:http://unlisted.example.test/,try-write:/proc/self/oom_score_adj,write:made-in-bwrap.txt,complete"
	r := start(t, ralph, proj, append(env, "FAKE_PLAN="+plan),
		"-n", "5", "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/.bin/claude", "--env", "FAKE_PLAN", "--memory", "1g")
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
	got := readLines(t, filepath.Join(proj, ".fake-agent-net"))
	if len(got) != 3 || !strings.Contains(got[0], "status 200 upstream-ok") || !strings.Contains(got[1], "status 403") ||
		!strings.Contains(got[2], "try-write /proc/self/oom_score_adj: error") {
		t.Errorf("probes: %q", got)
	}
	st, err := os.Stat(filepath.Join(proj, "made-in-bwrap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 1000 {
		t.Errorf("file owned by %d, want 1000", uid)
	}
}

// fakeInProject puts the fake agent in the project as .bin/claude, where
// bwrap (which sees only /usr of the host) runs it: --agent-cmd
// /work/.bin/claude.
func fakeInProject(t *testing.T, proj, fake string) {
	t.Helper()
	data, err := os.ReadFile(fake)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(proj, ".bin"), 0o755)
	if err := os.WriteFile(filepath.Join(proj, ".bin", "claude"), data, 0o755); err != nil {
		t.Fatal(err)
	}
}
