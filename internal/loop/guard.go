package loop

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ralphloop/ralph/internal/gitignore"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// stamp is what the loop remembers of a file to tell it changed.
type stamp struct {
	size  int64
	mtime int64
	mode  fs.FileMode
}

// snapshot records the project tree as git status sees it: .git and
// every path its .gitignore files (and .git/info/exclude) ignore are left
// out, and ignored folders are not walked (node_modules, build output).
// It stops after 200,000 entries; past that, every iteration counts as a
// change, so a huge tree never looks stalled. The ignore files are read
// through ws: the agent writes them.
func snapshot(ws *wsfile.Workspace) map[string]stamp {
	root := ws.Dir()
	// The ignore files are the agent's too: 1 MiB each, 8 MiB in all per
	// snapshot (past that, no more are read: their paths count as changes).
	budget := int64(8 << 20)
	ig := gitignore.New(func(rel string) ([]byte, error) {
		if budget <= 0 {
			return nil, os.ErrNotExist
		}
		b, err := ws.ReadFile(rel, min(budget, 1<<20))
		budget -= int64(len(b))
		return b, err
	})
	m := map[string]stamp{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if rel, err := filepath.Rel(root, p); err == nil && rel != "." && ig.Ignored(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if len(m) > 200000 {
			m["\x00overflow"] = stamp{mtime: time.Now().UnixNano()}
			return filepath.SkipAll
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			m[p] = stamp{info.Size(), info.ModTime().UnixNano(), info.Mode()}
		}
		return nil
	})
	return m
}

// changed counts files added, removed or modified between two snapshots.
func changed(a, b map[string]stamp) int {
	n := 0
	for p, s := range b {
		if t, ok := a[p]; !ok || t != s {
			n++
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			n++
		}
	}
	return n
}

// backoff is base doubled per attempt after the first, capped.
func backoff(base time.Duration, attempt int, cap time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < cap; i++ {
		d *= 2
	}
	return min(d, cap)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitLimit waits out a rate limit: until the reset time the agent gave,
// or with exponential backoff when it gave none, showing a countdown.
func waitLimit(ctx context.Context, cfg Config, reset time.Time, attempt int) error {
	wait := backoff(cfg.LimitBackoff, attempt, 30*time.Minute)
	how := "no reset time given; backing off"
	if !reset.IsZero() {
		wait = time.Until(reset) + time.Second
		how = "the agent says it resets at " + reset.Local().Format("15:04:05")
	}
	wait = max(min(wait, cfg.MaxLimitWait), time.Second)
	end := time.Now().Add(wait)
	fmt.Fprintf(cfg.Log, "ralph: rate or usage limit reached (%s); waiting %s, until %s (not an iteration; Ctrl-C stops, --no-wait exits instead)\n",
		how, wait.Round(time.Second), end.Local().Format("15:04:05"))
	for {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		step := min(left, 30*time.Second)
		if err := sleep(ctx, step); err != nil {
			return err
		}
		if left := time.Until(end); left > time.Second {
			fmt.Fprintf(cfg.Log, "ralph: %s left before retrying\n", left.Round(time.Second))
		}
	}
}

// waitEngine polls the backend until it answers again, up to
// cfg.EngineWait; the error it returns wraps the backend's last
// ErrUnavailable.
func waitEngine(ctx context.Context, cfg Config, cause error) error {
	fmt.Fprintf(cfg.Log, "ralph: %v\nralph: waiting up to %s for the engine to answer again\n", cause, cfg.EngineWait)
	deadline := time.Now().Add(cfg.EngineWait)
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cfg.Backend.Available(actx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			fmt.Fprintln(cfg.Log, "ralph: the engine answers again; bringing the sandbox back")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the engine did not answer again within %s: %w", cfg.EngineWait, err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
