package loop

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"time"
)

// fingerprint summarizes the project tree (paths, sizes, modes and
// modification times) so the loop can tell whether an iteration changed
// anything. It stops after 200,000 entries and then reports a fresh value,
// so a huge tree never looks stalled.
func fingerprint(root string) uint64 {
	h := fnv.New64a()
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		n++
		if n > 200000 {
			fmt.Fprint(h, time.Now().UnixNano())
			return filepath.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\n", p, info.Size(), info.Mode(), info.ModTime().UnixNano())
		return nil
	})
	return h.Sum64()
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
