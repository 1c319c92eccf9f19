package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/secret"
)

// ErrInvalid is a submission that cannot be made as asked (a usage
// error); every other error of Submit and Wait is the cluster's.
var ErrInvalid = errors.New("invalid fleet submission")

type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }
func (e *invalidError) Unwrap() error        { return e.err }

func invalid(format string, args ...any) error {
	return &invalidError{err: fmt.Errorf(format, args...)}
}

// Submission is what ralph fleet run asks for: Count loops of Run.
type Submission struct {
	Run               Run
	Count, Iterations int
	// Allow are host patterns the gate allows besides the agent's API
	// hosts and the git remote; Env are NAME=VALUE for the pods.
	Allow, Env []string
	// APIKeyEnv is the variable the key goes in (default the agent's
	// first); AgentCmd the agent's executable inside the image.
	APIKeyEnv, AgentCmd string
	// The namespace's gate: replicas (0: as it runs), image ("": as it
	// runs, else Run.Image), reached through a pod's IP instead of the
	// Service, and how long to wait for it.
	GateReplicas int
	GateImage    string
	GateViaPod   bool
	GateTimeout  time.Duration
	MaxRuntime   time.Duration
	// PushSet: Run.Push names the branch (one loop only).
	PushSet bool
	// GateSecrets are secrets (anthropic, openai, …) the gate adds from
	// its Secret (GateSecretsName): the pods get placeholders and routes.
	GateSecrets []string
}

var envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// prepare checks s, fills in its Run and returns the gate's rules.
func (s *Submission) prepare() (agent.Adapter, []policy.Rule, error) {
	r := &s.Run
	ad, err := agent.Lookup(r.Agent, s.AgentCmd)
	if err != nil {
		return ad, nil, invalid("%v", err)
	}
	if s.MaxRuntime <= 0 {
		return ad, nil, invalid("--max-runtime must be positive: it bounds the Job (activeDeadlineSeconds)")
	}
	gitHost, err := remoteHost(r.Repo)
	if err != nil {
		return ad, nil, invalid("%v", err)
	}
	if s.Count < 1 || s.Iterations < 1 {
		return ad, nil, invalid("--count and --max-iterations must be at least 1")
	}
	if s.PushSet && s.Count > 1 {
		return ad, nil, invalid("--push names one branch; with --count %d each loop pushes ralph/<run-id>", s.Count)
	}
	if s.GateReplicas < 0 {
		return ad, nil, invalid("--gate-replicas must be 1 or more")
	}
	if r.Image == "" {
		r.Image = "ralph-" + ad.Name + ":latest"
	}
	r.APIKeyEnv = s.APIKeyEnv
	if r.APIKeyEnv == "" && len(ad.KeyVars) > 0 {
		r.APIKeyEnv = ad.KeyVars[0]
	}
	r.Env = map[string]string{}
	r.LoopArgs = []string{"-n", fmt.Sprint(s.Iterations), "--max-runtime", (s.MaxRuntime - s.MaxRuntime/20).String()}
	if s.AgentCmd != "" {
		r.LoopArgs = append(r.LoopArgs, "--agent-cmd", s.AgentCmd)
	}
	for _, e := range s.Env {
		if !envAssign.MatchString(e) {
			return ad, nil, invalid("--env wants NAME=VALUE, got %q (secrets go in Secrets: --api-key-secret)", e)
		}
		name, val, _ := strings.Cut(e, "=")
		r.Env[name] = val
		r.LoopArgs = append(r.LoopArgs, "--env", name)
	}
	if len(s.GateSecrets) > 0 {
		if r.APIKey != "" {
			return ad, nil, invalid("--api-key-secret puts the key into the pods, --gate-secret keeps it at the gate: use one")
		}
		env := map[string]string{}
		if _, err := secret.RouteEnv(ad.Name, s.GateSecrets, env); err != nil {
			return ad, nil, invalid("--gate-secret: %v", err)
		}
		for _, k := range sortedKeys(env) {
			if _, set := r.Env[k]; set {
				return ad, nil, invalid("--env %s: --gate-secret sets it", k)
			}
			r.Env[k] = env[k]
			r.LoopArgs = append(r.LoopArgs, "--env", k)
		}
	}
	r.Deadline = s.MaxRuntime + 10*time.Minute
	r.UID = 1000
	rules := policyfile.AgentRules(ad.Name, ad.Hosts)
	for _, p := range append([]string{gitHost}, s.Allow...) {
		rule, err := policy.ParseRule(policy.Allow, p, "fleet")
		if err != nil {
			return ad, nil, invalid("%v", err)
		}
		rules = append(rules, rule)
	}
	return ad, rules, nil
}

