package selftest

import (
	"bufio"
	"context"
	"fmt"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// rows runs the network battery against the proxy at addr and applies
// the host's verdicts, as Run does.
func rows(t *testing.T, proxy string, up *upstream) map[int]Result {
	t.Helper()
	t.Setenv("HTTPS_PROXY", "http://"+proxy)
	// No network namespace here: the direct attempts go to a port
	// nothing listens on, so only what goes through the proxy counts.
	tcp, _, err := listenTCP("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp.Close()
	cfg := ProbeConfig{TCP: tcp.Addr().String(), UDP: "127.0.0.1:9", RebindName: "localhost",
		DeniedName: "denied.ralph-selftest.invalid", Upstream: fmt.Sprintf("localhost:%d", up.Addr().(*net.TCPAddr).Port)}
	rs := network(cfg)
	upstreamVerdict(rs, cfg, up)
	out := map[int]Result{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// TestGateRowsHold: behind ralph's real gate, with the upstream allowed
// by name and address, rows 6 to 8 hold, and the positive control got
// through.
func TestGateRowsHold(t *testing.T) {
	sandboxtest.SkipShort(t)
	up, err := listenUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	var rules []policy.Rule
	// As Run allows them: by name and port (a plain tunnel needs the port
	// named), and by address.
	for _, p := range []string{fmt.Sprintf("localhost:%d", up.Addr().(*net.TCPAddr).Port), up.Addr().String()} {
		r, err := policy.ParseRule(policy.Allow, p, "test")
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	pol := policy.Compile(rules)
	g := &netgate.Gate{Sandbox: "test", Policy: func() *policy.Policy { return pol }}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Serve(ctx, l)
	got := rows(t, l.Addr().String(), up)
	for _, id := range []int{6, 7, 8} {
		if got[id].Status != Held {
			t.Errorf("row %d behind the real gate: %s: %s", id, got[id].Status, got[id].Detail)
		}
	}
	if up.n.Load() == 0 {
		t.Error("the positive control never reached the upstream")
	}
}

// TestBrokenGateFails: a proxy that lets everything through (no policy,
// no SNI or Host check) must fail rows 6, 7 and 8: no probe of the gate
// is one that cannot fail.
func TestBrokenGateFails(t *testing.T) {
	sandboxtest.SkipShort(t)
	up, err := listenUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go openProxy(c, up.Addr().String())
		}
	}()
	got := rows(t, l.Addr().String(), up)
	for _, id := range []int{6, 7, 8} {
		if got[id].Status != Failed {
			t.Errorf("row %d behind an open proxy: %s (tried %s)", id, got[id].Status, got[id].Tried)
		}
	}
	if !strings.Contains(got[7].Detail, "allowed upstream received") {
		t.Errorf("row 7: the spoofed requests reaching the upstream went unseen: %s", got[7].Detail)
	}
}

// openProxy serves one connection as a proxy with no rules at all: every
// CONNECT and every request goes to the upstream.
func openProxy(c net.Conn, upstream string) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	if req.Method == http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	} else {
		req.Write(u)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}
	go io.Copy(u, br)
	io.Copy(c, u)
}
