package sandbox

import (
	"context"
	"io"
)

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

// Relayer is a backend whose sandboxes may reach the gate through a
// relay of their own instead of the Unix socket in the gate folder
// (decision 014: an engine in a VM, such as Docker Desktop's or podman
// machine's, which a Unix socket does not cross): the gate listens on
// TCP, the relay (a small container beside the sandbox, sharing a
// socket with it in a volume of the engine's) dials it and greets it
// with the run's token.
type Relayer interface {
	// Relays reports whether this backend's sandboxes use the relay.
	Relays() bool
	// RelayAddrs are where the gate listens on this host (a host:0 to
	// bind) and the host name the relay dials to reach it.
	RelayAddrs(ctx context.Context) (listen, dial string, err error)
	// StartRelay starts spec's relay (the gate folder is spec.GateDir),
	// dialing the gate at addr with token; stop ends it.
	StartRelay(ctx context.Context, spec Spec, addr, token string) (stop func(context.Context) error, err error)
}

// OwnNetwork is a backend whose egress is governed by something other
// than ralph's gate; Network says what, for the run's header.
type OwnNetwork interface {
	Network() string
}

// CredentialKeeper is a backend with a credential proxy of its own
// (sbx): ralph hands it the secrets it stores, which the backend's proxy
// adds to requests, instead of passing their values in.
type CredentialKeeper interface {
	// Keeps names the backend's own service for ralph's secret name,
	// or "" when it has none.
	Keeps(secret string) string
	// Keep holds value for sandbox name: set before the run's first
	// command in the sandbox (after the sandbox exists).
	Keep(name, secret, value string)
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

// Health is a backend's row in ralph doctor, in its own words.
type Health struct {
	Found   bool   // its program is installed
	Version string // "" when it does not answer
	// Problem, when set, keeps the backend out of auto even when
	// Available passes (the host: no isolation).
	Problem string
	Gate    string // how the network gate holds
	Limits  string // how the pids and memory caps hold
	Disk    string // which writable places have a size limit
	// Note is what else to know when usable: the agent's image, the
	// accelerator, a measured boot.
	Note        string
	Accel       string  // a microVM's accelerator (kvm or tcg)
	BootSeconds float64 // a microVM's boot, measured now
}

// Doctor is a backend that describes itself for ralph doctor. usable says
// whether Available passed (so it may look further: an image, a boot);
// image is the agent's default image.
type Doctor interface {
	Health(ctx context.Context, usable bool, image string) Health
}

// ImageStore holds the images a backend runs: looked into, imported
// (ralph never pulls).
type ImageStore interface {
	HasImage(ctx context.Context, image string) bool
	Import(ctx context.Context, tag string, rootfs io.Reader) error
	// Commands reports which of bins the image has on its PATH.
	Commands(ctx context.Context, image string, bins ...string) ([]string, error)
	// Label is the image's label key, or "" (ralph image build records
	// the agent CLI's version as ralph.agent-version).
	Label(ctx context.Context, image, key string) string
}

// ImageUser is a backend that runs images: Images is the store it takes
// them from, or nil when none answers here.
type ImageUser interface {
	Images(ctx context.Context) ImageStore
}

// Governed is what a backend enforces with its own mechanisms instead of
// ralph's: selftest reports those properties as not applicable, with
// these reasons.
type Governed struct {
	Network string // its own network policy, in place of ralph's gate
	Limits  string // its own resource limits
	// WorkspaceOnly: the workspace is the one host folder the sandbox
	// sees, so a program ralph runs inside must be put there.
	WorkspaceOnly bool
}

// SelfGoverned is a backend with its own network policy and limits (sbx).
type SelfGoverned interface {
	Governs() Governed
}

// PolicyForwarder is a backend whose own network policy takes ralph
// policy's rules (sbx): action is "allow" or "deny", scope a sandbox
// name or "" for every sandbox.
type PolicyForwarder interface {
	Policy(ctx context.Context, action, scope string, patterns []string) error
}

// CommandFinder is a backend that runs the host's own programs (bwrap
// shows the host's /usr read-only and the project): FindCommand says
// where bin is inside a sandbox made from spec, or why it cannot run
// there, so a run refuses before it starts instead of failing in every
// iteration.
type CommandFinder interface {
	FindCommand(spec Spec, bin string) (string, error)
}
