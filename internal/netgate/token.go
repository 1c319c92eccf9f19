package netgate

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// A gate served on TCP (decision 014: a container in Docker Desktop's or
// podman machine's VM reaches the gate through a relay container, which
// reaches the host over TCP) takes only connections that open with its
// greeting: TokenGreeting and the token of that gate, one line. Anything
// else on the port (another container, another sandbox's relay, a local
// process) is closed unread.

// TokenGreeting starts the first line of a relayed connection.
const TokenGreeting = "RALPH-GATE/1 "

// TokenEnv carries the token to the relay (never to the sandbox).
const TokenEnv = "RALPH_GATE_TOKEN"

// TokenCheckTime bounds how long a connection may take to greet.
const TokenCheckTime = 5 * time.Second

// maxGreeting caps the connections greeting at once.
const maxGreeting = 64

// NewToken returns a fresh token: 32 random bytes in hex.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

func greeting(token string) []byte { return []byte(TokenGreeting + token + "\n") }

// DialToken dials the gate at addr over TCP and greets it with token.
func DialToken(ctx context.Context, addr, token string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(greeting(token)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TokenListener wraps l: Accept returns only the connections that greet
// with token within TokenCheckTime, with the greeting consumed; refused
// (when set) hears of every other one, which is closed. A slow greeter
// holds up nobody else, and at most maxGreeting greet at once (the rest
// are closed at once).
func TokenListener(l net.Listener, token string, refused func(from net.Addr, why string)) net.Listener {
	t := &tokenListener{Listener: l, want: greeting(token), ready: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{}),
		slots: make(chan struct{}, maxGreeting), refused: refused}
	if t.refused == nil {
		t.refused = func(net.Addr, string) {}
	}
	go t.accept()
	return t
}

type tokenListener struct {
	net.Listener
	want    []byte
	ready   chan net.Conn
	errs    chan error
	closed  chan struct{}
	once    sync.Once
	refused func(net.Addr, string)
	slots   chan struct{}
}

func (t *tokenListener) accept() {
	for {
		c, err := t.Listener.Accept()
		if err != nil {
			select {
			case t.errs <- err:
			case <-t.closed:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case t.slots <- struct{}{}:
		default:
			t.refused(c.RemoteAddr(), "too many connections greeting at once")
			c.Close()
			continue
		}
		go func() {
			defer func() { <-t.slots }()
			t.check(c)
		}()
	}
}

func (t *tokenListener) check(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(TokenCheckTime))
	got := make([]byte, len(t.want))
	_, err := io.ReadFull(c, got)
	c.SetReadDeadline(time.Time{})
	if err != nil || subtle.ConstantTimeCompare(got, t.want) != 1 {
		why := "a wrong token"
		if err != nil {
			why = "no token (" + err.Error() + ")"
		}
		t.refused(c.RemoteAddr(), why)
		c.Close()
		return
	}
	select {
	case t.ready <- c:
	case <-t.closed:
		c.Close()
	}
}

func (t *tokenListener) Accept() (net.Conn, error) {
	select {
	case c := <-t.ready:
		return c, nil
	case err := <-t.errs:
		return nil, err
	case <-t.closed:
		return nil, net.ErrClosed
	}
}

func (t *tokenListener) Close() error {
	t.once.Do(func() { close(t.closed) })
	return t.Listener.Close()
}

// Refused logs a connection the gate's TCP port closed unread (a
// TokenListener's refused).
func (g *Gate) Refused(from net.Addr, why string) {
	addr := ""
	if from != nil {
		addr = from.String()
	}
	g.log(Entry{Method: "GREET", Addr: addr, Decision: "deny", Rule: "gate port: " + why})
}
