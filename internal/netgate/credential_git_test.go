package netgate

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestCredentialGitPush: the real git pushes (a pack over git's
// http.postBuffer: a probe, then a chunked POST) and clones through the
// gate's route (url.insteadOf, the gate as its proxy) to a real git
// server (git http-backend) that answers only requests with the token.
func TestCredentialGitPush(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	const auth = "Basic eC1hY2Nlc3MtdG9rZW46dG9rZW4="
	repos := t.TempDir()
	backend := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"}, Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}}
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != auth {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fullBody(r) // git http-backend needs CONTENT_LENGTH, which a chunked POST has not
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	up, _ := url.Parse(srv.URL)
	e := newEnvWith(t, rules(t, "allow "+up.Host), func(g *Gate) {
		g.Credentials = []Credential{{Name: "github", Host: CredentialHost("github"), Upstream: up, Header: "Authorization", Value: auth,
			Paths: regexp.MustCompile(`^/[^/]+/[^/]+/(info/refs|git-upload-pack|git-receive-pack)$`), PathsSay: "git's paths"}}
	})
	e.upstream[netip.MustParseAddrPort(up.Host)] = true
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.test", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.test",
			"http_proxy=http://"+e.addr, "GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=url.http://github.secret.invalid/.insteadOf", "GIT_CONFIG_VALUE_0=https://github.example/")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	bare := filepath.Join(repos, "o", "r.git")
	os.MkdirAll(bare, 0o755)
	git(bare, "init", "-q", "--bare")
	git(bare, "config", "http.receivepack", "true")
	work := t.TempDir()
	git(work, "init", "-q")
	big := make([]byte, 3<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(work, "f"), big, 0o644)
	git(work, "add", "f")
	git(work, "commit", "-qm", "one")
	git(work, "push", "-q", "https://github.example/o/r.git", "HEAD:refs/heads/pushed")
	if got, want := git(bare, "rev-parse", "pushed"), git(work, "rev-parse", "HEAD"); got != want {
		t.Errorf("pushed %q, want %q", got, want)
	}
	clone := filepath.Join(t.TempDir(), "c")
	git(filepath.Dir(clone), "clone", "-q", "--branch", "pushed", "https://github.example/o/r.git", clone)
	if b, err := os.ReadFile(filepath.Join(clone, "f")); err != nil || !bytes.Equal(b, big) {
		t.Errorf("the clone's file: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if !strings.HasSuffix(s, " "+auth) {
			t.Errorf("the server got %q without the token", s)
		}
	}
	if len(seen) < 4 {
		t.Errorf("the server saw %q: want a push and a clone", seen)
	}
}

// fullBody reads r's body whole so that its length is known.
func fullBody(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}
