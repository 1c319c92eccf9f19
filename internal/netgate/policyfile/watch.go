package policyfile

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/netgate/policy"
)

// Watcher serves the current compiled policy of one sandbox. It looks at
// the files at most every Interval and recompiles when one changed, so a
// rule change reaches new connections within about a second, with no
// restart. If a file becomes unreadable or invalid, the last good policy
// stays and Err reports why.
type Watcher struct {
	Store    Store
	Name     string
	Defaults []policy.Rule
	Interval time.Duration

	mu      sync.Mutex
	checked time.Time
	stamp   string
	cur     *policy.Policy
	err     error
}

// Current returns the policy in force, looking at the files at most once
// an Interval.
func (w *Watcher) Current() *policy.Policy { return w.load(false) }

// Reload looks at the files now, whatever the interval, and returns the
// policy in force from then on: what a caller that must know what the
// gate serves (ralph gate serve's announcements) uses.
func (w *Watcher) Reload() *policy.Policy { return w.load(true) }

func (w *Watcher) load(now bool) *policy.Policy {
	w.mu.Lock()
	defer w.mu.Unlock()
	interval := w.Interval
	if interval == 0 {
		interval = 250 * time.Millisecond
	}
	if !now && w.cur != nil && time.Since(w.checked) < interval {
		return w.cur
	}
	w.checked = time.Now()
	st := w.stampNow()
	if w.cur != nil && st == w.stamp {
		return w.cur
	}
	rules, err := w.Store.Effective(w.Name, w.Defaults)
	if err != nil {
		w.err = err
		if w.cur == nil {
			w.cur = policy.Compile(nil) // nothing readable: deny everything
		}
		return w.cur
	}
	w.cur, w.stamp, w.err = policy.Compile(rules), st, nil
	return w.cur
}

// Err is the last error reading the files, if any.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Watcher) stampNow() string {
	s := ""
	for _, scope := range []string{Global, w.Name} {
		p, err := w.Store.Path(scope)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d/%d;", fi.ModTime().UnixNano(), fi.Size(), inode(fi))
		} else {
			s += "-;"
		}
	}
	return s
}
