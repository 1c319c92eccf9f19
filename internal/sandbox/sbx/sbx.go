// Package sbx is the backend for Docker Sandboxes: a microVM per sandbox
// with its own guest kernel, driven through the documented sbx CLI only
// (see shared/SBX.md for the surface and its version differences). The
// network is sbx's own policy; ralph's gate does not run in front of it.
package sbx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// SBX drives the sbx CLI.
type SBX struct {
	bin string

	mu   sync.Mutex
	kept map[string][]keptSecret // by sandbox: secrets to set once it exists
}

type keptSecret struct{ service, value string }

// services are sbx's credential services for ralph's secret names
// (shared/SBX.md 1.8); claude-oauth has none ralph can be sure of.
var services = map[string]string{"anthropic": "anthropic", "openai": "openai", "gemini": "google", "github": "github"}

// Keeps is sbx's service for ralph's secret name.
func (s *SBX) Keeps(secret string) string { return services[secret] }

// Keep holds a secret for the sandbox name: Ensure gives it to sbx
// (`sbx secret set SERVICE --sandbox NAME`, the value on stdin) once the
// sandbox exists; sbx's proxy adds it and the agent sees sbx's sentinel.
func (s *SBX) Keep(name, secret, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept == nil {
		s.kept = map[string][]keptSecret{}
	}
	s.kept[name] = append(s.kept[name], keptSecret{services[secret], value})
}

// setKept hands the secrets held for name to sbx, once.
func (s *SBX) setKept(ctx context.Context, name string) error {
	s.mu.Lock()
	kept := s.kept[name]
	delete(s.kept, name)
	s.mu.Unlock()
	for _, k := range kept {
		err := proc.Run(ctx, proc.Cmd{Argv: []string{s.bin, "secret", "set", k.service, "--sandbox", name}, Env: env(),
			Stdin: strings.NewReader(k.value + "\n")})
		if err != nil {
			return fmt.Errorf("sbx: secret set %s --sandbox %s: %w", k.service, name, err)
		}
	}
	return nil
}

var (
	_ sandbox.Backend          = (*SBX)(nil)
	_ sandbox.CredentialKeeper = (*SBX)(nil)
)

// New returns the sbx backend using the sbx on PATH.
func New() *SBX { return &SBX{bin: "sbx"} }

func (s *SBX) Name() string               { return "sbx" }
func (s *SBX) Boundary() sandbox.Boundary { return sandbox.MicroVM }

// env is sbx's own environment: the user's, as their shell would give it
// (sbx finds its daemon and login there). Only what Exec names with -e
// reaches the sandbox.
func env() []string { return append(os.Environ(), "SBX_NO_TELEMETRY=1") }

func (s *SBX) run(ctx context.Context, args ...string) ([]byte, error) {
	return proc.Output(ctx, proc.Cmd{Argv: append([]string{s.bin}, args...), Env: env()})
}

// Version returns sbx's version ("v0.46.0"), or an error when the binary
// is not Docker's sbx (other tools are called sbx too).
func (s *SBX) Version(ctx context.Context) (string, error) {
	out, err := s.run(ctx, "version")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "sbx version: "); ok {
			v, _, _ := strings.Cut(rest, " ")
			return v, nil
		}
	}
	return "", fmt.Errorf("sbx: %q is not Docker Sandboxes' sbx (no \"sbx version:\" line)", strings.TrimSpace(string(out)))
}

// Available checks that Docker's sbx answers.
func (s *SBX) Available(ctx context.Context) error {
	_, err := s.Version(ctx)
	if errors.Is(err, proc.ErrNotFound) {
		return sandbox.Unavailable("sbx (Docker Sandboxes) is not installed: see https://docs.docker.com/ai/sandboxes/")
	}
	if err != nil {
		return sandbox.Unavailable("%v", err)
	}
	return nil
}

// entry is one sandbox of `sbx ls --json`.
type entry struct {
	Name       string   `json:"name"`
	Agent      string   `json:"agent"`
	Status     string   `json:"status"`
	Workspaces []string `json:"workspaces"`
}

