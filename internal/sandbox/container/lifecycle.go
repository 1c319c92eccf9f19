package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

// state is what inspect tells about a container.
type state struct {
	exists, running, ours bool
	gate                  string // "true", "false", or "" for older sandboxes
	hardening             string // LabelHardening, "" for older sandboxes
	dying                 bool   // being removed, or dead: gone soon
	id                    string
}

const inspectFormat = `{{.Id}}|{{.State.Running}}|{{index .Config.Labels "` + LabelManaged + `"}}|{{index .Config.Labels "` + LabelGate + `"}}|{{index .Config.Labels "` + LabelHardening + `"}}|{{.State.Status}}`

func (e *Engine) inspect(ctx context.Context, name string) (state, error) {
	out, err := e.run(ctx, "container", "inspect", "--format", inspectFormat, name)
	if err != nil {
		if isNoSuch(err) {
			return state{}, nil
		}
		return state{}, fmt.Errorf("%s: inspect %s: %w", e.name, name, err)
	}
	// Fields split on "|": a missing label is empty (docker) or
	// "<no value>" (podman).
	f := append(strings.Split(strings.TrimSpace(string(out)), "|"), "", "", "", "", "", "")
	for i := range f {
		if f[i] = strings.TrimSpace(f[i]); f[i] == "<no value>" {
			f[i] = ""
		}
	}
	st := state{exists: true, id: f[0], running: f[1] == "true", ours: f[2] == "true", gate: f[3], hardening: f[4]}
	// A container being removed, or dead (Docker 20.10 shows both after
	// rm -f, for a while), is gone: never attached to, never "running".
	if f[5] == "removing" || f[5] == "dead" {
		st.running, st.dying = false, true
	}
	return st, nil
}

func isNoSuch(err error) bool {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := strings.ToLower(ee.Stderr)
	return strings.Contains(s, "no such") || strings.Contains(s, "no container with")
}

// quirkHint explains engine set-ups known to fail, with the fix.
func quirkHint(err error) string {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return ""
	}
	s := ee.Stderr
	switch {
	case strings.Contains(s, "error setting rlimit"):
		return "\nhint: the engine tries to raise resource limits past what this machine allows; give podman " +
			"default_ulimits it may set (containers.conf: [containers] default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]; see README, Engines)"
	case strings.Contains(s, "crun") && strings.Contains(s, "cgroup"):
		return "\nhint: crun refuses this machine's hybrid cgroups; use runc (containers.conf: [engine] runtime = \"runc\")"
	}
	return ""
}

func isNoImage(err error) bool {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := strings.ToLower(ee.Stderr)
	return strings.Contains(s, "no such image") || strings.Contains(s, "image not known")
}

// waitGone waits up to 10 s for a dying container to disappear, then
// removes it by ID itself; it returns the state after.
func (e *Engine) waitGone(ctx context.Context, name string, st state) (state, error) {
	for i := 0; i < 20; i++ {
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return st, err
		}
		next, err := e.inspect(ctx, name)
		if err != nil {
			return st, err
		}
		if !next.exists {
			return next, nil
		}
		if next.id != st.id || !next.dying {
			return next, nil
		}
	}
	if _, err := e.run(ctx, "rm", "-f", st.id); err != nil && !isNoSuch(err) {
		return st, fmt.Errorf("%s: remove the dying %s: %w", e.name, name, err)
	}
	return e.inspect(ctx, name)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ensure creates the sandbox or starts the existing one.
func (e *Engine) Ensure(ctx context.Context, spec sandbox.Spec) (bool, error) {
	if err := sandbox.Validate(spec, e.home); err != nil {
		return false, err
	}
	st, err := e.inspect(ctx, spec.Name)
	if err != nil {
		return false, err
	}
	if st.dying && st.ours {
		// Removed behind ralph's back and not gone yet: wait for the
		// engine to finish, or finish it, then make it anew.
		if st, err = e.waitGone(ctx, spec.Name, st); err != nil {
			return false, err
		}
	}
	e.mu.Lock()
	e.gated[spec.Name] = spec.GateDir != ""
	delete(e.ids, spec.Name)
	e.mu.Unlock()
	switch {
	case st.exists && !st.ours:
		return false, sandbox.Refused("a container named %s exists and was not made by ralph; rename or remove it", spec.Name)
	case st.exists && st.gate != e.gateLabel(spec):
		return false, fmt.Errorf("%w: sandbox %s was made with another network set-up; remove it (ralph rm -f %s) and run again",
			sandbox.ErrUnavailable, spec.Name, spec.Name)
	case st.exists && st.hardening != e.hardening():
		return false, fmt.Errorf("%w: sandbox %s was made with other hardening (an older ralph, without its seccomp profile %s); remove it (ralph rm -f %s) and run again",
			sandbox.ErrUnavailable, spec.Name, e.hardening(), spec.Name)
	case st.running:
		e.remember(spec.Name, st.id)
		// Started by an earlier ralph, or by hand: check the limit
		// once per process.
		if e.guestLimited(spec.Name) {
			return false, nil
		}
		return false, e.limitGuest(ctx, spec)
	case st.exists:
		if _, err := e.run(ctx, "start", st.id); err != nil {
			return false, fmt.Errorf("%s: start %s: %w", e.name, spec.Name, err)
		}
		e.remember(spec.Name, st.id)
		return false, e.limitGuest(ctx, spec)
	}
	if spec.Image == "" {
		return false, sandbox.Unavailable("no image: pass --image (an image with the agent's CLI; see ralph image build)")
	}
	user, err := User(spec)
	if err != nil {
		return false, sandbox.Refused("%v", err)
	}
	profile, err := writeSeccomp(e.seccompDir(), SeccompProfile(e.runtime != ""))
	if err != nil {
		return false, err
	}
	out, err := e.run(ctx, e.runArgs(spec, user, profile)...)
	if err != nil {
		if isNoImage(err) {
			return false, fmt.Errorf("%w: image %s is not present in %s (ralph never pulls): build it with `ralph image build --agent %s`, or pull or load it yourself",
				sandbox.ErrUnavailable, spec.Image, e.bin, spec.Agent)
		}
		if nameInUse(err) {
			// Made by another Ensure at the same moment: attach to it,
			// and never remove it.
			return e.attachRacer(ctx, spec, err)
		}
		// Clean up a half-made container so the next attempt starts fresh.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		e.run(cctx, "rm", "--force", spec.Name)
		return false, fmt.Errorf("%s: create %s: %w%s", e.name, spec.Name, err, quirkHint(err))
	}
	e.remember(spec.Name, lastLine(out))
	return true, e.limitGuest(ctx, spec)
}

