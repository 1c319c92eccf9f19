//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ralphloop/ralph/internal/agent/agenttest"
)

// BenchmarkTranscript (issue 21, first row): a claude stream-json
// transcript (RALPH_BENCH_MB, default 256; 16 in -short) through `ralph
// -n 1` on the host backend until COMPLETE, its output rendered to a pipe
// (the default) and with -q, against the limit measured in the same run:
// the same bytes through a pipe to a reader that only reads (cat | cat).
// Peak resident memory of ralph is reported as peak-MiB (with GNU time).
func BenchmarkTranscript(b *testing.B) {
	mb := 256
	if testing.Short() {
		mb = 16
	}
	if v, err := strconv.Atoi(os.Getenv("RALPH_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	ralph, _ := buildAll(b)
	dir := b.TempDir()
	data := agenttest.Transcript(mb << 20)
	file := filepath.Join(dir, "transcript.jsonl")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	size := int64(len(data))
	agent := filepath.Join(dir, "claude")
	os.WriteFile(agent, []byte("#!/bin/sh\nexec cat "+file+"\n"), 0o755)
	proj := b.TempDir()
	os.MkdirAll(filepath.Join(proj, ".ralph"), 0o755)
	os.WriteFile(filepath.Join(proj, ".ralph", "PROMPT.md"), []byte("Do one task.\n"), 0o644)
	// A child's ru_maxrss counts the memory of the process it was forked
	// from (this one, holding the transcript): GNU time forks it from a
	// small one and says its own peak.
	gnuTime, _ := exec.LookPath("/usr/bin/time")
	run := func(b *testing.B, argv ...string) {
		b.SetBytes(size)
		var peak int64
		mem := filepath.Join(dir, "maxrss")
		if gnuTime != "" {
			argv = append([]string{gnuTime, "-f", "%M", "-o", mem}, argv...)
		}
		for b.Loop() {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir, cmd.Stdout, cmd.Stderr = proj, io.Discard, io.Discard // pipes, drained
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %v", argv, err)
			}
			if out, err := os.ReadFile(mem); err == nil {
				kb, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
				peak = max(peak, kb)
			}
		}
		if gnuTime != "" {
			b.ReportMetric(float64(peak)/1024, "peak-MiB")
		}
	}
	b.Run("limit-pipe", func(b *testing.B) { run(b, "sh", "-c", fmt.Sprintf("cat %s | cat >/dev/null", file)) })
	args := []string{ralph, "-n", "1", "--sandbox", "host", "--dangerously-run-on-host", "--agent", "claude", "--agent-cmd", agent, "--stall-after", "0"}
	b.Run("ralph-rendered", func(b *testing.B) { run(b, args...) })
	b.Run("ralph-quiet", func(b *testing.B) { run(b, append(args, "-q")...) })
}
