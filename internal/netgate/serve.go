package netgate

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

func (g *Gate) headerTimeout() time.Duration {
	if g.HeaderTimeout > 0 {
		return g.HeaderTimeout
	}
	return 10 * time.Second
}

func (g *Gate) idle() time.Duration {
	if g.IdleTimeout > 0 {
		return g.IdleTimeout
	}
	return 15 * time.Minute
}

// clientOf names the client a connection counts against: its address
// without the port (a pod), or the socket (a sandbox).
func clientOf(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.Network()
}

// Serve accepts connections on l until ctx is done or l fails for good,
// then closes every open connection and waits for its handlers. A
// transient accept error (out of file descriptors, say) is waited out with
// a growing pause, as net/http does; the gate never stops on one.
func (g *Gate) Serve(ctx context.Context, l net.Listener) error {
	maxAll, maxOne := g.MaxConns, g.MaxConnsPerClient
	if maxAll == 0 {
		maxAll = 4096
	}
	if maxOne == 0 {
		maxOne = 1024
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	perClient := map[string]int{}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer func() {
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var pause time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !transient(err) {
				return err
			}
			if g.Errors != nil {
				g.Errors(err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		who := clientOf(c)
		mu.Lock()
		over := len(open) >= maxAll || perClient[who] >= maxOne
		if !over {
			open[c] = struct{}{}
			perClient[who]++
		}
		mu.Unlock()
		if over {
			// Refused at once, never queued: one client cannot hold the
			// accept loop or another client's share.
			g.log(Entry{Method: "?", Decision: "deny", Rule: "too many connections from this client (limit per client and in all)"})
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(open, c)
				if perClient[who]--; perClient[who] <= 0 {
					delete(perClient, who)
				}
				mu.Unlock()
				c.Close()
			}()
			g.handle(ctx, c)
		}()
	}
}

// transient reports accept errors worth waiting out.
func transient(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (g *Gate) handle(ctx context.Context, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(g.headerTimeout()))
	br := bufio.NewReaderSize(c, 4096)
	head, err := readHead(br, maxHeader)
	if errors.Is(err, errHeadTooLarge) {
		g.refuse(c, Entry{Method: "?"}, refusal{http.StatusRequestHeaderFieldsTooLarge, err.Error()})
		return
	}
	if err != nil {
		return // the client went away or was too slow
	}
	req, err := http.ReadRequest(bufio.NewReader(bytesReader(head)))
	if err != nil {
		g.refuse(c, Entry{Method: "?"}, refusal{http.StatusBadRequest, "malformed request"})
		return
	}
	c.SetReadDeadline(time.Time{})
	if req.Method == http.MethodConnect {
		g.tunnel(ctx, c, br, req)
		return
	}
	// Read again with the body behind the head.
	req, err = http.ReadRequest(bufio.NewReader(multiReader(head, br)))
	if err != nil {
		g.refuse(c, Entry{Method: "?"}, refusal{http.StatusBadRequest, "malformed request"})
		return
	}
	g.forward(ctx, c, br, req, hostHeaders(head))
}
