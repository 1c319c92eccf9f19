// Package runlog keeps the record of each run: run.json (written
// atomically after every iteration), the raw output of every agent run and
// the log ralph printed, per iteration. Records live in ralph's state
// directory, keyed by project, never in the workspace: the agent can write
// the workspace, and a symlink planted there could make ralph overwrite a
// host file.
package runlog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ralphloop/ralph/internal/atomicfile"
)

// Iteration is one agent run as the record keeps it.
type Iteration struct {
	N            int       `json:"n"`
	Attempt      int       `json:"attempt,omitempty"`
	Start        time.Time `json:"start"`
	DurationMS   int64     `json:"duration_ms"`
	Outcome      string    `json:"outcome"`
	Promise      string    `json:"promise,omitempty"`
	Text         string    `json:"text,omitempty"`
	FilesChanged int       `json:"files_changed"`
	InputTokens  int64     `json:"input_tokens,omitempty"`
	OutputTokens int64     `json:"output_tokens,omitempty"`
	CostUSD      float64   `json:"cost_usd,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// Run is run.json.
type Run struct {
	ID            string      `json:"id"`
	Project       string      `json:"project"`
	Agent         string      `json:"agent"`
	Backend       string      `json:"backend"`
	Boundary      string      `json:"boundary"`
	Sandbox       string      `json:"sandbox"`
	Loop          string      `json:"loop,omitempty"`      // --name, or the default loop of a clone
	Workspace     string      `json:"workspace,omitempty"` // the loop's clone (--workspace clone)
	MaxIterations int         `json:"max_iterations"`
	PID           int         `json:"pid"`
	Start         time.Time   `json:"start"`
	End           *time.Time  `json:"end,omitempty"`
	Status        string      `json:"status"` // running, or how it ended
	ExitCode      *int        `json:"exit_code,omitempty"`
	Reason        string      `json:"reason,omitempty"`
	Iterations    []Iteration `json:"iterations"`
	CostUSD       float64     `json:"cost_usd"`
	InputTokens   int64       `json:"input_tokens"`
	OutputTokens  int64       `json:"output_tokens"`
}

// Limits on what is kept.
const (
	// MaxRunBytes caps the raw output kept for one run.
	MaxRunBytes = 1 << 30
	// DefaultKeepBytes is the total past which the oldest runs are pruned.
	DefaultKeepBytes = 4 << 30
)

// ProjectDir is where the runs of a project are kept under base.
func ProjectDir(base, project string) string {
	sum := sha256.Sum256([]byte(project))
	b := strings.ToLower(filepath.Base(project))
	b = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, b)
	return filepath.Join(base, strings.Trim(b, "-")+"-"+hex.EncodeToString(sum[:])[:8])
}

// Recorder writes one run's record as it goes.
type Recorder struct {
	mu    sync.Mutex
	dir   string
	run   Run
	bytes int64
}

// NewID is a sortable run id: time, then randomness.
func NewID(now time.Time) string {
	b := make([]byte, 2)
	rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Start creates the run's folder and its first run.json.
func Start(projectDir string, run Run) (*Recorder, error) {
	dir := filepath.Join(projectDir, run.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	run.Status = "running"
	if run.Iterations == nil {
		run.Iterations = []Iteration{}
	}
	r := &Recorder{dir: dir, run: run}
	return r, r.save()
}

// Resume reopens an earlier run's record (after an interruption).
func Resume(projectDir string, run Run) (*Recorder, error) {
	run.Status, run.End, run.ExitCode, run.Reason = "running", nil, nil, ""
	r := &Recorder{dir: filepath.Join(projectDir, run.ID), run: run}
	// The cap is per run: what the interrupted part kept counts.
	r.bytes = outputBytes(r.dir)
	return r, r.save()
}

// Dir is the run's folder.
func (r *Recorder) Dir() string { return r.dir }

// Run returns a copy of the record so far.
func (r *Recorder) Run() Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	run := r.run
	run.Iterations = append([]Iteration(nil), r.run.Iterations...)
	return run
}

// Output opens the file for an iteration's raw agent output or rendered
// log (kind "jsonl" or "log"); writes past the run's cap are dropped.
func (r *Recorder) Output(n, attempt int, kind string) io.WriteCloser {
	name := fmt.Sprintf("iter-%04d.%s", n, kind)
	if attempt > 0 {
		name = fmt.Sprintf("iter-%04d.retry-%d.%s", n, attempt, kind)
	}
	f, err := os.OpenFile(filepath.Join(r.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nopCloser{io.Discard}
	}
	return &capped{f: f, r: r}
}

// Add records a finished iteration and saves run.json.
func (r *Recorder) Add(it Iteration) error {
	r.mu.Lock()
	r.run.Iterations = append(r.run.Iterations, it)
	r.run.CostUSD += it.CostUSD
	r.run.InputTokens += it.InputTokens
	r.run.OutputTokens += it.OutputTokens
	r.mu.Unlock()
	return r.save()
}

// Finish records how the run ended.
func (r *Recorder) Finish(status string, code int, reason string) error {
	r.mu.Lock()
	now := time.Now()
	r.run.End, r.run.Status, r.run.ExitCode, r.run.Reason = &now, status, &code, reason
	r.mu.Unlock()
	return r.save()
}

// save writes run.json atomically: a crash or a full disk never leaves a
// torn file, only the previous version.
func (r *Recorder) save() error {
	r.mu.Lock()
	data, err := json.MarshalIndent(r.run, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(r.dir, "run.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("runlog: write run.json: %w", err)
	}
	return nil
}

// outputBytes is the size of the iteration files in dir.
func outputBytes(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && strings.HasPrefix(e.Name(), "iter-") {
			n += fi.Size()
		}
	}
	return n
}

type capped struct {
	f *os.File
	r *Recorder
}

func (c *capped) Write(p []byte) (int, error) {
	c.r.mu.Lock()
	room := MaxRunBytes - c.r.bytes
	if room <= 0 {
		c.r.mu.Unlock()
		return len(p), nil
	}
	w := p
	if int64(len(w)) > room {
		w = w[:room]
	}
	c.r.bytes += int64(len(w))
	c.r.mu.Unlock()
	if _, err := c.f.Write(w); err != nil {
		return len(p), nil // a full disk loses output, never the run
	}
	return len(p), nil
}

func (c *capped) Close() error { return c.f.Close() }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// List returns the runs of a project, oldest first.
func List(projectDir string) ([]Run, error) {
	entries, err := os.ReadDir(projectDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(projectDir, e.Name(), "run.json"))
		if err != nil {
			continue
		}
		var run Run
		if json.Unmarshal(data, &run) == nil {
			runs = append(runs, run)
		}
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].Start.Equal(runs[j].Start) {
			return runs[i].Start.Before(runs[j].Start)
		}
		return runs[i].ID < runs[j].ID
	})
	return runs, nil
}

// Prune removes the oldest runs under base until the total size is at
// most keep bytes; the run in progress (skip) is never removed.
func Prune(base string, keep int64, skip string) {
	type runDir struct {
		path, id string
		size     int64
	}
	var all []runDir
	var total int64
	projects, _ := os.ReadDir(base)
	for _, p := range projects {
		runs, _ := os.ReadDir(filepath.Join(base, p.Name()))
		for _, r := range runs {
			d := filepath.Join(base, p.Name(), r.Name())
			var size int64
			filepath.Walk(d, func(_ string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode().IsRegular() {
					size += fi.Size()
				}
				return nil
			})
			all = append(all, runDir{d, r.Name(), size})
			total += size
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	for _, r := range all {
		if total <= keep {
			return
		}
		if r.path == skip {
			continue
		}
		os.RemoveAll(r.path)
		total -= r.size
	}
}
