package netgate

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// testResolver maps .test names to fixed addresses: the test-only
// resolver; nothing leaves the machine.
type testResolver map[string]string

func (r testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	a, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) entries(t *testing.T) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var e Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

type env struct {
	gate     *Gate
	addr     string // the gate's listen address
	plain    *httptest.Server
	tls      *httptest.Server
	log      *syncBuf
	policy   atomic.Pointer[policy.Policy]
	upstream map[netip.AddrPort]bool
}

func rules(t testing.TB, specs ...string) *policy.Policy {
	var rs []policy.Rule
	for _, s := range specs {
		a, p, _ := strings.Cut(s, " ")
		r, err := policy.ParseRule(policy.Action(a), p, "test")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return policy.Compile(rs)
}

func newEnv(t *testing.T, p *policy.Policy) *env {
	t.Helper()
	return newEnvWith(t, p, nil)
}

// newEnvWith is newEnv with the gate's settings changed before it serves.
func newEnvWith(t *testing.T, p *policy.Policy, set func(*Gate)) *env {
	t.Helper()
	e := &env{log: &syncBuf{}, upstream: map[netip.AddrPort]bool{}}
	e.plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain upstream: host=%s", r.Host)
	}))
	e.tls = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls upstream: host=%s", r.Host)
	}))
	t.Cleanup(e.plain.Close)
	t.Cleanup(e.tls.Close)
	for _, s := range []*httptest.Server{e.plain, e.tls} {
		e.upstream[netip.MustParseAddrPort(s.Listener.Addr().String())] = true
	}
	e.policy.Store(p)
	e.gate = &Gate{
		Sandbox: "test-box",
		Policy:  e.policy.Load,
		Resolver: testResolver{
			"allowed.test": "127.0.0.1", "other.test": "127.0.0.1", "denied.test": "127.0.0.1",
			"rebind.test": "127.0.0.1", "private.test": "10.0.0.7", "metadata.test": "169.254.169.254",
		},
		Log: e.log,
		// Only the upstreams this test started are reachable on loopback.
		testAllow: func(a netip.AddrPort) bool { return e.upstream[a] },
	}
	if set != nil {
		set(e.gate)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.gate.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func port(s *httptest.Server) string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// client goes through the gate as a sandboxed agent would.
func (e *env) client(serverName string) *http.Client {
	pool := e.tls.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: e.addr}),
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, InsecureSkipVerify: serverName == "*"},
	}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAllowedHTTPAndHTTPS(t *testing.T) {
	e := newEnv(t, rules(t, "allow allowed.test"))
	code, body := get(t, e.client("example.com"), "http://allowed.test:"+port(e.plain)+"/x")
	if code != 200 || !strings.Contains(body, "plain upstream") {
		t.Errorf("HTTP: %d %q", code, body)
	}
	// httptest's certificate is for example.com; the SNI must still be
	// the CONNECT host, so verification is skipped on the client side.
	c := e.client("*")
	c.Transport.(*http.Transport).TLSClientConfig.ServerName = ""
	code, body = get(t, c, "https://allowed.test:"+port(e.tls)+"/y")
	if code != 200 || !strings.Contains(body, "tls upstream") {
		t.Errorf("HTTPS: %d %q", code, body)
	}
	for _, en := range e.log.entries(t) {
		if en.Decision != "allow" || en.Host != "allowed.test" || en.Sandbox != "test-box" || en.Addr == "" || en.Rule != "allow allowed.test (test)" {
			t.Errorf("log entry %+v", en)
		}
	}
}

func TestDenied(t *testing.T) {
	e := newEnv(t, rules(t, "allow allowed.test", "allow **", "deny denied.test"))
	e.policy.Store(rules(t, "allow allowed.test", "deny denied.test"))
	c := e.client("*")
	for _, u := range []string{
		"http://other.test:" + port(e.plain) + "/",
		"https://other.test:" + port(e.tls) + "/",
		"http://denied.test:" + port(e.plain) + "/",
	} {
		if code, body := get(t, c, u); code == 200 {
			t.Errorf("%s reached: %q", u, body)
		}
	}
	ens := e.log.entries(t)
	if len(ens) != 3 {
		t.Fatalf("log: %+v", ens)
	}
	for _, en := range ens {
		if en.Decision != "deny" {
			t.Errorf("logged %+v", en)
		}
	}
}

func TestDenyBeatsAllowAndChangesApply(t *testing.T) {
	e := newEnv(t, rules(t, "allow **"))
	c := e.client("*")
	u := "http://other.test:" + port(e.plain) + "/"
	if code, _ := get(t, c, u); code != 200 {
		t.Fatalf("** did not allow: %d", code)
	}
	e.policy.Store(rules(t, "allow **", "deny other.test"))
	c.CloseIdleConnections()
	if code, _ := get(t, c, u); code != 403 {
		t.Errorf("deny did not beat **: %d", code)
	}
}

// raw sends a request to the gate and returns the response status line
// (and what follows, for tunnels).
func raw(t *testing.T, e *env, req string) (*bytes.Buffer, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, req)
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	return bytes.NewBuffer(buf[:n]), c
}

func TestHostHeaderSpoofing(t *testing.T) {
	e := newEnv(t, rules(t, "allow allowed.test"))
	resp, _ := raw(t, e, "GET http://allowed.test:"+port(e.plain)+"/ HTTP/1.1\r\nHost: evil.test\r\n\r\n")
	if !strings.HasPrefix(resp.String(), "HTTP/1.1 403") || !strings.Contains(resp.String(), "Host header") {
		t.Errorf("Host spoofing: %q", resp)
	}
}

