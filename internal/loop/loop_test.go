package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/agent/agenttest"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/sandboxtest"
)

// scripted returns a fake backend whose agent plays scripts in order (the
// last one repeats) in the claude format, and exits with the codes given.
func scripted(scripts []agenttest.Script, codes ...int) *sandboxtest.Fake {
	n := 0
	return &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		i := min(n, len(scripts)-1)
		n++
		agenttest.Emit(cmd.Stdout, "claude", scripts[i])
		if i < len(codes) {
			return codes[i]
		}
		return 0
	}}
}

func config(t *testing.T, b sandbox.Backend, tasksBody string) Config {
	t.Helper()
	dir := t.TempDir()
	prompt := filepath.Join(dir, "PROMPT.md")
	os.WriteFile(prompt, []byte("Do one task. End with <promise>COMPLETE</promise> when all are done."), 0o644)
	cfg := Config{
		Agent:         mustAgent(t),
		PromptPath:    prompt,
		MaxIterations: 5,
		Backend:       b,
		Spec:          sandbox.Spec{Name: "ralph-claude-x-00000000", Project: dir},
		Log:           io.Discard,
		RetryBackoff:  time.Millisecond,
		LimitBackoff:  time.Millisecond,
		StallAfter:    -1,
	}
	if tasksBody != "" {
		cfg.TasksPath = filepath.Join(dir, "tasks.md")
		os.WriteFile(cfg.TasksPath, []byte(tasksBody), 0o644)
	}
	return cfg
}

func mustAgent(t testing.TB) agent.Adapter {
	a, err := agent.Lookup("claude", "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOutcomes(t *testing.T) {
	none := agenttest.Script{ToolOutputs: []string{"<promise>COMPLETE</promise>"}, Final: "Did task 1."}
	tests := []struct {
		name    string
		scripts []agenttest.Script
		codes   []int
		tasks   string
		trust   bool
		want    Outcome
	}{
		{"complete", []agenttest.Script{{Final: "<promise>COMPLETE</promise>"}}, nil, "", false, Outcome{Reason: Complete, Iterations: 1}},
		{"complete on third", []agenttest.Script{none, none, {Final: "<promise>COMPLETE</promise>"}}, nil, "", false, Outcome{Reason: Complete, Iterations: 3}},
		{"blocked", []agenttest.Script{{Final: "<promise>BLOCKED:need a key</promise>"}}, nil, "", false, Outcome{Reason: Blocked, Text: "need a key", Iterations: 1}},
		{"decide", []agenttest.Script{none, {Final: "<promise>DECIDE:A or B?</promise>"}}, nil, "", false, Outcome{Reason: Decide, Text: "A or B?", Iterations: 2}},
		{"cap", []agenttest.Script{none}, nil, "", false, Outcome{Reason: IterationCap, Iterations: 5}},
		{"open tasks refuse complete", []agenttest.Script{{Final: "<promise>COMPLETE</promise>"}}, nil, "- [ ] a\n", false, Outcome{Reason: IterationCap, Iterations: 5}},
		{"trust complete", []agenttest.Script{{Final: "<promise>COMPLETE</promise>"}}, nil, "- [ ] a\n", true, Outcome{Reason: Complete, Iterations: 1}},
		{"done tasks accept complete", []agenttest.Script{{Final: "<promise>COMPLETE</promise>"}}, nil, "- [x] a\n", false, Outcome{Reason: Complete, Iterations: 1}},
		{"nonzero exit ignores promise", []agenttest.Script{{Final: "<promise>COMPLETE</promise>"}, {Final: "<promise>BLOCKED:x</promise>"}}, []int{1}, "", false, Outcome{Reason: Blocked, Text: "x", Iterations: 1}},
		{"failed result ignores promise", []agenttest.Script{{Narration: []string{"<promise>COMPLETE</promise>"}, Fail: "server error"}, {Final: "<promise>DECIDE:q</promise>"}}, nil, "", false, Outcome{Reason: Decide, Text: "q", Iterations: 1}},
		{"circuit opens", []agenttest.Script{{Fail: "server error"}}, nil, "", false, Outcome{Reason: Stopped, Text: "circuit open: 4 failed runs in a row; last: agent run failed: server error", Iterations: 1}},
		{"retries do not count", []agenttest.Script{none, {Fail: "e"}, {Fail: "e"}, {Fail: "e"}, none, {Final: "<promise>COMPLETE</promise>"}}, nil, "", false, Outcome{Reason: Complete, Iterations: 3}},
		{"rate limit waits, not an iteration", []agenttest.Script{{Limited: true}, {Limited: true}, {Limited: true}, {Limited: true}, {Limited: true}, {Final: "<promise>COMPLETE</promise>"}}, nil, "", false, Outcome{Reason: Complete, Iterations: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := scripted(tt.scripts, tt.codes...)
			cfg := config(t, fake, tt.tasks)
			cfg.TrustComplete = tt.trust
			got, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if fake.Stops != 1 || fake.Creates != 1 {
				t.Errorf("stops=%d creates=%d, want 1 and 1", fake.Stops, fake.Creates)
			}
		})
	}
}

func TestInterruptStopsOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fake := &sandboxtest.Fake{Run: func(c context.Context, cmd sandbox.Cmd) int {
		cancel()
		<-c.Done()
		return 130
	}}
	cfg := config(t, fake, "")
	_, err := Run(ctx, cfg)
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if fake.Stops != 1 {
		t.Errorf("stops = %d, want 1", fake.Stops)
	}
}

