package fleet

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStatus: what ralph fleet ls says of a run, from its Job and pod.
func TestStatus(t *testing.T) {
	job := func(conds ...batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "ralph-a-1", Labels: map[string]string{LabelRun: "a-1"},
			Annotations: map[string]string{AnnoPush: "ralph/a-1"}}}
		for _, c := range conds {
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"})
		}
		return j
	}
	pod := func(phase corev1.PodPhase, st corev1.ContainerState) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: phase,
			ContainerStatuses: []corev1.ContainerStatus{{State: st}}}}
	}
	msg := `{"outcome":"blocked","text":"needs a key","exit":2,"pushed":true}`
	for _, tc := range []struct {
		name           string
		j              *batchv1.Job
		p              *corev1.Pod
		state, summary string
	}{
		{"no pod yet", job(), nil, "pending", ""},
		{"missing secret", job(), pod(corev1.PodPending, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CreateContainerConfigError", Message: `secret "anthropc" not found`}}), "pending", `CreateContainerConfigError: secret "anthropc" not found`},
		{"creating", job(), pod(corev1.PodPending, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}), "pending", ""},
		{"running", job(), pod(corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), "running", ""},
		{"blocked", job(batchv1.JobFailed), pod(corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 2, Message: msg}}), "failed", "BLOCKED: needs a key"},
		{"killed without a result", job(batchv1.JobFailed), pod(corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "OOMKilled"}}), "failed", "OOMKilled"},
		{"deadline, pod gone", job(batchv1.JobFailed), nil, "failed", "DeadlineExceeded"},
		{"stopped", job(batchv1.JobSuspended), nil, "stopped", ""},
		{"not pushed", job(batchv1.JobComplete), pod(corev1.PodSucceeded, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Message: `{"outcome":"complete","exit":0,"pushed":false}`}}), "succeeded", "COMPLETE (not pushed)"},
	} {
		s := status(tc.j, tc.p)
		if s.State != tc.state || s.Summary() != tc.summary || s.ID != "a-1" || s.Push != "ralph/a-1" {
			t.Errorf("%s: state %q summary %q (id %q), want %q %q", tc.name, s.State, s.Summary(), s.ID, tc.state, tc.summary)
		}
	}
}

// The promise's text comes from the pod, where the agent ran: fleet ls
// and fleet run --wait show it escaped.
func TestSummaryEscapesThePodsWords(t *testing.T) {
	s := Status{Result: &Result{Exit: 2, Text: "stuck\x1b]0;pwned\x07", Pushed: true}}
	if got := s.Summary(); strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `stuck\x1b]0;pwned\x07`) {
		t.Errorf("Summary = %q", got)
	}
}
