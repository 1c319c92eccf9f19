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

// MaxLine is the longest line Lines gives: a longer one (the files it
// reads can hold what a sandbox sent) is skipped whole, never held.
const MaxLine = 1 << 20

// open opens path, waiting for it while more() says it may come; nil
// when it does not exist and will not.
func open(ctx context.Context, path string, more func() bool) (*os.File, error) {
	f, err := os.Open(path)
	for errors.Is(err, fs.ErrNotExist) {
		if !more() || !wait(ctx) {
			return nil, nil
		}
		f, err = os.Open(path)
	}
	return f, err
}

// Lines calls fn with each line of the file at path (its newline kept);
// a line longer than MaxLine is skipped. At the end of the file it
// returns unless more() says more may come, in which case it waits for
// it; a partial last line is held until its newline arrives, and given as
// it is once no more comes. When the file does not exist yet, Lines
// returns nil unless more() says to wait for it. It returns when ctx
// ends, with nil.
func Lines(ctx context.Context, path string, more func() bool, fn func(line []byte) error) error {
	f, err := open(ctx, path, more)
	if f == nil || err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	skipping := false // in a line past MaxLine: dropped up to its newline
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case skipping:
		case len(partial)+len(chunk) > MaxLine:
			partial, skipping = partial[:0], true
		default:
			partial = append(partial, chunk...)
		}
		if err == nil {
			if !skipping {
				if ferr := fn(partial); ferr != nil {
					return ferr
				}
			}
			partial, skipping = partial[:0], false
			continue
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != io.EOF {
			return err
		}
		if !more() || !wait(ctx) {
			if len(partial) > 0 && !skipping {
				return fn(partial)
			}
			return nil
		}
	}
}

// Copy copies the file at path to w as it grows, in constant memory,
// while more() says more may come (as Lines waits and ends).
func Copy(ctx context.Context, path string, more func() bool, w io.Writer) error {
	f, err := open(ctx, path, more)
	if f == nil || err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !more() || !wait(ctx) {
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
