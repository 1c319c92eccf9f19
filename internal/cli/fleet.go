package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/exitcode"
	"github.com/ralphloop/ralph/internal/fleet"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// kubeFlags are the flags kubectl users expect.
type kubeFlags struct {
	kubeconfig, context, namespace string
}

func (k *kubeFlags) add(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&k.context, "context", "", "kubeconfig context (default: the current one)")
	fl.StringVar(&k.namespace, "namespace", "", "namespace of the fleet (default: the context's, else ralph)")
}

// client connects as kubectl would.
func (k *kubeFlags) client() (*fleet.Client, error) {
	return fleet.Connect(k.kubeconfig, k.context, k.namespace)
}

func newFleetCmd(f *Factory) *cobra.Command {
	k := &kubeFlags{}
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Run many loops on Kubernetes, each pod its own boundary",
		Long: `Run ralph loops on a Kubernetes cluster: one Job per loop, whose pod clones
the repository, runs the loop with the pod as its boundary (restricted Pod
Security Standard, your RuntimeClass) and pushes a branch. The namespace's
network gate (a Deployment running ralph gate serve) is the pods' only way
out; a NetworkPolicy denies them everything else, DNS included.`,
		Example: `  ralph fleet run --repo https://github.com/me/app.git --api-key-secret anthropic --git-secret gh -n 30
  ralph fleet ls
  ralph fleet logs -f app-3f2a9c
  ralph fleet stop app-3f2a9c`,
	}
	k.add(cmd)
	cmd.AddCommand(newFleetRunCmd(f, k), newFleetLsCmd(f, k), newFleetLogsCmd(f, k),
		newFleetStopCmd(f, k, "stop"), newFleetStopCmd(f, k, "rm"), newFleetDoctorCmd(f, k), newFleetPolicyCmd(f, k),
		newFleetPodCmd(f), newFleetProbeCmd(f))
	return cmd
}

type fleetRunOptions struct {
	run                     fleet.Run
	count, iterations       int
	allow, env, gateSecrets []string
	apiKeyEnv, agentCmd     string
	gateReplicas            int
	gateImage               string
	gateVia                 string
	wait, asJSON            bool
	maxRuntime, gateTimeout time.Duration
}

