// Package reap ends what an agent's run left behind. An agent's tools may
// start processes in sessions of their own (Claude runs each Bash call so),
// which killing the agent's process group misses: they would live on into
// the next iteration and eat the pids limit, or, on the host, outlive
// ralph. Every process ralph starts for an iteration carries a marker in
// its environment, which its descendants inherit; Marked finds them by it.
// (A process that scrubs its environment escapes this; the sandbox, not
// this, is the boundary.)
package reap

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// Var is the environment variable that marks an exec's processes.
const Var = "RALPH_EXEC_ID"

// Marked returns the pids whose environment holds Var=id, apart from
// this process.
func Marked(id string) []int {
	want := []byte(Var + "=" + id + "\x00")
	self := os.Getpid()
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	var out []int
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == self || pid == 1 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if bytes.Contains(append(b, 0), want) {
			out = append(out, pid)
		}
	}
	return out
}

// Kill sends SIGKILL to every process marked with id, and reports how
// many it found.
func Kill(id string) int {
	pids := Marked(id)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
			p.Release()
		}
	}
	return len(pids)
}
