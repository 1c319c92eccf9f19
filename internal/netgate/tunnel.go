package netgate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// serverFirstWait is how long a tunnel whose rule names its port waits
// for the client to speak before it lets the server speak first (SSH,
// SMTP); the client's first bytes are still inspected when they come.
const serverFirstWait = 2 * time.Second

// tunnel serves CONNECT host:port. The tunnel is accepted on the policy
// alone; then the client's first bytes decide, before anything leaves
// (not even a DNS query): a TLS ClientHello must name the CONNECT host; an
// HTTP request must carry it as its Host; anything else, or silence, is
// carried only where the rule that allowed the tunnel names this port.
func (g *Gate) tunnel(ctx context.Context, c net.Conn, br *bufio.Reader, req *http.Request) {
	e := Entry{Method: "CONNECT"}
	hostStr, port, err := policy.SplitHostPort(req.RequestURI)
	e.Host, e.Port = hostStr, port
	if err != nil || port == 0 {
		g.refuse(c, e, refusal{http.StatusBadRequest, "CONNECT needs host:port"})
		return
	}
	if cred := g.credential(hostStr, port); cred != nil {
		g.credentialTunnel(ctx, c, br, cred, e)
		return
	}
	h, p, d, r := g.allowed(hostStr, port)
	e.Host = h.String()
	if r != nil {
		g.refuse(c, e, *r)
		return
	}
	explicit := d.Rule != nil && d.Rule.Port() == port
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	wait := g.headerTimeout()
	if explicit {
		wait = serverFirstWait
	}
	c.SetReadDeadline(time.Now().Add(wait))
	_, perr := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if perr != nil {
		br.Read(nil) // clear the deadline error the reader kept
	}
	var first []byte
	if perr == nil {
		var why string
		if first, why = g.inspect(ctx, c, br, h, port, explicit); why != "" {
			e.Decision, e.Rule = "deny", why
			g.log(e)
			return
		}
	} else if !explicit {
		e.Decision, e.Rule = "deny", fmt.Sprintf("no TLS ClientHello within %s: a tunnel carries TLS for the CONNECT host, or any protocol only where a rule names port %d (%s:%d)", wait, port, h, port)
		g.log(e)
		return
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
	e.Decision, e.Rule = "allow", d.Reason()
	g.log(e)
	if len(first) > 0 {
		if _, err := up.Write(first); err != nil {
			return
		}
	}
	late := perr != nil // the server spoke first: look at the client's bytes when they come
	g.splice(ctx, c, br, up, func(act *activity) bool {
		if !late {
			return true
		}
		for {
			c.SetReadDeadline(time.Now().Add(g.idle()))
			_, err := br.Peek(1)
			c.SetReadDeadline(time.Time{})
			if err == nil {
				break
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() && act.since() < g.idle() {
				continue // the server is still talking
			}
			return true // nothing more from the client: the copy ends on its own
		}
		b, why := g.inspect(ctx, c, br, h, port, explicit)
		if why != "" {
			e.Decision, e.Rule, e.Addr = "deny", why+" (after the server spoke)", addr.String()
			g.log(e)
			return false
		}
		_, err := up.Write(b)
		return err == nil
	})
}

// inspect classifies the client's first bytes (at least one has
// arrived) and returns what it consumed, to be replayed upstream, or why
// the tunnel is refused.
func (g *Gate) inspect(ctx context.Context, c net.Conn, br *bufio.Reader, h policy.Host, port int, explicit bool) ([]byte, string) {
	b, _ := br.Peek(1)
	if b[0] == 0x16 {
		c.SetReadDeadline(time.Now().Add(g.headerTimeout()))
		defer c.SetReadDeadline(time.Time{})
		sni, hello, err := readClientHello(ctx, c, br)
		if err != nil {
			return nil, "no TLS ClientHello: " + err.Error()
		}
		if !sniMatches(sni, h) {
			return nil, fmt.Sprintf("TLS SNI %q does not match the CONNECT host %s", sni, h)
		}
		return hello, ""
	}
	if !explicit {
		return nil, fmt.Sprintf("not TLS: a tunnel carries TLS for the CONNECT host, or any protocol only where a rule names port %d (%s:%d)", port, h, port)
	}
	c.SetReadDeadline(time.Now().Add(g.headerTimeout()))
	defer c.SetReadDeadline(time.Time{})
	if !looksHTTP(br) {
		br.Read(nil)
		return nil, "" // another protocol, on a port a rule names
	}
	head, err := readHead(br, maxHeader)
	if err != nil {
		return nil, "HTTP in the tunnel: " + err.Error()
	}
	hosts := hostHeaders(head)
	if len(hosts) > 1 || (len(hosts) == 1 && !sameName(hosts[0], h)) {
		return nil, fmt.Sprintf("HTTP in the tunnel names Host %q, not the CONNECT host %s", fmt.Sprint(hosts), h)
	}
	return head, ""
}

func sniMatches(sni string, h policy.Host) bool {
	if h.IP.IsValid() {
		return sni == "" // a tunnel to an address carries no name
	}
	s, err := policy.ParseHost(sni)
	return err == nil && s.Name == h.Name
}

// sameName reports whether a Host header (with or without a port) names h.
func sameName(host string, h policy.Host) bool {
	hs, _, err := policy.SplitHostPort(host)
	if err != nil {
		return false
	}
	x, err := policy.ParseHost(hs)
	return err == nil && x == h
}

// splice copies both ways until both sides end; before is called once
// before the client's bytes are copied upstream and may refuse them. No
// byte either way for IdleTimeout ends the tunnel.
func (g *Gate) splice(ctx context.Context, c net.Conn, br *bufio.Reader, up net.Conn, before func(*activity) bool) {
	act := &activity{}
	act.touch()
	done := make(chan struct{}, 2)
	go func() {
		if before(act) {
			// What the reader already holds, then the socket itself.
			if n := br.Buffered(); n > 0 {
				b, _ := br.Peek(n)
				up.Write(b)
				br.Discard(n)
			}
			g.copyIdle(up, c, act)
		} else {
			c.Close()
			up.Close()
		}
		closeWrite(up)
		done <- struct{}{}
	}()
	go func() {
		g.copyIdle(c, up, act)
		closeWrite(c)
		done <- struct{}{}
	}()
	<-done
	<-done
}
