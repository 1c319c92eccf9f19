// Package tail reads a growing file line by line, as tail -f does: the
// decision log of a gate (ralph policy log -f), an iteration's log while
// the run goes on (ralph logs -f).
package tail

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// Poll is how often a followed file is looked at again.
const Poll = 250 * time.Millisecond

// Lines calls fn with each line of the file at path (its newline kept).
// At the end of the file it returns unless more() says more may come, in
// which case it waits for it; a partial last line is held until its
// newline arrives, and given as it is once no more comes. When the file
// does not exist yet, Lines returns nil unless more() says to wait for it.
// It returns when ctx ends, with nil.
func Lines(ctx context.Context, path string, more func() bool, fn func(line []byte) error) error {
	f, err := os.Open(path)
	for errors.Is(err, fs.ErrNotExist) {
		if !more() || !wait(ctx) {
			return nil
		}
		f, err = os.Open(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			partial = append(partial, line...)
		}
		if err == nil {
			if ferr := fn(partial); ferr != nil {
				return ferr
			}
			partial = partial[:0]
			continue
		}
		if err != io.EOF {
			return err
		}
		if !more() || !wait(ctx) {
			if len(partial) > 0 {
				return fn(partial)
			}
			return nil
		}
	}
}

// wait sleeps one poll; false when ctx ended first.
func wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(Poll):
		return true
	}
}