func newFleetRunCmd(f *Factory, k *kubeFlags) *cobra.Command {
	io := f.IO
	o := &fleetRunOptions{}
	cmd := &cobra.Command{
		Use:   "run --repo URL [flags] [-- agent-args...]",
		Short: "Submit loops: one Job each, on a branch of a fresh clone",
		Long: `Submit one Kubernetes Job per loop (--count). Each pod clones --repo, checks
out a new branch (ralph/<run-id>), runs the loop with the agent inside the
pod, commits what the agent left and pushes the branch; its termination
message holds the promise and the exit code (ralph fleet ls).

The image (--image) must hold ralph, git and the agent's CLI. The agent's
API key and the git token come from Secrets named by --api-key-secret and
--git-secret (NAME or NAME:KEY, key "token" by default), never from the
command line. The gate allows the agent's API hosts, the git remote's host
and --allow patterns; nothing else leaves the pods.

With --gate-secret NAME instead of --api-key-secret, the key never enters a
pod: the gate's pods mount the Secret ralph-gate-secrets, whose key NAME
(anthropic, claude-oauth, openai, gemini) holds it and NAME.url, if set, the
API's URL; the pods hold a placeholder and the gate's route, as a loop on
one machine does with ralph secret.`,
		Example: `  ralph fleet run --repo https://github.com/me/app.git --image ghcr.io/me/ralph-claude:1 \
      --api-key-secret anthropic --git-secret github -n 50 --runtime-class gvisor
  kubectl -n ralph create secret generic ralph-gate-secrets --from-literal=anthropic=sk-ant-...
  ralph fleet run --repo https://github.com/me/app.git --gate-secret anthropic --git-secret github -n 50
  ralph fleet run --repo https://github.com/me/app.git --agent codex --count 5 -- --model gpt-5.5
  ralph fleet run --repo https://github.com/me/app.git --wait --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() < 0 && len(args) > 0 {
				return usageErr("unknown argument %q: agent arguments go after --", args[0])
			}
			o.run.AgentArgs = args
			return o.submit(cmd.Context(), io, k, cmd.Flags().Changed("push"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.run.Repo, "repo", "", "git URL to clone (https:// or http://; the pod reaches it through the gate)")
	fl.StringVar(&o.run.Branch, "branch", "", "branch to start from (default: the remote's default branch)")
	fl.StringVar(&o.run.Push, "push", "", "branch to push (default ralph/<run-id>)")
	fl.StringVar(&o.run.Agent, "agent", "claude", "agent CLI: "+strings.Join(agent.Names(), ", "))
	fl.StringVar(&o.agentCmd, "agent-cmd", "", "command of a custom agent (--agent custom), or the executable of a known one, inside the image")
	fl.IntVarP(&o.iterations, "max-iterations", "n", 20, "iterations per loop")
	fl.IntVar(&o.count, "count", 1, "loops to submit, each its own Job and branch")
	fl.StringVar(&o.run.Image, "image", "", "image with ralph, git and the agent (default ralph-<agent>:latest)")
	fl.StringVar(&o.run.RuntimeClass, "runtime-class", "", "RuntimeClass of the pods (gvisor, kata, ...): the pod's boundary")
	fl.StringVar(&o.run.APIKey, "api-key-secret", "", "Secret NAME[:KEY] holding the agent's API key")
	fl.StringArrayVar(&o.gateSecrets, "gate-secret", nil, "a key of the Secret "+fleet.GateSecretsName+" the gate adds to the agent's API requests (anthropic, openai, ...); the pods hold a placeholder; repeatable")
	fl.StringVar(&o.apiKeyEnv, "api-key-env", "", "variable the API key goes in (default: the agent's first, e.g. ANTHROPIC_API_KEY)")
	fl.StringVar(&o.run.GitToken, "git-secret", "", "Secret NAME[:KEY] holding a token for the git remote")
	fl.StringArrayVar(&o.allow, "allow", nil, "also allow this host pattern at the gate; repeatable")
	fl.StringArrayVar(&o.env, "env", nil, "NAME=VALUE set in the pod and passed to the agent; repeatable")
	fl.StringVar(&o.run.CPU, "cpu", "2", "CPU of each loop pod (requests = limits)")
	fl.StringVar(&o.run.Memory, "memory", "4Gi", "memory of each loop pod")
	fl.StringVar(&o.run.Disk, "disk", "10Gi", "ephemeral storage of each loop pod (the clone, /tmp, HOME)")
	fl.DurationVar(&o.maxRuntime, "max-runtime", 6*time.Hour, "the loop stops (and pushes) after this long; the Job's deadline is a little later")
	fl.DurationVar(&o.run.TTL, "ttl", 7*24*time.Hour, "finished Jobs are deleted after this long")
	fl.IntVar(&o.gateReplicas, "gate-replicas", 0, "replicas of the namespace's gate (default: as it runs, else 1)")
	fl.StringVar(&o.gateImage, "gate-image", "", "image of the namespace's gate, which runs ralph gate serve (default: as it runs, else --image)")
	fl.StringVar(&o.gateVia, "gate-via", "service", "how pods reach the gate: service (its ClusterIP) or pod (a gate pod's IP, for clusters without kube-proxy)")
	fl.DurationVar(&o.gateTimeout, "gate-timeout", 3*time.Minute, "how long to wait for the gate to be ready")
	fl.BoolVar(&o.wait, "wait", false, "wait for the loops to end; exit with the first non-zero loop exit code")
	fl.BoolVar(&o.asJSON, "json", false, "print the submitted runs (with --wait, their results) as JSON")
	cmd.RegisterFlagCompletionFunc("agent", cobra.FixedCompletions(agent.Names(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// submit hands the submission to internal/fleet and prints the runs.
func (o *fleetRunOptions) submit(ctx context.Context, io IO, k *kubeFlags, pushSet bool) error {
	if o.gateVia != "service" && o.gateVia != "pod" {
		return usageErr("--gate-via is service or pod, not %q", o.gateVia)
	}
	sub := fleet.Submission{Run: o.run, Count: o.count, Iterations: o.iterations, Allow: o.allow, Env: o.env,
		APIKeyEnv: o.apiKeyEnv, AgentCmd: o.agentCmd, GateReplicas: o.gateReplicas, GateImage: o.gateImage,
		GateViaPod: o.gateVia == "pod", GateTimeout: o.gateTimeout, MaxRuntime: o.maxRuntime, PushSet: pushSet,
		GateSecrets: o.gateSecrets}
	if err := sub.Check(); err != nil {
		return err
	}
	c, err := k.client()
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(io.Err, "ralph: fleet: "+format+"\n", args...) }
	ids, err := sub.Submit(ctx, c, say, func(id string) {
		if !o.asJSON && !o.wait {
			fmt.Fprintln(io.Out, id)
		}
	})
	if err != nil {
		return fleetErr(err)
	}
	if !o.wait {
		if o.asJSON {
			return json.NewEncoder(io.Out).Encode(map[string]any{"namespace": c.NS, "runs": ids})
		}
		return nil
	}
	runs, err := fleet.Wait(ctx, c, ids, say)
	if err != nil {
		return fleetErr(err)
	}
	if o.asJSON {
		json.NewEncoder(io.Out).Encode(runs)
	} else {
		for _, s := range runs {
			fmt.Fprintf(io.Out, "%s\t%s\t%s\n", s.ID, s.State, s.Summary())
		}
	}
	if code := fleet.ExitCode(runs); code != 0 {
		return exitcode.Quiet(code)
	}
	return nil
}

// fleetErr is a usage error or the cluster's (unavailable).
func fleetErr(err error) error {
	if errors.Is(err, fleet.ErrInvalid) || errors.Is(err, context.Canceled) {
		return err
	}
	return unavailable(err)
}

func unavailable(err error) error { return exitcode.With(ExitUnavailable, err) }

func newFleetLsCmd(f *Factory, k *kubeFlags) *cobra.Command {
	io := f.IO
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List the fleet's runs: state, branch and outcome",
		Example: "  ralph fleet ls\n  ralph fleet ls --namespace agents --json | jq '.[] | select(.state == \"failed\")'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := k.client()
			if err != nil {
				return err
			}
			all, err := c.List(cmd.Context())
			if err != nil {
				return unavailable(err)
			}
			if asJSON {
				if all == nil {
					all = []fleet.Status{}
				}
				return json.NewEncoder(io.Out).Encode(all)
			}
			tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATE\tAGE\tBRANCH\tOUTCOME")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, time.Since(s.Created).Round(time.Second), s.Push, s.Summary())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newFleetLogsCmd(f *Factory, k *kubeFlags) *cobra.Command {
	io := f.IO
	var follow bool
	cmd := &cobra.Command{
		Use:     "logs RUN",
		Short:   "Print a run's log (the loop's progress, as on one machine)",
		Example: "  ralph fleet logs app-3f2a9c\n  ralph fleet logs -f app-3f2a9c",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := k.client()
			if err != nil {
				return err
			}
			out := io.Out
			if _, tty := termWidth(io.Out); tty {
				// What the pod printed, the agent included: escapes
				// shown, not obeyed (to a pipe it stays exact).
				w := &termsafe.Writer{W: io.Out}
				defer w.Close()
				out = w
			}
			return c.Logs(cmd.Context(), args[0], follow, out)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the run ends")
	return cmd
}

func newFleetStopCmd(f *Factory, k *kubeFlags, verb string) *cobra.Command {
	io := f.IO
	short := "Stop runs: the pod gets SIGTERM, commits and pushes what it has"
	if verb == "rm" {
		short = "Remove runs: delete their Jobs and pods (pushed branches stay)"
	}
	return &cobra.Command{
		Use:     verb + " RUN...",
		Short:   short,
		Example: "  ralph fleet stop app-3f2a9c      # the pod commits and pushes what it has, then ends\n  ralph fleet rm app-3f2a9c app-77b01e",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := k.client()
			if err != nil {
				return err
			}
			for _, id := range args {
				op := c.Stop
				if verb == "rm" {
					op = c.Remove
				}
				if err := op(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintln(io.Out, id)
			}
			return nil
		},
	}
}

func newFleetPodCmd(f *Factory) *cobra.Command {
	io := f.IO
	o := fleet.PodOptions{Dir: fleet.Work + "/repo", TermLog: "/dev/termination-log", Log: io.Err}
	cmd := &cobra.Command{
		Use:    "pod",
		Short:  "Inside a loop's pod: clone, run the loop, push (run by ralph fleet run)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.AgentArgs = args
			o.Self, _ = os.Executable()
			code := 0
			if os.Getpid() == 1 && os.Getenv(fleet.InitEnv) == "" {
				// PID 1 of the pod: reap what the agent leaves behind, and
				// run the pod's work as the one child.
				code = fleet.Init(append([]string{o.Self}, os.Args[1:]...), io.Err)
			} else {
				code = fleet.RunPod(cmd.Context(), o)
			}
			if code != 0 {
				return exitcode.Quiet(code)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Repo, "repo", "", "git URL")
	fl.StringVar(&o.Branch, "branch", "", "branch to start from")
	fl.StringVar(&o.Push, "push", "", "branch to push")
	fl.StringVar(&o.Agent, "agent", "claude", "agent")
	var n int
	var maxRuntime, agentCmd string
	var env []string
	fl.IntVarP(&n, "max-iterations", "n", 20, "")
	fl.StringVar(&maxRuntime, "max-runtime", "", "")
	fl.StringVar(&agentCmd, "agent-cmd", "", "")
	fl.StringArrayVar(&env, "env", nil, "")
	cmd.PreRun = func(*cobra.Command, []string) {
		o.LoopArgs = append(o.LoopArgs, "-n", fmt.Sprint(n))
		if maxRuntime != "" {
			o.LoopArgs = append(o.LoopArgs, "--max-runtime", maxRuntime)
		}
		if agentCmd != "" {
			o.LoopArgs = append(o.LoopArgs, "--agent-cmd", agentCmd)
		}
		for _, e := range env {
			o.LoopArgs = append(o.LoopArgs, "--env", e)
		}
	}
	return cmd
}