func TestSandboxRemovedIsRecreated(t *testing.T) {
	var fake *sandboxtest.Fake
	n := 0
	fake = &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		n++
		if n == 1 {
			fake.Stop(ctx, "ralph-claude-x-00000000")
			fake.Remove(ctx, "ralph-claude-x-00000000", true)
			agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "partial"})
			return 0
		}
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "<promise>COMPLETE</promise>"})
		return 0
	}}
	got, err := Run(context.Background(), config(t, fake, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != Complete || fake.Creates != 2 {
		t.Errorf("outcome %+v creates %d, want complete and 2 creates", got, fake.Creates)
	}
}

// TestEngineDiesMidIteration: the engine dies during a run and comes back
// a little later; the loop waits for it, brings the sandbox back and
// retries the iteration, which does not count. An engine that stays away
// past EngineWait ends the run with ErrUnavailable.
func TestEngineDiesMidIteration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revive  time.Duration
		wantErr bool
	}{{"comes back", 300 * time.Millisecond, false}, {"stays away", time.Hour, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var fake *sandboxtest.Fake
			n := 0
			fake = &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
				n++
				if n == 1 {
					fake.KillEngine()
					time.AfterFunc(tc.revive, fake.ReviveEngine)
					return 255
				}
				agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "<promise>COMPLETE</promise>"})
				return 0
			}}
			cfg := config(t, fake, "")
			cfg.EngineWait = 3 * time.Second
			var log strings.Builder
			cfg.Log = &log
			got, err := Run(context.Background(), cfg)
			if tc.wantErr {
				if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer again within 3s") {
					t.Fatalf("err %v, want ErrUnavailable after the wait", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Reason != Complete || got.Iterations != 1 || fake.Ensures < 2 {
				t.Errorf("outcome %+v, ensures %d; want COMPLETE in iteration 1 after a second ensure", got, fake.Ensures)
			}
			for _, want := range []string{"waiting up to 3s for the engine", "the engine answers again"} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("no %q in the log:\n%s", want, log.String())
				}
			}
		})
	}
}

