package netgate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

const payload = 64 << 20

// benchEnv starts a gate allowing everything on loopback, an upstream
// serving payload bytes, and the sandbox side of the real path: the
// forwarder on a loopback port, carrying to the gate's Unix socket.
func benchEnv(tb testing.TB) (gateAddr, fwdAddr, upHost string) {
	tb.Helper()
	data := make([]byte, 1<<20)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(payload))
		for n := 0; n < payload; n += len(data) {
			w.Write(data)
		}
	}))
	tb.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	// Plain HTTP through a tunnel: the rule names the port.
	g := &Gate{Policy: policyOf(tb, "allow bench.test:"+port), Resolver: testResolver{"bench.test": "127.0.0.1"},
		testAllow: func(netip.AddrPort) bool { return true }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tb.Cleanup(func() { cancel(); wg.Wait() })
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	sock := filepath.Join(tb.TempDir(), "gate.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	fl, _ := net.Listen("tcp", "127.0.0.1:0")
	wg.Add(3)
	go func() { defer wg.Done(); g.Serve(ctx, l) }()
	go func() { defer wg.Done(); g.Serve(ctx, ul) }()
	go func() { defer wg.Done(); Forward(ctx, fl, sock) }()
	return l.Addr().String(), fl.Addr().String(), "bench.test:" + port
}

// download fetches the payload through a CONNECT tunnel (or directly when
// gate is empty) and returns the bytes read.
func download(tb testing.TB, gate, upHost string) int64 {
	addr := strings.Replace(upHost, "bench.test", "127.0.0.1", 1)
	var c net.Conn
	var err error
	if gate == "" {
		c, err = net.Dial("tcp", addr)
	} else {
		c, err = net.Dial("tcp", gate)
		if err == nil {
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", upHost)
			br := bufio.NewReader(c)
			line, _ := br.ReadString('\n')
			if !strings.Contains(line, "200") {
				tb.Fatalf("CONNECT: %q", line)
			}
			br.ReadString('\n')
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n")
	n, _ := io.Copy(io.Discard, c)
	return n
}

// BenchmarkDownload: a 64 MiB download direct on loopback, through the
// gate, and through the whole path an agent's download takes (the
// forwarder in the sandbox, the gate's Unix socket, the gate), in one
// run. Goal: the gate at least 80 % of direct (compare the MB/s).
func BenchmarkDownload(b *testing.B) {
	gate, fwd, up := benchEnv(b)
	for _, via := range []struct{ name, addr string }{{"direct", ""}, {"gate", gate}, {"forwarder+gate", fwd}} {
		b.Run(via.name, func(b *testing.B) {
			b.SetBytes(payload)
			for b.Loop() {
				if n := download(b, via.addr, up); n < payload {
					b.Fatalf("short read %d", n)
				}
			}
		})
	}
}

// BenchmarkConnectLatency reports the p50 and p99 time to an open tunnel
// through the gate, and the same for a direct connection.
func BenchmarkConnectLatency(b *testing.B) {
	gate, _, up := benchEnv(b)
	addr := strings.Replace(up, "bench.test", "127.0.0.1", 1)
	for _, via := range []string{"direct", "gate"} {
		b.Run(via, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if via == "direct" {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(start))
					c.Close()
					continue
				}
				c, err := net.Dial("tcp", gate)
				if err != nil {
					b.Fatal(err)
				}
				fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", up)
				line, _ := bufio.NewReader(c).ReadString('\n')
				ds = append(ds, time.Since(start))
				if !strings.Contains(line, "200") {
					b.Fatal(line)
				}
				c.Close()
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// TestThousandTunnels holds 1,000 tunnels open at once and checks the
// gate's memory stays bounded.
func TestThousandTunnels(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	echo := echoServer(t)
	_, port, _ := net.SplitHostPort(echo.Addr().String())
	g := &Gate{Policy: policyOf(t, "allow bench.test:"+port), Resolver: testResolver{"bench.test": "127.0.0.1"},
		testAllow: func(netip.AddrPort) bool { return true }}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Serve(ctx, l); close(done) }()
	defer func() { cancel(); <-done }()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	for i := 0; i < 1000; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("tunnel %d: %v", i, err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "CONNECT bench.test:%s HTTP/1.1\r\n\r\n", port)
	}
	for i, c := range conns {
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		br.ReadString('\n')
		if !strings.Contains(line, "200") {
			t.Fatalf("tunnel %d: %q", i, line)
		}
		fmt.Fprintf(c, "ping %d\n", i)
	}
	// Every tunnel carries data both ways.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 32)
		n, err := c.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), fmt.Sprintf("ping %d", i)) {
			t.Fatalf("tunnel %d echo: %q %v", i, buf[:n], err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("1000 tunnels: heap in use grew %d KiB (%d KiB a tunnel, both ends in this process)", grown>>10, grown>>10/1000)
	if grown > 200<<20 {
		t.Errorf("heap grew %d MiB for 1000 tunnels", grown>>20)
	}
	for _, c := range conns {
		c.Close()
	}
}

func policyOf(tb testing.TB, specs ...string) func() *policy.Policy {
	p := rules(tb, specs...)
	return func() *policy.Policy { return p }
}

// echoServer is a loopback upstream that sends back what it receives.
func echoServer(t testing.TB) net.Listener {
	t.Helper()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return echo
}
