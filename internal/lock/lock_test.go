package lock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAcquire(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "ralph-claude-x-12345678")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "ralph-claude-x-12345678")
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != os.Getpid() {
		t.Fatalf("second Acquire = %v, want HeldError naming pid %d", err, os.Getpid())
	}
	if _, err := Acquire(dir, "other"); err != nil {
		t.Fatalf("other name: %v", err)
	}
	l.Release()
	l.Release()
	l2, err := Acquire(dir, "ralph-claude-x-12345678")
	if err != nil {
		t.Fatal(err)
	}
	if l2.Stale.PID != 0 {
		t.Errorf("clean release reported stale holder %+v", l2.Stale)
	}
	l2.Release()
}

func TestStale(t *testing.T) {
	dir := t.TempDir()
	// A holder record left by a process that died without releasing.
	os.WriteFile(filepath.Join(dir, "n.lock"), []byte(`{"pid":4242,"started":"2026-01-01T00:00:00Z"}`), 0o600)
	l, err := Acquire(dir, "n")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Stale.PID != 4242 {
		t.Errorf("Stale = %+v, want pid 4242", l.Stale)
	}
}
