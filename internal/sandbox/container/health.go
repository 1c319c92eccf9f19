package container

import (
	"context"
	"strings"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

var (
	_ sandbox.Doctor    = (*Engine)(nil)
	_ sandbox.ImageUser = (*Engine)(nil)
)

// How the limits hold, as the conformance suite and selftest find them.
const (
	limitsEngine = "pids and memory: the engine's cgroup; a fork bomb or an allocation past them fails and the sandbox lives on"
	limitsGVisor = "processes: gVisor's own cgroup, set by ralph at each start; threads: NOT counted (not host tasks; only the memory limit bounds them); memory: past it the whole sandbox is killed and restarted by the loop"
)

// Health describes the engine for ralph doctor.
func (e *Engine) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	h := sandbox.Health{
		Version: e.Version(ctx),
		Gate:    "enforced: no interface but loopback, Unix socket to ralph's gate",
		Limits:  limitsEngine,
		Disk:    sandbox.DiskCapped,
	}
	if e.runtime != "" {
		h.Limits = limitsGVisor
	}
	if e.relay {
		h.Gate = "enforced: no interface but loopback; a socket shared with ralph's relay container, which reaches the gate over TCP with the run's token (" + e.hostAlias() + ")"
	}
	h.Found = found(e.bin) && (e.runtime == "" || found("runsc") || h.Version != "")
	if usable {
		if e.HasImage(ctx, image) {
			h.Note = image + " present"
		} else {
			h.Note = image + " missing: ralph image build --agent " + agentOf(image)
		}
	}
	return h
}

// Images: the engine is its own image store.
func (e *Engine) Images(ctx context.Context) sandbox.ImageStore { return e }

func found(bin string) bool {
	_, err := proc.Look(bin)
	return err == nil
}

// agentOf is the agent of a default image name, ralph-<agent>:latest.
func agentOf(image string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(image, "ralph-"), ":")
	return name
}
