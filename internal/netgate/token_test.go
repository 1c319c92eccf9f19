package netgate

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTokenListener: only a connection that greets with the gate's
// token reaches Accept, with the greeting consumed; a wrong token, a
// bare proxy request, a half greeting and a silent client are closed and
// reported, and a silent one holds up nobody else.
func TestTokenListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	token := NewToken()
	var mu sync.Mutex
	var refused []string
	l := TokenListener(raw, token, func(_ net.Addr, why string) {
		mu.Lock()
		refused = append(refused, why)
		mu.Unlock()
	})
	defer l.Close()
	addr := raw.Addr().String()

	got := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(got)
				return
			}
			b, _ := io.ReadAll(c)
			got <- string(b)
			c.Close()
		}
	}()

	// A silent client first: it must not delay the good one.
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	attackers := []string{
		"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n",
		TokenGreeting + strings.Repeat("0", 64) + "\n",
		TokenGreeting + token[:10],
		TokenGreeting + NewToken() + "\nCONNECT example.test:443 HTTP/1.1\r\n\r\n",
	}
	for _, a := range attackers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(a))
		c.(*net.TCPConn).CloseWrite()
		// Closed unread: the read ends without a byte of the gate's.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, _ := io.ReadAll(c); len(b) > 0 {
			t.Errorf("%q got an answer: %q", a, b)
		}
		c.Close()
	}
	start := time.Now()
	good, err := DialToken(context.Background(), addr, token)
	if err != nil {
		t.Fatal(err)
	}
	good.Write([]byte("CONNECT x:443 HTTP/1.1\r\n\r\n"))
	good.(*net.TCPConn).CloseWrite()
	select {
	case s := <-got:
		if s != "CONNECT x:443 HTTP/1.1\r\n\r\n" {
			t.Errorf("the gate read %q, want the request alone", s)
		}
	case <-time.After(TokenCheckTime - time.Second):
		t.Fatal("the good connection waited behind the silent one")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the good connection took %v", d)
	}
	good.Close()
	mu.Lock()
	if len(refused) != len(attackers) {
		t.Errorf("refused %q, want %d", refused, len(attackers))
	}
	mu.Unlock()
	l.Close()
	if _, ok := <-got; ok {
		t.Error("Accept returned a connection after Close")
	}
}

// TestTokenListenerCapsGreeters: silent connections hold at most
// maxGreeting slots; one more is closed at once and reported, so a flood
// of them cannot pile up goroutines and descriptors for 5 s each.
func TestTokenListenerCapsGreeters(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, maxGreeting+8)
	l := TokenListener(raw, NewToken(), func(_ net.Addr, why string) { refused <- why })
	defer l.Close()
	for range maxGreeting {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(200 * time.Millisecond) // all accepted and waiting
	extra, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	select {
	case why := <-refused:
		if !strings.Contains(why, "too many") {
			t.Errorf("refused for %q, want too many greeting", why)
		}
	case <-time.After(TokenCheckTime - time.Second):
		t.Fatal("the connection past the cap was not refused at once")
	}
	extra.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the connection past the cap is still open: %v", err)
	}
}
