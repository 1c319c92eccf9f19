package tail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLinesFollowsUntilNoMore(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	var more atomic.Bool
	more.Store(true)
	go func() {
		time.Sleep(2 * Poll)
		os.WriteFile(p, []byte("one\ntw"), 0o600) // the file appears late, a line half written
		time.Sleep(2 * Poll)
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("o\nthree")
		f.Close()
		time.Sleep(2 * Poll)
		more.Store(false)
	}()
	var got []string
	err := Lines(context.Background(), p, more.Load, func(l []byte) error {
		got = append(got, string(l))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "one\n|two\n|three" {
		t.Errorf("lines = %q", got)
	}
}

func TestLinesMissingFile(t *testing.T) {
	called := false
	err := Lines(context.Background(), filepath.Join(t.TempDir(), "none"), func() bool { return false }, func([]byte) error {
		called = true
		return nil
	})
	if err != nil || called {
		t.Errorf("a missing file not followed: err %v, called %v", err, called)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*Poll)
	defer cancel()
	if err := Lines(ctx, filepath.Join(t.TempDir(), "none"), func() bool { return true }, nil); err != nil {
		t.Errorf("waiting for a file until cancelled: %v", err)
	}
}

// A line past MaxLine (what a sandbox could send) is skipped, never held
// whole; the lines around it come through.
func TestLinesSkipsLongLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	long := strings.Repeat("x", MaxLine+10)
	os.WriteFile(p, []byte("before\n"+long+"\nafter\n"+long), 0o600)
	var got []string
	Lines(context.Background(), p, func() bool { return false }, func(l []byte) error {
		got = append(got, string(l))
		return nil
	})
	if strings.Join(got, "|") != "before\n|after\n" {
		t.Errorf("lines: %d of them, first %q", len(got), got[0][:min(len(got[0]), 20)])
	}
}

// Copy streams the file as it grows, in constant memory, and ends when
// no more may come.
func TestCopyFollows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("one "), 0o600)
	var more atomic.Bool
	more.Store(true)
	go func() {
		time.Sleep(2 * Poll)
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("two")
		f.Close()
		time.Sleep(2 * Poll)
		more.Store(false)
	}()
	var b strings.Builder
	if err := Copy(context.Background(), p, more.Load, &b); err != nil || b.String() != "one two" {
		t.Errorf("Copy: %q, %v", b.String(), err)
	}
}
