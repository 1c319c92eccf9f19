// Package netgate is ralph's egress gate: an HTTP forward proxy (plain
// requests and CONNECT tunnels) that is a sandbox's only way out. It
// decides on the requested host with the sandbox's policy, resolves the
// name itself and dials the address it resolved (never one the client
// chose), refuses loopback, private, link-local, CGNAT, multicast and
// metadata addresses (IPv4 embedded in IPv6 included) unless an explicit
// IP rule allows them, and logs every decision as a JSON line.
//
// Every client is hostile: the header block is bounded (431) and must
// arrive within HeaderTimeout; a tunnel carries TLS whose SNI names the
// CONNECT host (checked before anything leaves), or, only where a rule
// names the port explicitly, another protocol (an HTTP request in it must
// name the same Host); plain requests must carry a matching Host; each
// client has a connection cap that refuses rather than queues; idle
// tunnels end after IdleTimeout; the accept loop rides out transient
// errors (EMFILE) as net/http does.
package netgate

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// Resolver resolves names; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Gate is one sandbox's proxy.
type Gate struct {
	Sandbox string
	// Policy returns the policy in force; it is called per request.
	Policy func() *policy.Policy
	// Resolver defaults to net.DefaultResolver. Tests give their own.
	Resolver Resolver
	// Log receives one JSON object a line per decision (may be nil).
	Log io.Writer
	// MaxConns bounds concurrent connections (default 4096) and
	// MaxConnsPerClient those of one client address (default 1024; a
	// sandbox's Unix socket is one client). Past either, a new connection
	// is closed at once: the accept loop never waits.
	MaxConns, MaxConnsPerClient int
	// HeaderTimeout bounds the wait for a request's header block and a
	// tunnel's TLS ClientHello (default 10s); IdleTimeout ends a tunnel or
	// a response that carried no byte either way for that long (default
	// 15m).
	HeaderTimeout, IdleTimeout time.Duration
	// Errors, when set, hears about the listener's transient errors.
	Errors func(error)
	// Credentials are the secrets the gate adds to the requests of their
	// APIs (credential.go); RootCAs verifies those APIs' certificates
	// (nil: the system's).
	Credentials []Credential
	RootCAs     *x509.CertPool
	// CredentialsFrom, when set, is asked for the credentials per request
	// instead (a fleet's gate reads them from a Secret the kubelet
	// updates); it must be cheap and safe to call at once from many
	// connections.
	CredentialsFrom func() []Credential

	// testAllow lets the package's own tests reach their loopback
	// upstreams; nothing outside the tests can set it.
	testAllow func(netip.AddrPort) bool

	logMu sync.Mutex
}

// Entry is one logged decision.
type Entry struct {
	Time     time.Time `json:"time"`
	Sandbox  string    `json:"sandbox"`
	Method   string    `json:"method"`
	Host     string    `json:"host"`
	Port     int       `json:"port"`
	Addr     string    `json:"addr,omitempty"`
	Decision string    `json:"decision"`
	Rule     string    `json:"rule"`
	Secret   string    `json:"secret,omitempty"` // the secret the gate added (its name)
}

// refusal is a request the gate will not carry.
type refusal struct {
	status int
	msg    string
}

func (g *Gate) refuse(c net.Conn, e Entry, r refusal) {
	e.Decision, e.Rule = "deny", r.msg
	g.log(e)
	body := "ralph gate: " + r.msg + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		r.status, http.StatusText(r.status), len(body), body)
}

// allowed checks the policy for host:port.
func (g *Gate) allowed(hostStr string, port int) (policy.Host, *policy.Policy, policy.Decision, *refusal) {
	h, err := policy.ParseHost(hostStr)
	if err != nil {
		return h, nil, policy.Decision{}, &refusal{http.StatusBadRequest, err.Error()}
	}
	p := g.Policy()
	d := p.Decide(h, port)
	if !d.Allowed {
		return h, p, d, &refusal{http.StatusForbidden, d.Reason()}
	}
	return h, p, d, nil
}

