package sandbox

import "context"

// Optional interfaces: what a backend says of itself, so the CLI asks
// instead of switching on concrete types. A backend implements those that
// apply to it.

// GateUser is a backend whose only way out is ralph's network gate,
// reached through Spec.GateDir (containers, bwrap, the microVM).
type GateUser interface {
	// GateOwner is the uid:gid that reaches the gate folder directly on
	// the host (bwrap runs the agent as that uid), or nil when the folder
	// reaches the sandbox through a mount or a channel.
	GateOwner(spec Spec) (*[2]int, error)
}

// OwnNetwork is a backend whose egress is governed by something other
// than ralph's gate; Network says what, for the run's header.
type OwnNetwork interface {
	Network() string
}

// Warner says what the backend cannot enforce, or does slowly, for spec
// on this machine: each line is printed before the run starts.
type Warner interface {
	Warnings(ctx context.Context, spec Spec) ([]string, error)
}

// AutoPicker is a backend that may be usable and still not one `auto`
// should pick (a microVM under TCG emulation): AutoSkip says why, or nil.
type AutoPicker interface {
	AutoSkip(ctx context.Context) error
}
