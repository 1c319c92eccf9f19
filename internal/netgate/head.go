package netgate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxHeader bounds a request's header block (and the gate's memory per
// connection).
const maxHeader = 16 << 10

var errHeadTooLarge = fmt.Errorf("request header over %d bytes", maxHeader)

// readHead reads a header block, request line to blank line included,
// of at most max bytes; it reads nothing past the blank line, so what
// follows stays in br for the tunnel or the body.
func readHead(br *bufio.Reader, max int) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if len(head)+len(line) > max {
			return nil, errHeadTooLarge
		}
		if len(head) == 0 && (string(line) == "\r\n" || string(line) == "\n") {
			continue // blank lines before a request line are ignored (RFC 9112)
		}
		head = append(head, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // a long line: go on reading it, within max
		}
		if err != nil {
			return nil, err
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return head, nil
		}
	}
}

// hostHeaders returns the Host header values of a header block, as sent,
// before net/http folds them into the URL.
func hostHeaders(head []byte) []string {
	var hosts []string
	lines := bytes.Split(head, []byte("\n"))
	for _, line := range lines[1:] {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), "host") {
			hosts = append(hosts, string(bytes.TrimSpace(v)))
		}
	}
	return hosts
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func multiReader(head []byte, rest io.Reader) io.Reader {
	return io.MultiReader(bytes.NewReader(head), rest)
}

// httpMethods open an HTTP/1 request; a tunnel whose first bytes are one
// of them carries plain HTTP.
var httpMethods = []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "}

// looksHTTP reports whether the client's first bytes (already arrived,
// at least one) open an HTTP request. It waits for at most the longest
// method's bytes, under the connection's read deadline.
func looksHTTP(br *bufio.Reader) bool {
	for n := 1; n <= len("OPTIONS "); n++ {
		b, err := br.Peek(n)
		if err != nil {
			return false
		}
		prefix, done := false, false
		for _, m := range httpMethods {
			if strings.HasPrefix(m, string(b)) {
				prefix = true
				done = done || len(b) == len(m)
			}
		}
		if !prefix {
			return false
		}
		if done {
			return true
		}
	}
	return false
}
