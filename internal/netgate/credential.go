package netgate

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// Credential is a secret the gate adds to the requests of one API, so
// that the sandbox never holds it (decision 011). The sandbox's agent is
// pointed at http://Host/ (a name under .invalid, which resolves nowhere)
// through this gate; the gate sends each such request on to Upstream, over
// TLS when Upstream is https, with Header set to Value, after removing
// every credential header the sandbox sent. No other host ever gets it.
type Credential struct {
	Name     string   // the secret's name, logged with each use (never its value)
	Host     string   // the sandbox's name for the API: NAME.secret.invalid
	Upstream *url.URL // scheme://host[:port][/base path]
	Header   string   // "x-api-key", "x-goog-api-key" or "Authorization"
	Value    string   // the header's whole value ("Bearer …" for Authorization)
	// Paths, when set, are the only request paths the credential is
	// added to (git's token: its smart-HTTP paths, never the web site);
	// a request for another path is refused, not sent without it. It
	// must match the whole path (anchored: ^…$).
	Paths *regexp.Regexp
	// PathsSay names those paths in the refusal ("git's smart-HTTP
	// paths").
	PathsSay string
}

// CredentialHost is the name the sandbox uses for the API that the
// secret name authenticates.
func CredentialHost(name string) string { return name + ".secret.invalid" }

// credentialHeaders are the headers that carry a credential in the APIs
// the agents use: whatever the sandbox put there is dropped, never sent.
var credentialHeaders = []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Proxy-Authorization", "Cookie"}

// credential is the credential whose Host is host:port (port 80), if any.
func (g *Gate) credential(host string, port int) *Credential {
	if port != 80 {
		return nil
	}
	creds := g.Credentials
	if g.CredentialsFrom != nil {
		creds = g.CredentialsFrom()
	}
	for i := range creds {
		if strings.EqualFold(creds[i].Host, host) {
			return &creds[i]
		}
	}
	return nil
}

// credentialTunnel serves a CONNECT to a credential's Host (Node's
// proxy agents tunnel plain http:// too): the one HTTP request inside,
// which must name the same Host, goes on as a plain request would.
func (g *Gate) credentialTunnel(ctx context.Context, c net.Conn, br *bufio.Reader, cred *Credential, e Entry) {
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(g.headerTimeout()))
	head, err := readHead(br, maxHeader)
	if err != nil {
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(multiReader(head, br)))
	c.SetReadDeadline(time.Time{})
	if err != nil {
		g.refuse(c, e, refusal{http.StatusBadRequest, "malformed request in the tunnel to " + cred.Host})
		return
	}
	if hosts := hostHeaders(head); len(hosts) != 1 || !sameHost(hosts[0], cred.Host, 80) {
		g.refuse(c, e, refusal{http.StatusForbidden, fmt.Sprintf("the request in the tunnel to %s names another Host (%q)", cred.Host, strings.Join(hosts, ", "))})
		return
	}
	e.Method = req.Method
	g.inject(ctx, c, req, cred, e)
}

// inject carries req, addressed to cred's Host, to cred's Upstream with
// the credential. The upstream still passes the policy (deny beats
// allow) and the address checks of any other request.
func (g *Gate) inject(ctx context.Context, c net.Conn, req *http.Request, cred *Credential, e Entry) {
	if !cred.allows(req.URL.Path) {
		g.refuse(c, e, refusal{http.StatusForbidden, fmt.Sprintf("secret %s is added to %s only, not to %q", cred.Name, cred.PathsSay, req.URL.Path)})
		return
	}
	up := cred.Upstream
	upHost, upPort, err := policy.SplitHostPort(up.Host)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") {
		g.refuse(c, e, refusal{http.StatusBadGateway, fmt.Sprintf("secret %s: upstream %q is not an http(s) URL", cred.Name, up.String())})
		return
	}
	if upPort == 0 {
		upPort = 80
		if up.Scheme == "https" {
			upPort = 443
		}
	}
	e.Host, e.Port, e.Secret = upHost, upPort, cred.Name
	h, addr, rule, r := g.decide(ctx, upHost, upPort)
	e.Host = h.String()
	if r != nil {
		g.refuse(c, e, *r)
		return
	}
	e.Addr = addr.String()
	conn, err := dial(ctx, addr)
	if err != nil {
		g.refuse(c, e, refusal{http.StatusBadGateway, "dial " + addr.String() + ": " + err.Error()})
		return
	}
	defer conn.Close()
	if up.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: h.String(), RootCAs: g.RootCAs, MinVersion: tls.VersionTLS12})
		hctx, cancel := context.WithTimeout(ctx, g.headerTimeout())
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			g.refuse(c, e, refusal{http.StatusBadGateway, "TLS to " + up.Host + ": " + err.Error()})
			return
		}
		conn = tc
	}
	e.Decision, e.Rule = "allow", rule
	g.log(e)
	for _, k := range credentialHeaders {
		req.Header.Del(k)
	}
	req.Header.Del("Proxy-Connection")
	req.Header.Set(cred.Header, cred.Value)
	req.URL = &url.URL{Scheme: up.Scheme, Host: up.Host, Path: joinPath(up.Path, req.URL.Path), RawQuery: req.URL.RawQuery}
	req.Host = up.Host
	req.Close = true
	if err := req.Write(conn); err != nil {
		return
	}
	g.copyIdle(c, conn, &activity{})
}

// allows reports whether the credential goes with a request for p: any
// path when Paths is unset, else a clean path (no dot segments, no
// doubled slash) that Paths matches whole.
func (cred *Credential) allows(p string) bool {
	if cred.Paths == nil {
		return true
	}
	return p != "" && path.Clean(p) == p && cred.Paths.MatchString(p)
}

// joinPath puts the request's path under the upstream's base path.
func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	j := path.Join(base, p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(j, "/") {
		j += "/"
	}
	return j
}
