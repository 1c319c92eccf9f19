package netgate

import (
	"fmt"
	"os"
	"sync"
)

// DefaultLogMax is where a decision log is rotated.
const DefaultLogMax = 16 << 20

// LogFile is a decision log that never grows past Max bytes: past it the
// file is renamed to NAME.1 (replacing the older one) and a new one
// begins, so at most twice Max is kept, whatever a sandbox sends. It is
// opened without following a symlink.
type LogFile struct {
	path string
	max  int64
	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLog opens (appends to) the log at path, rotated past max bytes
// (DefaultLogMax when 0).
func OpenLog(path string, max int64) (*LogFile, error) {
	if max <= 0 {
		max = DefaultLogMax
	}
	l := &LogFile{path: path, max: max}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY|oNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("gate log: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("gate log: %s is not a regular file", l.path)
	}
	l.f, l.size = f, st.Size()
	return nil
}

func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size+int64(len(p)) > l.max && l.size > 0 {
		l.f.Close()
		l.f = nil
		os.Rename(l.path, l.path+".1")
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
