package fleet

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestSubmissionPrepare(t *testing.T) {
	ok := Submission{Run: Run{Repo: "https://git.example/me/app.git", Agent: "claude"}, Count: 1, Iterations: 5,
		Env: []string{"MODE=fast"}, MaxRuntime: time.Hour, Allow: []string{"pypi.org"}}
	s := ok
	_, rules, err := s.prepare()
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.Image != "ralph-claude:latest" || s.Run.APIKeyEnv != "ANTHROPIC_API_KEY" || s.Run.Env["MODE"] != "fast" {
		t.Errorf("run not filled in: %+v", s.Run)
	}
	if !slices.Contains(s.Run.LoopArgs, "--env") || s.Run.Deadline != time.Hour+10*time.Minute {
		t.Errorf("loop args %q, deadline %v", s.Run.LoopArgs, s.Run.Deadline)
	}
	var pats []string
	for _, r := range rules {
		pats = append(pats, r.Pattern)
	}
	for _, want := range []string{"git.example", "pypi.org", "api.anthropic.com"} {
		if !slices.Contains(pats, want) {
			t.Errorf("gate rules %q lack %s", pats, want)
		}
	}
	for name, bad := range map[string]func(*Submission){
		"no repo":               func(s *Submission) { s.Run.Repo = "" },
		"ssh repo":              func(s *Submission) { s.Run.Repo = "git@git.example:me/app.git" },
		"credentials in URL":    func(s *Submission) { s.Run.Repo = "https://me:tok@git.example/app.git" },
		"unknown agent":         func(s *Submission) { s.Run.Agent = "aider" },
		"no runtime":            func(s *Submission) { s.MaxRuntime = 0 },
		"zero count":            func(s *Submission) { s.Count = 0 },
		"push with count":       func(s *Submission) { s.Count, s.PushSet = 2, true },
		"secret in env":         func(s *Submission) { s.Env = []string{"not an assignment"} },
		"bad allow":             func(s *Submission) { s.Allow = []string{"a b"} },
		"negative gate replica": func(s *Submission) { s.GateReplicas = -1 },
		"gate secret and key":   func(s *Submission) { s.GateSecrets, s.Run.APIKey = []string{"anthropic"}, "anthropic" },
		"another agent's":       func(s *Submission) { s.GateSecrets = []string{"openai"} },
		"git's at the gate":     func(s *Submission) { s.GateSecrets = []string{"github"} },
		"two for one API":       func(s *Submission) { s.GateSecrets = []string{"anthropic", "claude-oauth"} },
		"gate secret over env": func(s *Submission) {
			s.GateSecrets, s.Env = []string{"anthropic"}, []string{"ANTHROPIC_BASE_URL=http://x"}
		},
	} {
		s := ok
		bad(&s)
		if _, _, err := s.prepare(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: prepare = %v, want ErrInvalid", name, err)
		}
	}
}

// TestSubmissionGateSecret: with --gate-secret the pods get the
// placeholder and the gate's route, passed on to the agent, and the Job
// holds no reference to the key at all.
func TestSubmissionGateSecret(t *testing.T) {
	s := Submission{Run: Run{Repo: "https://git.example/me/app.git", Agent: "claude"}, Count: 1, Iterations: 5,
		MaxRuntime: time.Hour, GateSecrets: []string{"anthropic"}}
	if _, _, err := s.prepare(); err != nil {
		t.Fatal(err)
	}
	if s.Run.Env["ANTHROPIC_API_KEY"] != "ralph-secret-placeholder-anthropic" || s.Run.Env["ANTHROPIC_BASE_URL"] != "http://anthropic.secret.invalid" {
		t.Errorf("pod env %v", s.Run.Env)
	}
	if !slices.Contains(s.Run.LoopArgs, "ANTHROPIC_BASE_URL") {
		t.Errorf("loop args %q do not pass the route to the agent", s.Run.LoopArgs)
	}
	s.Run.ID, s.Run.Push, s.Run.CPU, s.Run.Memory, s.Run.Disk = "app-1", "ralph/app-1", "1", "1Gi", "1Gi"
	j, err := Job("ns", s.Run)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			t.Errorf("the pod takes %s from %+v", e.Name, e.ValueFrom)
		}
	}
	for _, v := range j.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			t.Errorf("the loop pod mounts Secret %s", v.Secret.SecretName)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		runs []Status
		want int
	}{
		{[]Status{{Result: &Result{Exit: 0, Pushed: true}}}, 0},
		{[]Status{{Result: &Result{Exit: 0, Pushed: true}}, {Result: &Result{Exit: 2, Pushed: true}}}, 2},
		{[]Status{{Result: &Result{Exit: 0, Pushed: false}}}, 70},
		{[]Status{{}}, 70},
	} {
		if got := ExitCode(tc.runs); got != tc.want {
			t.Errorf("ExitCode(%+v) = %d, want %d", tc.runs, got, tc.want)
		}
	}
}

func TestRunID(t *testing.T) {
	id := newRunID("https://git.example/Me/My_Big.App.git")
	if !regexp.MustCompile(`^my-big-app-[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("newRunID = %q", id)
	}
	if newRunID("https://git.example/") == "" {
		t.Error("empty run id")
	}
}
