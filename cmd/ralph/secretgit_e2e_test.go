//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitServer is a git server over HTTP (git http-backend, the real one)
// that answers only requests carrying want in Authorization, as GitHub
// does for a push; it records each request's path and whether it had it.
type gitServer struct {
	want string
	cgi  http.Handler
	mu   sync.Mutex
	seen []string
}

func (g *gitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok := r.Header.Get("Authorization") == g.want
	g.mu.Lock()
	g.seen = append(g.seen, map[bool]string{true: "auth ", false: "none "}[ok]+r.URL.Path)
	g.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	// git http-backend needs CONTENT_LENGTH, which a chunked POST (a
	// pack over git's http.postBuffer) has not.
	b, _ := io.ReadAll(r.Body)
	r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	g.cgi.ServeHTTP(w, r)
}

func (g *gitServer) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

// TestSecretGitPushThroughTheGate: with `ralph secret set github` the
// agent's git pushes from bubblewrap to the user's remote, which sees the
// token on every request, while nothing in the sandbox holds it; the
// agent's request for another path of the same server through the route
// is refused by the gate and never reaches the server.
func TestSecretGitPushThroughTheGate(t *testing.T) {
	needBwrapAsRoot(t)
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	ralph, fake := build(t)
	const token = "ghp_the_real_token_0123456789"
	repos := t.TempDir()
	genv := gitEnv(t)
	gitIn(t, genv, repos, "init", "--quiet", "--bare", "o/r.git")
	gitIn(t, genv, filepath.Join(repos, "o/r.git"), "config", "http.receivepack", "true")
	srv := &gitServer{want: "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token)),
		cgi: &cgi.Handler{Path: gitBin, Args: []string{"http-backend"}, Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}}}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	proj := project(t, 1000)
	fakeInProject(t, proj, fake)
	gitIn(t, genv, proj, "init", "--quiet")
	gitIn(t, genv, proj, "add", "-A")
	gitIn(t, genv, proj, "commit", "--quiet", "-m", "first")
	gitIn(t, genv, proj, "remote", "add", "origin", hs.URL+"/o/r.git")
	if out, err := exec.Command("chown", "-R", "1000:1000", proj).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	// The agent pushes, writes down its environment, and asks the route
	// for a page of the server that is not git's.
	plan := "sh:git push -q origin HEAD:refs/heads/from-sandbox && env >env-seen.txt" +
		" && (curl -s -o /dev/null -w %{http_code} http://github.secret.invalid/settings/tokens >web-status.txt || true),complete"
	state, cfg := t.TempDir(), t.TempDir()
	env := append(genv, "PATH="+os.Getenv("PATH"), "XDG_STATE_HOME="+state, "XDG_CONFIG_HOME="+cfg,
		"GITHUB_SERVER_URL="+hs.URL, "GITHUB_TOKEN="+token, "FAKE_PLAN="+plan)
	setSecret(t, ralph, proj, env, "github", token)
	code, out := runRalph(t, ralph, proj, env, "-n", "2", "--sandbox", "bwrap", "--agent", "claude", "--agent-cmd", "/work/.bin/claude",
		"--env", "FAKE_PLAN", "--env", "GITHUB_SERVER_URL", "--env", "GITHUB_TOKEN", "--stall-after", "0", "--max-retries", "0")
	logs, _ := filepath.Glob(filepath.Join(state, "ralph", "gates", "*", "log.jsonl"))
	var gateLog []byte
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		gateLog = append(gateLog, b...)
	}
	if code != 0 || !strings.Contains(out, "secret github: added by the gate to git's requests") {
		t.Fatalf("exit %d:\n%s\ngate log:\n%s\nserver saw %q", code, out, gateLog, srv.requests())
	}
	// The branch arrived, with the project's commit.
	if got, want := gitIn(t, genv, filepath.Join(repos, "o/r.git"), "rev-parse", "from-sandbox"), gitIn(t, genv, proj, "rev-parse", "HEAD"); got != want {
		t.Errorf("the server's from-sandbox is %q, want %q", got, want)
	}
	reqs := srv.requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r, "auth /o/r.git/") {
			t.Errorf("the server saw %q: want git's requests, each with the token", r)
		}
	}
	if b, err := os.ReadFile(filepath.Join(proj, "web-status.txt")); err != nil || string(b) != "403" {
		t.Errorf("a page that is not git's answered %q (%v) through the route, want 403", b, err)
	}
	seen, err := os.ReadFile(filepath.Join(proj, "env-seen.txt"))
	if err != nil || !strings.Contains(string(seen), "url.http://github.secret.invalid/.insteadOf") {
		t.Errorf("the agent's environment (%v) lacks git's route:\n%s", err, seen)
	}
	// The sandbox got ralph-helper, built beside ralph (helperbin), not
	// ralph itself: the gate's stamp names what it installed.
	stamps, _ := filepath.Glob(filepath.Join(state, "ralph", "gates", "*", "ralph.installed"))
	if len(stamps) != 1 {
		t.Errorf("gate stamps %q", stamps)
	} else if b, _ := os.ReadFile(stamps[0]); !strings.HasPrefix(string(b), filepath.Join(filepath.Dir(ralph), "ralph-helper")+" ") {
		t.Errorf("the sandbox's helper is not ralph-helper:\n%s", b)
	}
	if !strings.Contains(string(gateLog), `"secret":"github"`) {
		t.Errorf("the gate's log does not name the secret:\n%s", gateLog)
	}
	for what, b := range map[string]string{"the agent's environment": string(seen), "ralph's output": out, "the gate's log": string(gateLog)} {
		if strings.Contains(b, token) {
			t.Errorf("%s holds the token", what)
		}
	}
}
