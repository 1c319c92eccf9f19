package netgate

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const realKey = "sk-ant-real-0123456789"

// recorder is an API upstream that records what reached it.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	fmt.Fprint(w, "api answered")
}

func (r *recorder) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// credEnv is a gate with one credential for an upstream API over TLS
// (httptest's certificate names example.com), reached as anthropic.
func credEnv(t *testing.T, p string) (*env, *recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{}
	api := httptest.NewTLSServer(rec)
	t.Cleanup(api.Close)
	e := newEnvWith(t, rules(t, strings.Split(p, ";")...), func(g *Gate) {
		g.Resolver = testResolver{"example.com": "127.0.0.1", "allowed.test": "127.0.0.1", "anthropic.secret.invalid": "127.0.0.1"}
		g.RootCAs = api.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		g.Credentials = []Credential{{Name: "anthropic", Host: CredentialHost("anthropic"),
			Upstream: &url.URL{Scheme: "https", Host: "example.com:" + port(api), Path: "/base"}, Header: "x-api-key", Value: realKey}}
	})
	plain := httptest.NewServer(rec) // the same API without TLS, asked for directly
	t.Cleanup(plain.Close)
	for _, s := range []*httptest.Server{api, plain} {
		e.upstream[netip.MustParseAddrPort(s.Listener.Addr().String())] = true
	}
	return e, rec, plain
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// post sends a plain-HTTP proxy request through the gate with the
// headers a hostile agent chose, and returns the status.
func post(t *testing.T, e *env, target string, headers map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(`{"model":"m"}`))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client("*").Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCredentialAddedForItsAPIOnly(t *testing.T) {
	e, rec, _ := credEnv(t, "allow example.com;allow allowed.test")
	// The agent sends its placeholder, and a stolen credential of its own.
	code := post(t, e, "http://anthropic.secret.invalid/v1/messages?beta=true", map[string]string{
		"x-api-key": "placeholder", "Authorization": "Bearer agent-chosen", "X-Goog-Api-Key": "agent-chosen"})
	reqs := rec.all()
	if code != 200 || len(reqs) != 1 {
		t.Fatalf("status %d, %d requests reached the API", code, len(reqs))
	}
	r := reqs[0]
	if got := r.Header.Get("x-api-key"); got != realKey {
		t.Errorf("x-api-key = %q, want the secret", got)
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Goog-Api-Key") != "" {
		t.Errorf("the agent's own credential headers were forwarded: %v", r.Header)
	}
	if r.URL.Path != "/base/v1/messages" || r.URL.RawQuery != "beta=true" || !strings.HasPrefix(r.Host, "example.com:") {
		t.Errorf("arrived as %s %s?%s (Host %s)", r.Method, r.URL.Path, r.URL.RawQuery, r.Host)
	}
	// Through a CONNECT tunnel to the route's name, as Node's proxy
	// agents send plain http:// too: the same.
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT anthropic.secret.invalid:80 HTTP/1.1\r\nHost: anthropic.secret.invalid:80\r\n\r\nPOST /v1/x HTTP/1.1\r\nHost: anthropic.secret.invalid\r\nx-api-key: placeholder\r\nContent-Length: 0\r\n\r\n")
	io.ReadAll(c)
	c.Close()
	if reqs = rec.all(); len(reqs) != 2 || reqs[1].Header.Get("x-api-key") != realKey || reqs[1].URL.Path != "/base/v1/x" {
		t.Errorf("through a tunnel: %d requests, the last %v", len(reqs), reqs[len(reqs)-1].Header)
	}
	// The log names the secret and the upstream, never the value.
	logged := e.log.String()
	if strings.Contains(logged, realKey) || !strings.Contains(logged, `"secret":"anthropic"`) || !strings.Contains(logged, `"host":"example.com"`) {
		t.Errorf("log: %s", logged)
	}
}

func TestCredentialNeverElsewhere(t *testing.T) {
	e, rec, plain := credEnv(t, "allow example.com;allow allowed.test;allow **")
	// The API's own name and address, asked for directly: no secret added.
	if code := post(t, e, "http://example.com:"+port(plain)+"/v1/messages", map[string]string{"x-api-key": "placeholder"}); code != 200 {
		t.Fatalf("the direct request (the positive control) answered %d", code)
	}
	// Another port of the secret's name, and a tunnel to it: refused.
	for _, u := range []string{"http://anthropic.secret.invalid:8080/v1/messages"} {
		if code := post(t, e, u, map[string]string{"x-api-key": "placeholder"}); code == 200 {
			t.Errorf("%s answered 200", u)
		}
	}
	// A tunnel to the route's name on another port, an HTTP request in
	// it: an ordinary tunnel (accepted on allow **), and the name
	// resolves nowhere: nothing leaves, no secret is added.
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT anthropic.secret.invalid:8080 HTTP/1.1\r\nHost: anthropic.secret.invalid:8080\r\n\r\nPOST /v1/messages HTTP/1.1\r\nHost: anthropic.secret.invalid:8080\r\nContent-Length: 0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c)
	c.Close()
	// The route's tunnel with a request inside for another Host: refused.
	c, err = net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT anthropic.secret.invalid:80 HTTP/1.1\r\nHost: anthropic.secret.invalid:80\r\n\r\nPOST /v1/messages HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 0\r\n\r\n")
	io.ReadAll(c)
	c.Close()
	// A Host header that names another host than the target: refused.
	req, _ := http.NewRequest(http.MethodPost, "http://anthropic.secret.invalid/v1/messages", nil)
	req.Host = "allowed.test"
	if resp, err := e.client("*").Do(req); err == nil {
		if resp.StatusCode == 200 {
			t.Error("a Host that does not match the target got through")
		}
		resp.Body.Close()
	}
	for _, r := range rec.all() {
		if r.Header.Get("x-api-key") == realKey {
			t.Errorf("the secret reached %s %s outside its own route", r.Host, r.URL.Path)
		}
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d requests reached the API, want the direct one only", n)
	}
	if strings.Contains(e.log.String(), realKey) {
		t.Error("the log holds the secret")
	}
}

