package sbx

import (
	"context"

	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
)

var (
	_ sandbox.Doctor          = (*SBX)(nil)
	_ sandbox.SelfGoverned    = (*SBX)(nil)
	_ sandbox.PolicyForwarder = (*SBX)(nil)
)

// limits: sbx's microVM has its own.
const limits = "the microVM's own (sbx settings); not checked by ralph"

// Health describes sbx for ralph doctor.
func (s *SBX) Health(ctx context.Context, usable bool, image string) sandbox.Health {
	_, err := proc.Look(s.bin)
	h := sandbox.Health{Found: err == nil, Limits: limits, Disk: limits,
		Gate: "sbx's own network policy (ralph policy allow|deny is forwarded to it); ralph's gate not in front"}
	h.Version, _ = s.Version(ctx)
	return h
}

// Governs: sbx keeps its own network policy and limits; ralph's gate is
// not in front of it, and its microVM sees only the workspace.
func (s *SBX) Governs() sandbox.Governed {
	return sandbox.Governed{
		Network:       "sbx enforces its own network policy (ralph policy is forwarded to sbx policy); ralph's gate is not in front of it",
		Limits:        "the microVM's own limits (sbx create --memory/--cpus; sbx has no pids cap): a fork bomb or an allocation stays inside the VM's kernel",
		WorkspaceOnly: true,
	}
}
