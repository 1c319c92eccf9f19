package render

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Spinner shows, on a terminal, that the agent is still working when it
// has been quiet for a while: a spinner and the iteration's elapsed time
// on one line, erased before the next output.
type Spinner struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	last    time.Time
	shown   bool
	stop    chan struct{}
	done    chan struct{}
	label   string
	quietAt time.Duration
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewSpinner starts a spinner on w (a terminal) that appears after quiet
// of silence while a label is set; Stop it at the end of the run.
func NewSpinner(w io.Writer, quiet time.Duration) *Spinner {
	now := time.Now()
	s := &Spinner{w: w, start: now, last: now, stop: make(chan struct{}), done: make(chan struct{}), quietAt: quiet}
	go s.loop()
	return s
}

// Reset starts counting for a new piece of work; an empty label hides
// the spinner.
func (s *Spinner) Reset(label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	s.label, s.start, s.last = label, time.Now(), time.Now()
}

func (s *Spinner) loop() {
	defer close(s.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.label != "" && time.Since(s.last) >= s.quietAt {
			fmt.Fprintf(s.w, "\r\x1b[2K%s %s %s", frames[i%len(frames)], s.label, time.Since(s.start).Round(time.Second))
			s.shown = true
		}
		s.mu.Unlock()
	}
}

// Writer wraps w so that each write first erases the spinner.
func (s *Spinner) Writer(w io.Writer) io.Writer { return spinWriter{s, w} }

type spinWriter struct {
	s *Spinner
	w io.Writer
}

func (sw spinWriter) Write(p []byte) (int, error) {
	sw.s.mu.Lock()
	defer sw.s.mu.Unlock()
	sw.s.clear()
	sw.s.last = time.Now()
	return sw.w.Write(p)
}

func (s *Spinner) clear() {
	if s.shown {
		fmt.Fprint(s.w, "\r\x1b[2K")
		s.shown = false
	}
}

// Stop removes the spinner and waits for its goroutine.
func (s *Spinner) Stop() {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	s.clear()
	s.mu.Unlock()
}
