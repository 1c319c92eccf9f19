package netgate

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The sandbox's side of the gate is hostile: each test here is an attack
// an agent can make through its proxy.

// countingListener counts the bytes the gate reads from its clients.
type countingListener struct {
	net.Listener
	read atomic.Int64
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, &l.read}, nil
}

func serve(t *testing.T, g *Gate, l net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestHugeHeaderIsRefusedWithBoundedReads(t *testing.T) {
	e := newEnv(t, rules(t, "allow allowed.test"))
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	cl := &countingListener{Listener: l}
	serve(t, e.gate, cl)
	for _, tc := range []struct {
		name string
		head string
	}{
		{"a 20 KB header", "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-Pad: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"},
		{"many small headers", "GET http://allowed.test/ HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 4000) + "\r\n"},
		{"a CONNECT with a huge header", "CONNECT allowed.test:443 HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"},
	} {
		c, err := net.Dial("tcp", cl.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		go io.WriteString(c, tc.head)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 431") {
			t.Errorf("%s: got %q, want 431", tc.name, line)
		}
	}
	// An endless header line (600 MB in the review): the gate answers 431
	// after reading at most its bound, however much the client sends.
	before := cl.read.Load()
	c, err := net.Dial("tcp", cl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		io.WriteString(c, "GET http://allowed.test/ HTTP/1.1\r\nX-Pad: ")
		chunk := []byte(strings.Repeat("a", 64<<10))
		for i := 0; i < 1024; i++ { // up to 64 MiB
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 431") {
		t.Errorf("endless header: got %q, want 431", line)
	}
	time.Sleep(100 * time.Millisecond)
	if got := cl.read.Load() - before; got > maxHeader+64<<10 {
		t.Errorf("the gate read %d bytes of an endless header, want at most about %d", got, maxHeader)
	}
}

// hello sends a TLS ClientHello with sni through an open tunnel and
// reports whether the handshake completed.
func hello(c net.Conn, sni string) error {
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(15 * time.Second))
	return tc.Handshake()
}

func TestSNIIsCheckedOnEveryPortAndAfterAPause(t *testing.T) {
	e := newEnvWith(t, nil, func(g *Gate) { g.HeaderTimeout = 5 * time.Second })
	tp := port(e.tls)
	for _, tc := range []struct {
		name, rule, sni string
		pause           time.Duration
		ok              bool
	}{
		{"no port in the rule, a pause, a spoofed SNI", "allow allowed.test", "evil.test", 2500 * time.Millisecond, false},
		{"the port in the rule, a pause past the server-first wait, a spoofed SNI", "allow allowed.test:" + tp, "evil.test", 2500 * time.Millisecond, false},
		{"the port in the rule, no pause, a spoofed SNI", "allow allowed.test:" + tp, "evil.test", 0, false},
		{"positive control: the port in the rule, a pause, the right SNI", "allow allowed.test:" + tp, "allowed.test", 2500 * time.Millisecond, true},
		{"positive control: no port, the right SNI", "allow allowed.test", "allowed.test", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e.policy.Store(rules(t, tc.rule))
			resp, c := raw(t, e, "CONNECT allowed.test:"+tp+" HTTP/1.1\r\n\r\n")
			if !strings.HasPrefix(resp.String(), "HTTP/1.1 200") {
				t.Fatalf("CONNECT: %q", resp)
			}
			time.Sleep(tc.pause)
			err := hello(c, tc.sni)
			if (err == nil) != tc.ok {
				t.Errorf("handshake with SNI %s: %v, want ok=%v", tc.sni, err, tc.ok)
			}
		})
	}
	t.Cleanup(func() {
		n := 0
		for _, en := range e.log.entries(t) {
			if en.Decision == "deny" && strings.Contains(en.Rule, `SNI "evil.test"`) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d SNI refusals logged, want 3", n)
		}
	})
}

func TestPlainProtocolsOnlyWhereARuleNamesThePort(t *testing.T) {
	e := newEnvWith(t, nil, func(g *Gate) { g.HeaderTimeout = time.Second })
	pp := port(e.plain)
	for _, tc := range []struct {
		name, rule, host string
		ok               bool
	}{
		{"HTTP through a tunnel, no port in the rule", "allow allowed.test", "allowed.test", false},
		{"HTTP through a tunnel, the port in the rule, another Host", "allow allowed.test:" + pp, "evil.test", false},
		{"positive control: the port in the rule, the right Host", "allow allowed.test:" + pp, "allowed.test", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.policy.Store(rules(t, tc.rule))
			_, c := raw(t, e, "CONNECT allowed.test:"+pp+" HTTP/1.1\r\n\r\n")
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			b, _ := io.ReadAll(c)
			if got := strings.Contains(string(b), "plain upstream"); got != tc.ok {
				t.Errorf("reached the upstream: %v, want %v (%q)", got, tc.ok, b)
			}
		})
	}
	// A binary protocol with silence first (the server speaks first, as
	// SSH does) is carried only on a port a rule names.
	e.policy.Store(rules(t, "allow allowed.test"))
	_, c := raw(t, e, "CONNECT allowed.test:"+pp+" HTTP/1.1\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("a silent tunnel without a port rule carried %q", b)
	}
}

