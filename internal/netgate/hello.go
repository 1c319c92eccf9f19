package netgate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

var errGotHello = errors.New("client hello read")

// helloConn lets crypto/tls read a ClientHello from the client while
// recording every byte, and never lets it write.
type helloConn struct {
	net.Conn
	r   io.Reader
	rec bytes.Buffer
}

func (h *helloConn) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.rec.Write(p[:n])
	return n, err
}

func (h *helloConn) Write(p []byte) (int, error) { return 0, io.ErrClosedPipe }

// readClientHello reads the client's TLS ClientHello and returns its SNI
// and the raw bytes read, to be replayed to the upstream. The standard
// library parses the hello; the handshake is abandoned right after.
func readClientHello(ctx context.Context, c net.Conn, br *bufio.Reader) (string, []byte, error) {
	hc := &helloConn{Conn: c, r: br}
	sni, seen := "", false
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni, seen = h.ServerName, true
		return nil, errGotHello
	}}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	err := tls.Server(hc, cfg).HandshakeContext(ctx)
	if !seen {
		if err == nil {
			err = errors.New("no ClientHello")
		}
		return "", nil, err
	}
	return sni, hc.rec.Bytes(), nil
}

// startsWithTLS waits briefly for the client's first byte and reports
// whether it opens a TLS handshake record. A client that says nothing
// (a server-speaks-first protocol) gets a plain tunnel.
func startsWithTLS(c net.Conn, br *bufio.Reader) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	b, err := br.Peek(1)
	if err != nil {
		br.Read(nil) // clear the deadline error the reader kept
		return false
	}
	return b[0] == 0x16
}