// nameInUse reports an engine's refusal to create a container whose name
// another container has.
func nameInUse(err error) bool {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := strings.ToLower(ee.Stderr)
	return strings.Contains(s, "already in use")
}

// attachRacer attaches to the sandbox another caller created while this
// one tried to: it waits (up to 5 s) for it to run, as ralph's.
func (e *Engine) attachRacer(ctx context.Context, spec sandbox.Spec, cause error) (bool, error) {
	for i := 0; i < 25; i++ {
		st, err := e.inspect(ctx, spec.Name)
		if err != nil {
			return false, err
		}
		if st.exists && !st.ours {
			return false, sandbox.Refused("a container named %s exists and was not made by ralph; rename or remove it", spec.Name)
		}
		if st.running {
			e.remember(spec.Name, st.id)
			return false, e.limitGuest(ctx, spec)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("%s: create %s: another caller made it at the same moment, and it did not start: %w", e.name, spec.Name, cause)
}

// remember records the ID of a container this process found to be
// ralph's (or made): Stop can then address exactly that container,
// without asking the engine again whose it is.
func (e *Engine) remember(name, id string) {
	if id == "" {
		return
	}
	e.mu.Lock()
	e.ids[name] = id
	e.mu.Unlock()
}

// lastLine is the last non-empty line of an engine's output (the ID that
// `run --detach` prints, after any warnings).
func lastLine(out []byte) string {
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// Stop stops the sandbox if it exists and is ralph's. A container this
// process made or started is stopped by its ID, which no other container
// can carry; any other is looked at first.
func (e *Engine) Stop(ctx context.Context, name string) error {
	e.mu.Lock()
	target := e.ids[name]
	e.mu.Unlock()
	if target == "" {
		st, err := e.inspect(ctx, name)
		if err != nil || !st.exists || !st.running {
			return err
		}
		if !st.ours {
			return sandbox.Refused("%s was not made by ralph", name)
		}
		target = st.id
	}
	timeout := "5"
	if dl, ok := ctx.Deadline(); ok {
		if s := int(time.Until(dl).Seconds()) - 2; s < 5 {
			timeout = fmt.Sprint(max(s, 0))
		}
	}
	if _, err := e.run(ctx, "stop", "--time", timeout, target); err != nil && !isNoSuch(err) {
		return fmt.Errorf("%s: stop %s: %w", e.name, name, err)
	}
	return nil
}

// Remove deletes the sandbox if it is ralph's.
func (e *Engine) Remove(ctx context.Context, name string, force bool) error {
	e.mu.Lock()
	delete(e.ids, name)
	e.mu.Unlock()
	st, err := e.inspect(ctx, name)
	if err != nil {
		return err
	}
	if !st.exists {
		return fmt.Errorf("%s: %s: %w", e.name, name, sandbox.ErrNotFound)
	}
	if !st.ours {
		return sandbox.Refused("%s was not made by ralph", name)
	}
	if st.running && !force {
		return fmt.Errorf("%s: %s is running: stop it first or pass --force", e.name, name)
	}
	args := []string{"rm", name}
	if force {
		args = []string{"rm", "--force", name}
	}
	if _, err := e.run(ctx, args...); err != nil {
		return fmt.Errorf("%s: remove %s: %w", e.name, name, err)
	}
	if st.gate == "relay" {
		e.removeRelayVolume(ctx, name)
	}
	return nil
}

const listFormat = `{{.Name}}	{{.State.Status}}	{{.Config.Image}}	{{index .Config.Labels "` + LabelAgent + `"}}	{{index .Config.Labels "` + LabelProject + `"}}	{{.Created}}`

// List returns the containers that carry ralph's labels for this backend.
func (e *Engine) List(ctx context.Context) ([]sandbox.Info, error) {
	ids, err := e.run(ctx, "ps", "--all", "--quiet", "--no-trunc",
		"--filter", "label="+LabelManaged+"=true", "--filter", "label="+LabelBackend+"="+e.name)
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", e.name, err)
	}
	idList := strings.Fields(string(ids))
	if len(idList) == 0 {
		return nil, nil
	}
	out, err := e.run(ctx, append([]string{"container", "inspect", "--format", listFormat}, idList...)...)
	if err != nil && !isNoSuch(err) {
		return nil, fmt.Errorf("%s: list: %w", e.name, err)
	}
	var infos []sandbox.Info
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		f := strings.Split(string(line), "\t")
		if len(f) < 6 {
			continue
		}
		infos = append(infos, sandbox.Info{
			Name: strings.TrimPrefix(f[0], "/"), Backend: e.name, State: f[1], Image: f[2],
			Agent: f[3], Project: f[4], Created: f[5],
		})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}
