package runlog

import "time"

// Resumable is the run a new run on sandbox should go on with: the
// newest run of that sandbox, when it was interrupted or its ralph died
// (still marked running). A run that ended any other way is not resumed.
func Resumable(runs []Run, sandbox string) (Run, bool) {
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Sandbox != sandbox {
			continue
		}
		last := runs[i]
		return last, last.Status == "running" || last.Status == "interrupted"
	}
	return Run{}, false
}

// ResumeAt is where run goes on: the iteration after the last one that
// counted (an attempt that was retried, by retried(outcome), is run
// again under its number), and the time its iterations took.
func ResumeAt(run Run, retried func(outcome string) bool) (next int, spent time.Duration) {
	next = 1
	for _, it := range run.Iterations {
		spent += time.Duration(it.DurationMS) * time.Millisecond
		if retried(it.Outcome) {
			next = max(next, it.N)
		} else {
			next = max(next, it.N+1)
		}
	}
	return next, spent
}
