package policyfile

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Announce says which policy the gate serves, at start and after every
// change of the global file ("ralph: gate policy sha256:…: N rules"):
// ralph fleet run waits for that line before it submits a loop. It
// returns when ctx ends.
func (w *Watcher) Announce(ctx context.Context, out io.Writer) {
	path, _ := w.Store.Path(Global)
	last := ""
	for {
		data, _ := os.ReadFile(path)
		if d := Digest(data); d != last {
			n := w.Reload().Len() // what requests get from now on
			if err := w.Err(); err != nil {
				fmt.Fprintf(out, "ralph: gate policy %s not loaded: %v (the last good one stays)\n", d, err)
			} else {
				fmt.Fprintf(out, "ralph: gate policy %s: %d rules\n", d, n)
			}
			last = d
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}
