package cli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/ralphloop/ralph/internal/backends"
	"github.com/ralphloop/ralph/internal/config"
	"github.com/ralphloop/ralph/internal/dirs"
	"github.com/ralphloop/ralph/internal/gatehost"
	"github.com/ralphloop/ralph/internal/netgate/policyfile"
	"github.com/ralphloop/ralph/internal/proc"
	"github.com/ralphloop/ralph/internal/sandbox"
	"github.com/ralphloop/ralph/internal/secret"
	"github.com/ralphloop/ralph/internal/trust"
	"github.com/ralphloop/ralph/internal/wsfile"
)

// Factory is what every command is made from: the streams, the backends,
// ralph's folders, the clock and the environment. Main builds it from
// the process (NewFactory); a test builds its own with fakes and
// temporary folders and calls a command's run function directly.
type Factory struct {
	IO IO
	// Isolating lists the isolating backends, strongest first (the
	// registry, internal/backends); Host runs on the host, Pod in a
	// fleet's pod.
	Isolating func() []sandbox.Backend
	Host, Pod func() sandbox.Backend
	// State is ralph's state folder ($XDG_STATE_HOME/ralph), Config its
	// config folder ($XDG_CONFIG_HOME/ralph): both outside every
	// workspace.
	State, Config string
	Now           func() time.Time
	// Getenv looks a host variable up; OnPath says whether a program is
	// on this host's PATH.
	Getenv func(string) (string, bool)
	OnPath func(string) bool
	// Getwd is the folder ralph was started in: the project.
	Getwd func() (string, error)
}

// NewFactory is the factory of this process.
func NewFactory(io IO) *Factory {
	state := dirs.State()
	reg := backends.New(state)
	return &Factory{
		IO:        io,
		Isolating: reg.Isolating,
		Host:      reg.Host,
		Pod:       reg.Pod,
		State:     state,
		Config:    dirs.Config(),
		Now:       time.Now,
		Getenv:    os.LookupEnv,
		Getwd:     os.Getwd,
		OnPath: func(bin string) bool {
			_, err := proc.Look(bin)
			return err == nil
		},
	}
}

// stateDir is a folder of ralph's state.
func (f *Factory) stateDir(sub string) string { return filepath.Join(f.State, sub) }

// trustStore holds the user's approvals of project settings.
func (f *Factory) trustStore() trust.Store { return trust.Store{Dir: filepath.Join(f.Config, "trust")} }

// secrets holds the user's credentials (ralph secret).
func (f *Factory) secrets() secret.Store {
	return secret.Store{Dir: filepath.Join(f.Config, "secrets")}
}

// policies holds the gate's rules.
func (f *Factory) policies() policyfile.Store {
	return policyfile.Store{Dir: filepath.Join(f.Config, "policy")}
}

// userConfigPath is the user's own settings, outside every workspace.
func (f *Factory) userConfigPath() string { return filepath.Join(f.Config, "config.toml") }

// loadConfig fills the flags of fs that the command line left unset from
// the project's config (as far as approved) and the user's own.
func (f *Factory) loadConfig(fs *pflag.FlagSet, ws *wsfile.Workspace, approve bool) (map[string]bool, error) {
	return config.Loader{Trust: f.trustStore(), UserPath: f.userConfigPath()}.Load(fs, ws, approve)
}

// gates is where this host's gates live and the rules they serve.
func (f *Factory) gates() gatehost.Host {
	return gatehost.Host{Dir: f.stateDir("gates"), Policies: f.policies()}
}

// home is the user's home folder, never shared with a sandbox.
func (f *Factory) home() string {
	h, _ := f.Getenv("HOME")
	return h
}

// encodeJSON writes v indented, as every --json of ralph does.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// project is the project folder: where ralph was started, links resolved.
func (f *Factory) project() (string, error) {
	dir, err := f.Getwd()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir, nil
}
