package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/netgate"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/render"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/selftest"
	"github.com/ralphloop/ralph/internal/wsfile"
)

type selftestOptions struct {
	f                             *Factory
	which, image, memory, tmpSize string
	pids                          int
	asJSON, onHost                bool
}

// newSelftest builds ralph selftest; runF does the work (selftestRun
// when nil).
func newSelftest(f *Factory, runF func(context.Context, *selftestOptions) error) *cobra.Command {
	o := &selftestOptions{f: f}
	if runF == nil {
		runF = selftestRun
	}
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "Prove the sandbox holds: run an attack battery inside it and print what held",
		Long: `selftest starts a sandbox exactly as a loop would (same hardening, same
network gate, same policy), runs a battery of attacks inside it with ralph
itself as the attacker, and prints a table: each property, what was tried,
and whether it held. Before the run it plants canaries where an agent would
look (an SSH key, cloud credentials, a .env beside the project, a secret
variable), starts host listeners the sandbox must not reach (TCP, IPv6, UDP
on port 53 when it is free, a raw watch for ICMP on the loopback), an upstream the policy
allows (the gate's positive control) and a second sandbox of the same
backend that counts connections; after the run it checks that no canary
leaked, nothing reached a listener, and nothing outside the workspace
changed. A row a backend leaves to its own mechanisms (sbx's network policy
and limits) says "not applicable" and why.

--sandbox all proves every usable backend. --sandbox host
--dangerously-run-on-host runs the same battery unsandboxed: there the
attacks succeed and the rows say FAILED, which shows the probes can fail.
Exit 0 only when every applicable property held.`,
		Example: "  ralph selftest\n  ralph selftest --sandbox all --json\n  ralph selftest --sandbox host --dangerously-run-on-host",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runF(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.which, "sandbox", "auto", "backend to prove: auto, sbx, microvm, gvisor, docker, podman, bwrap, all, host")
	cmd.Flags().StringVar(&o.image, "image", "", "image to run in (default: a tool-less image ralph makes, "+selftest.ScratchImage+")")
	cmd.Flags().StringVar(&o.memory, "memory", sandbox.DefaultMemory, "memory cap, as for a loop")
	cmd.Flags().IntVar(&o.pids, "pids-limit", sandbox.DefaultPids, "process cap, as for a loop")
	cmd.Flags().StringVar(&o.tmpSize, "tmp-size", sandbox.DefaultTmpSize, "cap of /tmp and HOME, as for a loop")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().BoolVar(&o.onHost, "dangerously-run-on-host", false, "with --sandbox host: attack this machine for real")
	return cmd
}

// selftestRun runs the attack battery on the backends asked for.
func selftestRun(ctx context.Context, o *selftestOptions) error {
	f, io := o.f, o.f.IO
	var backends []sandbox.Backend
	switch o.which {
	case "host":
		if !o.onHost {
			return usageErr("--sandbox host runs the attacks on this machine with no isolation; pass --dangerously-run-on-host as well if you mean it")
		}
		backends = []sandbox.Backend{f.Host()}
	case "all":
		for _, b := range f.Isolating() {
			if b.Available(ctx) == nil {
				backends = append(backends, b)
			}
		}
		if len(backends) == 0 {
			return sandbox.Unavailable("no isolating backend is usable (ralph doctor)")
		}
	default:
		b, _, err := f.pickBackend(ctx, o.which, false)
		if err != nil {
			return err
		}
		backends = []sandbox.Backend{b}
	}
	var reports []selftest.Report
	allOK := true
	for _, b := range backends {
		t, err := f.selftestTarget(ctx, b, o.image, o.memory, o.tmpSize, o.pids)
		if err != nil {
			return err
		}
		rep, err := selftest.Run(ctx, t, io.Err)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
		allOK = allOK && rep.OK
		if !o.asJSON {
			selftest.Print(io.Out, rep)
		}
	}
	if o.asJSON {
		if err := encodeJSON(io.Out, reports); err != nil {
			return err
		}
	}
	if !allOK {
		return exitcode.Quiet(1)
	}
	return nil
}

// selftestTarget sets a backend up as a loop would: the gate attached
// as a run attaches it, the rest as the backend says of itself.
func (f *Factory) selftestTarget(ctx context.Context, b sandbox.Backend, image, memory, tmpSize string, pids int) (selftest.Target, error) {
	claude, _ := agent.Lookup("claude", "")
	t := selftest.Target{Backend: b, Image: image, Memory: memory, Pids: pids, TmpSize: tmpSize,
		PolicyDir: f.policies().Dir, StateDir: f.State, Workspace: f.workspaceReader()}
	if _, ok := b.(sandbox.GateUser); ok {
		defaults := policyfile.AgentRules("claude", claude.Hosts)
		t.Gate = func(ctx context.Context, spec sandbox.Spec, creds ...netgate.Credential) (string, func(), error) {
			g, err := f.gates().Attach(ctx, b, &spec, defaults, creds...)
			if err != nil {
				return "", nil, err
			}
			return g.Mount, func() { g.Close() }, nil
		}
		t.Allow = f.allowRule
	}
	return t, selftest.Prepare(ctx, &t)
}

// allowRule adds an allow rule to one sandbox's policy for the test.
func (f *Factory) allowRule(name, h string) (func(), error) {
	store := f.policies()
	if _, err := store.Add(name, policy.Allow, []string{h}); err != nil {
		return nil, err
	}
	return func() {
		store.Remove(name, []string{h})
		if p, err := store.Path(name); err == nil {
			if rules, _ := store.Rules(name); len(rules) == 0 {
				os.Remove(p)
			}
		}
	}, nil
}

// workspaceReader is ralph's own way of reading a workspace, for row 15:
// the config as a run applies it, files through wsfile, the agent's text
// through the renderer.
func (f *Factory) workspaceReader() selftest.WorkspaceReader {
	return selftest.WorkspaceReader{
		Read: func(proj, rel string) ([]byte, error) { return wsfile.ReadIn(proj, rel, wsfile.MaxTasks) },
		Config: func(proj string) error {
			ws, err := wsfile.Open(proj)
			if err != nil {
				return err
			}
			defer ws.Close()
			_, err = f.loadConfig(runFlags().Flags(), ws, false)
			return err
		},
		Show: func(text string) string {
			var b bytes.Buffer
			r := render.New(&b, "claude", 100, false)
			line, _ := json.Marshal(map[string]any{"type": "assistant", "message": map[string]any{"role": "assistant",
				"content": []map[string]any{{"type": "text", "text": text}}}})
			r.Write(append(line, '\n'))
			r.Flush()
			return b.String()
		},
	}
}
