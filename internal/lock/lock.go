// Package lock keeps two ralph processes off the same sandbox. The lock is
// an flock(2) (LockFileEx on Windows) on a file outside the workspace, so the kernel releases it
// when its holder dies, even by SIGKILL; the file also records who holds
// it, for the message the second process prints.
package lock

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Holder is who holds (or last held) a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// HeldError is returned when another live process holds the lock.
type HeldError struct {
	Name   string
	Holder Holder
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("sandbox %s is in use by another ralph (pid %d, started %s); wait for it or stop it first",
		e.Name, e.Holder.PID, e.Holder.Started.Local().Format(time.DateTime))
}

// Lock is a held lock.
type Lock struct {
	f *os.File
	// Stale is the previous holder when it died without releasing the
	// lock cleanly (killed, crashed); zero otherwise.
	Stale Holder
}

// Acquire takes the lock for name in dir without waiting.
func Acquire(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	var prev Holder
	_ = json.NewDecoder(f).Decode(&prev)
	if held, err := tryLock(f); held || err != nil {
		f.Close()
		if held {
			return nil, &HeldError{Name: name, Holder: prev}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l := &Lock{f: f}
	if prev.PID != 0 {
		l.Stale = prev
	}
	me := Holder{PID: os.Getpid(), Started: time.Now()}
	b, _ := json.Marshal(me)
	if err := f.Truncate(0); err == nil {
		f.WriteAt(append(b, '\n'), 0)
	}
	return l, nil
}

// Release clears the holder record and drops the lock. It is safe to call
// more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing drops the flock
	l.f = nil
	return err
}
