package netgate

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"sync"
	"syscall"
	"time"
)

// Forward runs inside a sandbox: it accepts TCP connections on l (a
// loopback port the agent's HTTP_PROXY points at) and carries each to the
// gate's Unix socket, the sandbox's only way out. If the gate is down, the
// dial fails and nothing gets out.
func Forward(ctx context.Context, l net.Listener, socket string) error {
	return Carry(ctx, l, UnixDialer(socket, 0))
}

// UnixDialer dials socket; while it is missing or refuses (a relay
// starting or restarting) it tries again for up to wait (0: once).
func UnixDialer(socket string, wait time.Duration) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		end := time.Now().Add(wait)
		for {
			c, err := d.DialContext(ctx, "unix", socket)
			if err == nil || time.Now().After(end) || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)) {
				return c, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// Carry accepts connections on l until ctx ends and pipes each to a
// connection of dial's; one dial fails, its connection is closed.
func Carry(ctx context.Context, l net.Listener, dial func(context.Context) (net.Conn, error)) error {
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
			up, err := dial(ctx)
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