func TestCredentialUpstreamStillDecided(t *testing.T) {
	e, rec, _ := credEnv(t, "allow allowed.test;allow example.com;deny example.com")
	if code := post(t, e, "http://anthropic.secret.invalid/v1/messages", nil); code != http.StatusForbidden {
		t.Errorf("status %d, want 403: a denied upstream is denied with a secret too", code)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d requests reached a denied API", n)
	}
}

func TestCredentialUpstreamCertificateChecked(t *testing.T) {
	e, rec, _ := credEnv(t, "allow example.com")
	e.gate.RootCAs = nil // the system's roots do not know httptest's certificate
	if code := post(t, e, "http://anthropic.secret.invalid/v1/messages", nil); code != http.StatusBadGateway {
		t.Errorf("status %d, want 502 for an upstream the gate cannot verify", code)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("the secret went to an unverified upstream (%d requests)", n)
	}
}

// TestCredentialOnlyOnItsPaths: a credential limited to git's paths
// (the github secret) goes with git's requests only; any other path of
// the same route, or a dotted or doubled one that a server could fold
// onto a git path, is refused with nothing sent.
func TestCredentialOnlyOnItsPaths(t *testing.T) {
	e, rec, _ := credEnv(t, "allow example.com")
	e.gate.Credentials[0].Paths = regexp.MustCompile(`^/[^/]+/[^/]+/(info/refs|git-upload-pack|git-receive-pack)$`)
	e.gate.Credentials[0].PathsSay = "git's smart-HTTP paths"
	if code := post(t, e, "http://anthropic.secret.invalid/o/r.git/git-receive-pack", nil); code != 200 {
		t.Fatalf("git's path (the positive control) answered %d", code)
	}
	for _, p := range []string{"/settings/tokens", "/o/r.git/info/refs/x", "/o/../info/refs", "/o//r/info/refs", "/o/r/./info/refs", "/", "/o/r.git/git-receive-pack/"} {
		if code := post(t, e, "http://anthropic.secret.invalid"+p, nil); code != http.StatusForbidden {
			t.Errorf("%s answered %d, want 403", p, code)
		}
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d requests reached the upstream, want git's one only", n)
	}
	if !strings.Contains(e.log.String(), "git's smart-HTTP paths") {
		t.Errorf("the refusal does not say why:\n%s", e.log.String())
	}
}
