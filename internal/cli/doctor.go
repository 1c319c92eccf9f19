package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/sandbox/bwrap"
	"github.com/ralphloop/ralph/internal/sandbox/container"
	"github.com/ralphloop/ralph/internal/sandbox/microvm"
	"github.com/ralphloop/ralph/internal/sandbox/sbx"
)

// backendReport is one row of ralph doctor.
type backendReport struct {
	Name     string `json:"name"`
	Found    bool   `json:"found"`
	Version  string `json:"version,omitempty"`
	Boundary string `json:"boundary"`
	Usable   bool   `json:"usable"`
	Problem  string `json:"problem,omitempty"`
	// Gate says how the network gate is enforced on this backend.
	Gate string `json:"network_gate"`
	// Image is whether the agent's default image is present.
	Image string `json:"image,omitempty"`
	// Limits says how the pids and memory caps hold on this backend.
	Limits string `json:"limits"`
	// Disk says which writable places have a size limit.
	Disk string `json:"disk"`
	// Git says whether the repository's config and hooks are guarded.
	Git string `json:"git"`
	// Accel and BootSeconds: the microVM's accelerator (kvm or tcg) and
	// its last measured boot.
	Accel       string  `json:"accel,omitempty"`
	BootSeconds float64 `json:"boot_seconds,omitempty"`
}

// Limits of each backend, as the conformance suite and selftest find them.
const (
	limitsEngine = "pids and memory: the engine's cgroup; a fork bomb or an allocation past them fails and the sandbox lives on"
	limitsGVisor = "processes: gVisor's own cgroup, set by ralph at each start; threads: NOT counted (not host tasks; only the memory limit bounds them); memory: past it the whole sandbox is killed and restarted by the loop"
	limitsSBX    = "the microVM's own (sbx settings); not checked by ralph"
	diskCapped   = "/tmp and HOME: in memory, capped by --tmp-size (a write past it fails); the workspace: your own disk, NOT capped (no quota)"
	gitGuard     = "after every iteration ralph removes hooks the agent added to .git/hooks and puts .git/config back when it gained a command (not checked: .git/modules, .git/config.worktree, a .git file)"
)

type agentReport struct {
	Name   string `json:"name"`
	Binary string `json:"binary"`
	OnHost bool   `json:"on_host"`
	// Image is the agent's default image and InImage whether its CLI is
	// on the image's PATH ("yes", "no", "no image", or why it was not
	// looked at).
	Image   string   `json:"image,omitempty"`
	InImage string   `json:"in_image,omitempty"`
	KeysSet []string `json:"keys_set"`
}

type doctorReport struct {
	Backends []backendReport `json:"backends"`
	Auto     string          `json:"auto"`
	Agents   []agentReport   `json:"agents"`
}