// Check reports what is wrong with s before anything is sent (an error
// that Is ErrInvalid), or nil.
func (s Submission) Check() error {
	_, _, err := s.prepare()
	return err
}

// Submit makes the namespace, the gate and its rules, waits until the
// gate serves them (the loop's first request, the clone, must find them),
// then submits Count Jobs. say reports progress; submitted gets each run
// as its Job is made.
func (s Submission) Submit(ctx context.Context, c *Client, say func(string, ...any), submitted func(id string)) ([]string, error) {
	ad, rules, err := s.prepare()
	if err != nil {
		return nil, err
	}
	r := s.Run
	warn, err := c.EnsureNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		say("warning: %s", warn)
	}
	refs := []string{r.APIKey, r.GitToken}
	for _, n := range s.GateSecrets {
		refs = append(refs, GateSecretsName+":"+n)
	}
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		warn, err := c.CheckSecret(ctx, ref)
		if err != nil {
			return nil, &invalidError{err: err}
		}
		if warn != "" {
			say("warning: %s", warn)
		}
	}
	digest, err := c.AllowAtGate(ctx, rules)
	if err != nil {
		return nil, err
	}
	if err := c.ApplyGate(ctx, s.GateImage, int32(s.GateReplicas), r.UID, r.Image); err != nil {
		return nil, err
	}
	say("namespace %s: gate applied, waiting for it to be ready", c.NS)
	gctx, cancel := context.WithTimeout(ctx, s.GateTimeout)
	defer cancel()
	if r.Gate, err = c.GateAddress(gctx, s.GateViaPod); err != nil {
		return nil, err
	}
	if err := c.SyncGate(gctx, digest); err != nil {
		return nil, err
	}
	var ids []string
	for range s.Count {
		r.ID = newRunID(r.Repo)
		if !s.PushSet {
			r.Push = "ralph/" + r.ID
		}
		if err := c.Submit(ctx, r); err != nil {
			return ids, err
		}
		ids = append(ids, r.ID)
		say("submitted %s: job %s, branch %s, agent %s, image %s, gate %s", r.ID, JobName(r.ID), r.Push, ad.Name, r.Image, r.Gate)
		submitted(r.ID)
	}
	return ids, nil
}

// Wait polls every second until each of ids has ended, saying how many
// have as that changes, and returns their states in the order of ids.
func Wait(ctx context.Context, c *Client, ids []string, say func(string, ...any)) ([]Status, error) {
	done := map[string]Status{}
	last := ""
	for len(done) < len(ids) {
		all, err := c.List(ctx)
		if err != nil {
			return nil, err
		}
		states := map[string]int{}
		for _, s := range all {
			for _, id := range ids {
				if s.ID != id {
					continue
				}
				states[s.State]++
				if s.State == "succeeded" || s.State == "failed" || s.State == "stopped" {
					done[id] = s
				}
			}
		}
		if line := fmt.Sprint(states); line != last {
			say("%d of %d ended %v", len(done), len(ids), states)
			last = line
		}
		if len(done) == len(ids) {
			break
		}
		select {
		case <-ctx.Done():
			say("stopped waiting; the runs go on in the cluster (ralph fleet ls; ralph fleet stop RUN)")
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	out := make([]Status, 0, len(ids))
	for _, id := range ids {
		out = append(out, done[id])
	}
	return out, nil
}

// ExitCode of ended runs: the first loop's non-zero exit code, where a
// run with no result, or one that succeeded but did not push, counts as
// ralph's own failure (70).
func ExitCode(runs []Status) int {
	for _, s := range runs {
		c := 70
		if s.Result != nil {
			c = s.Result.Exit
			if !s.Result.Pushed && c == 0 {
				c = 70
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// remoteHost is the gate rule for a git URL: its host (and port).
func remoteHost(repo string) (string, error) {
	if repo == "" {
		return "", fmt.Errorf("--repo is required")
	}
	u, err := url.Parse(repo)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("--repo %q: the pods reach git through the gate, an HTTP proxy: give an https:// (or http://) URL", repo)
	}
	if u.User != nil {
		return "", fmt.Errorf("--repo: no credentials in the URL (they would land in the Job's spec); use --git-secret")
	}
	return u.Host, nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// newRunID is <repo>-<6 hex>: readable, unique, a valid Job name part.
func newRunID(repo string) string {
	base := strings.TrimSuffix(repo[strings.LastIndex(repo, "/")+1:], ".git")
	base = strings.Trim(nonName.ReplaceAllString(strings.ToLower(base), "-"), "-")
	if len(base) > 30 {
		base = strings.Trim(base[:30], "-")
	}
	if base == "" {
		base = "run"
	}
	b := make([]byte, 3)
	rand.Read(b)
	return base + "-" + hex.EncodeToString(b)
}
