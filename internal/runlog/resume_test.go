package runlog

import (
	"testing"
	"time"
)

func TestResumable(t *testing.T) {
	runs := []Run{
		{ID: "a", Sandbox: "s1", Status: "interrupted"},
		{ID: "b", Sandbox: "s2", Status: "running"},
		{ID: "c", Sandbox: "s1", Status: "complete"},
	}
	if r, ok := Resumable(runs, "s1"); ok {
		t.Errorf("s1: resumed %s; its newest run completed, so none should be", r.ID)
	}
	if r, ok := Resumable(runs, "s2"); !ok || r.ID != "b" {
		t.Errorf("s2: got %q, %v; want b (its ralph died)", r.ID, ok)
	}
	if _, ok := Resumable(runs, "s3"); ok {
		t.Error("s3 has no run")
	}
	if r, ok := Resumable(runs[:1], "s1"); !ok || r.ID != "a" {
		t.Errorf("an interrupted run: got %q, %v", r.ID, ok)
	}
}

func TestResumeAt(t *testing.T) {
	retried := func(o string) bool { return o == "failed" || o == "engine down" }
	for _, tc := range []struct {
		name  string
		its   []Iteration
		next  int
		spent time.Duration
	}{
		{"nothing ran", nil, 1, 0},
		{"two counted", []Iteration{{N: 1, Outcome: "no promise", DurationMS: 1000}, {N: 2, Outcome: "no promise", DurationMS: 500}}, 3, 1500 * time.Millisecond},
		{"the last was retried", []Iteration{{N: 1, Outcome: "no promise"}, {N: 2, Outcome: "failed"}}, 2, 0},
		{"a retry then a count", []Iteration{{N: 1, Outcome: "engine down"}, {N: 1, Attempt: 1, Outcome: "no promise", DurationMS: 10}}, 2, 10 * time.Millisecond},
	} {
		next, spent := ResumeAt(Run{Iterations: tc.its}, retried)
		if next != tc.next || spent != tc.spent {
			t.Errorf("%s: ResumeAt = %d, %v; want %d, %v", tc.name, next, spent, tc.next, tc.spent)
		}
	}
}