// TestEngineKeepsDying: an engine that dies on every run, though it comes
// back each time, counts as a failure each time and opens the circuit
// after MaxRetries (exit 5), instead of looping for ever.
func TestEngineKeepsDying(t *testing.T) {
	var fake *sandboxtest.Fake
	runs := 0
	fake = &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		runs++
		fake.KillEngine()
		time.AfterFunc(50*time.Millisecond, fake.ReviveEngine)
		return 255
	}}
	cfg := config(t, fake, "")
	cfg.MaxRetries = 2
	got, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != Stopped || !strings.Contains(got.Text, "circuit open: 3 failed runs in a row") || runs != 3 {
		t.Errorf("outcome %+v after %d runs, want the circuit open after 3", got, runs)
	}
}

func TestPromptCarriesIteration(t *testing.T) {
	var got []string
	fake := &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		b, _ := io.ReadAll(cmd.Stdin)
		got = append(got, string(b))
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "ok"})
		return 0
	}}
	cfg := config(t, fake, "- [ ] a\n")
	cfg.MaxIterations = 2
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.Contains(got[1], "iteration 2 of at most 2") || !strings.Contains(got[1], "tasks.md") {
		t.Errorf("prompts = %q", got)
	}
}

// BenchmarkIteration measures the loop's own overhead per iteration with
// the in-process fake backend and a one-line agent. Goal: under 5 ms.
func BenchmarkIteration(b *testing.B) {
	var buf []byte
	{
		w := &sliceWriter{}
		agenttest.Emit(w, "claude", agenttest.Script{Final: "did one task"})
		buf = w.b
	}
	fake := &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		cmd.Stdout.Write(buf)
		return 0
	}}
	dir := b.TempDir()
	prompt := filepath.Join(dir, "PROMPT.md")
	os.WriteFile(prompt, []byte("do one task"), 0o644)
	cfg := Config{Agent: mustAgent(b), PromptPath: prompt, MaxIterations: b.N, Backend: fake,
		Spec: sandbox.Spec{Name: "n", Project: dir}, Log: io.Discard, StallAfter: -1}
	b.ResetTimer()
	if _, err := Run(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func TestStall(t *testing.T) {
	fake := scripted([]agenttest.Script{{Final: "did nothing"}})
	cfg := config(t, fake, "")
	cfg.StallAfter = 3
	cfg.MaxIterations = 10
	got, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != Stopped || got.Iterations != 3 || !strings.Contains(got.Text, "stalled: 3 iterations") {
		t.Errorf("outcome %+v", got)
	}
	// An agent that writes a file every time never stalls.
	n := 0
	writer := &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		n++
		os.WriteFile(filepath.Join(cfg.Spec.Project, "out.txt"), []byte(strings.Repeat("x", n)), 0o644)
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "wrote"})
		return 0
	}}
	cfg.Backend = writer
	got, _ = Run(context.Background(), cfg)
	if got.Reason != IterationCap {
		t.Errorf("a working agent stopped: %+v", got)
	}
	// An agent that only rebuilds what git ignores (build output,
	// node_modules) changes nothing git status would show: it stalls.
	os.WriteFile(filepath.Join(cfg.Spec.Project, ".gitignore"), []byte("dist/\nnode_modules/\n*.log\n"), 0o644)
	os.Remove(filepath.Join(cfg.Spec.Project, "out.txt"))
	n = 0
	cfg.Backend = &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		n++
		for _, p := range []string{"dist/app.js", "node_modules/x/i.js", "build.log"} {
			full := filepath.Join(cfg.Spec.Project, p)
			os.MkdirAll(filepath.Dir(full), 0o755)
			os.WriteFile(full, []byte(strings.Repeat("x", n)), 0o644)
		}
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "rebuilt"})
		return 0
	}}
	got, _ = Run(context.Background(), cfg)
	if got.Reason != Stopped || !strings.Contains(got.Text, "stalled") {
		t.Errorf("an agent that only changed ignored files: %+v, want stalled", got)
	}
}

func TestNoWait(t *testing.T) {
	fake := scripted([]agenttest.Script{{Limited: true}})
	cfg := config(t, fake, "")
	cfg.NoWait = true
	got, _ := Run(context.Background(), cfg)
	if got.Reason != Stopped || !strings.Contains(got.Text, "--no-wait") {
		t.Errorf("outcome %+v", got)
	}
}

