package microvm

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// The one channel between ralph and a guest is a virtio serial port,
// multiplexed with yamux. Each stream starts with a JSON header line
// naming its op; exec streams then carry frames, proxy streams raw bytes.

// Ops of a stream header.
const (
	opPing     = "ping"     // host -> guest: answered with "ok\n"
	opExec     = "exec"     // host -> guest: run a command
	opPoweroff = "poweroff" // host -> guest: sync and power off
	opProxy    = "proxy"    // guest -> host: one proxy connection for the gate
)

// header opens every stream.
type header struct {
	Op   string   `json:"op"`
	Argv []string `json:"argv,omitempty"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	// TTY asks for a pseudo-terminal of Rows x Cols (ralph shell).
	TTY  bool   `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// Frame kinds of an exec stream.
const (
	frameStdin    byte = 0 // host -> guest
	frameStdout   byte = 1 // guest -> host
	frameStderr   byte = 2 // guest -> host
	frameExit     byte = 3 // guest -> host: 4-byte big-endian status
	frameStdinEOF byte = 4 // host -> guest
	frameKill     byte = 5 // host -> guest: kill the process group
)

const maxFrame = 1 << 20

func writeFrame(w io.Writer, kind byte, data []byte) error {
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(data)))
	if _, err := w.Write(append(h[:], data...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("microvm: frame of %d bytes", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, err
	}
	return h[0], data, nil
}

// frameWriter turns writes into frames of one kind, at most maxFrame
// bytes each, handed to send (which serialises writers sharing a stream).
type frameWriter struct {
	send func(kind byte, data []byte) error
	kind byte
}

func (f frameWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxFrame {
		end := min(off+maxFrame, len(p))
		if err := f.send(f.kind, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// sender writes whole frames to w; one Write a frame, so writers that
// share a yamux stream (whose Write is safe to call concurrently) never
// interleave inside a frame.
func sender(w io.Writer) func(byte, []byte) error {
	return func(kind byte, data []byte) error { return writeFrame(w, kind, data) }
}

func writeHeader(w io.Writer, h header) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// maxHeader bounds a header line: the other side may be a compromised
// guest, and ralph must not buffer whatever it sends.
const maxHeader = 1 << 20

func readHeader(br *bufio.Reader) (header, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxHeader {
			return header{}, fmt.Errorf("microvm: header over %d bytes", maxHeader)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return header{}, err
		}
		break
	}
	var h header
	return h, json.Unmarshal(line, &h)
}

// yamuxConfig: keepalives off (a TCG guest can be slow to answer), logs
// discarded.
func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = 60 * time.Second
	c.StreamOpenTimeout = 60 * time.Second
	c.LogOutput = io.Discard
	c.MaxStreamWindowSize = 1 << 20
	return c
}
