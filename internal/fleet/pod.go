package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
)

// Result is what a loop's pod writes to its termination message, and what
// `ralph fleet ls` reads back from the pod's status.
type Result struct {
	Outcome    string `json:"outcome"`          // complete, blocked, decision_needed, iteration_cap_reached, ...
	Text       string `json:"text,omitempty"`   // the promise's reason or question
	Exit       int    `json:"exit"`             // the loop's exit code (README table)
	Branch     string `json:"branch,omitempty"` // the branch pushed
	Commit     string `json:"commit,omitempty"`
	Pushed     bool   `json:"pushed"`
	Iterations int    `json:"iterations,omitempty"`
	Error      string `json:"error,omitempty"`
}

// PodOptions say what a loop's pod does.
type PodOptions struct {
	Repo, Branch, Push, Agent string
	LoopArgs, AgentArgs       []string
	// Dir is where the clone goes (Work/repo in a pod).
	Dir string
	// Self is the ralph executable, run again as `ralph run --sandbox pod`.
	Self string
	// TermLog is the termination message file (/dev/termination-log).
	TermLog string
	Log     io.Writer
}

// gitEnv is git's environment in the pod: the proxy variables, HOME, a
// fixed identity, and a credential helper that reads RALPH_GIT_TOKEN (the
// Secret's value) so the token never appears in a URL, an argv or a file.
func gitEnv(id string) []string {
	env := []string{"HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH"),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=ralph", "GIT_AUTHOR_EMAIL=ralph@" + id + ".invalid",
		"GIT_COMMITTER_NAME=ralph", "GIT_COMMITTER_EMAIL=ralph@" + id + ".invalid"}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "RALPH_GIT_TOKEN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if os.Getenv("RALPH_GIT_TOKEN") != "" {
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.helper",
			`GIT_CONFIG_VALUE_0=!f() { test "$1" = get && echo username=x-access-token && echo "password=$RALPH_GIT_TOKEN"; }; f`)
	}
	return env
}

// RunPod is the whole life of a loop's pod: clone, branch, run the loop
// with the pod as its boundary, commit what is left, push the branch, and
// write the outcome where Kubernetes keeps it. It returns the pod's exit
// code: the loop's, or 70 when the work could not be pushed.
func RunPod(ctx context.Context, o PodOptions) int {
	hideSelf()
	id := os.Getenv("RALPH_FLEET_RUN")
	res := Result{Branch: o.Push, Exit: 70}
	finish := func() int {
		writeResult(o.TermLog, res)
		data, _ := json.Marshal(res)
		fmt.Fprintf(o.Log, "ralph fleet: result %s\n", data)
		if !res.Pushed && res.Exit == 0 {
			return 70
		}
		return res.Exit
	}
	if id == "" {
		res.Error = "not in a pod made by ralph fleet run (RALPH_FLEET_RUN unset)"
		return finish()
	}
	env := gitEnv(id)
	git := func(ctx context.Context, args ...string) (string, error) {
		var out bytes.Buffer
		err := proc.Run(ctx, proc.Cmd{Argv: append([]string{"git"}, args...), Env: env, Dir: o.Dir,
			Stdout: &out, Stderr: o.Log})
		return strings.TrimSpace(out.String()), err
	}
	clone := []string{"clone", "--no-tags"}
	if o.Branch != "" {
		clone = append(clone, "--branch", o.Branch)
	}
	fmt.Fprintf(o.Log, "ralph fleet: cloning %s\n", o.Repo)
	parent := filepath.Dir(o.Dir)
	if err := proc.Run(ctx, proc.Cmd{Argv: append([]string{"git"}, append(clone, o.Repo, o.Dir)...), Env: env, Dir: parent, Stderr: o.Log}); err != nil {
		res.Error = "clone: " + err.Error()
		return finish()
	}
	if _, err := git(ctx, "checkout", "-b", o.Push); err != nil {
		res.Error = "branch: " + err.Error()
		return finish()
	}

	args := append([]string{"run", "--sandbox", "pod", "--json", "--agent", o.Agent}, o.LoopArgs...)
	if len(o.AgentArgs) > 0 {
		args = append(append(args, "--"), o.AgentArgs...)
	}
	var events bytes.Buffer
	// The loop and its agent never hold the git token.
	var loopEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RALPH_GIT_TOKEN=") {
			loopEnv = append(loopEnv, kv)
		}
	}
	err := proc.Run(ctx, proc.Cmd{Argv: append([]string{o.Self}, args...), Env: loopEnv, Dir: o.Dir,
		Stdout: &events, Stderr: o.Log, Group: true, WaitDelay: 30 * time.Second})
	res.Exit = proc.ExitCode(err)
	if err == nil {
		res.Exit = 0
	} else if res.Exit < 0 {
		res.Exit = 70
		if ctx.Err() != nil {
			res.Exit = 143
		}
		res.Error = "loop: " + err.Error()
	}
	res.Outcome, res.Text, res.Iterations = lastEnd(&events)
	if res.Outcome == "" {
		res.Outcome = "error"
	}

	// Nothing the agent started outlives the loop: git is about to hold
	// the token. Only as the child of ralph's own PID 1 in the pod (never
	// on a machine, where kill(-1) would reach every process of the user).
	if os.Getenv(InitEnv) == "1" && os.Getppid() == 1 {
		killAll()
	}

	// Whatever happened, keep the work: commit and push, even after a stop.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 45*time.Second)
	defer cancel()
	if err := commitAll(wctx, git, id, res); err != nil {
		res.Error = join(res.Error, "commit: "+err.Error())
		return finish()
	}
	res.Commit, _ = git(wctx, "rev-parse", "HEAD")
	if _, err := git(wctx, "push", "origin", "HEAD:refs/heads/"+o.Push); err != nil {
		res.Error = join(res.Error, "push: "+err.Error())
		return finish()
	}
	res.Pushed = true
	fmt.Fprintf(o.Log, "ralph fleet: pushed %s (%s)\n", o.Push, res.Commit)
	return finish()
}