func newDoctor(io IO) *cobra.Command {
	var asJSON bool
	var agentName string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Show which sandboxes work here, what boundary each gives, and how to fix the rest",
		Long: `doctor checks every backend: installed or not, its version, the boundary it
gives, whether it can be used right now (engine running, runtime registered,
agent image present), and the one-line fix for each problem; then, for each
agent, whether its CLI is on this host and inside its image (looked into
with a throwaway hardened container), and which of its credential variables
are set (names only, never values). It exits 0 when at least one isolating backend is
usable, 69 otherwise.`,
		Example: "  ralph doctor\n  ralph doctor --json | jq '.backends[] | select(.usable)'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rep := doctorReport{}
			image := "ralph-" + agentName + ":latest"
			// The agents' images are looked into with the first usable
			// engine found here.
			var look *container.Engine
			for _, b := range isolating() {
				if s, ok := b.(*sbx.SBX); ok {
					r := backendReport{Name: "sbx", Boundary: string(sandbox.MicroVM), Found: lookOK("sbx"), Limits: limitsSBX,
						Gate: "sbx's own network policy (ralph policy allow|deny is forwarded to it); ralph's gate not in front"}
					r.Version, _ = s.Version(ctx)
					if err := s.Available(ctx); err != nil {
						r.Problem = strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")
					} else {
						r.Usable = true
					}
					rep.Backends = append(rep.Backends, r)
					continue
				}
				if bw, ok := b.(*bwrap.Bwrap); ok {
					r := backendReport{Name: "bwrap", Boundary: string(sandbox.SharedKernel), Found: lookOK("bwrap"), Limits: limitsEngine,
						Gate: "enforced: no interface but loopback, Unix socket to ralph's gate"}
					if out, err := proc.Output(ctx, proc.Cmd{Argv: []string{"bwrap", "--version"}}); err == nil {
						r.Version = strings.TrimSpace(string(out))
					}
					if err := bw.Available(ctx); err != nil {
						r.Problem = strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")
					} else {
						r.Usable = true
						r.Image = "no image needed (the host's /usr, read-only)"
						if !bw.LimitsEnforced() {
							r.Image += "; pids and memory caps NOT enforced (need root)"
							r.Limits = "NOT enforced: cgroups need ralph to run as root"
						}
					}
					rep.Backends = append(rep.Backends, r)
					continue
				}
				if vm, ok := b.(*microvm.VM); ok {
					r := backendReport{Name: "microvm", Boundary: string(sandbox.MicroVM), Found: lookOK("qemu-system-x86_64"),
						Gate:   "enforced: no network device at all; the guest's proxy reaches ralph's gate over the VM's serial channel",
						Limits: "pids and memory: a cgroup inside the guest's own kernel, under the VM's memory; the host's kernel is not shared"}
					if out, err := proc.Output(ctx, proc.Cmd{Argv: []string{"qemu-system-x86_64", "--version"}}); err == nil {
						r.Version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
					}
					if err := vm.Available(ctx); err != nil {
						r.Problem = strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")
					} else {
						r.Usable = true
						a := vm.Accel(ctx)
						r.Accel = a.Accel
						r.Image = "KVM (a probe boot under KVM worked)"
						if r.Accel != "kvm" {
							r.Image = "TCG only (" + a.Reason + "): works, but too slow for auto; --sandbox microvm to ask for it"
						}
						if d, err := vm.MeasureBoot(ctx); err == nil {
							r.BootSeconds = d.Seconds()
							r.Image += fmt.Sprintf("; boot measured now: %.1f s (%s, kernel and init to power-off)", d.Seconds(), r.Accel)
						} else {
							r.Image += "; boot not measured: " + err.Error()
						}
						if bt, ok := vm.LastBoot(); ok {
							r.Image += fmt.Sprintf("; last sandbox boot to first answer %.1f s (%s)", bt.Seconds, bt.Accel)
						}
					}
					rep.Backends = append(rep.Backends, r)
					continue
				}
				e, ok := b.(*container.Engine)
				if !ok {
					// A backend doctor has no rows of its own for yet:
					// whether it is usable, at least.
					r := backendReport{Name: b.Name(), Boundary: string(b.Boundary()), Found: true}
					if err := b.Available(ctx); err != nil {
						r.Problem = strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")
					} else {
						r.Usable = true
					}
					rep.Backends = append(rep.Backends, r)
					continue
				}
				r := backendReport{Name: b.Name(), Boundary: string(b.Boundary()), Gate: "enforced: no interface but loopback, Unix socket to ralph's gate", Limits: limitsEngine}
				if b.Boundary() == sandbox.UserKernel {
					r.Limits = limitsGVisor
				}
				r.Version = e.Version(ctx)
				r.Found = lookOK(engineBin(b.Name())) && (b.Name() != "gvisor" || lookOK("runsc") || r.Version != "")
				if err := b.Available(ctx); err != nil {
					r.Problem = strings.TrimPrefix(err.Error(), sandbox.ErrUnavailable.Error()+": ")
				} else {
					r.Usable = true
					if look == nil {
						look = e
					}
					if e.HasImage(ctx, image) {
						r.Image = image + " present"
					} else {
						r.Image = image + " missing: ralph image build --agent " + agentName
					}
				}
				rep.Backends = append(rep.Backends, r)
			}
			rep.Backends = append(rep.Backends, backendReport{
				Name: "host", Boundary: string(sandbox.NoBoundary), Found: true,
				Problem: "no isolation: only with --dangerously-run-on-host", Gate: "not enforced: the host's own network", Limits: "none",
			})
			for i, r := range rep.Backends {
				switch r.Name {
				case "sbx":
					rep.Backends[i].Disk = limitsSBX
					rep.Backends[i].Git = gitGuard
				case "host":
					rep.Backends[i].Disk = "none"
					rep.Backends[i].Git = gitGuard
				default:
					rep.Backends[i].Disk = diskCapped
					rep.Backends[i].Git = gitGuard
				}
				if r.Usable && rep.Auto == "" && (r.Name != "microvm" || r.Accel == "kvm") {
					rep.Auto = r.Name
				}
			}
			for _, n := range agent.Names() {
				if n == "custom" {
					continue
				}
				ad, _ := agent.Lookup(n, "")
				ar := agentReport{Name: n, Binary: ad.Binary, OnHost: lookOK(ad.Binary), KeysSet: []string{}, Image: "ralph-" + n + ":latest"}
				switch {
				case look == nil:
					ar.InImage = "no engine to look with"
				case !look.HasImage(ctx, ar.Image):
					ar.InImage = "no image"
				default:
					if found, err := look.Commands(ctx, ar.Image, ad.Binary); err != nil {
						ar.InImage = "could not look: " + err.Error()
					} else {
						ar.InImage = yesNo(len(found) == 1)
					}
				}
				for _, k := range ad.KeyVars {
					if _, ok := os.LookupEnv(k); ok {
						ar.KeysSet = append(ar.KeysSet, k)
					}
				}
				rep.Agents = append(rep.Agents, ar)
			}
			if asJSON {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printDoctor(io, rep)
			}
			if rep.Auto == "" {
				return &quietExit{code: ExitUnavailable}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON report")
	cmd.Flags().StringVar(&agentName, "agent", "claude", "agent whose image to look for")
	return cmd
}

func printDoctor(io IO, rep doctorReport) {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tFOUND\tUSABLE\tBOUNDARY\tVERSION\tNOTE")
	for _, r := range rep.Backends {
		note := r.Problem
		if note == "" {
			note = r.Image
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, yesNo(r.Found), yesNo(r.Usable), r.Boundary, orDefault(r.Version, "-"), note)
	}
	tw.Flush()
	if rep.Auto != "" {
		auto := rep.Backends[indexOf(rep, rep.Auto)]
		fmt.Fprintf(io.Out, "\n--sandbox auto picks %s. Network gate: %s.\nLimits: %s.\nDisk: %s.\nGit: %s.\n", rep.Auto, auto.Gate, auto.Limits, auto.Disk, auto.Git)
	} else {
		fmt.Fprintln(io.Out, "\nNo isolating backend is usable: ralph will not run an agent here (it never falls back to the host).")
	}
	fmt.Fprintln(io.Out)
	tw = tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tCLI ON HOST\tCLI IN ITS IMAGE\tCREDENTIALS SET")
	for _, a := range rep.Agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, yesNo(a.OnHost), a.Image+": "+a.InImage, orDefault(strings.Join(a.KeysSet, ", "), "-"))
	}
	tw.Flush()
}

func indexOf(rep doctorReport, name string) int {
	for i, r := range rep.Backends {
		if r.Name == name {
			return i
		}
	}
	return 0
}

func engineBin(backend string) string {
	if backend == "podman" {
		return "podman"
	}
	return "docker"
}

func lookOK(bin string) bool {
	_, err := proc.Look(bin)
	return err == nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
