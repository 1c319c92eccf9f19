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