func TestOneClientCannotStarveAnother(t *testing.T) {
	e := newEnvWith(t, rules(t, "allow allowed.test"), func(g *Gate) {
		g.MaxConnsPerClient = 20
		g.HeaderTimeout = 500 * time.Millisecond
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	serve(t, e.gate, l)
	// Client A (127.0.0.2) opens many idle connections.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var idle []net.Conn
	for i := 0; i < 200; i++ {
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// Client B is served at once.
	start := time.Now()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET http://allowed.test:"+port(e.plain)+"/ HTTP/1.1\r\nHost: allowed.test:"+port(e.plain)+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(line, "HTTP/1.1 200") || time.Since(start) > 2*time.Second {
		t.Errorf("client B got %q after %s", line, time.Since(start))
	}
	// A's connections past its share were closed at once, the rest when
	// their header did not come within HeaderTimeout.
	closed := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			closed++
		}
	}
	if closed != len(idle) {
		t.Errorf("%d of %d idle connections closed by the gate", closed, len(idle))
	}
}

func TestIdleTunnelsEnd(t *testing.T) {
	echo := echoServer(t)
	_, p, _ := net.SplitHostPort(echo.Addr().String())
	e := newEnvWith(t, rules(t, "allow allowed.test:"+p), func(g *Gate) { g.IdleTimeout = 300 * time.Millisecond })
	e.upstream[netip.MustParseAddrPort(echo.Addr().String())] = true
	_, c := raw(t, e, "CONNECT allowed.test:"+p+" HTTP/1.1\r\n\r\n")
	// A tunnel in use lives on past the idle limit...
	for i := 0; i < 6; i++ {
		io.WriteString(c, "ping\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// ...and ends once nothing moves.
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle tunnel read: %v, want EOF", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("idle tunnel ended after %s", took)
	}
}

// flakyListener fails Accept with EMFILE a few times, as a process out of
// file descriptors does.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptSurvivesEMFILE(t *testing.T) {
	var seen atomic.Int32
	e := newEnvWith(t, rules(t, "allow allowed.test"), func(g *Gate) { g.Errors = func(error) { seen.Add(1) } })
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	serve(t, e.gate, &flakyListener{Listener: l, fails: 5})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET http://allowed.test:"+port(e.plain)+"/ HTTP/1.1\r\nHost: allowed.test:"+port(e.plain)+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200") || seen.Load() != 5 {
		t.Errorf("after 5 EMFILE: %q, %d errors reported", line, seen.Load())
	}
}

func TestIPv6FormsOfIPv4AreChecked(t *testing.T) {
	for _, s := range []string{
		"::7f00:1", "::a00:1", // IPv4-compatible
		"::ffff:0:7f00:1",                       // IPv4-translated
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of loopback, metadata
		"64:ff9b:1::808:808",             // local-use NAT64
		"2002:7f00:1::1", "2002:a00:1::", // 6to4 of loopback, private
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
		"fec0::1", "100::1",
	} {
		if !Special(netip.MustParseAddr(s)) {
			t.Errorf("%s is not special", s)
		}
	}
	for _, s := range []string{"64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"} {
		if Special(netip.MustParseAddr(s)) {
			t.Errorf("%s (public) is special", s)
		}
	}
	// A name that resolves to one of them is refused.
	e := newEnvWith(t, rules(t, "allow **"), func(g *Gate) {
		g.Resolver = testResolver{"embedded.test": "::7f00:1", "nat64.test": "64:ff9b::7f00:1"}
	})
	for _, name := range []string{"embedded.test", "nat64.test"} {
		if _, _, _, r := e.gate.decide(context.Background(), name, 80); r == nil {
			t.Errorf("%s (resolves to an IPv6 form of 127.0.0.1) was allowed", name)
		}
	}
}
