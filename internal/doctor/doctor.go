// Package doctor is ralph doctor's report: every backend's health in its
// own words (sandbox.Doctor), which one auto picks, and for each agent
// whether its CLI is on this host and in its image and which of its
// credential variables are set (names only).
package doctor

import (
	"context"
	"strings"

	"github.com/ralphloop/ralph/internal/agent"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/termsafe"
)

// GitGuard is what ralph does for the user's git on every backend.
const GitGuard = "with --workspace bind (the default) the agent writes your .git; after every iteration ralph removes hooks it added to .git/hooks and puts .git/config back when it gained a command (not checked: .git/modules, .git/config.worktree, a .git file, a git command you run during an iteration); --workspace clone keeps your .git out of its reach"

// Backend is one row of ralph doctor.
type Backend struct {
	Name     string `json:"name"`
	Found    bool   `json:"found"`
	Version  string `json:"version,omitempty"`
	Boundary string `json:"boundary"`
	Usable   bool   `json:"usable"`
	Problem  string `json:"problem,omitempty"`
	// Gate says how the network gate is enforced on this backend.
	Gate string `json:"network_gate"`
	// Image is whether the agent's default image is present (or what
	// else the backend has to say when usable).
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

	auto bool // usable and auto may pick it
}

// Agent is one agent's row.
type Agent struct {
	Name   string `json:"name"`
	Binary string `json:"binary"`
	OnHost bool   `json:"on_host"`
	// Image is the agent's default image and InImage whether its CLI is
	// on the image's PATH ("yes", "no", "no image", or why it was not
	// looked at).
	Image   string `json:"image,omitempty"`
	InImage string `json:"in_image,omitempty"`
	// InSandbox says, for each usable backend that runs the host's own
	// programs (bwrap), whether it can see the CLI: "yes", or why not.
	InSandbox map[string]string `json:"in_sandbox,omitempty"`
	KeysSet   []string          `json:"keys_set"`
	// Secrets are the agent's stored secrets (ralph secret), which the
	// gate adds to its API's requests instead of passing them in.
	Secrets []string `json:"secrets,omitempty"`
}

// Report is ralph doctor's whole answer.
type Report struct {
	Backends []Backend `json:"backends"`
	Auto     string    `json:"auto"`
	Agents   []Agent   `json:"agents"`
	// GitSecrets are the stored secrets git uses with every agent (the
	// gate adds them to git's requests for their server).
	GitSecrets []string `json:"git_secrets,omitempty"`
}

// Check asks each isolating backend, then host (never usable: it is no
// boundary), and looks into each agent's image with the first usable
// backend that runs images. onHost says whether a program is on this
// host's PATH; env looks a variable up.
func Check(ctx context.Context, isolating []sandbox.Backend, host sandbox.Backend, agentName string,
	onHost func(string) bool, env func(string) (string, bool)) Report {
	rep := Report{}
	image := "ralph-" + agentName + ":latest"
	var look sandbox.ImageStore
	var finders []sandbox.Backend
	for _, b := range isolating {
		r := check(ctx, b, image)
		if _, ok := b.(sandbox.CommandFinder); ok && r.Usable {
			finders = append(finders, b)
		}
		if r.Usable && look == nil {
			if iu, ok := b.(sandbox.ImageUser); ok {
				look = iu.Images(ctx)
			}
		}
		if r.auto && rep.Auto == "" {
			rep.Auto = r.Name
		}
		rep.Backends = append(rep.Backends, r)
	}
	if host != nil {
		r := check(ctx, host, image)
		r.Usable = false
		rep.Backends = append(rep.Backends, r)
	}
	for _, n := range agent.Names() {
		if n == "custom" {
			continue
		}
		ad, _ := agent.Lookup(n, "")
		ar := Agent{Name: n, Binary: ad.Binary, OnHost: onHost(ad.Binary), KeysSet: []string{}, Image: "ralph-" + n + ":latest"}
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
				if v := look.Label(ctx, ar.Image, "ralph.agent-version"); v != "" && len(found) == 1 {
					// The version ralph image build asked of the CLI
					// (the image's own label: shown escaped).
					ar.InImage += " (" + termsafe.Line(v) + ")"
				}
			}
		}
		for _, b := range finders {
			if ar.InSandbox == nil {
				ar.InSandbox = map[string]string{}
			}
			if _, err := b.(sandbox.CommandFinder).FindCommand(sandbox.Spec{}, ad.Binary); err != nil {
				ar.InSandbox[b.Name()] = "no: " + err.Error()
			} else {
				ar.InSandbox[b.Name()] = "yes"
			}
		}
		for _, k := range ad.KeyVars {
			if _, ok := env(k); ok {
				ar.KeysSet = append(ar.KeysSet, k)
			}
		}
		rep.Agents = append(rep.Agents, ar)
	}
	return rep
}

// check is one backend's row: Available, then its own description.
func check(ctx context.Context, b sandbox.Backend, image string) Backend {
	r := Backend{Name: b.Name(), Boundary: string(b.Boundary()), Found: true, Git: GitGuard}
	err := b.Available(ctx)
	d, described := b.(sandbox.Doctor)
	if described {
		h := d.Health(ctx, err == nil, image)
		r.Found, r.Version, r.Problem = h.Found, h.Version, h.Problem
		r.Gate, r.Limits, r.Disk, r.Image = h.Gate, h.Limits, h.Disk, h.Note
		r.Accel, r.BootSeconds = h.Accel, h.BootSeconds
	}
	switch {
	case err != nil:
		r.Problem = sandbox.Detail(err)
	case r.Problem == "":
		r.Usable = true
		r.auto = true
		if ap, ok := b.(sandbox.AutoPicker); ok {
			r.auto = ap.AutoSkip(ctx) == nil
		}
	}
	return r
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
