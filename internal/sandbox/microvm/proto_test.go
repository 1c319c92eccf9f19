package microvm

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHeaderRoundTripAndBound(t *testing.T) {
	var buf bytes.Buffer
	want := header{Op: opExec, Argv: []string{"sh", "-c", "echo hi"}, Env: []string{"A=b"}, Dir: "/work"}
	if err := writeHeader(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := readHeader(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	// A guest that never ends its header line is cut off, not buffered.
	huge := strings.NewReader(`{"op":"` + strings.Repeat("x", 2*maxHeader))
	if _, err := readHeader(bufio.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "header over") {
		t.Errorf("unbounded header: %v", err)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	w := frameWriter{&buf, frameStdout}
	big := bytes.Repeat([]byte("y"), maxFrame+10)
	if n, err := w.Write(big); err != nil || n != len(big) {
		t.Fatalf("write %d %v", n, err)
	}
	var got []byte
	for buf.Len() > 0 {
		kind, data, err := readFrame(&buf)
		if err != nil || kind != frameStdout {
			t.Fatalf("frame %d %v", kind, err)
		}
		got = append(got, data...)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("frames carried %d bytes, want %d", len(got), len(big))
	}
	// A frame that claims more than the bound is refused.
	bad := []byte{frameStdout, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := readFrame(bytes.NewReader(bad)); err == nil {
		t.Error("an oversized frame was accepted")
	}
}
