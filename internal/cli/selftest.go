package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/netgate/policy"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/render"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/host"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/sandbox/sbx"
	"github.com/ralphloop/ralph/internal/selftest"
	"github.com/ralphloop/ralph/internal/termsafe"
	"github.com/ralphloop/ralph/internal/wsfile"
)

func newSelftest(io IO) *cobra.Command {
	var which, image, memory, tmpSize string
	var pids int
	var asJSON, onHost bool
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
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var backends []sandbox.Backend
			switch which {
			case "host":
				if !onHost {
					return usageErr("--sandbox host runs the attacks on this machine with no isolation; pass --dangerously-run-on-host as well if you mean it")
				}
				backends = []sandbox.Backend{host.New()}
			case "all":
				for _, b := range isolating() {
					if b.Available(ctx) == nil {
						backends = append(backends, b)
					}
				}
				if len(backends) == 0 {
					return sandbox.Unavailable("no isolating backend is usable (ralph doctor)")
				}
			default:
				o := &runOptions{sandboxName: which}
				b, _, err := o.backend(ctx)
				if err != nil {
					return err
				}
				backends = []sandbox.Backend{b}
			}
			var reports []selftest.Report
			allOK := true
			for _, b := range backends {
				t, err := selftestTarget(ctx, b, image, memory, tmpSize, pids)
				if err != nil {
					return err
				}
				rep, err := selftest.Run(ctx, t, io.Err)
				if err != nil {
					return err
				}
				reports = append(reports, rep)
				allOK = allOK && rep.OK
				if !asJSON {
					printSelftest(io, rep)
				}
			}
			if asJSON {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			}
			if !allOK {
				return &quietExit{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&which, "sandbox", "auto", "backend to prove: auto, sbx, microvm, gvisor, docker, podman, bwrap, all, host")
	cmd.Flags().StringVar(&image, "image", "", "image to run in (default: a tool-less image ralph makes, "+selftest.ScratchImage+")")
	cmd.Flags().StringVar(&memory, "memory", sandbox.DefaultMemory, "memory cap, as for a loop")
	cmd.Flags().IntVar(&pids, "pids-limit", sandbox.DefaultPids, "process cap, as for a loop")
	cmd.Flags().StringVar(&tmpSize, "tmp-size", sandbox.DefaultTmpSize, "cap of /tmp and HOME, as for a loop")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().BoolVar(&onHost, "dangerously-run-on-host", false, "with --sandbox host: attack this machine for real")
	return cmd
}

// selftestTarget sets a backend up as a loop would.
func selftestTarget(ctx context.Context, b sandbox.Backend, image, memory, tmpSize string, pids int) (selftest.Target, error) {
	claude, _ := agent.Lookup("claude", "")
	t := selftest.Target{Backend: b, Memory: memory, Pids: pids, TmpSize: tmpSize,
		PolicyDir: policyfile.Default().Dir, StateDir: stateDir(""), Workspace: workspaceReader()}
	if _, ok := b.(*sbx.SBX); ok {
		// sbx keeps its own network policy and limits: ralph's gate is
		// not in front of it, so those rows are sbx's to prove.
		t.ProbeInWorkspace = true
		t.NotApplicable = map[int]string{}
		for id := 6; id <= 11; id++ {
			t.NotApplicable[id] = "sbx enforces its own network policy (ralph policy is forwarded to sbx policy); ralph's gate is not in front of it"
		}
		t.NotApplicable[13] = "the microVM's own limits (sbx create --memory/--cpus; sbx has no pids cap): a fork bomb or an allocation stays inside the VM's kernel"
		return t, nil
	}
	// The gate, exactly as a run attaches it.
	defaults := policyfile.AgentRules("claude", claude.Hosts)
	if _, ok := b.(sandbox.GateUser); ok {
		t.Gate = func(ctx context.Context, spec sandbox.Spec) (string, func(), error) {
			g, err := attachGate(ctx, b, &spec, defaults)
			if err != nil {
				return "", nil, err
			}
			return g.Mount, func() { g.Close() }, nil
		}
		t.Allow = allowRule
	}
	e, ok := b.(*container.Engine)
	if _, vm := b.(*microvm.VM); vm {
		// The microVM boots the image's root as docker exported it.
		e, ok = container.Docker(), true
	}
	if !ok {
		return t, nil
	}
	if image == "" {
		image = selftest.ScratchImage
		if !e.HasImage(ctx, image) {
			if err := e.Import(ctx, image, selftest.ScratchRootfs()); err != nil {
				return t, fmt.Errorf("selftest: make %s: %w", image, err)
			}
		}
	}
	t.Image = image
	return t, nil
}

// allowRule adds an allow rule to one sandbox's policy for the test.
func allowRule(name, h string) (func(), error) {
	{
		store := policyfile.Default()
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
}

// workspaceReader is ralph's own way of reading a workspace, for row 15:
// the config as a run applies it, files through wsfile, the agent's text
// through the renderer.
func workspaceReader() selftest.WorkspaceReader {
	return selftest.WorkspaceReader{
		Read: func(proj, rel string) ([]byte, error) { return wsfile.ReadIn(proj, rel, wsfile.MaxTasks) },
		Config: func(proj string) error {
			ws, err := wsfile.Open(proj)
			if err != nil {
				return err
			}
			defer ws.Close()
			_, err = loadConfig(runFlags().Flags(), ws, trustStore(), false)
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

func printSelftest(io IO, rep selftest.Report) {
	fmt.Fprintf(io.Out, "\n%s (%s)\n", rep.Backend, rep.Boundary)
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPROPERTY\tRESULT\tWHAT WAS TRIED")
	for _, r := range rep.Results {
		// The probe ran as the agent: its words are escaped like any
		// agent's, and the property is named by ralph's own table.
		tried := termsafe.Line(r.Tried)
		if len(tried) > 90 {
			tried = tried[:87] + "..."
		}
		prop := selftest.Properties[r.ID]
		if prop == "" {
			prop = termsafe.Line(r.Property)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.ID, prop, termsafe.Line(string(r.Status)), tried)
		if r.Detail != "" {
			fmt.Fprintf(tw, "\t\t\t  %s\n", termsafe.Line(r.Detail))
		}
	}
	tw.Flush()
	if rep.OK {
		fmt.Fprintln(io.Out, "every property held")
	} else {
		fmt.Fprintln(io.Out, "some properties FAILED")
	}
}
