package sandbox

// What every backend gives a sandbox unless the Spec says otherwise, and
// where ralph's own pieces appear inside it.
const (
	// DefaultMemory, DefaultCPUs and DefaultPids cap a sandbox whose Spec
	// leaves them empty (the seed's hardened set).
	DefaultMemory = "4g"
	DefaultCPUs   = "2"
	DefaultPids   = 512
	// HomeDir is the agent's HOME: in memory, writable by the agent only.
	HomeDir = "/home/ralph"
	// GateMount is where the gate folder (Spec.GateDir) appears inside;
	// ProxyAddr is the loopback address of the in-sandbox forwarder.
	GateMount = "/.ralph"
	ProxyAddr = "127.0.0.1:3128"
	// RelayMount is where a relayed sandbox finds the relay's socket
	// (Relayer; read-only inside).
	RelayMount = "/.ralph-gate"
)

// DiskCapped is how the in-memory places are capped on every backend
// that uses Spec.TmpSize, for ralph doctor.
const DiskCapped = "/tmp and HOME: in memory, capped by --tmp-size (a write past it fails); the workspace: your own disk, NOT capped (no quota)"
