package bwrap

import (
	"context"
	"strings"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

var _ sandbox.Doctor = (*Bwrap)(nil)

// Health describes bubblewrap for ralph doctor.
func (b *Bwrap) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	h := sandbox.Health{
		Gate:   "enforced: no interface but loopback, Unix socket to ralph's gate",
		Limits: "pids and memory: the engine's cgroup; a fork bomb or an allocation past them fails and the sandbox lives on",
		Disk:   sandbox.DiskCapped,
	}
	_, err := proc.Look("bwrap")
	h.Found = err == nil
	if out, err := proc.Output(ctx, proc.Cmd{Argv: []string{"bwrap", "--version"}}); err == nil {
		h.Version = strings.TrimSpace(string(out))
	}
	if usable {
		h.Note = "no image needed (the host's /usr, read-only)"
		if !b.LimitsEnforced() {
			h.Note += "; pids and memory caps NOT enforced (need root)"
			h.Limits = "NOT enforced: cgroups need ralph to run as root"
		}
	}
	return h
}