// commitAll commits what the agent left uncommitted, if anything.
func commitAll(ctx context.Context, git func(context.Context, ...string) (string, error), id string, res Result) error {
	if _, err := git(ctx, "add", "-A"); err != nil {
		return err
	}
	st, err := git(ctx, "status", "--porcelain")
	if err != nil || st == "" {
		return err
	}
	msg := fmt.Sprintf("ralph fleet run %s: %s", id, strings.ReplaceAll(res.Outcome, "_", " "))
	_, err = git(ctx, "commit", "-q", "-m", msg)
	return err
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// lastEnd reads the loop's --json events for its end: the outcome, the
// promise's text, and the last iteration seen.
func lastEnd(r io.Reader) (outcome, text string, iterations int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e struct {
			Event     string `json:"event"`
			Iteration int    `json:"iteration"`
			Outcome   string `json:"outcome"`
			Text      string `json:"text"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Iteration > iterations {
			iterations = e.Iteration
		}
		if e.Event == "end" {
			outcome, text = e.Outcome, e.Text
		}
	}
	return outcome, text, iterations
}

// maxTermLog is what Kubernetes keeps of a termination message.
const maxTermLog = 4096

// writeResult writes res as the pod's termination message, the text cut
// so the whole stays valid JSON within Kubernetes' limit.
func writeResult(path string, res Result) {
	if path == "" {
		return
	}
	data, _ := json.Marshal(res)
	for len(data) > maxTermLog && (res.Text != "" || res.Error != "") {
		res.Text = cut(res.Text, len(res.Text)/2)
		res.Error = cut(res.Error, len(res.Error)/2)
		data, _ = json.Marshal(res)
	}
	os.WriteFile(path, data, 0o644)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ParseResult reads a termination message.
func ParseResult(msg string) (Result, error) {
	var r Result
	if msg == "" {
		return r, errors.New("no result")
	}
	err := json.Unmarshal([]byte(msg), &r)
	return r, err
}

// exitName is how a loop's exit code reads in a listing.
func exitName(code int) string {
	switch code {
	case 0:
		return "COMPLETE"
	case 1:
		return "iteration cap"
	case 2:
		return "BLOCKED"
	case 3:
		return "DECIDE"
	}
	return "exit " + strconv.Itoa(code)
}
