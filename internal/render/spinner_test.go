package render

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSpinner(t *testing.T) {
	var out lockedBuf
	s := NewSpinner(&out, 150*time.Millisecond)
	s.Reset("claude working")
	w := s.Writer(&out)
	w.Write([]byte("first line\n"))
	time.Sleep(500 * time.Millisecond) // quiet: the spinner shows
	w.Write([]byte("second line\n"))
	s.Stop()
	got := out.String()
	if !strings.Contains(got, "claude working 0s") {
		t.Errorf("no spinner during the quiet: %q", got)
	}
	// The spinner is erased before the next line and at the end.
	if !strings.Contains(got, "\r\x1b[2Ksecond line\n") || !strings.HasSuffix(got, "second line\n") && !strings.HasSuffix(got, "\r\x1b[2K") {
		t.Errorf("spinner not erased: %q", got)
	}
}
