// Package netgate is ralph's egress gate: an HTTP forward proxy (plain
// requests and CONNECT tunnels) that is a sandbox's only way out. It
// decides on the requested host with the sandbox's policy, resolves the
// name itself and dials the address it resolved (never one the client
// chose), refuses loopback, private, link-local, CGNAT, multicast and
// metadata addresses unless an explicit IP rule allows them, checks the TLS
// SNI of CONNECT tunnels to port 443 and the Host header of plain requests
// against the requested host, and logs every decision as a JSON line.
package netgate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	// MaxConns bounds concurrent connections (default 4096).
	MaxConns int

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
}

// Serve accepts connections on l until ctx is done or l fails, then
// closes every open connection and waits for its handlers.
func (g *Gate) Serve(ctx context.Context, l net.Listener) error {
	max := g.MaxConns
	if max == 0 {
		max = 4096
	}
	sem := make(chan struct{}, max)
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer func() {
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		sem <- struct{}{}
		mu.Lock()
		open[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				mu.Lock()
				delete(open, c)
				mu.Unlock()
				c.Close()
			}()
			g.handle(ctx, c)
		}()
	}
}

// refusal is a request the gate will not carry.
type refusal struct {
	status int
	msg    string
}

func (g *Gate) handle(ctx context.Context, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(c, maxHeader)
	hosts, ok := rawHostHeaders(br)
	if !ok {
		g.refuse(c, Entry{Method: "?"}, refusal{http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request header over %d bytes", maxHeader)})
		return
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	if req.Method == http.MethodConnect {
		g.tunnel(ctx, c, br, req)
		return
	}
	g.forward(ctx, c, br, req, hosts)
}

// maxHeader bounds a request's header block (and the gate's memory per
// connection).
const maxHeader = 16 << 10

// rawHostHeaders returns the Host header values of the request waiting in
// br, read before net/http folds them into the URL's host. ok is false
// when the header block does not fit in the reader.
func rawHostHeaders(br *bufio.Reader) (hosts []string, ok bool) {
	// Peek only what has arrived, one more byte at a time past it, until
	// the blank line that ends the header block (or the buffer is full).
	var head []byte
	want := 1
	for {
		_, err := br.Peek(want)
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			head = b[:i]
			break
		}
		if err != nil {
			head = b
			break
		}
		if want >= br.Size() {
			return nil, false
		}
		want = max(br.Buffered(), want) + 1
	}
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), "host") {
			hosts = append(hosts, string(bytes.TrimSpace(v)))
		}
	}
	return hosts, true
}

func (g *Gate) refuse(c net.Conn, e Entry, r refusal) {
	e.Decision, e.Rule = "deny", r.msg
	g.log(e)
	body := "ralph gate: " + r.msg + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		r.status, http.StatusText(r.status), len(body), body)
}

// allowed checks the policy for host:port.
func (g *Gate) allowed(hostStr string, port int) (policy.Host, *policy.Policy, string, *refusal) {
	h, err := policy.ParseHost(hostStr)
	if err != nil {
		return h, nil, "", &refusal{http.StatusBadRequest, err.Error()}
	}
	p := g.Policy()
	d := p.Decide(h, port)
	if !d.Allowed {
		return h, p, "", &refusal{http.StatusForbidden, d.Reason()}
	}
	return h, p, d.Reason(), nil
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
	h, p, rule, r := g.allowed(hostStr, port)
	if r != nil {
		return h, netip.AddrPort{}, "", r
	}
	a, r := g.resolve(ctx, h, p, port)
	return h, a, rule, r
}

func dial(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: 15 * time.Second}
	return d.DialContext(ctx, "tcp", a.String())
}

// tunnel serves CONNECT host:port.
func (g *Gate) tunnel(ctx context.Context, c net.Conn, br *bufio.Reader, req *http.Request) {
	e := Entry{Method: "CONNECT"}
	hostStr, port, err := policy.SplitHostPort(req.RequestURI)
	e.Host, e.Port = hostStr, port
	if err != nil || port == 0 {
		g.refuse(c, e, refusal{http.StatusBadRequest, "CONNECT needs host:port"})
		return
	}
	h, p, rule, r := g.allowed(hostStr, port)
	e.Host = h.String()
	if r != nil {
		g.refuse(c, e, *r)
		return
	}
	// The tunnel is accepted on the policy alone, so the TLS name is
	// checked before anything leaves: a spoofed SNI never reaches the
	// network, not even as a DNS query.
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	var first []byte
	if port == 443 || startsWithTLS(c, br) {
		sni, hello, err := readClientHello(ctx, c, br)
		if err != nil {
			e.Decision, e.Rule = "deny", "no TLS ClientHello: "+err.Error()
			g.log(e)
			return
		}
		if !sniMatches(sni, h) {
			e.Decision, e.Rule = "deny", fmt.Sprintf("TLS SNI %q does not match the CONNECT host %s", sni, h)
			g.log(e)
			return
		}
		first = hello
	}
	addr, r := g.resolve(ctx, h, p, port)
	if r != nil {
		e.Decision, e.Rule = "deny", r.msg
		g.log(e)
		return
	}
	e.Addr = addr.String()
	up, err := dial(ctx, addr)
	if err != nil {
		e.Decision, e.Rule = "deny", "dial "+addr.String()+": "+err.Error()
		g.log(e)
		return
	}
	defer up.Close()
	e.Decision, e.Rule = "allow", rule
	g.log(e)
	if len(first) > 0 {
		if _, err := up.Write(first); err != nil {
			return
		}
	}
	splice(c, br, up)
}

func sniMatches(sni string, h policy.Host) bool {
	if h.IP.IsValid() {
		return sni == "" // a tunnel to an address carries no name
	}
	s, err := policy.ParseHost(sni)
	return err == nil && s.Name == h.Name
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
	io.Copy(c, up)
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

// splice copies both ways until either side ends.
func splice(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		// What the reader already holds, then the socket itself.
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			up.Write(b)
			br.Discard(n)
		}
		copyConn(up, c)
		closeWrite(up)
		done <- struct{}{}
	}()
	go func() {
		copyConn(c, up)
		closeWrite(c)
		done <- struct{}{}
	}()
	<-done
	<-done
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

var (
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
	thisNet  = netip.MustParsePrefix("0.0.0.0/8")
	metadata = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
)

// Special reports addresses a name may not resolve to without an explicit
// IP rule: loopback, private, link-local, CGNAT, multicast, unspecified,
// "this network", broadcast and cloud metadata.
func Special(a netip.Addr) bool {
	a = a.Unmap()
	for _, m := range metadata {
		if a == m {
			return true
		}
	}
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		cgnat.Contains(a) || thisNet.Contains(a) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