func TestSNISpoofing(t *testing.T) {
	e := newEnv(t, rules(t, "allow allowed.test"))
	_, c := raw(t, e, "CONNECT allowed.test:"+port(e.tls)+" HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	tc := tls.Client(c, &tls.Config{ServerName: "evil.test", InsecureSkipVerify: true})
	if err := tc.Handshake(); err == nil {
		t.Fatal("TLS with SNI evil.test through a tunnel to allowed.test completed")
	}
	found := false
	for _, en := range e.log.entries(t) {
		if en.Decision == "deny" && strings.Contains(en.Rule, `SNI "evil.test"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no SNI deny logged: %+v", e.log.entries(t))
	}
}

func TestIPLiteralsAndPrivateRanges(t *testing.T) {
	e := newEnv(t, rules(t, "allow **"))
	p := port(e.plain)
	// Literals are refused on the policy, before any tunnel opens.
	for _, target := range []string{
		"127.0.0.1:" + p, "2130706433:" + p, "0x7f.1:" + p, "0177.0.0.1:" + p, "127.1:" + p,
		"[::1]:" + p, "[::ffff:127.0.0.1]:" + p, "169.254.169.254:80", "[fd00:ec2::254]:80", "10.0.0.1:80",
	} {
		resp, _ := raw(t, e, "CONNECT "+target+" HTTP/1.1\r\n\r\n")
		if !strings.HasPrefix(resp.String(), "HTTP/1.1 403") && !strings.HasPrefix(resp.String(), "HTTP/1.1 400") {
			t.Errorf("CONNECT %s: %q", target, resp)
		}
	}
	// Allowed names that resolve to special addresses: the tunnel opens on
	// the policy, then closes without carrying a byte (the rules name the
	// ports, so plain HTTP may go through the tunnel).
	e.policy.Store(rules(t, "allow **:9", "allow **:80"))
	for _, target := range []string{"rebind.test:9", "private.test:80", "metadata.test:80"} {
		resp, c := raw(t, e, "CONNECT "+target+" HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(c)
		if got := resp.String() + string(rest); got != "HTTP/1.1 200 Connection established\r\n\r\n" {
			t.Errorf("CONNECT %s carried: %q", target, got)
		}
	}
	found := 0
	for _, en := range e.log.entries(t) {
		if en.Decision == "deny" && strings.Contains(en.Rule, "resolves only to loopback, private, link-local or metadata") {
			found++
		}
	}
	if found != 3 {
		t.Errorf("%d rebinding refusals logged, want 3: %+v", found, e.log.entries(t))
	}
	// An explicit IP rule is the way to reach a private address.
	e.policy.Store(rules(t, "allow 10.0.0.7:80"))
	if _, _, _, r := e.gate.decide(context.Background(), "private.test", 80); r == nil {
		t.Error("private.test was allowed by no rule")
	}
	e.policy.Store(rules(t, "allow private.test", "allow 10.0.0.7:80"))
	if _, a, _, r := e.gate.decide(context.Background(), "private.test", 80); r != nil || a.String() != "10.0.0.7:80" {
		t.Errorf("explicit IP rule: %v %v", a, r)
	}
}

func TestSpecial(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00:ec2::254", "fc00::1", "::", "ff02::1", "::ffff:10.0.0.1"} {
		if !Special(netip.MustParseAddr(s)) {
			t.Errorf("%s not special", s)
		}
	}
	for _, s := range []string{"203.0.113.7", "8.8.8.8", "2001:db8::1"} {
		if Special(netip.MustParseAddr(s)) {
			t.Errorf("%s special", s)
		}
	}
}

// localhost resolves to the loopback, which a name rule alone never
// reaches (a name that resolves to loopback is DNS rebinding's shape):
// with the address rule for the same port as well (what ralph writes for
// an agent endpoint on localhost) it does, through a plain request and a
// tunnel, at that port only.
func TestLocalhostNeedsAnAddressRule(t *testing.T) {
	// No test-only loopback exemption: what gets through is the gate's own.
	e := newEnvWith(t, nil, func(g *Gate) {
		g.testAllow = nil
		g.Resolver = testResolver{"localhost": "127.0.0.1"}
	})
	p := port(e.plain)
	reach := func() (plain, tunnelled bool, how string) {
		code, body := get(t, e.client(""), "http://localhost:"+p+"/")
		resp, c := raw(t, e, "CONNECT localhost:"+p+" HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\nHost: localhost:"+p+"\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(c)
		tunnel := resp.String() + string(rest)
		return code == 200, strings.Contains(tunnel, "plain upstream"), fmt.Sprintf("GET %d %q; CONNECT %q", code, body, tunnel)
	}
	for _, rs := range [][]string{{"allow localhost:" + p}, {"allow **"}, {"allow 127.0.0.1:1", "allow localhost:" + p}, {"allow localhost:" + p, "allow 127.0.0.1:" + p, "deny localhost"}} {
		e.policy.Store(rules(t, rs...))
		if plain, tunnelled, how := reach(); plain || tunnelled {
			t.Errorf("%q reached the loopback: %s", rs, how)
		}
	}
	e.policy.Store(rules(t, "allow localhost:"+p, "allow 127.0.0.1:"+p))
	if plain, tunnelled, how := reach(); !plain || !tunnelled {
		t.Errorf("the name and the address rule did not reach it: %s", how)
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