// list reads `sbx ls --json`, skipping any daemon banner printed on
// stdout before the JSON.
func (s *SBX) list(ctx context.Context) ([]entry, error) {
	out, err := s.run(ctx, "ls", "--json")
	if err != nil {
		return nil, fmt.Errorf("sbx: ls: %w", err)
	}
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	var doc struct {
		Sandboxes []entry `json:"sandboxes"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("sbx: ls --json: %w", err)
	}
	return doc.Sandboxes, nil
}

func (s *SBX) find(ctx context.Context, name string) (entry, bool, error) {
	all, err := s.list(ctx)
	if err != nil {
		return entry{}, false, err
	}
	for _, e := range all {
		if e.Name == name {
			return e, true, nil
		}
	}
	return entry{}, false, nil
}

// agentOf maps ralph's agent to sbx's AGENT argument.
func agentOf(a string) string {
	switch a {
	case "claude", "codex", "copilot", "cursor", "gemini", "opencode":
		return a
	}
	return "shell"
}

// Ensure creates the sandbox with `sbx create --name NAME AGENT PATH`, or
// starts an existing one (`sbx exec` starts a stopped sandbox); then it
// gives sbx the secrets held for it (Keep).
func (s *SBX) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	created, err := s.ensure(ctx, spec)
	if err != nil {
		return created, err
	}
	return created, s.setKept(ctx, spec.Name)
}

func (s *SBX) ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	e, ok, err := s.find(ctx, spec.Name)
	if err != nil {
		return false, err
	}
	if ok {
		if e.Status != "running" {
			if _, err := s.run(ctx, "exec", spec.Name, "true"); err != nil {
				return false, fmt.Errorf("sbx: start %s: %w", spec.Name, err)
			}
		}
		return false, nil
	}
	args := []string{"create", "--name", spec.Name}
	if spec.Memory != "" {
		args = append(args, "--memory", spec.Memory)
	}
	if spec.CPUs != "" {
		args = append(args, "--cpus", spec.CPUs)
	}
	args = append(args, agentOf(spec.Agent), spec.Project)
	if _, err := s.run(ctx, args...); err != nil {
		// Made by another Ensure at the same moment: attach to it.
		if _, ok, ferr := s.find(ctx, spec.Name); ferr == nil && ok {
			return false, nil
		}
		return false, fmt.Errorf("sbx: create %s: %w", spec.Name, err)
	}
	return true, nil
}

// Exec runs cmd with `sbx exec -i NAME ...`. Variables go by name (-e K):
// sbx copies the value from its own environment, so no secret is on a
// command line. Exit status 1 is both the command's and "no such
// sandbox": after a failure, existence tells them apart.
func (s *SBX) Exec(ctx context.Context, name string, cmd sandbox.Cmd) (int, error) {
	args := []string{"exec", "-i"}
	if cmd.TTY {
		args = append(args, "-t")
	}
	env := append(env(), cmd.EnvList()...)
	for _, k := range cmd.EnvKeys() {
		args = append(args, "-e", k)
	}
	args = append(args, name)
	args = append(args, cmd.Argv...)
	err := proc.Run(ctx, proc.Cmd{Argv: append([]string{s.bin}, args...), Env: env,
		Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr})
	if ctx.Err() != nil {
		// Killing the sbx client does not stop the command in the VM:
		// stop the sandbox, which ends everything in it.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30e9)
		defer cancel()
		s.run(kctx, "stop", name)
		return -1, ctx.Err()
	}
	if err == nil {
		return 0, nil
	}
	code := proc.ExitCode(err)
	if code < 0 {
		return -1, fmt.Errorf("sbx: exec in %s: %w", name, err)
	}
	if _, ok, lerr := s.find(ctx, name); lerr == nil && !ok {
		return -1, fmt.Errorf("sbx: %s is gone: %w", name, sandbox.ErrNotFound)
	}
	return code, nil
}

// Stop stops the sandbox; a missing one is fine.
func (s *SBX) Stop(ctx context.Context, name string) error {
	e, ok, err := s.find(ctx, name)
	if err != nil || !ok || e.Status == "stopped" {
		return err
	}
	if _, err := s.run(ctx, "stop", name); err != nil {
		return fmt.Errorf("sbx: stop %s: %w", name, err)
	}
	return nil
}

// Remove deletes one of ralph's sandboxes (`sbx rm --force`: rm prompts
// without it).
func (s *SBX) Remove(ctx context.Context, name string, force bool) error {
	e, ok, err := s.find(ctx, name)
	if err != nil {
		return err
	}
	if !ok || !strings.HasPrefix(name, "ralph-") {
		return fmt.Errorf("sbx: %s: %w", name, sandbox.ErrNotFound)
	}
	if e.Status == "running" && !force {
		return fmt.Errorf("sbx: %s is running: stop it first or pass --force", name)
	}
	if _, err := s.run(ctx, "rm", "--force", name); err != nil {
		return fmt.Errorf("sbx: rm %s: %w", name, err)
	}
	return nil
}

// List returns ralph's sandboxes (by their ralph- names).
func (s *SBX) List(ctx context.Context) ([]sandbox.Info, error) {
	all, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	var out []sandbox.Info
	for _, e := range all {
		if !strings.HasPrefix(e.Name, "ralph-") {
			continue
		}
		in := sandbox.Info{Name: e.Name, Backend: "sbx", Agent: e.Agent, State: e.Status}
		if len(e.Workspaces) > 0 {
			in.Project = e.Workspaces[0]
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Policy forwards a network rule change to `sbx policy`. Versions
// differ: v0.32+ takes --sandbox NAME (global by default), v0.29–0.31 a
// positional NAME or -g; older ones only global rules.
func (s *SBX) Policy(ctx context.Context, action, scope string, patterns []string) error {
	v, err := s.Version(ctx)
	if err != nil {
		return err
	}
	args := []string{"policy", action, "network"}
	res := strings.Join(patterns, ",")
	switch {
	case newer(v, 32) && scope != "":
		args = append(args, "--sandbox", scope, res)
	case newer(v, 32):
		args = append(args, res)
	case newer(v, 29) && scope != "":
		args = append(args, scope, res)
	case newer(v, 29):
		args = append(args, "-g", res)
	case scope != "":
		return fmt.Errorf("sbx %s has only global network rules; upgrade sbx for per-sandbox rules", v)
	default:
		args = append(args, res)
	}
	_, err = s.run(ctx, args...)
	return err
}

// newer reports whether version vX.Y.Z has X.Y >= 0.minor.
func newer(v string, minor int) bool {
	var maj, min, patch int
	fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d.%d", &maj, &min, &patch)
	return maj > 0 || min >= minor
}

var _ sandbox.OwnNetwork = (*SBX)(nil)

// Network: sbx's own policy, not ralph's gate.
func (s *SBX) Network() string {
	return "sbx's own policy (sbx policy ls; ralph policy allow|deny network is forwarded to it)"
}