// resolve picks the address to dial for an allowed host: the literal
// itself, or the first resolved address that is not special (unless an
// IP rule allows it).
func (g *Gate) resolve(ctx context.Context, h policy.Host, p *policy.Policy, port int) (netip.AddrPort, *refusal) {
	if h.IP.IsValid() {
		return netip.AddrPortFrom(h.IP, uint16(port)), nil
	}
	res := g.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := res.LookupNetIP(rctx, "ip", h.Name)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, &refusal{http.StatusBadGateway, fmt.Sprintf("cannot resolve %s", h.Name)}
	}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if !Special(a) || p.AllowsAddr(a, port) || (g.testAllow != nil && g.testAllow(netip.AddrPortFrom(a, uint16(port)))) {
			return netip.AddrPortFrom(a, uint16(port)), nil
		}
	}
	return netip.AddrPort{}, &refusal{http.StatusForbidden,
		fmt.Sprintf("%s resolves only to loopback, private, link-local or metadata addresses (%v); allow one with an IP rule", h.Name, addrs[0])}
}

// decide checks the policy and picks the address to dial.
func (g *Gate) decide(ctx context.Context, hostStr string, port int) (policy.Host, netip.AddrPort, string, *refusal) {
	h, p, d, r := g.allowed(hostStr, port)
	if r != nil {
		return h, netip.AddrPort{}, "", r
	}
	a, r := g.resolve(ctx, h, p, port)
	return h, a, d.Reason(), r
}

func dial(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	return d.DialContext(ctx, "tcp", a.String())
}

// forward serves a plain-HTTP proxy request (absolute-form URL).
func (g *Gate) forward(ctx context.Context, c net.Conn, br *bufio.Reader, req *http.Request, hosts []string) {
	e := Entry{Method: req.Method}
	if !req.URL.IsAbs() || req.URL.Scheme != "http" {
		g.refuse(c, e, refusal{http.StatusBadRequest, "this is an egress proxy: send absolute http:// URLs, or CONNECT for TLS"})
		return
	}
	hostStr, port, err := policy.SplitHostPort(req.URL.Host)
	if err != nil {
		g.refuse(c, e, refusal{http.StatusBadRequest, err.Error()})
		return
	}
	if port == 0 {
		port = 80
	}
	e.Host, e.Port = hostStr, port
	if len(hosts) > 1 || (len(hosts) == 1 && !sameHost(hosts[0], req.URL.Host, 80)) {
		g.refuse(c, e, refusal{http.StatusForbidden, fmt.Sprintf("Host header %q does not match the request target %q", strings.Join(hosts, ", "), req.URL.Host)})
		return
	}
	if cred := g.credential(hostStr, port); cred != nil {
		g.inject(ctx, c, req, cred, e)
		return
	}
	h, addr, rule, r := g.decide(ctx, hostStr, port)
	e.Host = h.String()
	if r != nil {
		g.refuse(c, e, *r)
		return
	}
	e.Addr = addr.String()
	up, err := dial(ctx, addr)
	if err != nil {
		g.refuse(c, e, refusal{http.StatusBadGateway, "dial " + addr.String() + ": " + err.Error()})
		return
	}
	defer up.Close()
	e.Decision, e.Rule = "allow", rule
	g.log(e)
	req.Header.Del("Proxy-Connection")
	req.Header.Del("Proxy-Authorization")
	req.Close = true
	if err := req.Write(up); err != nil {
		return
	}
	g.copyIdle(c, up, &activity{})
}

// sameHost compares two host[:port] strings canonically.
func sameHost(a, b string, defPort int) bool {
	ah, ap, err1 := policy.SplitHostPort(a)
	bh, bp, err2 := policy.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if ap == 0 {
		ap = defPort
	}
	if bp == 0 {
		bp = defPort
	}
	x, err1 := policy.ParseHost(ah)
	y, err2 := policy.ParseHost(bh)
	return err1 == nil && err2 == nil && x == y && ap == bp
}

func (g *Gate) log(e Entry) {
	if g.Log == nil {
		return
	}
	e.Time = time.Now().UTC()
	e.Sandbox = g.Sandbox
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	g.logMu.Lock()
	g.Log.Write(append(b, '\n'))
	g.logMu.Unlock()
}