func TestLimitWaitsUntilReset(t *testing.T) {
	reset := time.Now().Add(1500 * time.Millisecond)
	fake := scripted([]agenttest.Script{{Limited: true, ResetAt: reset}, {Final: "<promise>COMPLETE</promise>"}})
	cfg := config(t, fake, "")
	cfg.LimitBackoff = time.Hour // must not be used: the agent gave a reset time
	start := time.Now()
	got, err := Run(context.Background(), cfg)
	if err != nil || got.Reason != Complete {
		t.Fatalf("%+v %v", got, err)
	}
	if waited := time.Since(start); waited < time.Second || waited > 10*time.Second {
		t.Errorf("waited %s for a reset 1.5s ahead", waited)
	}
}

func TestIterationTimeout(t *testing.T) {
	n := 0
	fake := &sandboxtest.Fake{Run: func(ctx context.Context, cmd sandbox.Cmd) int {
		n++
		if n == 1 {
			<-ctx.Done() // hangs until killed
			return -1
		}
		agenttest.Emit(cmd.Stdout, "claude", agenttest.Script{Final: "<promise>COMPLETE</promise>"})
		return 0
	}}
	cfg := config(t, fake, "")
	cfg.IterationTimeout = 100 * time.Millisecond
	got, err := Run(context.Background(), cfg)
	if err != nil || got.Reason != Complete || got.Iterations != 2 {
		t.Errorf("%+v %v", got, err)
	}
}

type recorder struct {
	outcomes []string
	raw      strings.Builder
}

func (r *recorder) IterationStart(n, attempt int) (io.Writer, io.Writer) { return &r.raw, nil }
func (r *recorder) IterationEnd(it IterationInfo) {
	r.outcomes = append(r.outcomes, fmt.Sprintf("%d.%d %s files=%d cost=%.4f", it.N, it.Attempt, it.Outcome, it.FilesChanged, it.Usage.CostUSD))
}

func TestBudgetAndObserver(t *testing.T) {
	none := agenttest.Script{Final: "did one"}
	fake := scripted([]agenttest.Script{none, {Fail: "boom"}, none, none, none})
	cfg := config(t, fake, "")
	cfg.MaxCost = 0.05 // each successful claude run here reports $0.0213
	rec := &recorder{}
	cfg.Observer = rec
	got, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != Budget || got.Iterations != 3 || !strings.Contains(got.Text, "--max-cost $0.05") {
		t.Errorf("outcome %+v", got)
	}
	want := []string{"1.0 no promise files=0 cost=0.0213", "2.0 failed files=0 cost=0.0000", "2.1 no promise files=0 cost=0.0213", "3.0 no promise files=0 cost=0.0213"}
	if diff := cmp.Diff(want, rec.outcomes); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if !strings.Contains(rec.raw.String(), `"type":"result"`) {
		t.Error("raw output not passed to the observer")
	}
	cfg.MaxCost, cfg.MaxRuntime, cfg.Observer = 0, time.Nanosecond, nil
	got, _ = Run(context.Background(), cfg)
	if got.Reason != Budget || !strings.Contains(got.Text, "--max-runtime") {
		t.Errorf("runtime budget: %+v", got)
	}
}

// TestRetriedOutcomes: a resumed run starts again at an iteration that
// ended in one of these (it was not counted), and after the others.
func TestRetriedOutcomes(t *testing.T) {
	retried := map[IterationOutcome]bool{OutcomeFailed: true, OutcomeRateLimited: true, OutcomeEngineDown: true, OutcomeError: true}
	for _, o := range []IterationOutcome{OutcomeComplete, OutcomeBlocked, OutcomeDecide, OutcomeNoPromise, OutcomeRefusedComplete,
		OutcomeTimedOut, OutcomeFailed, OutcomeRateLimited, OutcomeEngineDown, OutcomeError} {
		if o.Retried() != retried[o] {
			t.Errorf("%q.Retried() = %v", o, o.Retried())
		}
	}
}
