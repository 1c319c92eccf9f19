package netgate

import (
	"context"
	"net"
	"sync"
)

// Forward runs inside a sandbox: it accepts TCP connections on l (a
// loopback port the agent's HTTP_PROXY points at) and carries each to the
// gate's Unix socket, the sandbox's only way out. If the gate is down, the
// dial fails and nothing gets out.
func Forward(ctx context.Context, l net.Listener, socket string) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			var d net.Dialer
			up, err := d.DialContext(ctx, "unix", socket)
			if err != nil {
				return
			}
			defer up.Close()
			Pipe(c, up)
		}()
	}
}

// Pipe copies both ways between two connections (with copyConn's
// growing buffer) and closes each write side as its source ends; it
// returns when both directions have. A connection without CloseWrite
// (a yamux stream, say) is closed instead, which for yamux is a half-close.
func Pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		copyConn(dst, src)
		closeWrite(dst)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
