package netgate

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// Copy buffer sizes: an idle or chatty tunnel holds the small one; a
// read that fills the buffer doubles it, up to the large one, for bulk
// transfers.
const (
	minCopyBuf = 16 << 10
	maxCopyBuf = 256 << 10
)

// copyConn copies src to dst in user space, with a buffer that grows
// while reads fill it. Measured on loopback (BenchmarkDownload), this
// moves 1.6x the bytes of splice(2) through the kernel, which goes
// through a pipe in small chunks; 1,000 idle tunnels hold 2 x 16 KiB each.
func copyConn(dst, src net.Conn) {
	buf := make([]byte, minCopyBuf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if n == len(buf) && len(buf) < maxCopyBuf {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err != nil {
			return
		}
	}
}

// closeWrite ends the write side of c, or closes it when it cannot
// half-close, so the far end sees EOF.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// activity is when a tunnel last moved a byte, either way.
type activity struct{ last atomic.Int64 }

func (a *activity) touch()               { a.last.Store(time.Now().UnixNano()) }
func (a *activity) since() time.Duration { return time.Since(time.Unix(0, a.last.Load())) }

// copyIdle is copyConn with an idle limit: a read that waits the gate's
// IdleTimeout while no byte moved either way (act) ends the copy.
func (g *Gate) copyIdle(dst, src net.Conn, act *activity) {
	idle := g.idle()
	buf := make([]byte, minCopyBuf)
	var deadline time.Time
	for {
		// The deadline moves only when it has drifted (a timer reset on
		// every read cost a few percent of a bulk download).
		if now := time.Now(); now.Add(idle).Sub(deadline) > min(time.Second, idle/4) {
			deadline = now.Add(idle)
			src.SetReadDeadline(deadline)
		}
		n, err := src.Read(buf)
		if n > 0 {
			act.touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if n == len(buf) && len(buf) < maxCopyBuf {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && act.since() < idle {
				continue // the other way is busy: this one may wait
			}
			return
		}
	}
}
