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
	w := frameWriter{sender(&buf), frameStdout}
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

func TestAgentMemory(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ want, available, self, got int64 }{
		{4032 * mib, 3900 * mib, 31 * mib, 3741 * mib}, // a 4 GiB guest: the room, not the ask
		{1024 * mib, 3900 * mib, 31 * mib, 1024 * mib}, // the ask when it fits
		{0, 3900 * mib, 31 * mib, 3741 * mib},          // no ask: the room
		{512 * mib, 0, 31 * mib, 512 * mib},            // meminfo unreadable: the ask
		{4032 * mib, 100 * mib, 31 * mib, 32 * mib},    // a tiny guest: the floor
		{0, 0, 31 * mib, 0},                            // nothing asked or known: no limit (never memory.max 0)
	} {
		if got := agentMemory(tc.want, tc.available, tc.self); got != tc.got {
			t.Errorf("agentMemory(%d, %d, %d) = %d MiB, want %d MiB", tc.want>>20, tc.available>>20, tc.self>>20, got>>20, tc.got>>20)
		}
	}
}
